package server_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reSMSCode is the origin-bound last line of a code text message.
var reSMSCode = regexp.MustCompile(`\n@[a-z0-9.-]+ #([0-9]{6})$`)

// The whole of Weavr's "Invite additional users" guide, as an embedder's
// backend would run it: step up the acting user, create the new user, invite
// them, validate and consume the invite (giving the mobile), and the new user
// signs in and enrols their device for SMS. Every code is read from what was
// sent, never assumed.
func TestInviteAdditionalUsersGuide(t *testing.T) {
	e := newEnv(t)
	e.enrolledRoot("root@acme.test") // the acting user, with a device enrolled earlier
	lastSMS := func(to string) string {
		t.Helper()
		sms := e.smsTo(to)
		require.NotEmpty(t, sms, "no text message to %s", to)
		m := reSMSCode.FindStringSubmatch(sms[0].Text)
		require.NotNil(t, m, "%q", sms[0].Text)
		return m[1]
	}

	// 1. Step up the acting user.
	acting := e.loginToken("root@acme.test")
	r := e.auth(acting, "POST", usersPath, map[string]any{"name": "Bea", "surname": "Smith", "email": "bea@acme.test"})
	require.Equal(t, http.StatusForbidden, r.status, "before the step-up: %s", r.body)
	require.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
	wantNoContent(t, e.auth(acting, "POST", stepUpPath, nil), "issue a step-up challenge")
	wantNoContent(t, e.auth(acting, "POST", stepUpVerifyPath, codeBody(lastSMS(rootMobile))), "verify it")

	// 2. Create the new user, without a mobile: they give it when accepting.
	r = e.auth(acting, "POST", usersPath, map[string]any{
		"name": "Bea", "surname": "Smith", "email": "bea@acme.test",
		"dateOfBirth": map[string]any{"year": 1990, "month": 1, "day": 1},
		"tag":         "card_holders", "roles": []string{"CARD_ASSIGNEE"},
	}, "idempotency-ref", "guide-create")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	created := r.json(t)
	id := str(t, created, "id")
	assert.Equal(t, true, created["active"])
	assert.NotContains(t, created, "mobile")

	// 3. The invitation flow: the invite email, then the embedder's page
	// validates the code and sets the password with it.
	wantNoContent(t, e.auth(acting, "POST", userPath(id, "invite"), nil, "idempotency-ref", "guide-invite"))
	invs := e.invitesTo("bea@acme.test")
	require.Len(t, invs, 1)
	q := invs[0].link.Query()
	require.Equal(t, id, q.Get("userId"), "the link names the user")
	code := q.Get("code")
	assert.Equal(t, invs[0].code, code, "the link and the text carry the same code")

	wantNoContent(t, e.validateInvite(q.Get("userId"), code))
	r = e.key("POST", userPath(q.Get("userId"), "invite/consume"), map[string]any{
		"inviteCode": code, "password": pw("N3w-User-Passw0rd"),
		"mobile": map[string]any{"countryCode": "+44", "number": "7700900777"},
	}, "idempotency-ref", "guide-consume")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotEmpty(t, str(t, r.json(t), "token"))

	// 4. The new user signs in and enrols their device.
	r = e.login("bea@acme.test", "N3w-User-Passw0rd")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	token := str(t, r.json(t), "token")
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(lastSMS("+447700900777"))), "the code went to the mobile given on accepting")
	list, _ := e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)

	// The admin sees where the new user stands.
	st := e.userStatus(acting, id)
	assert.Equal(t, true, st["passwordSet"])
	assert.Equal(t, "CONSUMED", st["invite"].(map[string]any)["state"])
	assert.Equal(t, []any{map[string]any{"type": "OTP", "channel": "SMS", "status": "ACTIVE"}}, st["factors"])
	me := e.getUser(token, id)
	assert.Equal(t, map[string]any{"countryCode": "+44", "number": "7700900777"}, me["mobile"])
	assert.Equal(t, []any{"CARD_ASSIGNEE"}, me["roles"])
}
