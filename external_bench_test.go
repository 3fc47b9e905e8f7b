//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/internal/loadgen"
	"github.com/deputyhq/deputy/password"
)

// BenchmarkExternalLoad measures Deputy where it is bound, from outside
// (issue 17, point 7): a `deputy serve --sandbox` process on a bbolt file,
// loaded over loopback by deputyload (internal/loadgen/deputyload), a load
// generator in a process of its own. Each figure stands beside the limit it
// is held to, measured in the same run right before and right after it:
//
//   - user creations by a stepped-up admin and SMS step-ups (issue and
//     verify), 32 and 64 clients, as durable writes per second (the
//     server's store updates, counted by its own deputy.store.transaction
//     metric on --admin-addr), against the batched-commit limit: tiny bbolt
//     writes per second through the same group commit, to a file beside the
//     server's, from as many goroutines as there are clients (target: at
//     least 50%); and, beside it, against the limit the issue named: tiny
//     writes per second through bbolt's own batched commits (DB.Batch, its
//     default batch size and delay), measured the same way;
//   - sign-ins, 32 and 200 clients, against the raw argon2id rate with the
//     server's parameters, hashed in this process (target: at least 90%):
//     floods alternate with raw hashing in signInRounds rounds, so that a
//     machine whose speed drifts weighs on both sides of the ratio alike.
//
// Each run also reports the server's CPU time (in all and per operation), the
// load generator's, the host's steal and the server's peak resident memory.
// It prints a table; run it once, alone: `make bench-external`.
func BenchmarkExternalLoad(b *testing.B) {
	x := startExternal(b)
	var rows []externalRow
	for _, r := range []struct {
		op                string
		clients, requests int
	}{{"create", 32, 6000}, {"create", 64, 6000}, {"stepup", 32, 2500}, {"stepup", 64, 2500}} {
		rows = append(rows, x.writeRun(b, r.op, r.clients, r.requests))
	}
	for _, r := range []struct{ clients, requests int }{{32, 600}, {200, 800}} {
		rows = append(rows, x.signInRun(b, r.clients, r.requests))
	}
	var tab bytes.Buffer
	writeTable(&tab, rows)
	b.Logf("deputy serve --sandbox (bbolt) and deputyload, each in its own process on this machine's %d cores; load average %s at the start, %s at the end\n%s",
		x.cores, x.loadAvg, readLoadAvg(), tab.String())
	for _, r := range rows {
		b.ReportMetric(r.percent(), fmt.Sprintf("%s-%d-%%-of-limit", r.op, r.clients))
		if r.op != "login" {
			b.ReportMetric(r.percentOf(r.batchLimits), fmt.Sprintf("%s-%d-%%-of-bbolt-batch", r.op, r.clients))
		}
		if r.op == "login" {
			// The share of a sign-in's CPU time that is the hash itself:
			// steadier than the rates on a machine shared with other work.
			b.ReportMetric(100*r.limitCPUPerOp().Seconds()/r.serverCPUPerOp().Seconds(), fmt.Sprintf("login-%d-hash-%%-of-cpu", r.clients))
		}
	}
}

// external is a deputy serve process, its programme and what loads it.
type external struct {
	bin, loader string // the deputy and deputyload binaries
	dir         string // the server's bbolt file and the limit's
	d           *runningDeputy
	adminURL    string // the server's --admin-addr
	apiKey      string
	http        *http.Client
	adminToken  string // a stepped-up root user's session
	stepUps     []string
	next        int // the next user number of a create run
	cores       int
	loadAvg     string
}

const (
	externalEmail    = "root@load.test"
	externalPassword = "Str0ng-Passw0rd"
)

// stepUpsPerUser is how many step-ups a user's session makes: the texts the
// server's default budgets allow a user, each with a number of their own,
// less the enrolment's.
func stepUpsPerUser() int {
	l := core.DefaultRateLimits()
	return min(l.SMSPerUser.Requests, l.SMSPerNumber.Requests) - 1
}

func startExternal(b *testing.B) *external {
	x := &external{loadAvg: readLoadAvg(), cores: runtime.NumCPU()}
	x.bin, x.loader = buildDeputy(b), goBuild(b, "./internal/loadgen/deputyload", "deputyload")
	x.dir = b.TempDir()
	db := filepath.Join(x.dir, "deputy.db")
	out, err := exec.Command(x.bin, "programme", "create", "--db", db, "--name", "Load", "--json").Output()
	require.NoError(b, err)
	var prog struct{ APIKey string }
	require.NoError(b, json.Unmarshal(out, &prog))
	x.apiKey = prog.APIKey
	admin := freeAddr(b)
	x.adminURL = "http://" + admin
	// X-Forwarded-For from loopback names the client, so that sign-ins can
	// come from many addresses, each within its rate limit.
	// Sessions made before the first run serve the last ones.
	x.d = startDeputy(b, x.bin, db, "--trusted-proxies", "127.0.0.1", "--admin-addr", admin, "--session-idle", "30m")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	x.http = &http.Client{Transport: tr, Timeout: time.Minute}

	var root struct {
		ID struct{ ID string }
	}
	require.NoError(b, x.post("/multi/corporates", "", map[string]any{
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP",
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": externalEmail, "companyPosition": "DIRECTOR",
			"mobile": map[string]any{"countryCode": "+44", "number": "7700900000"}},
		"company": map[string]any{"name": "Load Ltd", "type": "LLC", "registrationCountry": "GB"},
	}, http.StatusOK, &root))
	x.adminToken, err = x.enrolled(root.ID.ID)
	require.NoError(b, err)
	return x
}

// enrolled sets user id's password and enrols their mobile for SMS codes,
// which steps their session up, and returns the session's token.
func (x *external) enrolled(id string) (string, error) {
	var pw struct{ Token string }
	if err := x.post("/multi/passwords/"+id+"/create", "", map[string]any{"password": map[string]any{"value": externalPassword}}, http.StatusOK, &pw); err != nil {
		return "", err
	}
	if err := x.post("/multi/authentication_factors/otp/SMS", pw.Token, nil, http.StatusNoContent, nil); err != nil {
		return "", err
	}
	return pw.Token, x.post("/multi/authentication_factors/otp/SMS/verify", pw.Token, map[string]string{"verificationCode": core.SandboxCode}, http.StatusNoContent, nil)
}

// post sends body with the api key and token (when not "") and fails
// unless the status is want; out, when not nil, receives the JSON answer.
func (x *external) post(path, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(http.MethodPost, x.d.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("api-key", x.apiKey)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := x.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: status %d, want %d: %s", path, res.StatusCode, want, got)
	}
	if out != nil {
		return json.Unmarshal(got, out)
	}
	return nil
}

// stepUpSessions returns a file of n sessions of users enrolled for SMS,
// each with its own mobile number, made by the admin through the API.
func (x *external) stepUpSessions(b *testing.B, n int) string {
	first := len(x.stepUps)
	x.stepUps = append(x.stepUps, make([]string, n)...)
	setup := loadgen.Run(context.Background(), loadgen.Config{Workers: 16, Requests: n, Do: func(_ context.Context, _, i int) error {
		i += first
		var u struct{ ID string }
		err := x.post("/multi/users", x.adminToken, map[string]any{
			"name": "Step", "surname": strconv.Itoa(i), "email": fmt.Sprintf("stepup%d@load.test", i),
			"mobile": map[string]any{"countryCode": "+44", "number": fmt.Sprintf("77%08d", i+1)}, "roles": []string{"CARD_ASSIGNEE"},
		}, http.StatusOK, &u)
		if err != nil {
			return err
		}
		x.stepUps[i], err = x.enrolled(u.ID) // each worker its own element
		return err
	}})
	require.Zero(b, setup.Errors, "%v", setup.FirstErr)
	file := filepath.Join(x.dir, fmt.Sprintf("sessions-%d.txt", first))
	require.NoError(b, os.WriteFile(file, []byte(strings.Join(x.stepUps[first:], "\n")+"\n"), 0o600))
	return file
}

// externalRow is one load run and the limit it is held to.
type externalRow struct {
	op      string // create, stepup or login
	clients int
	res     loadgen.Result
	updates int64      // the server's store updates during the run
	limits  []limitRun // tiny writes (create, stepup) or raw hashes (login), measured around the run
	// batchLimits are tiny writes through bbolt's own DB.Batch (create,
	// stepup), measured around the run.
	batchLimits []limitRun
	serverCPU   time.Duration
	loadCPU     time.Duration // deputyload's
	steal       float64       // host-steal-%
	peakRSS     int64         // the server's, during the run
}

// serverCPUPerOp is the server's CPU time per operation.
func (r externalRow) serverCPUPerOp() time.Duration {
	return r.serverCPU / time.Duration(r.res.Requests)
}

// writesPerOp is the server's store updates per operation.
func (r externalRow) writesPerOp() float64 { return float64(r.updates) / float64(r.res.Requests) }

// limitRun is one measure of a limit: ops operations (tiny writes, hashes)
// in elapsed, which took this process cpu.
type limitRun struct {
	ops          int
	elapsed, cpu time.Duration
}

func (l limitRun) rate() float64 { return float64(l.ops) / l.elapsed.Seconds() }

// meanRate is the mean rate of limits measured around a run.
func meanRate(limits []limitRun) float64 {
	var sum float64
	for _, l := range limits {
		sum += l.rate()
	}
	return sum / float64(len(limits))
}

// rateRange is the lowest and the highest rate of limits.
func rateRange(limits []limitRun) (lo, hi float64) {
	lo, hi = limits[0].rate(), limits[0].rate()
	for _, l := range limits[1:] {
		lo, hi = min(lo, l.rate()), max(hi, l.rate())
	}
	return lo, hi
}

// limitCPUPerOp is the CPU time one operation of the limits took: a
// figure that, unlike the rates, hardly depends on how much of the
// machine other work takes.
func (r externalRow) limitCPUPerOp() time.Duration {
	var cpu time.Duration
	var ops int
	for _, l := range r.limits {
		cpu, ops = cpu+l.cpu, ops+l.ops
	}
	return cpu / time.Duration(ops)
}

// percent is the run's throughput in percent of its mean limit: durable
// writes per second for creates and step-ups, sign-ins per second for
// sign-ins.
func (r externalRow) percent() float64 { return r.percentOf(r.limits) }

// percentOf is the run's throughput in percent of the mean of limits.
func (r externalRow) percentOf(limits []limitRun) float64 {
	rate := r.res.PerSecond()
	if r.op != "login" {
		rate *= r.writesPerOp()
	}
	return 100 * rate / meanRate(limits)
}

// add appends a later round of the same run: its requests and times add
// up, its p99 and peak count when higher.
func (r *externalRow) add(next externalRow) {
	steal := r.steal*r.res.Elapsed.Seconds() + next.steal*next.res.Elapsed.Seconds()
	r.res.Requests += next.res.Requests
	r.res.Elapsed += next.res.Elapsed
	r.res.P50 = max(r.res.P50, next.res.P50)
	r.res.P99 = max(r.res.P99, next.res.P99)
	r.res.Max = max(r.res.Max, next.res.Max)
	r.steal = steal / r.res.Elapsed.Seconds()
	r.updates += next.updates
	r.serverCPU += next.serverCPU
	r.loadCPU += next.loadCPU
	r.peakRSS = max(r.peakRSS, next.peakRSS)
}

// writeRun runs requests operations of op (create or stepup) from clients
// clients between two measures of the batched-commit limit.
func (x *external) writeRun(b *testing.B, op string, clients, requests int) externalRow {
	args := []string{"-op", op}
	switch op {
	case "create":
		args = append(args, "-token", x.adminToken, "-first", strconv.Itoa(x.next))
		x.next += requests
	case "stepup":
		per := stepUpsPerUser()
		args = append(args, "-tokens", x.stepUpSessions(b, (requests+per-1)/per), "-per-session", strconv.Itoa(per))
	}
	before, batchBefore := commitLimit(b, x.dir, clients), batchLimit(b, x.dir, clients)
	row := x.measure(b, op, clients, requests, args)
	row.limits = []limitRun{before, commitLimit(b, x.dir, clients)}
	row.batchLimits = []limitRun{batchBefore, batchLimit(b, x.dir, clients)}
	return row
}

// signInRounds is how many floods of sign-ins alternate with raw hashing.
const signInRounds = 3

// signInRun runs requests sign-ins from clients clients in signInRounds
// floods, each between two measures of the raw hash rate as long as a flood
// (as many hashes as it has sign-ins), so that both sample this shared
// machine's speed over windows of the same length.
func (x *external) signInRun(b *testing.B, clients, requests int) externalRow {
	defer password.TuneGC(password.DefaultMemoryLimit)() // as deputy serve hashes
	hashes := requests / signInRounds
	flood := func() externalRow {
		defer func() { x.next += hashes }()
		return x.measure(b, "login", clients, hashes, []string{"-op", "login",
			"-email", externalEmail, "-password", externalPassword, "-first", strconv.Itoa(x.next)})
	}
	// A flood and a round of raw hashes first, not counted: the rows before
	// leave the server and this process in another state (the first sign-ins
	// after thousands of writes cost some 15% more CPU each), which the
	// first measured round of each side would pay for.
	flood()
	rawHashes(b, hashes)
	var row externalRow
	limits := []limitRun{rawHashes(b, hashes)}
	for round := range signInRounds {
		if round == 0 {
			row = flood()
		} else {
			row.add(flood())
		}
		limits = append(limits, rawHashes(b, hashes))
	}
	row.limits = limits
	return row
}

// measure runs deputyload with args and measures the server meanwhile.
func (x *external) measure(b *testing.B, op string, clients, requests int, args []string) externalRow {
	pid := x.d.cmd.Process.Pid
	row := externalRow{op: op, clients: clients}
	updates := x.storeUpdates(b)
	cpu, err := loadgen.ProcessCPU(pid)
	require.NoError(b, err)
	require.NoError(b, loadgen.ResetPeakRSS(pid))
	host, err := loadgen.ReadHostCPU()
	require.NoError(b, err)

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(x.loader, append(args, "-url", x.d.base, "-api-key", x.apiKey,
		"-clients", strconv.Itoa(clients), "-requests", strconv.Itoa(requests))...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(b, cmd.Run(), "deputyload %s: %s", op, stderr.String())
	row.loadCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()

	after, err := loadgen.ReadHostCPU()
	require.NoError(b, err)
	row.steal = host.StealPercent(after)
	row.peakRSS, err = loadgen.PeakRSS(pid)
	require.NoError(b, err)
	end, err := loadgen.ProcessCPU(pid)
	require.NoError(b, err)
	row.serverCPU = end - cpu
	require.NoError(b, json.Unmarshal(stdout.Bytes(), &row.res))
	if row.res.Errors > 0 {
		b.Fatalf("%s, %d clients: %d of %d requests failed; first: %v", op, clients, row.res.Errors, row.res.Requests, row.res.FirstErr)
	}
	row.updates = x.storeUpdates(b) - updates
	return row
}

// storeUpdates is how many store updates the server has made, from its metrics.
func (x *external) storeUpdates(b *testing.B) int64 {
	res, err := x.http.Get(x.adminURL + "/metrics")
	require.NoError(b, err)
	defer res.Body.Close()
	n, err := countStoreUpdates(res.Body)
	require.NoError(b, err)
	return n
}

// updateCount is the Prometheus series counting store updates.
const updateCount = "deputy_store_transaction_duration_seconds_count{"

// countStoreUpdates adds up the update counts in a Prometheus text exposition.
func countStoreUpdates(r io.Reader) (int64, error) {
	var total int64
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, updateCount) || !strings.Contains(line, `kind="update"`) {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		total, found = total+int64(n), true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("no %s...kind=\"update\"...} series in the metrics", updateCount)
	}
	return total, nil
}

// commitLimitTime is how long each measure of the batched-commit limit runs.
const commitLimitTime = 2 * time.Second

// commitLimit measures how many tiny durable writes (an audit event each)
// writers goroutines make through boltstore's group commit in
// commitLimitTime, on a bbolt file in dir.
func commitLimit(b *testing.B, dir string, writers int) limitRun {
	s, err := boltstore.Open(filepath.Join(dir, "limit.db"), boltstore.Options{})
	require.NoError(b, err)
	defer func() { require.NoError(b, s.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), commitLimitTime)
	defer cancel()
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	run := startLimitRun(b)
	for range writers {
		wg.Go(func() {
			n := 0
			for ctx.Err() == nil {
				err := s.Update(context.Background(), func(tx core.Tx) error {
					return tx.AppendAudit(&core.AuditEvent{ProgrammeID: "p1", Actor: "system", Action: "bench", At: time.Now()})
				})
				if err != nil {
					b.Error(err)
					return
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return run(total)
}

// batchLimit measures how many tiny durable writes (a 200-byte value each)
// writers goroutines make through bbolt's own batched commits (DB.Batch, with
// its default batch size and delay) in commitLimitTime, on a bbolt file in
// dir: the limit issue 17 named.
func batchLimit(b *testing.B, dir string, writers int) limitRun {
	db, err := bolt.Open(filepath.Join(dir, "batch.db"), 0o600, nil)
	require.NoError(b, err)
	defer func() { require.NoError(b, db.Close()) }()
	bucket, value := []byte("writes"), bytes.Repeat([]byte("x"), 200)
	require.NoError(b, db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}))
	ctx, cancel := context.WithTimeout(context.Background(), commitLimitTime)
	defer cancel()
	var (
		total atomic.Int64
		wg    sync.WaitGroup
	)
	run := startLimitRun(b)
	for range writers {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := db.Batch(func(tx *bolt.Tx) error {
					w := tx.Bucket(bucket)
					seq, err := w.NextSequence()
					if err != nil {
						return err
					}
					return w.Put(binary.BigEndian.AppendUint64(nil, seq), value)
				})
				if err != nil {
					b.Error(err)
					return
				}
				total.Add(1)
			}
		})
	}
	wg.Wait()
	return run(int(total.Load()))
}

// rawHashes measures n hashes of a password with the server's parameters,
// as many at once as the server hashes.
func rawHashes(b *testing.B, n int) limitRun {
	run := startLimitRun(b)
	_, err := loadgen.HashTime(context.Background(), password.DefaultParams, n)
	require.NoError(b, err)
	return run(n)
}

// startLimitRun starts measuring this process's time and CPU time; the
// function it returns ends the measure of ops operations.
func startLimitRun(b *testing.B) func(ops int) limitRun {
	start := time.Now()
	cpu, err := loadgen.ProcessCPU(os.Getpid())
	require.NoError(b, err)
	return func(ops int) limitRun {
		end, err := loadgen.ProcessCPU(os.Getpid())
		require.NoError(b, err)
		return limitRun{ops: ops, elapsed: time.Since(start), cpu: end - cpu}
	}
}

// writeTable prints the rows for people.
func writeTable(w io.Writer, rows []externalRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tclients\tops/s\tp99\twrites/op\twrites/s\tlimit: mean (min-max)\t% of limit\tbbolt DB.Batch: mean (min-max)\t% of it\tserver CPU\tserver CPU/op\tlimit CPU/op\tdeputyload CPU\tsteal\tserver peak RSS\t")
	for _, r := range rows {
		what, writes := map[string]string{"create": "user create", "stepup": "SMS step-up", "login": "sign-in"}[r.op], "-"
		lo, hi := rateRange(r.limits)
		limit, batch, ofBatch := fmt.Sprintf("%.0f (%.0f-%.0f) writes/s", meanRate(r.limits), lo, hi), "-", "-"
		if r.op == "login" {
			limit = fmt.Sprintf("%.1f (%.1f-%.1f) hashes/s", meanRate(r.limits), lo, hi)
		} else {
			writes = fmt.Sprintf("%.0f", r.res.PerSecond()*r.writesPerOp())
			lo, hi := rateRange(r.batchLimits)
			batch, ofBatch = fmt.Sprintf("%.0f (%.0f-%.0f) writes/s", meanRate(r.batchLimits), lo, hi), fmt.Sprintf("%.1f %%", r.percentOf(r.batchLimits))
		}
		secs := r.res.Elapsed.Seconds()
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%v\t%.2f\t%s\t%s\t%.1f %%\t%s\t%s\t%.0f %%\t%.0f µs\t%.0f µs\t%.0f %%\t%.1f %%\t%d MiB\t\n",
			what, r.clients, r.res.PerSecond(), r.res.P99.Round(100*time.Microsecond), r.writesPerOp(), writes, limit, r.percent(), batch, ofBatch,
			100*r.serverCPU.Seconds()/secs, float64(r.serverCPUPerOp().Microseconds()), float64(r.limitCPUPerOp().Microseconds()),
			100*r.loadCPU.Seconds()/secs, r.steal, r.peakRSS>>20)
	}
	tw.Flush()
}

// readLoadAvg is the machine's load average over 1, 5 and 15 minutes, as uptime prints it.
func readLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func TestCountStoreUpdates(t *testing.T) {
	const scope = `otel_scope_name="github.com/deputyhq/deputy/telemetry/otelstore",otel_scope_schema_url="",otel_scope_version=""`
	metrics := `# TYPE deputy_store_transaction_duration_seconds histogram
deputy_store_transaction_duration_seconds_bucket{kind="update",` + scope + `,le="0.0005"} 1
deputy_store_transaction_duration_seconds_sum{kind="update",` + scope + `} 0.0123
deputy_store_transaction_duration_seconds_count{kind="update",` + scope + `} 1234
deputy_store_transaction_duration_seconds_count{kind="view",` + scope + `} 99999
deputy_store_transaction_retries_total{kind="update",` + scope + `} 7
`
	n, err := countStoreUpdates(strings.NewReader(metrics))
	require.NoError(t, err)
	require.Equal(t, int64(1234), n)

	_, err = countStoreUpdates(strings.NewReader("# no store yet\n"))
	require.ErrorContains(t, err, "no deputy_store_transaction_duration_seconds_count")
	_, err = countStoreUpdates(strings.NewReader(`deputy_store_transaction_duration_seconds_count{kind="update"} many` + "\n"))
	require.ErrorContains(t, err, "many")
}
