// Package webhookbench is the plumbing of the benchmarks that measure what
// webhooks cost Deputy's writes: a receiver in a process of its own, as an
// embedder's is (it shares the machine's cores, but its goroutines and
// garbage are not in the Go runtime measured; the process is the test
// binary run again, whose TestMain is Main), a delivery worker that runs
// only while the rounds with endpoints do, and the same HTTP traffic sent by
// a process without Deputy (Traffic), to tell what the traffic costs the
// machine from what Deputy's delivery does. A receiver answers either with
// Go's HTTP server, as many an embedder's would, or with a minimal HTTP/1.1
// responder (StartMinimal), which costs the shared cores as little as a
// receiver can: an embedder's receiver runs on its own machine.
package webhookbench

import (
	"bufio"
	"bytes"
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

// childEnv, set in a test binary's environment, makes it a receiver: with
// Go's HTTP server, or with the minimal responder when it is "minimal".
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
	if err := serve(os.Getenv(childEnv) == "minimal"); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serve answers every POST with 204 on a loopback port and a GET with how
// many POSTs it has answered, with Go's HTTP server or, when minimal, with
// answerMinimal, and prints its URL.
func serve(minimal bool) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var posts atomic.Int64
	if minimal {
		go acceptMinimal(l, &posts)
	} else {
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				fmt.Fprint(w, posts.Load())
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			posts.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
	}
	fmt.Println("http://" + l.Addr().String())
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// Receiver is a receiver process.
type Receiver struct {
	URL string
}

// Start runs the test binary again as a receiver with Go's HTTP server
// until tb ends.
func Start(tb testing.TB) *Receiver {
	tb.Helper()
	return start(tb, "net/http")
}

// StartMinimal runs the test binary again as a receiver with the minimal
// responder (answerMinimal) until tb ends.
func StartMinimal(tb testing.TB) *Receiver {
	tb.Helper()
	return start(tb, "minimal")
}

func start(tb testing.TB, kind string) *Receiver {
	tb.Helper()
	_, stdout := startChild(tb, "receiver", childEnv+"="+kind)
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

// acceptMinimal answers each connection l accepts (answerMinimal).
func acceptMinimal(l net.Listener, posts *atomic.Int64) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = answerMinimal(bufio.NewReaderSize(c, 16<<10), c, posts)
		}()
	}
}

// answerMinimal answers the HTTP/1.1 requests on a kept-alive connection,
// each with a Content-Length body or none: 204 to a POST, and to a GET how
// many POSTs it has answered. Anything else (a chunked body, a header line
// longer than the buffer) ends the connection, and the sender's request
// fails.
func answerMinimal(r *bufio.Reader, w io.Writer, posts *atomic.Int64) error {
	for {
		request, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		get := bytes.HasPrefix(request, []byte("GET "))
		length := 0
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return err
			}
			name, value, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
			switch {
			case len(name) == 0:
			case bytes.EqualFold(name, []byte("Content-Length")):
				if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil || length < 0 {
					return fmt.Errorf("Content-Length %q", value)
				}
				continue
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				return fmt.Errorf("Transfer-Encoding %q", value)
			default:
				continue
			}
			break
		}
		if _, err := r.Discard(length); err != nil {
			return err
		}
		answer := "HTTP/1.1 204 No Content\r\n\r\n"
		if get {
			n := strconv.FormatInt(posts.Load(), 10)
			answer = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(n), n)
		} else {
			posts.Add(1)
		}
		if _, err := io.WriteString(w, answer); err != nil {
			return err
		}
	}
}
