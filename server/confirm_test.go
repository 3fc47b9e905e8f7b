package server_test

// Confirmation challenges (issue 13, point 3) over real HTTP: Weavr
// multipleSCAChallenge, multipleSCAVerify and multipleSCAChallengePush, and
// the Deputy extensions that register the resources they confirm. Every
// response is validated against assets/openapi.yaml.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

const confirmSMSPath = "/multi/challenges/otp/SMS"

// confirmBody is a MultipleSCAChallengeRequest.
func confirmBody(resourceType string, ids ...string) map[string]any {
	return map[string]any{"resourceType": resourceType, "resourceIds": ids}
}

// resourceBody registers a resource of amount cents in EUR to payee for userID.
func resourceBody(userID string, cents int64, payee string) map[string]any {
	return map[string]any{"userId": userID, "amount": map[string]any{"currency": "EUR", "amount": cents},
		"payeeName": payee, "payeeAccount": "GB29NWBK60161331926819", "fields": map[string]any{"reference": "Invoice 7"}}
}

func resourcePath(resourceType, id string) string {
	return "/multi/challenges/resources/" + resourceType + "/" + id
}

// register registers a send for userID, failing unless 200.
func (e *env) register(id, userID string, cents int64, payee string) {
	e.t.Helper()
	r := e.key("POST", resourcePath("sends", id), resourceBody(userID, cents, payee))
	require.Equal(e.t, http.StatusOK, r.status, "register %s: %s", id, r.body)
}

// resourceState reads a send's state with the secret key.
func (e *env) resourceState(id string) string {
	e.t.Helper()
	r := e.key("GET", resourcePath("sends", id), nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return str(e.t, r.json(e.t), "state")
}

// confirmSMS asks for an SMS confirmation of sends ids, failing unless 200, and returns its id.
func (e *env) confirmSMS(token string, ids ...string) string {
	e.t.Helper()
	r := e.auth(token, "POST", confirmSMSPath, confirmBody("sends", ids...))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return str(e.t, r.json(e.t), "scaChallengeId")
}

func verifyPath(id string) string { return "/multi/challenges/" + id + "/otp/SMS/verify" }

func verifyBody(code string) map[string]any {
	return map[string]any{"verificationCode": code, "resourceType": "sends"}
}

// rootOf reads the id of the user a token belongs to.
func (e *env) rootOf(token string) string {
	e.t.Helper()
	r := e.auth(token, "GET", "/multi/corporates", nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return str(e.t, r.json(e.t), "rootUser", "id", "id")
}

// A user confirms two sends with one SMS code: the text names both amounts
// and payees, the code verifies both at once, the embedder reads VERIFIED,
// and the audit log (hence the confirmation webhook) records the outcome.
func TestConfirmSMSVerifiesEveryResource(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("7001", root, 1250, "Alice Example")
	e.register("7002", root, 300000, "Bob Builder Ltd")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("7001"))

	id := e.confirmSMS(token, "7001", "7002")
	sms := e.outbox()[0]
	assert.Equal(t, "SMS", sms.Channel)
	assert.Equal(t, rootMobile, sms.To)
	assert.Contains(t, sms.Text, "12.50 EUR to Alice Example (…6819)", "the payee and the end of its account")
	assert.Contains(t, sms.Text, "3000.00 EUR to Bob Builder Ltd (…6819)")

	r := e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode))
	wantNoContent(t, r)
	for _, rid := range []string{"7001", "7002"} {
		g := e.key("GET", resourcePath("sends", rid), nil).json(t)
		assert.Equal(t, "VERIFIED", g["state"], rid)
		assert.Equal(t, id, g["scaChallengeId"], rid)
		assert.NotZero(t, g["verifiedTimestamp"], rid)
	}
	wantConflict(t, e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode)), "STATE_INVALID", "a code confirms once")
	wantConflict(t, e.auth(token, "POST", confirmSMSPath, confirmBody("sends", "7001")), "STATE_INVALID", "a verified resource is not challenged again")
	wantConflict(t, e.key("POST", resourcePath("sends", "7001"), resourceBody(root, 1, "Mallory")), "STATE_INVALID", "nor changed")
	assert.Equal(t, 1, count(e.auditActions(), "confirmation.verify"))
}

// A changed amount or payee after the challenge makes the right code confirm
// nothing: 409 STATE_INVALID, every resource still pending, the failure
// audited; a new challenge over the new summary works.
func TestConfirmSMSBoundToSummaries(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 1250, "Alice Example")
	e.register("2", root, 500, "Bob")
	id := e.confirmSMS(token, "1", "2")
	e.register("2", root, 500, "Mallory") // the payee changed after the text was sent

	wantConflict(t, e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode)), "STATE_INVALID")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"), "nothing half-done")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("2"))
	assert.Equal(t, 1, count(e.auditActions(), "confirmation.failed"))

	e.advance(16 * time.Second)
	id2 := e.confirmSMS(token, "1", "2")
	assert.Contains(t, e.outbox()[0].Text, "5.00 EUR to Mallory", "the new text shows the new payee")
	wantNoContent(t, e.auth(token, "POST", verifyPath(id2), verifyBody(sandboxCode)))
	assert.Equal(t, "VERIFIED", e.resourceState("2"))
}

// Bad lists are clear 4xx in Weavr's shapes, naming the field, and leave
// nothing behind.
func TestConfirmSMSBadInput(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	otherToken := e.enrolledRoot("other@beta.test")
	other := e.rootOf(otherToken)
	e.register("1", root, 100, "Alice")
	e.register("9", other, 100, "Eve")
	many := make([]string, core.MaxConfirmResources+1)
	for i := range many {
		many[i] = strconv.Itoa(100 + i)
	}
	sent := len(e.outbox())

	for _, c := range []struct {
		name  string
		path  string
		body  any
		field string
	}{
		{"unknown id", confirmSMSPath, confirmBody("sends", "1", "404"), "resourceIds[1]:IN"},
		{"another identity's resource", confirmSMSPath, confirmBody("sends", "9"), "resourceIds[0]:IN"},
		{"another type", confirmSMSPath, confirmBody("outgoing_wire_transfers", "1"), "resourceIds[0]:IN"},
		{"empty list", confirmSMSPath, map[string]any{"resourceType": "sends", "resourceIds": []string{}}, "resourceIds:SIZE"},
		{"over-long list", confirmSMSPath, confirmBody("sends", many...), "resourceIds:SIZE"},
		{"twice the same id", confirmSMSPath, confirmBody("sends", "1", "1"), "resourceIds[1]:NOT_IN"},
		{"no list", confirmSMSPath, map[string]any{"resourceType": "sends"}, "resourceIds:REQUIRED"},
		{"unknown type", confirmSMSPath, confirmBody("payments", "1"), "resourceType:IN"},
		{"wrong channel", "/multi/challenges/otp/EMAIL", confirmBody("sends", "1"), "channel:IN"},
		{"wrong push channel", "/multi/challenges/push/SMS", confirmBody("sends", "1"), "channel:IN"},
	} {
		r := e.auth(token, "POST", c.path, c.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", c.name, r.body)
		assert.Equal(t, []string{c.field}, r.invalidFields(t), c.name)
	}
	assert.Len(t, e.outbox(), sent, "no text was sent")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))
	assert.NotContains(t, e.key("GET", resourcePath("sends", "1"), nil).json(t), "scaChallengeId", "no challenge touched it")

	id := e.confirmSMS(token, "1")
	for _, c := range []struct {
		name, path, field string
		body              any
	}{
		{"another type", verifyPath(id), "resourceType:IN", map[string]any{"verificationCode": sandboxCode, "resourceType": "outgoing_wire_transfers"}},
		{"malformed code", verifyPath(id), "verificationCode:REGEX", verifyBody("12345")},
		{"malformed id", verifyPath("x1"), "scaChallengeId:REGEX", verifyBody(sandboxCode)},
	} {
		r := e.auth(token, "POST", c.path, c.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", c.name, r.body)
		assert.Equal(t, []string{c.field}, r.invalidFields(t), c.name)
	}
	assert.Equal(t, http.StatusNotFound, e.auth(otherToken, "POST", verifyPath(id), verifyBody(sandboxCode)).status,
		"another user's session cannot verify it")
	assert.Equal(t, http.StatusNotFound, e.auth(token, "POST", verifyPath("999999"), verifyBody(sandboxCode)).status)
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))

	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown user", resourceBody("424242", 1, "Alice"), "userId:IN"},
		{"negative amount", resourceBody(root, -1, "Alice"), "amount.amount:AT_LEAST"},
		{"long payee", resourceBody(root, 1, strings.Repeat("x", core.MaxPayeeLen+1)), "payeeName:SIZE"},
		{"control character", resourceBody(root, 1, "Al\x07ice"), "payeeName:REGEX"},
	} {
		r := e.key("POST", resourcePath("sends", "5"), c.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", c.name, r.body)
		assert.Equal(t, []string{c.field}, r.invalidFields(t), c.name)
	}
	assert.Equal(t, http.StatusNotFound, e.key("GET", resourcePath("sends", "5"), nil).status, "nothing was registered")
	assert.Equal(t, http.StatusBadRequest, e.key("GET", resourcePath("payments", "5"), nil).status)
}

// Resend and attempt rules are the SMS step-up's: RETRY_IN_15SEC, at most
// MaxReissues new codes per resource, and wrong codes counted to
// CHALLENGE_LIMIT_EXCEEDED, after which the challenge confirms nothing.
func TestConfirmSMSResendAndAttempts(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	first := e.confirmSMS(token, "1")
	wantConflict(t, e.auth(token, "POST", confirmSMSPath, confirmBody("sends", "1")), "RETRY_IN_15SEC")
	e.advance(16 * time.Second)
	e.confirmSMS(token, "1")
	wantConflict(t, e.auth(token, "POST", verifyPath(first), verifyBody(sandboxCode)), "STATE_INVALID", "a newer challenge supersedes it")
	e.advance(16 * time.Second)
	e.confirmSMS(token, "1")
	e.advance(16 * time.Second)
	wantConflict(t, e.auth(token, "POST", confirmSMSPath, confirmBody("sends", "1")), "CHALLENGE_LIMIT_EXCEEDED")

	e.register("2", root, 200, "Bob")
	id := e.confirmSMS(token, "2")
	var last string
	for i := range 5 {
		r := e.auth(token, "POST", verifyPath(id), verifyBody(wrongCode(i)))
		require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		last = r.errorCode(t)
	}
	assert.Equal(t, "CHALLENGE_LIMIT_EXCEEDED", last)
	r := e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode))
	assert.Contains(t, []int{http.StatusConflict, http.StatusUnauthorized}, r.status, "the spent challenge confirms nothing: %s", r.body)
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("2"))
}

// Many correct verifications of one challenge at once: exactly one succeeds.
func TestConfirmSMSParallelVerifications(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	e.register("2", root, 200, "Bob")
	id := e.confirmSMS(token, "1", "2")

	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode)).status })
	}
	wg.Wait()
	assert.Equal(t, 1, count(intsToStrings(statuses), "204"), "statuses %v", statuses)
	assert.Equal(t, n-1, count(intsToStrings(statuses), "409"), "statuses %v", statuses)
	assert.Equal(t, 1, count(e.auditActions(), "confirmation.verify"))
	assert.Equal(t, "VERIFIED", e.resourceState("2"))
}

func intsToStrings(v []int) []string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// A resource registered for an authorised user is confirmed by that user
// only: the identity's root user cannot; a linked account declaration only
// a root user confirms.
func TestConfirmOtherUsersResource(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	m := e.newMember(root.token, "member@acme.test")
	e.register("1", m.id, 100, "Alice")
	r := e.auth(root.token, "POST", confirmSMSPath, confirmBody("sends", "1"))
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, []string{"resourceIds[0]:IN"}, r.invalidFields(t))
	id := e.confirmSMS(m.token, "1")
	wantNoContent(t, e.auth(m.token, "POST", verifyPath(id), verifyBody(sandboxCode)))
	assert.Equal(t, "VERIFIED", e.resourceState("1"))

	// A linked account declaration is a root user's to confirm (Weavr's
	// rule): one for an authorised user, which could never be confirmed, is
	// refused when registered, and one registered before that refusal cannot
	// be confirmed.
	r = e.key("POST", resourcePath("linked_account_declaration", "2"), resourceBody(m.id, 0, "Own account"))
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, []string{"userId:IN"}, r.invalidFields(t))
	r = e.key("POST", resourcePath("linked_account_declaration", "3"), resourceBody(root.id, 0, "Own account"))
	require.Equal(t, http.StatusOK, r.status, "the root user's: %s", r.body)
	require.NoError(t, e.store.Update(context.Background(), func(tx core.Tx) error {
		res, err := tx.Resource(e.prog.ID, core.ResourceLinkedAccountDeclaration, "3")
		if err != nil {
			return err
		}
		res.ID, res.UserID = "2", m.id // as an older version registered it
		return tx.PutResource(res)
	}))
	r = e.auth(m.token, "POST", confirmSMSPath, confirmBody("linked_account_declaration", "2"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t))
}

// idempotency-ref replays the first challenge (one text, one id); a code
// expires after five minutes, as a step-up's does.
func TestConfirmSMSIdempotencyAndExpiry(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	e.register("2", root, 200, "Bob")
	sent := len(e.outbox())
	first := e.auth(token, "POST", confirmSMSPath, confirmBody("sends", "1"), "idempotency-ref", "confirm-1")
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	again := e.auth(token, "POST", confirmSMSPath, confirmBody("sends", "1"), "idempotency-ref", "confirm-1")
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	assert.Equal(t, string(first.body), string(again.body), "the first answer, replayed")
	assert.Len(t, e.outbox(), sent+1, "one text")
	r := e.auth(token, "POST", confirmSMSPath, confirmBody("sends", "2"), "idempotency-ref", "confirm-1")
	assert.Equal(t, http.StatusBadRequest, r.status, "another payload under the same ref: %s", r.body)

	id := str(t, first.json(t), "scaChallengeId")
	e.advance(3 * time.Minute)
	e.factorList(token) // the session stays alive; the code does not
	e.advance(2 * time.Minute)
	wantConflict(t, e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode)), "VERIFICATION_CODE_EXPIRED")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))
}

// A programme declares a resource type of its own: before, it is refused
// like any unknown type (400 naming the field and listing the types); once
// declared, its resources are registered, confirmed by SMS with the text
// naming them, and read back VERIFIED, and the refusal lists it too;
// another programme neither accepts the type nor sees it listed.
func TestConfirmDeclaredResourceType(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	r := e.key("POST", resourcePath("card_orders", "11"), resourceBody(root, 4900, "Acme Cards"))
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, []string{"resource_type:IN"}, r.invalidFields(t))

	set := e.prog.Settings
	set.ResourceTypes = []core.ResourceType{"card_orders"}
	_, err := e.svc.UpdateProgrammeSettings(t.Context(), e.prog.ID, nil, set)
	require.NoError(t, err)
	r = e.key("POST", resourcePath("card_orders", "11"), resourceBody(root, 4900, "Acme Cards"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.auth(token, "POST", confirmSMSPath, confirmBody("card_orders", "11"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	id := str(t, r.json(t), "scaChallengeId")
	assert.Contains(t, e.outbox()[0].Text, "49.00 EUR to Acme Cards")
	wantNoContent(t, e.auth(token, "POST", verifyPath(id), map[string]any{"verificationCode": sandboxCode, "resourceType": "card_orders"}))
	assert.Equal(t, "VERIFIED", str(t, e.key("GET", resourcePath("card_orders", "11"), nil).json(t), "state"))

	r = e.auth(token, "POST", confirmSMSPath, confirmBody("loan_drawdowns", "12"))
	require.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, string(r.body), "card_orders", "the refusal lists the declared type")

	other := e.asProgramme(t, e.otherProgramme("Other"), nil)
	r = other.key("GET", resourcePath("card_orders", "11"), nil)
	require.Equal(t, http.StatusBadRequest, r.status, "another programme has not declared it: %s", r.body)
	assert.Equal(t, []string{"resource_type:IN"}, r.invalidFields(t))
	assert.NotContains(t, string(r.body), "card_orders", "nor learns that this one has")
}

// A day after it was issued the sweep deletes a confirmation, answered or
// not, and a new confirmation of its resource, which supersedes the one the
// resource last named, still goes through.
func TestConfirmationsSweptAfterADay(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	e.register("1", e.rootOf(token), 100, "Alice")
	old := e.confirmSMS(token, "1")
	stored := func(id string) bool {
		err := e.store.View(context.Background(), func(tx core.ReadTx) error {
			_, err := tx.Confirmation(id)
			return err
		})
		if errors.Is(err, core.ErrRecordNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}

	e.advance(23 * time.Hour)
	require.NoError(t, e.svc.Sweep(context.Background()))
	assert.True(t, stored(old), "kept within the day")
	e.advance(2 * time.Hour)
	require.NoError(t, e.svc.Sweep(context.Background()))
	assert.False(t, stored(old), "deleted after it")

	token = e.loginToken("root@acme.test")
	id := e.confirmSMS(token, "1")
	wantNoContent(t, e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode)), "verify")
	assert.Equal(t, "VERIFIED", e.resourceState("1"))
}

// An SMS confirmation nobody answers expires: the sweep records it once, as
// a push confirmation's expiry is, so that the embedder's confirmation
// webhook tells it the challenge ended; the resource stays pending and a
// code sent late confirms nothing.
func TestConfirmSMSExpiryReportedOnce(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	e.register("1", e.rootOf(token), 100, "Alice")
	id := e.confirmSMS(token, "1")
	outcomes := func() []string {
		var out []string
		require.NoError(t, e.store.View(context.Background(), func(tx core.ReadTx) error {
			evs, err := tx.AuditEvents(e.prog.ID, 0, 10000)
			for _, ev := range evs {
				if ev.Action == "confirmation.failed" && ev.Details["challenge"] == id {
					out = append(out, ev.Details["outcome"])
				}
			}
			return err
		}))
		return out
	}

	e.advance(4 * time.Minute)
	require.NoError(t, e.svc.Sweep(context.Background()))
	assert.Empty(t, outcomes(), "not yet expired")
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.Sweep(context.Background()))
	require.NoError(t, e.svc.Sweep(context.Background()))
	assert.Equal(t, []string{"EXPIRED"}, outcomes(), "reported once")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))
}
