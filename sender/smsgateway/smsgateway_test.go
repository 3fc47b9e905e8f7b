package smsgateway

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// gateway is an httptest server acting as the carrier: it answers with the
// scripted statuses in order and records every form it receives.
type gateway struct {
	mu       sync.Mutex
	statuses []int
	forms    []map[string]string
	auth     []string
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	_ = r.ParseForm()
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	g.forms = append(g.forms, form)
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	status := http.StatusOK
	if len(g.statuses) > 0 {
		status, g.statuses = g.statuses[0], g.statuses[1:]
	}
	w.WriteHeader(status)
}

func newSender(t *testing.T, g *gateway, cfg Config) (*Sender, *[]time.Duration) {
	t.Helper()
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	cfg.URL = ts.URL + "/send"
	s, err := New(cfg)
	require.NoError(t, err)
	var waits []time.Duration
	s.wait = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return s, &waits
}

var msg = core.SMS{ProgrammeID: "1", To: core.Mobile{CountryCode: "+44", Number: "7700900123"}, Text: "Acme code 654321\n\n@deputy.example #654321"}

func TestSendsConfiguredForm(t *testing.T) {
	g := &gateway{}
	s, _ := newSender(t, g, Config{Username: "acct", Password: "secret", From: "Acme", ToField: "to", FromField: "sender", TextField: "message", Extra: map[string]string{"account": "42"}})
	require.NoError(t, s.SendSMS(context.Background(), msg))
	require.Len(t, g.forms, 1)
	assert.Equal(t, map[string]string{"to": "+447700900123", "sender": "Acme", "message": msg.Text, "account": "42"}, g.forms[0])
	assert.Contains(t, g.auth[0], "Basic ")
}

func TestBearerToken(t *testing.T) {
	g := &gateway{}
	s, _ := newSender(t, g, Config{BearerToken: "tok"})
	require.NoError(t, s.SendSMS(context.Background(), msg))
	assert.Equal(t, "Bearer tok", g.auth[0])
	assert.Equal(t, "+447700900123", g.forms[0]["To"], "default field names")
}

func TestRetriesServerErrorsWithBackoff(t *testing.T) {
	g := &gateway{statuses: []int{503, 500, 200}}
	s, waits := newSender(t, g, Config{Attempts: 3, Backoff: 100 * time.Millisecond})
	require.NoError(t, s.SendSMS(context.Background(), msg))
	assert.Len(t, g.forms, 3)
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, *waits)
}

func TestGivesUpAndNeverLeaksTheText(t *testing.T) {
	g := &gateway{statuses: []int{500, 500, 500}}
	s, _ := newSender(t, g, Config{Attempts: 3})
	err := s.SendSMS(context.Background(), msg)
	require.Error(t, err)
	assert.Len(t, g.forms, 3)
	assert.NotContains(t, err.Error(), "654321")
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	g := &gateway{statuses: []int{400}}
	s, waits := newSender(t, g, Config{Attempts: 3})
	err := s.SendSMS(context.Background(), msg)
	require.ErrorContains(t, err, "refused")
	assert.Len(t, g.forms, 1)
	assert.Empty(t, *waits)
}

// A gateway's reason phrase is its own text: an escape sequence or a long
// line in it never reaches the error, which the logs print.
func TestErrorsCarryNoReasonPhrase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	reason := "Bad \x1b[2J\x1b]52;c;ZXZpbA==\x07" + strings.Repeat("x", 10_000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = http.ReadRequest(bufio.NewReader(c))
				fmt.Fprintf(c, "HTTP/1.1 400 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", reason)
			}()
		}
	}()
	s, err := New(Config{URL: "http://" + ln.Addr().String() + "/send"})
	require.NoError(t, err)
	err = s.SendSMS(context.Background(), msg)
	require.Error(t, err)
	assert.True(t, strings.HasSuffix(err.Error(), "gateway refused the message: 400"), err.Error())
}

func TestTimeoutCountsAsRetryable(t *testing.T) {
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(block) })
	s, err := New(Config{URL: ts.URL, Timeout: 50 * time.Millisecond, Attempts: 2})
	require.NoError(t, err)
	s.wait = func(context.Context, time.Duration) error { return nil }
	err = s.SendSMS(context.Background(), msg)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "654321")
}

func TestRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "/relative", "http://"} {
		_, err := New(Config{URL: u})
		assert.Error(t, err, u)
	}
	// A mistyped URL still holds the gateway's credentials: the error goes to
	// the terminal and the service's journal, so it never quotes the URL.
	for _, u := range []string{"htps://sid:hunter2-secret@gw.example/send", "gw.example/send?key=tok-secret"} {
		_, err := New(Config{URL: u})
		require.ErrorContains(t, err, "absolute http(s) URL", u)
		assert.NotContains(t, err.Error(), "secret", u)
	}
}
