package core_test

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

	"github.com/stretchr/testify/require"
)

// receiverProcessEnv, set in this test binary's environment, makes it a
// webhook receiver instead of running tests (TestMain).
const receiverProcessEnv = "DEPUTY_TEST_RECEIVER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(receiverProcessEnv) != "" {
		if err := serveReceiverProcess(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serveReceiverProcess answers every POST with 204 on a loopback port, a
// GET with how many POSTs it has answered, prints its URL, and returns when
// its standard input closes (the test that started it ended, or died).
func serveReceiverProcess() error {
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

// processReceiver is a webhook receiver in a process of its own, as an
// embedder's is: its work shares the machine's cores, not the Go runtime of
// the process that delivers to it.
type processReceiver struct {
	url string
}

// startReceiverProcess runs this test binary again as a receiver until t ends.
func startReceiverProcess(t testing.TB) *processReceiver {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), receiverProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		require.NoError(t, cmd.Wait())
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the receiver's URL")
	return &processReceiver{url: strings.TrimSpace(url)}
}

// posts returns how many deliveries the receiver has answered.
func (r *processReceiver) posts(t testing.TB) int64 {
	t.Helper()
	res, err := http.Get(r.url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	n, err := strconv.ParseInt(string(body), 10, 64)
	require.NoError(t, err)
	return n
}
