//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
)

// TestWebhookKill9LosesNothing: `deputy serve` killed with SIGKILL while a
// delivery is in flight loses no event: the next process sends what the
// first had not recorded as delivered (again, for those its round had
// acknowledged before the kill: at least once), and the receiver
// acknowledges every event, each verified, in the order of the changes.
func TestWebhookKill9LosesNothing(t *testing.T) {
	bin := buildDeputy(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "deputy.db")
	deputy := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = environ()
		out, err := cmd.Output()
		require.NoError(t, err, "deputy %v", args)
		return out
	}
	var prog struct{ ID, APIKey string }
	require.NoError(t, json.Unmarshal(deputy("programme", "create", "--db", db, "--name", "Acme Pay", "--json"), &prog))

	rcv := &killReceiver{verifier: client.WebhookVerifier{APIKey: prog.APIKey, Tolerance: time.Hour}, hangAfter: 4}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	var hook struct{ Secret string }
	require.NoError(t, json.Unmarshal(deputy("programme", "webhooks", "add", "--db", db, "--id", prog.ID,
		"--url", srv.URL, "--events", "login", "--allow-private", "--json"), &hook))
	rcv.verifier.Secrets = []string{hook.Secret}

	d := startDeputy(t, bin, db)
	signUpAda(t, d, prog.APIKey)
	const logins = 12
	for range logins {
		d.post(t, prog.APIKey, "/multi/login_with_password", `{"email":"ada@acme.test","password":{"value":"Sup3r-Secret"}}`, http.StatusOK)
	}
	require.Eventually(t, func() bool { return rcv.hanging() }, 20*time.Second, 10*time.Millisecond, "a delivery in flight")
	require.NoError(t, d.cmd.Process.Kill()) // SIGKILL: no shutdown, the lease is left behind
	_ = d.cmd.Wait()
	before := len(rcv.acknowledged())

	rcv.release()
	d = startDeputy(t, bin, db)
	d.post(t, prog.APIKey, "/multi/sandbox/clock", `{"advanceSeconds": 61}`, http.StatusOK) // past the dead worker's lease
	refs := func() map[string]bool {
		refs := map[string]bool{}
		for _, e := range rcv.acknowledged() {
			refs[e.ref] = true
		}
		return refs
	}
	require.Eventually(t, func() bool { return len(refs()) == logins }, 30*time.Second, 20*time.Millisecond, "every login: none lost")
	time.Sleep(2 * time.Second) // a round or two more: nothing else is sent

	got := rcv.acknowledged()
	assert.LessOrEqual(t, len(got), logins+before, "sent again at most what was acknowledged before the kill")
	assert.Zero(t, rcv.refused(), "every delivery verifies")
	for i := 1; i < len(got); i++ {
		assert.LessOrEqual(t, got[i-1].published, got[i].published, "in the order of the changes")
	}
}

// killReceiver acknowledges verified deliveries, except that from the
// hangAfter+1-th on it holds each request until release.
type killReceiver struct {
	verifier  client.WebhookVerifier
	hangAfter int

	mu       sync.Mutex
	acked    []ackedEvent
	held     int
	bad      int
	released bool
	free     chan struct{}
}

type ackedEvent struct{ ref, published string }

func (r *killReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	if err := r.verifier.Verify(req.Header, body); err != nil {
		r.bad++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if !r.released && len(r.acked) >= r.hangAfter {
		if r.free == nil {
			r.free = make(chan struct{})
		}
		r.held++
		free := r.free
		r.mu.Unlock()
		select {
		case <-free:
		case <-req.Context().Done():
		}
		http.Error(w, "held", http.StatusServiceUnavailable) // the sender is dead by now
		return
	}
	r.acked = append(r.acked, ackedEvent{req.Header.Get("call-ref"), req.Header.Get("published-timestamp")})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *killReceiver) hanging() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held > 0
}

func (r *killReceiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = true
	if r.free != nil {
		close(r.free)
	}
}

func (r *killReceiver) acknowledged() []ackedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ackedEvent(nil), r.acked...)
}

func (r *killReceiver) refused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// signUpAda creates a corporate whose root user ada@acme.test has a password.
func signUpAda(t *testing.T, d *runningDeputy, apiKey string) {
	t.Helper()
	out := d.post(t, apiKey, "/multi/corporates", `{"rootUser":{"name":"Ada","surname":"Lovelace","email":"ada@acme.test","companyPosition":"DIRECTOR",
		"mobile":{"countryCode":"+44","number":"7700900123"}},"company":{"name":"Acme Ltd","type":"LLC","registrationCountry":"GB"},
		"profileId":"1","ipAddress":"192.0.2.1","baseCurrency":"GBP"}`, http.StatusOK)
	var corp struct {
		RootUser struct{ ID struct{ ID string } }
	}
	require.NoError(t, json.Unmarshal(out, &corp))
	d.post(t, apiKey, fmt.Sprintf("/multi/passwords/%s/create", corp.RootUser.ID.ID), `{"password":{"value":"Sup3r-Secret"}}`, http.StatusOK)
}
