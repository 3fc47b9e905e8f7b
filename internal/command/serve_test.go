package command_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/command"
)

// serving is a `deputy serve` running for one test.
type serving struct {
	addr      string
	adminAddr string // the admin listener's, when --admin-addr was given
	logs      *lockedBuffer
	client    *http.Client
	// stop ends the server and waits for it (also done when the test ends).
	stop func()
}

// startServe runs `deputy serve` with args, waits for it to listen and stops
// it when the test ends.
func startServe(t testing.TB, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logR, logW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- command.Run(ctx, append([]string{"deputy", "serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...), io.Discard, logW)
		logW.Close()
	}()
	s := &serving{logs: &lockedBuffer{}, client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 10 * time.Second}}
	type serveLine struct {
		Msg, Addr string
		AdminAddr string `json:"admin_addr"`
	}
	addrs := make(chan serveLine, 1)
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			s.logs.Write(append(sc.Bytes(), '\n'))
			var line serveLine
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "deputy serving" {
				addrs <- line
			}
		}
	}()
	s.stop = sync.OnceFunc(func() {
		s.client.CloseIdleConnections() // a graceful shutdown waits for connections dialled but never used
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "serve stops cleanly")
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
		<-logsDone
	})
	t.Cleanup(s.stop)
	select {
	case line := <-addrs:
		s.addr, s.adminAddr = line.Addr, line.AdminAddr
	case err := <-done:
		t.Fatalf("serve returned before listening: %v\nlogs: %s", err, s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log its address\nlogs: %s", s.logs.String())
	}
	return s
}

// post sends a JSON body with an api key and an X-Forwarded-For header (none when "").
func (s *serving) post(t *testing.T, path, key, xff string, body any) (int, []byte) {
	t.Helper()
	return s.send(t, "POST", path, key, "", xff, body)
}

// call sends a request with an api key, a bearer token (when not "") and a JSON body (when not nil).
func (s *serving) call(t testing.TB, method, path, key, token string, body any) (int, []byte) {
	t.Helper()
	return s.send(t, method, path, key, token, "", body)
}

// send makes one request; empty token and xff leave their headers out, a nil body sends none.
func (s *serving) send(t testing.TB, method, path, key, token, xff string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := s.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

// exhaustTokenise spends client's tokenisation budget (the default per-address
// limit) with parallel calls; the sandbox clock is first moved to the start of
// a minute so that the whole fixed window is ahead.
func (s *serving) exhaustTokenise(t *testing.T, p map[string]string, client string) {
	t.Helper()
	status, body := s.post(t, "/multi/sandbox/clock", p["apiKey"], "", map[string]any{"advanceSeconds": 0})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var clock struct{ Now int64 }
	require.NoError(t, json.Unmarshal(body, &clock))
	status, body = s.post(t, "/multi/sandbox/clock", p["apiKey"], "", map[string]any{"advanceSeconds": (60000-clock.Now%60000)/1000 + 1})
	require.Equal(t, http.StatusOK, status, "%s", body)

	limit := core.DefaultRateLimits().TokenisePerIP.Requests
	statuses := make([]int, limit+5)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range statuses {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			statuses[i], _ = s.post(t, "/multi/tokenize", p["uiKey"], client, map[string]any{"password": map[string]string{"value": "Str0ng-Passw0rd"}})
		})
	}
	wg.Wait()
	byStatus := map[int]int{}
	for _, st := range statuses {
		byStatus[st]++
	}
	require.Equal(t, map[int]int{http.StatusOK: limit, http.StatusTooManyRequests: 5}, byStatus, "the default limit per address")
}

func TestServeTrustedProxies(t *testing.T) {
	tokenise := func(t *testing.T, s *serving, p map[string]string, client string) int {
		status, _ := s.post(t, "/multi/tokenize", p["uiKey"], client, map[string]any{"password": map[string]string{"value": "Str0ng-Passw0rd"}})
		return status
	}

	t.Run("flag", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "deputy.db")
		p := createProgramme(t, db)
		s := startServe(t, "--sandbox", "--db", db, "--trusted-proxies", " 10.0.0.0/8, 127.0.0.1/32 ,")
		assert.Contains(t, s.logs.String(), `"trusted_proxies":["10.0.0.0/8","127.0.0.1/32"]`)
		s.exhaustTokenise(t, p, "203.0.113.1")
		assert.Equal(t, http.StatusTooManyRequests, tokenise(t, s, p, "203.0.113.1"))
		assert.Equal(t, http.StatusOK, tokenise(t, s, p, "203.0.113.2"), "behind a trusted proxy, each client has its own budget")
	})
	t.Run("environment", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "deputy.db")
		p := createProgramme(t, db)
		t.Setenv("DEPUTY_TRUSTED_PROXIES", "127.0.0.1")
		s := startServe(t, "--sandbox", "--db", db)
		s.exhaustTokenise(t, p, "203.0.113.1")
		assert.Equal(t, http.StatusOK, tokenise(t, s, p, "203.0.113.2"))
	})
	t.Run("none", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "deputy.db")
		p := createProgramme(t, db)
		s := startServe(t, "--sandbox", "--db", db)
		s.exhaustTokenise(t, p, "203.0.113.1")
		assert.Equal(t, http.StatusTooManyRequests, tokenise(t, s, p, "203.0.113.2"), "X-Forwarded-For is ignored")
	})
}

func TestServeRefusesBadTrustedProxies(t *testing.T) {
	for _, v := range []string{"nonsense", "10.0.0.0/33", "10.0.0.0/8,,fe80::1/200"} {
		db := filepath.Join(t.TempDir(), "deputy.db")
		_, err := run(t, 10*time.Second, "serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:0", "--trusted-proxies", v)
		if assert.Error(t, err, v) {
			assert.Contains(t, err.Error(), "--trusted-proxies", v)
			assert.Contains(t, err.Error(), "CIDR", v)
		}
	}
	t.Setenv("DEPUTY_TRUSTED_PROXIES", "bogus")
	_, err := run(t, 10*time.Second, "serve", "--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--addr", "127.0.0.1:0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("%q", "bogus"))
}

// textedCodeLine signs up a root user on s and enrols their mobile for SMS,
// returning the last line of the text message that carried the code.
func (s *serving) textedCodeLine(t *testing.T, p map[string]string) string {
	t.Helper()
	key := p["apiKey"]
	_, token := signUp(t, s, key, "ada@acme.test")
	status, body := s.call(t, "POST", "/multi/authentication_factors/otp/SMS", key, token, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	status, body = s.call(t, "GET", "/multi/sandbox/outbox", key, "", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var outbox struct {
		Messages []struct{ Channel, Text string }
	}
	require.NoError(t, json.Unmarshal(body, &outbox))
	for _, m := range outbox.Messages {
		if m.Channel == "SMS" {
			lines := strings.Split(m.Text, "\n")
			return lines[len(lines)-1]
		}
	}
	t.Fatalf("no text message in %s", body)
	return ""
}

// TestServePublicURL: the host of --public-url (or DEPUTY_PUBLIC_URL) ends
// texted codes as WebOTP's "@host #code"; without it, localhost does.
func TestServePublicURL(t *testing.T) {
	for _, c := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{name: "flag", args: []string{"--public-url", "https://Auth.Bank.example:8443/app"}, want: "@auth.bank.example #123456"},
		{name: "environment", env: "https://login.acme.test", want: "@login.acme.test #123456"},
		{name: "none", want: "@localhost #123456"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("DEPUTY_PUBLIC_URL", c.env)
			}
			db := filepath.Join(t.TempDir(), "deputy.db")
			p := createProgramme(t, db)
			s := startServe(t, append([]string{"--sandbox", "--db", db}, c.args...)...)
			assert.Equal(t, c.want, s.textedCodeLine(t, p))
		})
	}
}

func TestServeRefusesBadPublicURL(t *testing.T) {
	for _, v := range []string{"auth.bank.example", "ftp://auth.bank.example", "https://", "https://10.0.0.1", "https://[::1]:8443", "https://user:pw@auth.bank.example"} {
		_, err := run(t, 10*time.Second, "serve", "--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--addr", "127.0.0.1:0", "--public-url", v)
		if assert.Error(t, err, v) {
			assert.Contains(t, err.Error(), "--public-url", v)
			assert.NotContains(t, err.Error(), "pw@", "the URL's password is not repeated")
		}
	}
}
