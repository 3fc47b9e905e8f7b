// Package webhookbench is the plumbing of the benchmarks that measure what
// webhooks cost Deputy's writes: a receiver in a process of its own, as an
// embedder's is (it shares the machine's cores, but its goroutines and
// garbage are not in the Go runtime measured; the process is the test
// binary run again, whose TestMain is Main), a delivery worker that runs
// only while the rounds with endpoints do, and the same HTTP traffic sent by
// a process without Deputy (Traffic), to tell what the traffic costs the
// machine from what Deputy's delivery does.
package webhookbench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// childEnv, set in a test binary's environment, makes it a receiver.
const childEnv = "DEPUTY_TEST_RECEIVER_PROCESS"

// Main is the TestMain of a package whose benchmarks Start receivers (or
// StartTraffic): in a test binary that Start ran, it serves until its
// standard input closes (the test that started it ended, or died) and
// exits; in one StartTraffic ran, it posts; otherwise it runs the tests.
func Main(m *testing.M) {
	if url := os.Getenv(trafficEnv); url != "" {
		if err := postTraffic(url); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(childEnv) == "" {
		os.Exit(m.Run())
	}
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serve answers every POST with 204 on a loopback port and a GET with how
// many POSTs it has answered, and prints its URL.
func serve() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var posts atomic.Int64
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, posts.Load())
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		posts.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	fmt.Println("http://" + l.Addr().String())
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// Receiver is a receiver process.
type Receiver struct {
	URL string
}

// Start runs the test binary again as a receiver until tb ends.
func Start(tb testing.TB) *Receiver {
	tb.Helper()
	_, stdout := startChild(tb, "receiver", childEnv+"=1")
	url, err := stdout.ReadString('\n')
	if err != nil {
		tb.Fatalf("the receiver's URL: %v (is the test binary's TestMain webhookbench.Main?)", err)
	}
	return &Receiver{URL: strings.TrimSpace(url)}
}

// startChild runs the test binary again with env added to its environment
// (what it is: Main reads it) until tb ends, when its standard input is
// closed and it must have exited cleanly, and returns its standard input
// and output.
func startChild(tb testing.TB, what, env string) (io.WriteCloser, *bufio.Reader) {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("%s process: %v", what, err)
		}
	})
	return stdin, bufio.NewReader(stdout)
}

// Posts returns how many deliveries the receiver has answered.
func (r *Receiver) Posts(tb testing.TB) int64 {
	tb.Helper()
	res, err := http.Get(r.URL)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil {
		tb.Fatalf("the receiver's count %q: %v", body, err)
	}
	return n
}
