package server_test

// What real Weavr clients (Weavr's reference web app, its e2e suite, SDKs
// generated from its OpenAPI) send or look for, where Deputy used to differ
// (issue 13, point 8).

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

func TestStepUpRequiredCarriesAMessage(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")

	r := e.auth(token, "POST", usersPath, userBody("bea@acme.test"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	body := r.json(t)
	assert.Equal(t, "STEP_UP_REQUIRED", body["errorCode"], "Weavr's errorCode stays")
	assert.NotEmpty(t, body["message"], "Weavr's reference app looks for a message")
}

func TestNumbersForStringsAreReadAsWeavrReadsThem(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "enrol")

	for _, tc := range []struct {
		name string
		body string
	}{
		{"a boolean", `{"verificationCode": true}`},
		{"an object", `{"verificationCode": {"value": 123456}}`},
		{"an array", `{"verificationCode": [123456]}`},
	} {
		r := e.auth(token, "POST", enrolVerifyPath, tc.body)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tc.name, r.body)
		assert.Equal(t, []string{"verificationCode:IN"}, r.invalidFields(t), tc.name)
	}
	r := e.auth(token, "POST", enrolVerifyPath, `{"verificationCode": 12345.6}`)
	assert.Equal(t, http.StatusBadRequest, r.status, "a fraction reads as its text, which is no code: %s", r.body)
	assert.Equal(t, []string{"verificationCode:REGEX"}, r.invalidFields(t))

	// Weavr's mapper reads 123456 as "123456": so does Deputy.
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, `{"verificationCode": 123456}`), "a code sent as a number")
}

func TestNumberPasswordIsReadAsItsText(t *testing.T) {
	e := newEnv(t)
	id := e.newCorporateWithoutPassword("root@acme.test")
	// Weavr's mapper coerces any string field, passwords too; a number is
	// then only as strong as its digits (the profile decides).
	r := e.key("POST", "/multi/passwords/"+id+"/create", `{"password": {"value": 12345678901234}}`)
	wantConflict(t, r, "PASSWORD_TOO_SIMPLE", "the number was read as a password, which digits alone do not make")
}

// An early repeat of the enrolment keeps the challenge as it is: it neither
// sends a code nor gives back the wrong guesses already made.
func TestEnrolSMSEarlyRepeatKeepsTheChallenge(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	for i := range 3 {
		wantConflict(t, e.auth(token, "POST", enrolVerifyPath, codeBody(wrongCode(i))), "VERIFICATION_CODE_INVALID")
	}
	wantConflict(t, e.auth(token, "POST", enrolVerifyPath, codeBody(wrongCode(3))), "ONE_CHALLENGE_LIMIT_REMAINING")
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "a repeat within 15 s")
	wantConflict(t, e.auth(token, "POST", enrolVerifyPath, codeBody(wrongCode(4))), "CHALLENGE_LIMIT_EXCEEDED",
		"the fifth wrong code still ends the challenge")
	assert.Len(t, e.smsTo(rootMobile), 1)
}

// Weavr answers a consume for an unknown user 409 UNRESOLVED_IDENTITY. The
// embedder's backend (secret key) gets that answer; the ui key, which any
// page holds, gets the wrong-code answer, so that it cannot tell which ids
// exist. The invite budgets count either way.
func TestInviteConsumeUnknownUser(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{}, withRateLimits(core.RateLimits{InviteWrongPerInvite: core.RateLimit{Requests: 2, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	withPassword := e.newMember(root.token, "cy@acme.test").id

	for name, id := range map[string]string{"unknown": "999999999", "root user": root.id} {
		wantConflict(t, e.consumeInvite(id, sandboxCode, testPassword, nil), "UNRESOLVED_IDENTITY", name)
	}
	wantConflict(t, e.consumeInvite(withPassword, sandboxCode, testPassword, nil), "PASSWORD_ALREADY_CREATED")

	browser := e.withKey(uiKey)
	wrong := browser.consumeInvite(bea, wrongCode(0), testPassword, nil)
	wantConflict(t, wrong, "INVITE_OR_INVITE_CODE_INVALID")
	for name, id := range map[string]string{"unknown": "999999998", "root user": root.id, "with a password": withPassword} {
		r := browser.consumeInvite(id, sandboxCode, testPassword, nil)
		wantConflict(t, r, "INVITE_OR_INVITE_CODE_INVALID", name)
		assert.Equal(t, string(wrong.body), string(r.body), "%s: the same answer as a wrong code", name)
	}

	// An unknown id spends the per-user budget as a known one does.
	wantConflict(t, e.consumeInvite("999999997", sandboxCode, testPassword, nil), "UNRESOLVED_IDENTITY")
	wantConflict(t, e.consumeInvite("999999997", sandboxCode, testPassword, nil), "UNRESOLVED_IDENTITY")
	wantRateLimitedWithin(t, e.consumeInvite("999999997", sandboxCode, testPassword, nil), "2, 2;w=3600", time.Hour, "over the budget")
}

// Root users verify their email with Weavr's "Authorised Signatories"
// operations, and the users' operation no longer refuses them.
func TestRootUsersVerifyTheirEmail(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{EmailPerAddress: core.RateLimit{Requests: 2, Window: time.Hour}}))
	e.alignClock(time.Hour)
	corpID, _ := e.corporate("ada@acme.test")
	r := e.key("POST", "/multi/consumers", consumerBody("grace@home.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	consID := str(t, r.json(t), "id", "id")
	verified := func(id string) bool {
		var v bool
		require.NoError(t, e.store.View(context.Background(), func(tx core.ReadTx) error {
			u, err := tx.User(id)
			if err == nil {
				v = u.EmailVerified
			}
			return err
		}))
		return v
	}

	// Each pair is for its own kind of root user.
	wantConflict(t, e.key("POST", "/multi/consumers/verification/email/send", map[string]any{"email": "ada@acme.test"}), "EMAIL_NOT_FOUND", "a corporate's root")
	wantConflict(t, e.key("POST", "/multi/corporates/verification/email/send", map[string]any{"email": "grace@home.test"}), "EMAIL_NOT_FOUND", "a consumer's root")

	wantNoContent(t, e.key("POST", "/multi/corporates/verification/email/send", map[string]any{"email": "ada@acme.test"}))
	wantConflict(t, e.key("POST", "/multi/corporates/verification/email/verify", map[string]any{"email": "ada@acme.test", "verificationCode": wrongCode(0)}), "VERIFICATION_CODE_INVALID")
	assert.False(t, verified(corpID))
	wantNoContent(t, e.key("POST", "/multi/corporates/verification/email/verify", map[string]any{"email": "ada@acme.test", "verificationCode": 123456}))
	assert.True(t, verified(corpID))

	wantNoContent(t, e.key("POST", "/multi/consumers/verification/email/send", map[string]any{"email": "grace@home.test"}))
	wantNoContent(t, e.sendEmailCode("grace@home.test"), "the users' operation takes a root user's email")
	wantNoContent(t, e.key("POST", "/multi/consumers/verification/email/verify", map[string]any{"email": "grace@home.test", "verificationCode": sandboxCode}))
	assert.True(t, verified(consID))

	// The address's email budget is shared by every operation that mails it.
	wantNoContent(t, e.sendEmailCode("ada@acme.test"))
	wantRateLimitedWithin(t, e.key("POST", "/multi/corporates/verification/email/send", map[string]any{"email": "ada@acme.test"}), "2, 2;w=3600", time.Hour, "a third email to ada")
}

// PATCH /multi/corporates and /multi/consumers change the root user under
// the rules of PATCH /multi/users/{id}: the step-up, the change limit and
// the notices are the same.
func TestRootUserUpdate(t *testing.T) {
	e := newEnv(t)
	rootID, token := e.corporate("ada@acme.test")

	r := e.auth(token, "PATCH", "/multi/corporates", map[string]any{"userTag": "ada-1", "locale": "en"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	body := r.json(t)
	assert.Equal(t, "ada-1", str(t, body, "rootUser", "tag"))
	assert.Equal(t, rootID, str(t, body, "id", "id"))

	// A root user has a mobile from the start: changing it needs a step-up,
	// which enrolling the mobile gives; the SMS factor then needs enrolling again.
	newMobile := map[string]any{"countryCode": "+356", "number": "79000009"}
	r = e.auth(token, "PATCH", "/multi/corporates", map[string]any{"mobile": newMobile})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	e.stepUp(token)
	r = e.auth(token, "PATCH", "/multi/corporates", map[string]any{"mobile": newMobile})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, newMobile, r.json(t)["rootUser"].(map[string]any)["mobile"])
	assert.Equal(t, false, r.json(t)["rootUser"].(map[string]any)["mobileNumberVerified"])
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "the SMS enrolment goes to the new mobile")
	assert.Len(t, e.smsTo("+35679000009"), 1)
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))

	// With an active factor, a change of email or mobile needs a step-up.
	fresh := e.loginToken("ada@acme.test")
	r = e.auth(fresh, "PATCH", "/multi/corporates", map[string]any{"email": "ada@new.test"})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
	r = e.auth(fresh, "PATCH", "/multi/corporates", map[string]any{"name": "Augusta"})
	assert.Equal(t, http.StatusOK, r.status, "a name needs no step-up: %s", r.body)
	e.stepUpAgain(fresh)
	r = e.auth(fresh, "PATCH", "/multi/corporates", map[string]any{"email": "ada@new.test"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "ada@new.test", str(t, r.json(t), "rootUser", "email"))
	assert.Contains(t, e.auditActions(), "user.update")
	var notified bool
	for _, m := range e.outbox() {
		notified = notified || (m.Channel == "EMAIL" && m.To == "ada@acme.test")
	}
	assert.True(t, notified, "the old address is told (EMAIL_CHANGED)")

	// Bad input, and the wrong kind of identity.
	r = e.auth(fresh, "PATCH", "/multi/corporates", map[string]any{"industry": "FARMING"})
	assert.Equal(t, []string{"industry:IN"}, r.invalidFields(t))
	r = e.auth(fresh, "PATCH", "/multi/corporates", map[string]any{"occupation": "STUDENT"})
	assert.Equal(t, []string{"occupation:NOT_IN"}, r.invalidFields(t), "a consumer's field")
	assert.Equal(t, http.StatusForbidden, e.auth(fresh, "PATCH", "/multi/consumers", map[string]any{"locale": "en"}).status)

	r = e.key("POST", "/multi/consumers", consumerBody("grace@home.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.key("POST", "/multi/passwords/"+str(t, r.json(t), "id", "id")+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.auth(str(t, r.json(t), "token"), "PATCH", "/multi/consumers", map[string]any{"surname": "Murray"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "Murray", str(t, r.json(t), "rootUser", "surname"))
}

// The identity's own fields of Weavr's update requests change its profile,
// in the transaction of the root user's change; resetMobileCounter is
// accepted but lifts no limit.
func TestIdentityUpdateChangesTheProfile(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("ada@acme.test")
	address := map[string]any{"addressLine1": "1 High St", "city": "London", "postCode": "SW1A 1AA", "country": "GB"}
	r := e.auth(token, "PATCH", "/multi/corporates", map[string]any{"name": "Augusta", "tag": "acme-2", "baseCurrency": "EUR",
		"feeGroup": "gold", "industry": "FINANCE", "sourceOfFunds": "DIVIDENDS", "sourceOfFundsOther": "none",
		"companyBusinessAddress": address, "resetMobileCounter": true})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, got := range []map[string]any{r.json(t), e.auth(token, "GET", "/multi/corporates", nil).json(t)} {
		assert.Equal(t, "Augusta", str(t, got, "rootUser", "name"))
		assert.Equal(t, "acme-2", got["tag"])
		assert.Equal(t, "EUR", got["baseCurrency"])
		assert.Equal(t, "gold", got["feeGroup"])
		assert.Equal(t, "FINANCE", got["industry"])
		assert.Equal(t, "DIVIDENDS", got["sourceOfFunds"])
		assert.Equal(t, address, got["company"].(map[string]any)["businessAddress"])
		assert.Equal(t, "Acme Ltd", str(t, got, "company", "name"), "the rest stays")
	}
	assert.Contains(t, e.auditActions(), "user.update")

	r = e.auth(token, "PATCH", "/multi/corporates", map[string]any{"baseCurrency": "euro", "companyBusinessAddress": map[string]any{"country": "GB"}})
	assert.ElementsMatch(t, []string{"baseCurrency:REGEX", "companyBusinessAddress.addressLine1:REQUIRED",
		"companyBusinessAddress.city:REQUIRED", "companyBusinessAddress.postCode:REQUIRED"}, r.invalidFields(t))
	assert.Equal(t, "EUR", e.auth(token, "GET", "/multi/corporates", nil).json(t)["baseCurrency"], "nothing half-written")

	r = e.key("POST", "/multi/consumers", fullConsumerBody("grace@home.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.key("POST", "/multi/passwords/"+str(t, r.json(t), "id", "id")+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	grace := str(t, r.json(t), "token")
	home := map[string]any{"city": "Mdina", "country": "MT"}
	r = e.auth(grace, "PATCH", "/multi/consumers", map[string]any{"occupation": "RETIRED", "address": home,
		"nationality": "GB", "placeOfBirth": "London", "sourceOfFunds": "INHERITANCE", "userTag": "grace-1"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := e.auth(grace, "GET", "/multi/consumers", nil).json(t)
	assert.Equal(t, "RETIRED", str(t, got, "rootUser", "occupation"))
	assert.Equal(t, home, got["rootUser"].(map[string]any)["address"])
	assert.Equal(t, "GB", str(t, got, "rootUser", "nationality"))
	assert.Equal(t, "London", str(t, got, "rootUser", "placeOfBirth"))
	assert.Equal(t, "grace-1", str(t, got, "rootUser", "tag"))
	assert.Equal(t, "INHERITANCE", got["sourceOfFunds"])
	assert.Equal(t, "cons-tag", got["tag"], "the identity's tag stays")
	r = e.auth(grace, "PATCH", "/multi/consumers", map[string]any{"industry": "FINANCE"})
	assert.Equal(t, []string{"industry:NOT_IN"}, r.invalidFields(t), "a corporate's field")
	r = e.auth(grace, "PATCH", "/multi/consumers", map[string]any{"sourceOfFunds": "DONATION"})
	assert.Equal(t, []string{"sourceOfFunds:IN"}, r.invalidFields(t), "a corporate's source of funds")
}

// An invited user without a mobile sets their first one themselves without a
// step-up (they have no factor to step up with), then enrols it; a second
// change, or anyone else's first mobile for them, follows the usual rules.
func TestFirstMobileNeedsNoStepUp(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, map[string]any{"name": "Bea", "surname": "Smith", "email": "bea@acme.test"})
	cy := e.createUser(root.token, map[string]any{"name": "Cy", "surname": "Smith", "email": "cy@acme.test"})
	e.invite(root.token, bea)
	r := e.consumeInvite(bea, sandboxCode, testPassword, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	token := str(t, r.json(t), "token")
	wantConflict(t, e.auth(token, "POST", enrolPath, nil), "MOBILE_NUMBER_NOT_AVAILABLE", "no mobile yet")

	first := map[string]any{"countryCode": "+356", "number": "79000001"}
	r = e.auth(token, "PATCH", userPath(bea), map[string]any{"mobile": first})
	require.Equal(t, http.StatusOK, r.status, "a first mobile on oneself: %s", r.body)
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	assert.Len(t, e.smsTo("+35679000001"), 1)

	r = e.auth(token, "PATCH", userPath(bea), map[string]any{"mobile": map[string]any{"countryCode": "+356", "number": "79000002"}})
	require.Equal(t, http.StatusForbidden, r.status, "a second mobile is a change: %s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)), "the enrolment proves the first mobile")

	// Another user's first mobile is not theirs to set without a step-up.
	fresh := e.loginToken("root@acme.test")
	r = e.auth(fresh, "PATCH", userPath(cy), map[string]any{"mobile": first})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
}

// A programme shapes its invite and reset links (Weavr's reference app reads
// user_id and nonce): placeholders are filled in, query-escaped.
func TestProgrammeShapesItsLinks(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.CreateProgramme(context.Background(), core.NewProgramme{Name: "Shaped", Settings: core.ProgrammeSettings{
		InviteURL: "https://app.example/invite?user_id={userId}&nonce={code}",
		ResetURL:  "https://app.example/reset?email={email}&nonce={code}",
	}})
	require.NoError(t, err)
	ep := e.asProgramme(t, p.APIKey, p.Programme)
	root := ep.adminRoot("root+1@acme.test")
	bea := ep.createUser(root.token, userBody("bea@acme.test"))
	ep.invite(root.token, bea)
	var texts []string
	for _, m := range ep.outbox() {
		if m.To == "bea@acme.test" {
			texts = append(texts, m.Text)
		}
	}
	require.Len(t, texts, 1)
	assert.Contains(t, texts[0], "  https://app.example/invite?user_id="+bea+"&nonce="+sandboxCode+"\n")

	ep.startReset("root+1@acme.test")
	want := "https://app.example/reset?email=root%2B1%40acme.test&nonce=" + sandboxCode
	require.Eventually(t, func() bool {
		for _, m := range ep.outbox() {
			if m.To == "root+1@acme.test" && strings.Contains(m.Text, want) {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the reset email links to the programme's page")

	for name, c := range map[string]struct{ set core.ProgrammeSettings }{
		"unknown placeholder": {core.ProgrammeSettings{InviteURL: "https://app.example/i?u={user}"}},
		"email in an invite":  {core.ProgrammeSettings{InviteURL: "https://app.example/i?e={email}"}},
		"user id in a reset":  {core.ProgrammeSettings{ResetURL: "https://app.example/r?u={userId}"}},
		"placeholder in host": {core.ProgrammeSettings{InviteURL: "https://{userId}.app.example/i"}},
		"not a web link":      {core.ProgrammeSettings{InviteURL: "javascript:alert({code})"}},
		"relative":            {core.ProgrammeSettings{ResetURL: "/reset?n={code}"}},
		"user info":           {core.ProgrammeSettings{InviteURL: "https://me:pw@app.example/i?n={code}"}},
	} {
		_, err := e.svc.UpdateProgrammeSettings(context.Background(), p.Programme.ID, nil, withProfile(c.set))
		assert.ErrorIs(t, err, core.ErrInvalid, name)
	}
	_, err = e.svc.UpdateProgrammeSettings(context.Background(), p.Programme.ID, nil, withProfile(core.ProgrammeSettings{InviteURL: "http://localhost:3000/i?n={code}"}))
	assert.NoError(t, err, "http is for sandbox")
}

func withProfile(s core.ProgrammeSettings) core.ProgrammeSettings {
	s.PasswordProfile = "weavr"
	return s
}
