package command_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/command"
)

// TestDemoInfo starts the headless demo and checks that `deputy demo info`
// prints its banner again, says whether it runs, and after it stopped says
// so; while it runs, `deputy programme settings` changes its programme.
func TestDemoInfo(t *testing.T) {
	dir := t.TempDir()
	_, err := run(t, 30*time.Second, "demo", "info", "--data-dir", dir)
	require.EqualError(t, err, "no demo in "+dir+" yet: `deputy demo` seeds one")

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- command.Run(ctx, []string{"deputy", "demo", "--headless", "--data-dir", dir, "--addr", "127.0.0.1:0"}, w, io.Discard)
		w.Close()
	}()
	banner := readUntil(t, out, "Press Ctrl-C to stop.")
	go func() { _, _ = io.Copy(io.Discard, out) }() // the demo's later output, if any
	require.Contains(t, banner, "Deputy sandbox demo\n")
	require.Contains(t, banner, "  data       "+dir+"   (server.log, demo.db)\n")

	info, err := run(t, 30*time.Second, "demo", "info", "--data-dir", dir)
	require.NoError(t, err)
	assert.Equal(t, banner+"The demo is running.\n", info)

	// Operator commands reach the running demo through its control socket.
	set, err := run(t, 30*time.Second, "programme", "settings", "--db", filepath.Join(dir, "demo.db"), "--id", "100000001", "--otp-attempts", "3")
	require.NoError(t, err)
	assert.Contains(t, set, `"otpAttempts":3`)

	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop")
	}
	info, err = run(t, 30*time.Second, "demo", "info", "--data-dir", dir)
	require.NoError(t, err)
	assert.Equal(t, banner+"The demo is not running: `deputy demo` starts it again, on a new port.\n", info)

	// Whoever listens on the stopped demo's port next hears no key: not the
	// secret one, nor the ui key, which with the root user's published
	// password (and sandbox codes) signs in as the root user. Nor does
	// answering like the demo make it seem to run.
	url, err := os.ReadFile(filepath.Join(dir, "server.url"))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", strings.TrimPrefix(strings.TrimSpace(string(url)), "http://"))
	require.NoError(t, err)
	keys := make(chan string, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get("api-key")
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	info, err = run(t, 30*time.Second, "demo", "info", "--data-dir", dir)
	require.NoError(t, err)
	assert.Equal(t, banner+"The demo is not running: `deputy demo` starts it again, on a new port.\n", info)
	assert.Zero(t, len(keys), "requests to the listener that carried a key")
}

// readUntil reads lines from r up to the line last, and returns them without it.
func readUntil(t *testing.T, r io.Reader, last string) string {
	t.Helper()
	var b strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == last {
			return b.String()
		}
		b.WriteString(sc.Text() + "\n")
	}
	t.Fatalf("the output ended before %q: %s (%v)", last, b.String(), sc.Err())
	return ""
}

// TestDemoBeyondLoopbackWarns: a demo other machines reach, whose root
// password and codes are printed and fixed, says so where the operator sees
// it (its log goes to a file).
func TestDemoBeyondLoopbackWarns(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out, w := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- command.Run(ctx, []string{"deputy", "demo", "--headless", "--data-dir", t.TempDir(), "--addr", "0.0.0.0:0"}, w, &stderr)
		w.Close()
	}()
	readUntil(t, out, "Press Ctrl-C to stop.")
	go func() { _, _ = io.Copy(io.Discard, out) }()
	stop()
	require.NoError(t, <-done)
	assert.Contains(t, stderr.String(), "sandbox mode beyond this machine")
}
