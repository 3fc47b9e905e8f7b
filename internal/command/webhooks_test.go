package command_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
)

// hookReceiver is an embedder's endpoint: it verifies each delivery with the
// client's helper and records the call-refs of those that verify; hang makes
// it hold requests until the client gives up.
type hookReceiver struct {
	srv      *httptest.Server
	verifier client.WebhookVerifier
	mu       sync.Mutex
	refs     []string
	bad      int
	hang     bool
	held     int // requests it hung on
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		hang, v := r.hang, r.verifier
		r.mu.Unlock()
		if hang {
			r.mu.Lock()
			r.held++
			r.mu.Unlock()
			<-req.Context().Done()
			return
		}
		err := v.Verify(req.Header, body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil || req.URL.Path != "/hooks/login/watch" {
			r.bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.refs = append(r.refs, req.Header.Get("call-ref"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.refs...)
}

func (r *hookReceiver) set(f func(r *hookReceiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// TestWebhooksCommandsWhileServing: `deputy programme webhooks` adds an
// endpoint through a running server, whose worker delivers a sign-in signed
// with the programme's api key and the printed secret; deliveries lists it,
// redeliver sends it again, rotate-secret and remove work, and a URL that is
// not https or is private is refused with the field named.
func TestWebhooksCommandsWhileServing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db)
	rcv := newHookReceiver(t)

	_, err := run(t, 30*time.Second, "programme", "webhooks", "add", "--db", db, "--id", p["id"], "--url", "https://127.0.0.1/hooks")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "url")
	out, err := run(t, 30*time.Second, "programme", "webhooks", "add", "--db", db, "--id", p["id"], "--url", rcv.srv.URL+"/hooks",
		"--events", "login", "--allow-private", "--json")
	require.NoError(t, err)
	var added struct {
		Webhook struct {
			ID        string
			Events    []string
			AllEvents bool
		}
		Secret string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &added), out)
	assert.True(t, strings.HasPrefix(added.Secret, "whsec_"), out)
	assert.Equal(t, []string{"login"}, added.Webhook.Events, out)
	assert.False(t, added.Webhook.AllEvents, out)
	rcv.set(func(r *hookReceiver) {
		r.verifier = client.WebhookVerifier{APIKey: p["apiKey"], Secrets: []string{added.Secret}, Tolerance: time.Hour}
	})

	signUp(t, s, p["apiKey"], "ada@acme.test")
	status, body := s.call(t, "POST", "/multi/login_with_password", p["apiKey"], "", map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.Eventually(t, func() bool { return len(rcv.received()) == 1 }, 10*time.Second, 20*time.Millisecond)

	var ds []struct {
		Event, Type, State string
		Attempts           int
	}
	require.Eventually(t, func() bool { // the worker records the answer just after the receiver gave it
		out, err = run(t, 30*time.Second, "programme", "webhooks", "deliveries", "--db", db, "--id", p["id"], "--webhook", added.Webhook.ID, "--json")
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal([]byte(out), &ds), out)
		return len(ds) == 1 && ds[0].State != "PENDING"
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, rcv.received()[0], ds[0].Event)
	assert.Equal(t, "login", ds[0].Type)
	assert.Equal(t, "DELIVERED", ds[0].State)

	out, err = run(t, 30*time.Second, "programme", "webhooks", "redeliver", "--db", db, "--id", p["id"], "--webhook", added.Webhook.ID, "--event", ds[0].Event)
	require.NoError(t, err)
	assert.Contains(t, out, "1 deliveries queued again")
	require.Eventually(t, func() bool { return len(rcv.received()) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, ds[0].Event, rcv.received()[1], "the same event, the same call-ref")

	out, err = run(t, 30*time.Second, "programme", "webhooks", "list", "--db", db, "--id", p["id"])
	require.NoError(t, err)
	assert.Contains(t, out, added.Webhook.ID)
	assert.Contains(t, out, "enabled")
	out, err = run(t, 30*time.Second, "programme", "webhooks", "rotate-secret", "--db", db, "--id", p["id"], "--webhook", added.Webhook.ID, "--overlap", "0")
	require.NoError(t, err)
	assert.Contains(t, out, "whsec_")
	assert.NotContains(t, out, added.Secret)
	_, err = run(t, 30*time.Second, "programme", "webhooks", "remove", "--db", db, "--id", p["id"], "--webhook", added.Webhook.ID)
	require.NoError(t, err)
	out, err = run(t, 30*time.Second, "programme", "webhooks", "list", "--db", db, "--id", p["id"], "--json")
	require.NoError(t, err)
	assert.JSONEq(t, "[]", out)
	assert.Zero(t, rcv.bad)
	assert.NotContains(t, s.logs.String(), added.Secret, "the secret is never logged")
}

// TestWebhookSurvivesServerStop: a server stopped while a delivery is in
// flight (the receiver hangs) loses nothing: the next server sends the event
// once the lease of the first has ended.
func TestWebhookSurvivesServerStop(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	rcv := newHookReceiver(t)
	rcv.set(func(r *hookReceiver) { r.hang = true })
	out, err := run(t, 30*time.Second, "programme", "webhooks", "add", "--db", db, "--id", p["id"], "--url", rcv.srv.URL+"/hooks", "--allow-private", "--json")
	require.NoError(t, err)
	var added struct {
		Secret  string
		Webhook struct {
			Events    []string
			AllEvents bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &added), out)
	assert.True(t, added.Webhook.AllEvents, "no --events: every event, later ones too")
	assert.Contains(t, added.Webhook.Events, "login", "and the events there are now")

	s := startServe(t, "--sandbox", "--db", db)
	signUp(t, s, p["apiKey"], "ada@acme.test")
	status, body := s.call(t, "POST", "/multi/login_with_password", p["apiKey"], "", map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.Eventually(t, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.held > 0
	}, 10*time.Second, 20*time.Millisecond, "the delivery in flight")
	s.stop()

	rcv.set(func(r *hookReceiver) {
		r.hang = false
		r.verifier = client.WebhookVerifier{APIKey: p["apiKey"], Secrets: []string{added.Secret}, Tolerance: time.Hour}
	})
	s = startServe(t, "--sandbox", "--db", db)
	status, body = s.call(t, "POST", "/multi/sandbox/clock", p["apiKey"], "", map[string]any{"advanceSeconds": 61})
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.Eventually(t, func() bool { return len(rcv.received()) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Zero(t, rcv.bad)
}
