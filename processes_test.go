//go:build unix

package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runningDeputy is a `deputy serve --sandbox` process on a loopback port.
type runningDeputy struct {
	cmd  *exec.Cmd
	base string
}

// startDeputy starts `deputy serve --sandbox` on db with extra arguments,
// killed when t ends, and waits until it is ready.
func startDeputy(t testing.TB, bin, db string, extra ...string) *runningDeputy {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--sandbox", "--db", db, "--addr", addr}, extra...)...)
	cmd.Env = environ()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	d := &runningDeputy{cmd: cmd, base: "http://" + addr}
	require.Eventually(t, func() bool {
		res, err := http.Get(d.base + "/readyz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "deputy serve did not start")
	return d
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// post calls the server with the programme's api key and requires status.
func (d *runningDeputy) post(t *testing.T, apiKey, path, body string, status int) []byte {
	t.Helper()
	got, out, err := d.send(apiKey, path, body, "")
	require.NoError(t, err)
	require.Equal(t, status, got, "POST %s: %s", path, out)
	return out
}

// send POSTs body with the programme's api key and, when not "", an
// idempotency-ref, and returns the status and the body.
func (d *runningDeputy) send(apiKey, path, body, ref string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, d.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("api-key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	if ref != "" {
		req.Header.Set("idempotency-ref", ref)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}
