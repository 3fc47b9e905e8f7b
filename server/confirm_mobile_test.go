package server_test

// A confirmation code sent to a number the user no longer has.

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A confirmation code texted to the mobile the user had when asking goes to
// a number that is no longer theirs once the mobile changes (the change
// retires the SMS factor): as a step-up code in that case proves nothing
// (VerifyStepUpSMS), the confirmation code verifies nothing, and the send
// stays pending.
func TestConfirmSMSCodeToAnOldMobileConfirmsNothing(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test") // SMS ACTIVE, the session stepped up
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	id := e.confirmSMS(token, "1") // texted to the old number

	r := e.auth(token, "PATCH", "/multi/corporates", map[string]any{"mobile": map[string]any{"countryCode": "+356", "number": "79000009"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	list, _ := e.factorList(token)
	require.Equal(t, []string{"OTP/SMS/INACTIVE"}, list, "the new mobile switched the SMS factor off")

	r = e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode))
	require.Equal(t, http.StatusConflict, r.status, "a code sent to the old number: %s", r.body)
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"), "nothing was confirmed by the old number")
}

// The same holds when the factor was re-enrolled on a new number since the
// code was sent: the factor is ACTIVE again, but on another number.
func TestConfirmSMSCodeBeforeReEnrolmentConfirmsNothing(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	root := e.rootOf(token)
	e.register("1", root, 100, "Alice")
	id := e.confirmSMS(token, "1")

	r := e.auth(token, "PATCH", "/multi/corporates", map[string]any{"mobile": map[string]any{"countryCode": "+356", "number": "79000009"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.stepUp(token) // enrols the new number: SMS ACTIVE again
	list, _ := e.factorList(token)
	require.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)

	r = e.auth(token, "POST", verifyPath(id), verifyBody(sandboxCode))
	require.Equal(t, http.StatusConflict, r.status, "a code sent to the old number: %s", r.body)
	assert.Equal(t, "PENDING_CHALLENGE", e.resourceState("1"))
}
