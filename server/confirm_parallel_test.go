package server_test

// Confirmation codes verified in parallel: exactly-once, and wrong codes
// counted exactly (run with -race).

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// Many wrong codes for one confirmation at once: each is counted once, on
// the challenge and on the user, so that exactly the allowed number of
// guesses are judged (the last CHALLENGE_LIMIT_EXCEEDED) and every other is
// refused STATE_INVALID uncounted; the right code then confirms nothing.
func TestConfirmSMSParallelWrongCodes(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	id := e.confirmSMS(token, "1")
	attempts := e.prog.Settings.AttemptsPerChallenge()

	const n = 24
	var codes []string
	for _, r := range atOnce(n, func(i int) resp { return e.auth(token, "POST", verifyPath(id), verifyBody(wrongCode(i))) }) {
		if r.status != http.StatusConflict {
			codes = append(codes, http.StatusText(r.status)+" "+string(r.body))
			continue
		}
		codes = append(codes, r.errorCode(t))
	}
	assert.Equal(t, attempts-2, count(codes, "VERIFICATION_CODE_INVALID"), "%v", codes)
	assert.Equal(t, 1, count(codes, "ONE_CHALLENGE_LIMIT_REMAINING"), "%v", codes)
	assert.Equal(t, 1, count(codes, "CHALLENGE_LIMIT_EXCEEDED"), "%v", codes)
	assert.Equal(t, n-attempts, count(codes, "STATE_INVALID"), "%v", codes)

	require.NoError(t, e.store.View(context.Background(), func(tx core.ReadTx) error {
		u, err := tx.User(root)
		require.NoError(t, err)
		assert.Equal(t, attempts, u.SCAFailures, "every judged guess counted once towards the SCA lock")
		return nil
	}))
	wantConflict(t, e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode)), "STATE_INVALID")
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))
}

// The right code among many wrong ones, all at once: the resource is
// verified at most once, and only while the challenge still had attempts.
func TestConfirmSMSParallelRightAndWrongCodes(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	id := e.confirmSMS(token, "1")

	const n = 16
	var statuses []int
	for _, r := range atOnce(n, func(i int) resp {
		code := wrongCode(i)
		if i%4 == 0 {
			code = sandboxCode
		}
		return e.auth(token, "POST", verifyPath(id), verifyBody(code))
	}) {
		statuses = append(statuses, r.status)
	}
	ok := count(intsToStrings(statuses), "204")
	assert.LessOrEqual(t, ok, 1, "%v", statuses)
	assert.Equal(t, n-ok, count(intsToStrings(statuses), "409"), "%v", statuses)
	assert.Equal(t, ok, count(e.auditActions(), "confirmation.verify"))
	if ok == 1 {
		assert.Equal(t, "VERIFIED", e.resourceState("1"))
	} else {
		assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))
	}
}
