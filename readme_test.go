//go:build unix

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// walkthroughs are the README's sessions: the shell blocks under these
// headings run, in the README's order, in one shell each, in a directory of
// their own, with the deputy binary of this checkout on PATH.
var walkthroughs = []struct {
	name     string
	sections []string
}{
	{"curl", []string{
		"A walkthrough with curl",
		"Step-up with SMS",
		`Inviting an authorised user (the "Invite additional users" guide)`,
		"Sign-up and sign-in for a web app",
		"Rotating keys",
		"Backups",
		"Audit log",
		"Webhooks",
		"Access tokens and linked identities",
		"Confirmation challenges",
		"Operation-bound step-up",
		"Bulk users",
	}},
	{"companion", []string{"The headless companion in sandbox mode"}},
}

// notRun are the headings of the shell blocks that do not drive a sandbox
// server, and why.
var notRun = map[string]string{
	"Two commands":  "make run and make test",
	"Configuration": "a production server: it needs an SMTP server and an SMS gateway",
	"Build and run": "builds the companion app for desktops and phones",
	"PostgreSQL and several replicas": "needs a PostgreSQL server; internal/command's postgres_test.go runs " +
		"two replicas on a throwaway one",
	"Moving up from bbolt": "needs a PostgreSQL server; internal/command's TestStoreCopyMovesUp copies a served " +
		"bbolt file into a throwaway one",
	"Waking phones: FCM and APNs": "needs a Firebase project and an Apple developer key; internal/pushrelay's " +
		"TestEndToEnd runs both relays against loopback fakes of FCM and APNs",
	"Metrics and traces": "needs a collector; internal/command's TestServeMetrics and TestServeTraces " +
		"run serve with --admin-addr and --otlp-endpoint against an in-process one",
}

// TestREADME runs every walkthrough of README.md as a reader would, against
// `deputy serve --sandbox` built from this checkout, and compares what each
// command prints with the comment lines below it (see readme_steps_test.go
// for how the README is read).
func TestREADME(t *testing.T) {
	blocks, err := readREADME()
	require.NoError(t, err)
	steps := walkthroughSteps(t, blocks)
	bin := toolDir(t)
	for _, w := range walkthroughs {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			runWalkthrough(t, bin, steps[w.name])
		})
	}
}

// walkthroughSteps gathers each walkthrough's steps, and fails for a shell
// block that is neither in a walkthrough nor in notRun, and for a walkthrough
// section without shell blocks (a renamed heading).
func walkthroughSteps(t *testing.T, blocks []shBlock) map[string][]step {
	t.Helper()
	bySection := map[string]string{}
	for _, w := range walkthroughs {
		for _, s := range w.sections {
			bySection[s] = w.name
		}
	}
	out := map[string][]step{}
	seen := map[string]bool{}
	for _, b := range blocks {
		name, ok := bySection[b.section]
		if !ok {
			if _, skip := notRun[b.section]; !skip {
				t.Errorf("README.md:%d: the shell block under %q is in no walkthrough of TestREADME, nor in notRun", b.line, b.section)
			}
			continue
		}
		seen[b.section] = true
		s, err := b.steps()
		require.NoError(t, err)
		out[name] = append(out[name], s...)
	}
	for s := range bySection {
		if !seen[s] {
			t.Errorf("README.md has no shell block under the heading %q", s)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// toolDir builds deputy into a directory, beside a curl that records each
// call's response headers for the status checks, and returns the directory.
func toolDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's walkthroughs need %s: `make readme-deps` installs it", tool)
		}
	}
	dir := filepath.Dir(buildDeputy(t))
	curl, err := exec.LookPath("curl")
	require.NoError(t, err)
	shim := fmt.Sprintf("#!/bin/sh\nexec %s -D \"$README_OUT/$README_STEP.headers.$$\" \"$@\"\n", curl)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "curl"), []byte(shim), 0o755))
	return dir
}

// buildDeputy builds this checkout's deputy into a new directory and returns
// its path: under `go test -race`, with the race detector, as goBuild says.
func buildDeputy(t testing.TB) string {
	t.Helper()
	return goBuild(t, ".", "deputy")
}

// goBuild builds the main package pkg into a new directory as name and
// returns its path. It builds with -race when this test binary was, so that
// the packages `go test -race` compiled serve again instead of every one
// being compiled a second time.
func goBuild(t testing.TB, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	args := []string{"build", "-o", bin}
	if builtWithRace() {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, pkg)...).CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, out)
	return bin
}

// walkthroughLimit is how long a walkthrough may run: a command that does not
// end (a server without &) fails the test instead of holding it up.
const walkthroughLimit = 2 * time.Minute

var loopbackRE = regexp.MustCompile(`127\.0\.0\.1:([0-9]{2,5})`)

// runWalkthrough runs steps in one bash, in a new directory, each loopback
// address the README names replaced by a free port, then checks each step.
func runWalkthrough(t *testing.T, bin string, steps []step) {
	work, harness := t.TempDir(), t.TempDir()
	ports := freePorts(t, steps)
	var script strings.Builder
	script.WriteString("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n")
	for i, s := range steps {
		cmd := loopbackRE.ReplaceAllStringFunc(s.command, func(a string) string { return ports[a] })
		fmt.Fprintf(&script, "export README_STEP=%d\n{\n%s\n} >\"$README_OUT/%d.out\" 2>&1; echo $? >\"$README_OUT/%d.rc\"\n", i, cmd, i, i)
		if s.background {
			addr := loopbackRE.FindString(cmd)
			require.NotEmpty(t, addr, "README.md:%d: a background command without a loopback address to wait for", s.line)
			host, port, _ := net.SplitHostPort(addr)
			fmt.Fprintf(&script, "for _ in $(seq 300); do (exec 3<>/dev/tcp/%s/%s) 2>/dev/null && break; sleep 0.1; done\n", host, port)
		}
	}
	path := filepath.Join(harness, "walkthrough.sh")
	require.NoError(t, os.WriteFile(path, []byte(script.String()), 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), walkthroughLimit)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", path)
	sh.Dir = work
	sh.Env = append(environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+work, "README_OUT="+harness)
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh.Cancel = func() error { return syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) }
	log, err := os.Create(filepath.Join(harness, "bash.log"))
	require.NoError(t, err)
	defer log.Close()
	sh.Stdout, sh.Stderr = log, log // a file: servers left running cannot hold up Wait
	runErr := sh.Run()
	if sh.Process != nil {
		_ = syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) // anything the walkthrough left running
	}
	for i, s := range steps {
		if err := checkStep(harness, i, s); err != nil {
			t.Fatalf("README.md:%d: %s\n%v\n(later steps not checked)%s", s.line, s.title(), err, logTails(work))
		}
	}
	if runErr != nil {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("bash: %v\n%s", runErr, out)
	}
}

// logTails is the end of each log file the walkthrough wrote in dir (its
// servers' logs), for a failure's message.
func logTails(dir string) string {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "\n%s, last lines:\n%s", filepath.Base(l), strings.Join(lines[max(0, len(lines)-10):], "\n"))
	}
	return b.String()
}

// checkStep checks the exit status, the HTTP status and the output of step i.
func checkStep(harness string, i int, s step) error {
	rc, err := os.ReadFile(filepath.Join(harness, fmt.Sprintf("%d.rc", i)))
	if err != nil {
		return fmt.Errorf("did not finish (a walkthrough runs for at most %v)", walkthroughLimit)
	}
	got, err := os.ReadFile(filepath.Join(harness, fmt.Sprintf("%d.out", i)))
	if err != nil {
		return err
	}
	if code := strings.TrimSpace(string(rc)); code != "0" {
		return fmt.Errorf("exit status %s, output:\n%s", code, got)
	}
	if s.background {
		return nil
	}
	if s.status != 0 {
		status, err := curlStatus(harness, i)
		if err != nil {
			return err
		}
		if status != s.status {
			return fmt.Errorf("HTTP status %d, the README says %d; output:\n%s", status, s.status, got)
		}
	}
	if err := matchOutput(s.want, string(got)); err != nil {
		return fmt.Errorf("%w\noutput:\n%s", err, got)
	}
	return nil
}

var statusLineRE = regexp.MustCompile(`(?m)^HTTP/[0-9.]+ ([0-9]{3})`)

// curlStatus is the final HTTP status of step i's one curl call.
func curlStatus(harness string, i int) (int, error) {
	files, err := filepath.Glob(filepath.Join(harness, fmt.Sprintf("%d.headers.*", i)))
	if err != nil || len(files) != 1 {
		return 0, fmt.Errorf("the README states an HTTP status, so the command must make exactly one curl call; it made %d", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return 0, err
	}
	m := statusLineRE.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("no HTTP status in the response headers: %q", b)
	}
	return strconv.Atoi(string(m[len(m)-1][1]))
}

// freePorts maps each loopback address the steps name to one with a free port.
func freePorts(t *testing.T, steps []step) map[string]string {
	t.Helper()
	ports := map[string]string{}
	for _, s := range steps {
		for _, a := range loopbackRE.FindAllString(s.command, -1) {
			if _, ok := ports[a]; ok {
				continue
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ports[a] = ln.Addr().String()
			require.NoError(t, ln.Close())
		}
	}
	return ports
}

// environ is the test's environment without deputy's settings.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEPUTY_") {
			env = append(env, kv)
		}
	}
	return env
}

// builtWithRace reports whether this test binary has the race detector.
func builtWithRace() bool {
	info, ok := debug.ReadBuildInfo()
	return ok && slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
}
