package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// createCorporate posts a corporate with an idempotency-ref and returns the response.
func (e *env) createCorporate(ref string, body any, headers ...string) resp {
	e.t.Helper()
	return e.key("POST", "/multi/corporates", body, append([]string{"idempotency-ref", ref}, headers...)...)
}

func TestIdempotencyReplaysTheFirstSuccess(t *testing.T) {
	e := newEnv(t)
	first := e.createCorporate("ref-1", corporateBody("root@acme.test"))
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)

	again := e.createCorporate("ref-1", corporateBody("root@acme.test"))
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	assert.JSONEq(t, string(first.body), string(again.body), "the replay is the first answer, same id")
	assert.NotEqual(t, first.header.Get("request-ref"), again.header.Get("request-ref"), "a replay is still a new request")

	r := e.createCorporate("ref-1", corporateBody("other@acme.test"))
	b := r.badRequest(t)
	assert.Equal(t, "Payloads do not match for the same idempotency-ref.", b.Message)

	r = e.key("POST", "/multi/consumers", consumerBody("root@acme.test"), "idempotency-ref", "ref-1")
	assert.Equal(t, "Payloads do not match for the same idempotency-ref.", r.badRequest(t).Message, "same ref on another operation")

	assert.Equal(t, 1, count(e.auditActions(), "identity.create"))
}

func TestIdempotencyOnConsumers(t *testing.T) {
	e := newEnv(t)
	first := e.key("POST", "/multi/consumers", consumerBody("c@acme.test"), "idempotency-ref", "c-1")
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	again := e.key("POST", "/multi/consumers", consumerBody("c@acme.test"), "idempotency-ref", "c-1")
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	assert.JSONEq(t, string(first.body), string(again.body))
}

func TestIdempotencyForgetsFailures(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.key("POST", "/multi/corporates", corporateBody("taken@acme.test")).status)

	bad := with(t, corporateBody("new@acme.test"), nil, "company")
	require.Equal(t, http.StatusBadRequest, e.createCorporate("ref-fail", bad).status)
	r := e.createCorporate("ref-fail", corporateBody("new@acme.test"))
	assert.Equal(t, http.StatusOK, r.status, "a 400 is not remembered, not even its payload: %s", r.body)

	requireConflict(t, e.createCorporate("ref-conflict", corporateBody("taken@acme.test")), "ROOT_EMAIL_NOT_UNIQUE")
	requireConflict(t, e.createCorporate("ref-conflict", corporateBody("taken@acme.test")), "ROOT_EMAIL_NOT_UNIQUE")
	r = e.createCorporate("ref-conflict", corporateBody("third@acme.test"))
	assert.Equal(t, http.StatusOK, r.status, "a 409 is not remembered: %s", r.body)
}

func TestIdempotencyEmptyHeaderIsAbsent(t *testing.T) {
	e := newEnv(t)
	first := e.createCorporate("", corporateBody("a@acme.test"))
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	second := e.createCorporate("", corporateBody("b@acme.test"))
	require.Equal(t, http.StatusOK, second.status, "%s", second.body)
	assert.NotEqual(t, str(t, first.json(t), "id", "id"), str(t, second.json(t), "id", "id"), "two creations")
	blank := e.createCorporate("   ", corporateBody("c@acme.test"))
	require.Equal(t, http.StatusOK, blank.status, "a blank ref counts as absent too: %s", blank.body)
	assert.Equal(t, 3, count(e.auditActions(), "identity.create"))
}

func TestIdempotencyIsScopedToTheCaller(t *testing.T) {
	e := newEnv(t)
	otherKey := e.otherProgramme("Other")
	mine := e.createCorporate("shared-ref", corporateBody("root@acme.test"))
	require.Equal(t, http.StatusOK, mine.status, "%s", mine.body)
	theirs := e.call("POST", "/multi/corporates", corporateBody("root@acme.test"), "api-key", otherKey, "idempotency-ref", "shared-ref")
	require.Equal(t, http.StatusOK, theirs.status, "%s", theirs.body)
	assert.NotEqual(t, str(t, mine.json(t), "id", "id"), str(t, theirs.json(t), "id", "id"), "another programme creates its own")

	theirs2 := e.call("POST", "/multi/corporates", corporateBody("second@acme.test"), "api-key", otherKey, "idempotency-ref", "shared-ref")
	assert.Equal(t, http.StatusBadRequest, theirs2.status, "the other programme's own record is checked")
}

// The public ui key has idempotency-refs of its own: a holder of the ui key
// who accepts an invite with a ref neither takes that ref from the embedder's
// backend (secret key) nor learns whether the backend has used it.
func TestIdempotencyRefsOfTheUIKeyAreApartFromTheSecretKeys(t *testing.T) {
	a := acceptInviteWithRef(t, "create-corp-1")
	e, ui, bea, consume, r := a.e, a.ui, a.bea, a.body, a.first

	backend := e.createCorporate("create-corp-1", corporateBody("second@acme.test"))
	assert.Equal(t, http.StatusOK, backend.status, "the backend's ref is its own: %s", backend.body)

	require.Equal(t, http.StatusOK, e.createCorporate("create-corp-2", corporateBody("third@acme.test")).status)
	probe := ui.key("POST", userPath(bea, "invite/consume"), map[string]any{"inviteCode": wrongCode(0), "password": pw(testPassword)},
		"idempotency-ref", "create-corp-2")
	wantConflict(t, probe, "INVITE_OR_INVITE_CODE_INVALID", "no sign that the backend used the ref")
	again := ui.key("POST", userPath(bea, "invite/consume"), consume, "idempotency-ref", "create-corp-1")
	assert.Equal(t, string(r.body), string(again.body), "the ui key's own ref still replays")
}

func TestIdempotencyLastsTwentyFourHours(t *testing.T) {
	e := newEnv(t)
	first := e.createCorporate("day-ref", corporateBody("root@acme.test"))
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)

	e.advance(23 * time.Hour)
	again := e.createCorporate("day-ref", corporateBody("root@acme.test"))
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	assert.JSONEq(t, string(first.body), string(again.body), "replayed after 23 hours")
	assert.Equal(t, http.StatusBadRequest, e.createCorporate("day-ref", corporateBody("other@acme.test")).status, "still remembered after 23 hours")

	e.advance(time.Hour + time.Second)
	// Forgotten: the same payload runs again (and meets the existing email),
	// and a different payload is no longer a mismatch.
	requireConflict(t, e.createCorporate("day-ref", corporateBody("root@acme.test")), "ROOT_EMAIL_NOT_UNIQUE")
	r := e.createCorporate("day-ref", corporateBody("other@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotEqual(t, str(t, first.json(t), "id", "id"), str(t, r.json(t), "id", "id"))
}

// Weavr answers an 8,000-character idempotency-ref with 413; Deputy answers
// every ref over its 255-character maximum so, and changes nothing.
func TestIdempotencyRefTooLong(t *testing.T) {
	e := newEnv(t)
	for _, n := range []int{256, 1000, 8000} {
		r := e.createCorporate(strings.Repeat("r", n), corporateBody("root@acme.test"))
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%d characters: %s", n, r.body)
		assert.Equal(t, "PAYLOAD_TOO_LARGE", str(t, r.json(t), "code"))
		assert.Contains(t, str(t, r.json(t), "message"), "idempotency-ref")
	}
	r := e.createCorporate(strings.Repeat("r", 255), corporateBody("root@acme.test"))
	assert.Equal(t, http.StatusOK, r.status, "255 characters are kept, and nothing was created before: %s", r.body)
}

// Fifty identical requests at once create exactly one corporate: every 200
// carries the same id, the others are told the first is still in flight.
func TestIdempotencySingleEffectUnderParallelRequests(t *testing.T) {
	e := newEnv(t)
	const n = 50
	results := make([]resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.createCorporate("parallel-ref", corporateBody("root@acme.test"))
		})
	}
	close(start)
	wg.Wait()

	ids := map[string]int{}
	statuses := map[int]int{}
	for _, r := range results {
		statuses[r.status]++
		switch r.status {
		case http.StatusOK:
			ids[str(t, r.json(t), "id", "id")]++
		case http.StatusConflict:
			assert.Equal(t, "IDEMPOTENCY_REF_IN_FLIGHT", r.errorCode(t))
		default:
			t.Errorf("got status %d (%s), want 200 or 409", r.status, r.body)
		}
	}
	assert.Len(t, ids, 1, "distinct ids in the 200 answers (statuses %v)", statuses)
	t.Logf("statuses %v", statuses)
	assert.Equal(t, 1, count(e.auditActions(), "identity.create"), "exactly one corporate was created")

	// Afterwards everyone gets the replay.
	r := e.createCorporate("parallel-ref", corporateBody("root@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for id := range ids {
		assert.Equal(t, id, str(t, r.json(t), "id", "id"))
	}
}

// While the first request with a ref is still running, a repeat is 409; a
// first request that never finished (its process died) is taken over after a
// minute. The test claims the ref itself, the way the server does for a
// secret-key caller (programme id | "api" | ref, and a hash of method, path and body).
func TestIdempotencyInFlight(t *testing.T) {
	e := newEnv(t)
	body, err := json.Marshal(corporateBody("root@acme.test"))
	require.NoError(t, err)
	h := sha256.New()
	h.Write([]byte("POST /multi/corporates\n"))
	h.Write(body)
	replay, err := e.svc.BeginIdempotent(context.Background(), e.prog.ID+"|api|held-ref", h.Sum(nil))
	require.NoError(t, err)
	require.Nil(t, replay)

	requireConflict(t, e.createCorporate("held-ref", body), "IDEMPOTENCY_REF_IN_FLIGHT")
	assert.Equal(t, "Payloads do not match for the same idempotency-ref.",
		e.createCorporate("held-ref", corporateBody("other@acme.test")).badRequest(t).Message)
	assert.Zero(t, count(e.auditActions(), "identity.create"))

	e.advance(time.Minute)
	r := e.createCorporate("held-ref", body)
	require.Equal(t, http.StatusOK, r.status, "an abandoned claim is taken over: %s", r.body)
	again := e.createCorporate("held-ref", body)
	assert.JSONEq(t, string(r.body), string(again.body))
}

// TestIdempotentAnswersAreSealed: the answer kept for a replay may carry a
// session token (an invite consumed); the store holds it sealed, as it holds
// every token only hashed, so that a copy of the database (a backup, a
// replica) yields no live token. The replay still answers the same token.
func TestIdempotentAnswersAreSealed(t *testing.T) {
	a := acceptInviteWithRef(t, "accept-1")
	e, token := a.e, str(t, a.first.json(t), "token")

	var rec *core.IdempotencyRecord
	require.NoError(t, e.store.View(context.Background(), func(tx core.ReadTx) error {
		var err error
		rec, err = tx.Idempotency(e.prog.ID + "|key:ui|accept-1")
		return err
	}))
	assert.True(t, rec.Sealed)
	assert.NotContains(t, string(rec.Body), token)
	assert.NotContains(t, string(rec.Body), "token")

	replayed := a.ui.key("POST", userPath(a.bea, "invite/consume"), a.body, "idempotency-ref", "accept-1")
	assert.Equal(t, token, str(t, replayed.json(t), "token"), "the replay opens it")
}

// acceptedInvite is Bea's invite, accepted with the ui key and an idempotency-ref.
type acceptedInvite struct {
	e, ui *env
	bea   string
	body  map[string]any // the acceptance
	first resp           // its answer
}

// acceptInviteWithRef has a root user invite Bea, who accepts with the ui
// key and idempotency-ref ref.
func acceptInviteWithRef(t *testing.T, ref string) acceptedInvite {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	a := acceptedInvite{e: e, ui: e.withKey(uiKey)}
	root := e.adminRoot("root@acme.test")
	a.bea = e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, a.bea)
	a.body = map[string]any{"inviteCode": sandboxCode, "password": pw(testPassword)}
	a.first = a.ui.key("POST", userPath(a.bea, "invite/consume"), a.body, "idempotency-ref", ref)
	require.Equal(t, http.StatusOK, a.first.status, "%s", a.first.body)
	return a
}

// TestIdempotencyRefMustBeText: an idempotency-ref that is not text
// (core.TextRule) is a 400 naming the header, whoever sends it (the public ui
// key too), and nothing is written. A byte that is not UTF-8 reached the store
// as part of the record's key: a 500, and on PostgreSQL a broken connection
// that failed every later request it served.
func TestIdempotencyRefMustBeText(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	ui := e.withKey(uiKey)
	for _, ref := range []string{"ref-\xff", "ref\twith\ttabs", "ref-\u202e"} {
		r := e.createCorporate(ref, corporateBody("root@acme.test"))
		assert.Equal(t, []string{"idempotency-ref:REGEX"}, r.invalidFields(t), "%q: %s", ref, r.body)
		r = ui.key("POST", userPath("100000009", "invite/consume"), map[string]any{"inviteCode": sandboxCode, "password": pw(testPassword)}, "idempotency-ref", ref)
		assert.Equal(t, []string{"idempotency-ref:REGEX"}, r.invalidFields(t), "ui key, %q: %s", ref, r.body)
	}
	assert.Zero(t, count(e.auditActions(), "identity.create"), "nothing was created")
	for range 20 {
		r := e.createCorporate("ref-ok", corporateBody("root@acme.test"))
		require.Equal(t, http.StatusOK, r.status, "the store still serves: %s", r.body)
	}
}
