package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Wrk describes a run of wrk, the HTTP load generator written in C. It runs
// as its own process, so the load it makes costs the process under test
// nothing but the requests themselves; a Go client in the same process would
// take as much CPU as the server it measures.
type Wrk struct {
	URL         string
	Headers     []string // "Name: value"
	Connections int      // requests in flight at once
	Threads     int
	Duration    time.Duration
}

// ErrNoWrk says wrk is not installed (Debian: apt-get install wrk).
var ErrNoWrk = errors.New("wrk is not installed (Debian: apt-get install wrk)")

// RunWrk runs w and returns wrk's report as a Result. Responses other than
// 2xx and 3xx and socket errors count as errors.
func RunWrk(ctx context.Context, w Wrk) (Result, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return Result{}, ErrNoWrk
	}
	args := []string{"--latency",
		"-t", strconv.Itoa(max(w.Threads, 1)),
		"-c", strconv.Itoa(max(w.Connections, 1)),
		"-d", strconv.Itoa(max(int(w.Duration.Seconds()), 1)) + "s"}
	for _, h := range w.Headers {
		args = append(args, "-H", h)
	}
	out, err := exec.CommandContext(ctx, path, append(args, w.URL)...).CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads the report wrk prints with --latency; its durations (535.00us,
// 5.36ms, 12.10s) are in time.ParseDuration's format.
func parseWrk(out string) (Result, error) {
	var res Result
	var seen int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var err error
		switch {
		case len(f) >= 4 && f[0] == "Latency":
			res.Max, err = time.ParseDuration(f[3])
		case len(f) == 2 && f[0] == "50%":
			res.P50, err = time.ParseDuration(f[1])
			seen++
		case len(f) == 2 && f[0] == "99%":
			res.P99, err = time.ParseDuration(f[1])
			seen++
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			if res.Requests, err = strconv.Atoi(f[0]); err == nil {
				res.Elapsed, err = time.ParseDuration(strings.TrimSuffix(f[3], ","))
			}
			seen++
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:"):
			var n int
			n, err = strconv.Atoi(f[len(f)-1])
			res.addErrors(n, "responses other than 2xx or 3xx")
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < len(f); i += 2 {
				var n int
				if n, err = strconv.Atoi(strings.TrimSuffix(f[i], ",")); err != nil {
					break
				}
				res.addErrors(n, "socket errors ("+f[i-1]+")")
			}
		}
		if err != nil {
			return Result{}, fmt.Errorf("wrk report %q: %w", sc.Text(), err)
		}
	}
	if seen < 3 || res.Elapsed <= 0 {
		return Result{}, fmt.Errorf("wrk report without request count and latency distribution:\n%s", out)
	}
	return res, nil
}

func (r *Result) addErrors(n int, what string) {
	if n > 0 {
		r.Errors += n
		if r.FirstErr == nil {
			r.FirstErr = fmt.Errorf("%d %s", n, what)
		}
	}
}
