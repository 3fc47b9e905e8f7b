package server_test

// Email verification and KYC of authorised users (issue 4, points 7 and 8):
// Weavr authorisedUserEmailVerificationCodeSend, authorisedUserEmailVerify and
// userKyc, and Deputy's KYC decision endpoints (the sandbox reviewer and the
// provider's signed callback).

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/kycsig"
	"github.com/deputyhq/deputy/kycwebhook"
)

const (
	emailSendPath   = "/multi/users/verification/email/send"
	emailVerifyPath = "/multi/users/verification/email/verify"
	kycPath         = "/multi/users/kyc"
	kycCallbackPath = "/multi/kyc/callback"
)

// sendEmailCode asks for an email-verification code with the api key only.
func (e *env) sendEmailCode(email string) resp {
	e.t.Helper()
	return e.key("POST", emailSendPath, map[string]any{"email": email})
}

// verifyEmail submits an email-verification code with the api key only.
func (e *env) verifyEmail(email, code string) resp {
	e.t.Helper()
	return e.key("POST", emailVerifyPath, map[string]any{"email": email, "verificationCode": code})
}

// userStatus reads GET /multi/users/{id}/status as token.
func (e *env) userStatus(token, id string) map[string]any {
	e.t.Helper()
	r := e.auth(token, "GET", userPath(id, "status"), nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return r.json(e.t)
}

// withPassword creates an authorised user with roles and a password, and returns
// them signed in: no factor is enrolled and the session is not stepped up.
func (e *env) withPassword(creator, email string, roles ...core.Role) member {
	e.t.Helper()
	id := e.createUser(creator, userBody(email, roles...))
	r := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return member{id: id, email: email, token: str(e.t, r.json(e.t), "token")}
}

var reVerifyCode = regexp.MustCompile(`email address for .* is ([0-9]{6})\.`)

func TestEmailVerification(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.withPassword(root.token, "bea@acme.test")
	assert.Equal(t, false, e.userStatus(root.token, bea.id)["emailVerified"])

	wantConflict(t, e.sendEmailCode("nobody@acme.test"), "EMAIL_NOT_FOUND")
	r := e.sendEmailCode("Bea@Acme.test")
	wantNoContent(t, r, "the address compares case-insensitively")
	assert.Empty(t, r.body)
	var mails []outboxMessage
	for _, m := range e.outbox() {
		if m.Channel == "EMAIL" && m.To == "bea@acme.test" {
			mails = append(mails, m)
		}
	}
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Subject, "confirm your email")
	assert.Equal(t, sandboxCode, reVerifyCode.FindStringSubmatch(mails[0].Text)[1])

	wantConflict(t, e.verifyEmail("bea@acme.test", wrongCode(0)), "VERIFICATION_CODE_INVALID")
	wantConflict(t, e.verifyEmail("nobody@acme.test", sandboxCode), "VERIFICATION_CODE_INVALID", "an unknown address")
	assert.Equal(t, false, e.userStatus(root.token, bea.id)["emailVerified"])
	wantNoContent(t, e.verifyEmail("bea@acme.test", sandboxCode))
	assert.Equal(t, true, e.userStatus(root.token, bea.id)["emailVerified"])
	wantConflict(t, e.verifyEmail("bea@acme.test", sandboxCode), "VERIFICATION_CODE_INVALID", "the code works once")
	assert.Equal(t, true, e.userStatus(root.token, bea.id)["emailVerified"], "a spent code changes nothing")

	// A new email address is no longer verified.
	r = e.auth(root.token, "PATCH", userPath(bea.id), map[string]any{"email": "beatrice@acme.test"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, false, e.userStatus(root.token, bea.id)["emailVerified"])

	// Deactivated users get no code.
	wantNoContent(t, e.auth(root.token, "POST", userPath(bea.id, "deactivate"), nil))
	wantConflict(t, e.sendEmailCode("beatrice@acme.test"), "EMAIL_NOT_FOUND")

	for name, c := range map[string]struct {
		path string
		body any
		want []string
	}{
		"send without email":    {emailSendPath, map[string]any{}, []string{"email:REQUIRED"}},
		"send malformed email":  {emailSendPath, map[string]any{"email": "bea"}, []string{"email:REGEX"}},
		"verify without code":   {emailVerifyPath, map[string]any{"email": "bea@acme.test"}, []string{"verificationCode:REQUIRED"}},
		"verify short code":     {emailVerifyPath, map[string]any{"email": "bea@acme.test", "verificationCode": "12345"}, []string{"verificationCode:REGEX"}},
		"verify without either": {emailVerifyPath, map[string]any{}, []string{"email:REQUIRED", "verificationCode:REQUIRED"}},
	} {
		assert.Equal(t, c.want, e.key("POST", c.path, c.body).invalidFields(t), name)
	}
	for _, p := range []string{emailSendPath, emailVerifyPath} {
		assert.Equal(t, []string{"api-key:REQUIRED"}, e.call("POST", p, map[string]any{"email": "bea@acme.test", "verificationCode": sandboxCode}).invalidFields(t), p)
	}
}

func TestEmailVerificationCodeLimits(t *testing.T) {
	t.Run("five wrong codes spend it", func(t *testing.T) {
		e := newEnv(t)
		root := e.adminRoot("root@acme.test")
		bea := e.withPassword(root.token, "bea@acme.test")
		wantNoContent(t, e.sendEmailCode("bea@acme.test"))
		for i := range 5 {
			wantConflict(t, e.verifyEmail("bea@acme.test", wrongCode(i)), "VERIFICATION_CODE_INVALID", "wrong code %d", i+1)
		}
		wantConflict(t, e.verifyEmail("bea@acme.test", sandboxCode), "VERIFICATION_CODE_INVALID", "the right code after five wrong ones")
		assert.Equal(t, false, e.userStatus(root.token, bea.id)["emailVerified"])
		wantNoContent(t, e.sendEmailCode("bea@acme.test"))
		wantNoContent(t, e.verifyEmail("bea@acme.test", sandboxCode), "a new code works")
	})
	t.Run("it expires", func(t *testing.T) {
		e := newEnv(t)
		root := e.adminRoot("root@acme.test")
		bea := e.withPassword(root.token, "bea@acme.test")
		wantNoContent(t, e.sendEmailCode("bea@acme.test"))
		e.advance(15 * time.Minute)
		wantConflict(t, e.verifyEmail("bea@acme.test", sandboxCode), "VERIFICATION_CODE_INVALID")
		assert.Equal(t, false, e.userStatus(e.loginToken("root@acme.test"), bea.id)["emailVerified"])
	})
}

// kycStart calls userKyc as token.
func (e *env) kycStart(token string) resp {
	e.t.Helper()
	return e.auth(token, "POST", kycPath, nil)
}

// kycReady makes a signed-in user ready for KYC: email verified, SMS factor ACTIVE.
func (e *env) kycReady(m member) {
	e.t.Helper()
	wantNoContent(e.t, e.sendEmailCode(m.email))
	wantNoContent(e.t, e.verifyEmail(m.email, sandboxCode))
	e.stepUp(m.token)
}

// kycBea has an admin root user create bea@acme.test, ready for KYC.
func (e *env) kycBea() (root, bea member) {
	e.t.Helper()
	root = e.adminRoot("root@acme.test")
	bea = e.withPassword(root.token, "bea@acme.test")
	e.kycReady(bea)
	return root, bea
}

// startKYC starts KYC as m and returns the case reference.
func (e *env) startKYC(m member) string {
	e.t.Helper()
	r := e.kycStart(m.token)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(e.t)
	require.Len(e.t, got, 1, "the answer is {reference}: %s", r.body)
	ref := str(e.t, got, "reference")
	require.Regexp(e.t, `^[0-9]+$`, ref)
	return ref
}

// sandboxDecide decides a KYC case through the sandbox reviewer endpoint.
func (e *env) sandboxDecide(ref, status string) resp {
	e.t.Helper()
	return e.key("POST", "/multi/sandbox/kyc/"+ref, map[string]any{"status": status})
}

func TestUserKYC(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.withPassword(root.token, "bea@acme.test")

	wantConflict(t, e.kycStart(bea.token), "EMAIL_NOT_VERIFIED")
	wantNoContent(t, e.sendEmailCode("bea@acme.test"))
	wantNoContent(t, e.verifyEmail("bea@acme.test", sandboxCode))
	wantConflict(t, e.kycStart(bea.token), "MOBILE_NOT_VERIFIED", "no SMS factor")
	wantNoContent(t, e.auth(bea.token, "POST", enrolPath, nil))
	wantConflict(t, e.kycStart(bea.token), "MOBILE_NOT_VERIFIED", "an SMS factor pending verification")
	wantNoContent(t, e.auth(bea.token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	assert.NotContains(t, e.userStatus(root.token, bea.id), "kyc", "no case yet")

	ref := e.startKYC(bea)
	wantConflict(t, e.kycStart(bea.token), "KYC_PENDING_REVIEW")
	assert.Equal(t, map[string]any{"status": "PENDING_REVIEW", "reference": ref}, e.userStatus(root.token, bea.id)["kyc"])

	wantNoContent(t, e.sandboxDecide(ref, "APPROVED"))
	assert.Equal(t, map[string]any{"status": "APPROVED", "reference": ref}, e.userStatus(root.token, bea.id)["kyc"])
	wantConflict(t, e.kycStart(bea.token), "KYC_ALREADY_APPROVED")
	wantNoContent(t, e.sandboxDecide(ref, "APPROVED"), "the same decision again is harmless")
	wantConflict(t, e.sandboxDecide(ref, "REJECTED"), "KYC_ALREADY_DECIDED")
	wantConflict(t, e.kycStart(e.loginToken("bea@acme.test")), "KYC_ALREADY_APPROVED", "the case belongs to the user, not the session")

	cy := e.withPassword(root.token, "cy@acme.test", core.RoleCardAssignee)
	e.kycReady(cy)
	cyRef := e.startKYC(cy)
	assert.NotEqual(t, ref, cyRef)
	wantNoContent(t, e.sandboxDecide(cyRef, "REJECTED"))
	wantConflict(t, e.kycStart(cy.token), "KYC_REJECTED")
	wantConflict(t, e.sandboxDecide(cyRef, "APPROVED"), "KYC_ALREADY_DECIDED")
	assert.Equal(t, "REJECTED", e.userStatus(root.token, cy.id)["kyc"].(map[string]any)["status"])

	assert.Equal(t, http.StatusNotFound, e.sandboxDecide("999999999", "APPROVED").status, "unknown reference")
	assert.Equal(t, []string{"status:IN"}, e.sandboxDecide(ref, "MAYBE").invalidFields(t))
	assert.Equal(t, []string{"status:REQUIRED"}, e.key("POST", "/multi/sandbox/kyc/"+ref, map[string]any{}).invalidFields(t))
	assert.Equal(t, []string{"reference:REGEX"}, e.sandboxDecide("abc", "APPROVED").invalidFields(t))
	assert.Equal(t, http.StatusUnauthorized, e.key("POST", kycPath, nil).status, "KYC needs the user's token")
	assert.Equal(t, 2, count(e.auditActions(), "user.kyc_start"))
}

// TestUserKYCProviderRefuses: a case the provider did not take is withdrawn,
// so the user can start again instead of waiting on a review that never comes;
// the provider's words do not reach the caller.
func TestUserKYCProviderRefuses(t *testing.T) {
	e := newEnv(t)
	root, bea := e.kycBea()

	e.kyc.refuse(errors.New("provider down: account acct_secret_123 suspended"))
	r := e.kycStart(bea.token)
	require.Equal(t, http.StatusInternalServerError, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), "acct_secret_123")
	assert.NotContains(t, e.userStatus(root.token, bea.id), "kyc", "no case is left pending")
	assert.Equal(t, 1, count(e.auditActions(), "user.kyc_withdrawn"))

	e.kyc.refuse(nil)
	ref := e.startKYC(bea)
	assert.Equal(t, map[string]any{"status": "PENDING_REVIEW", "reference": ref}, e.userStatus(root.token, bea.id)["kyc"])
}

func TestUserKYCIsForAuthorisedUsersOfCorporates(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")

	r := e.key("POST", "/multi/consumers", consumerBody("grace@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	consumerID := str(t, r.json(t), "id", "id")
	r = e.key("POST", "/multi/passwords/"+consumerID+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	consumer := member{id: consumerID, email: "grace@acme.test", token: str(t, r.json(t), "token")}
	e.stepUp(consumer.token)
	consumerUser := e.withPassword(consumer.token, "helper@acme.test")

	for name, m := range map[string]member{"a corporate's root": root, "a consumer's root": consumer, "a consumer's authorised user": consumerUser} {
		wantNoContent(t, e.sendEmailCode(m.email), name)
		wantNoContent(t, e.verifyEmail(m.email, sandboxCode), name)
		if m.id == consumerUser.id {
			e.stepUp(m.token)
		}
		r := e.kycStart(m.token)
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", name, r.body)
		assert.Equal(t, "INSUFFICIENT_PERMISSIONS", r.errorCode(t), name)
	}
	assert.Zero(t, count(e.auditActions(), "user.kyc_start"))
}

// kycCallback posts body to the callback endpoint with a signature header (none when sig is "").
func (e *env) kycCallback(body []byte, sig string) resp {
	e.t.Helper()
	var h []string
	if sig != "" {
		h = []string{kycsig.Header, sig}
	}
	return e.key("POST", kycCallbackPath, body, h...)
}

// signedCallback signs body with the test server's secret at the sandbox clock's now and posts it.
func (e *env) signedCallback(body string) resp {
	e.t.Helper()
	return e.kycCallback([]byte(body), kycsig.Sign(kycCallbackSecret, e.svc.Now(), []byte(body)))
}

func TestKYCCallback(t *testing.T) {
	e := newEnv(t)
	root, bea := e.kycBea()
	ref := e.startKYC(bea)
	approve := []byte(`{"reference":"` + ref + `","status":"APPROVED"}`)
	now := e.svc.Now()

	good := kycsig.Sign(kycCallbackSecret, now, approve)
	_, v1, _ := strings.Cut(good, ",")
	for name, sig := range map[string]string{
		"no signature":    "",
		"wrong secret":    kycsig.Sign([]byte("not-the-secret"), now, approve),
		"stale":           kycsig.Sign(kycCallbackSecret, now.Add(-kycsig.Tolerance-time.Minute), approve),
		"from the future": kycsig.Sign(kycCallbackSecret, now.Add(kycsig.Tolerance+time.Minute), approve),
		"another body's":  kycsig.Sign(kycCallbackSecret, now, []byte(`{"reference":"`+ref+`","status":"REJECTED"}`)),
		"malformed":       "t=abc,v1=zz",
		"timestamp only":  "t=" + strconv.FormatInt(now.Unix(), 10),
		"signature only":  v1,
	} {
		r := e.kycCallback(approve, sig)
		require.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", name, r.body)
		assert.Equal(t, "UNAUTHORIZED", r.json(t)["code"], name)
	}
	assert.Equal(t, "PENDING_REVIEW", e.userStatus(root.token, bea.id)["kyc"].(map[string]any)["status"], "no refused call decided anything")

	r := e.signedCallback(`{"reference":"999999999","status":"APPROVED"}`)
	assert.Equal(t, http.StatusNotFound, r.status, "unknown reference: %s", r.body)
	assert.Equal(t, []string{"status:IN"}, e.signedCallback(`{"reference":"`+ref+`","status":"PENDING_REVIEW"}`).invalidFields(t))
	assert.Equal(t, []string{"reference:REQUIRED"}, e.signedCallback(`{"status":"APPROVED"}`).invalidFields(t))
	other := e.asProgramme(t, e.otherProgramme("Other"), nil)
	r = other.kycCallback(approve, kycsig.Sign(kycCallbackSecret, e.svc.Now(), approve))
	assert.Equal(t, http.StatusNotFound, r.status, "another programme's case: %s", r.body)

	wantNoContent(t, e.kycCallback(approve, kycsig.Sign(kycCallbackSecret, e.svc.Now(), approve)))
	assert.Equal(t, "APPROVED", e.userStatus(root.token, bea.id)["kyc"].(map[string]any)["status"])
	wantConflict(t, e.kycStart(bea.token), "KYC_ALREADY_APPROVED")
	wantNoContent(t, e.signedCallback(string(approve)), "repeating the decision is harmless")
	wantConflict(t, e.signedCallback(`{"reference":"`+ref+`","status":"REJECTED"}`), "KYC_ALREADY_DECIDED")
	assert.Equal(t, "APPROVED", e.userStatus(root.token, bea.id)["kyc"].(map[string]any)["status"])

	// Signatures are checked against the service clock: a signature made now is
	// stale once the sandbox clock has moved on.
	cy := e.withPassword(root.token, "cy@acme.test")
	e.kycReady(cy)
	cyRef := e.startKYC(cy)
	reject := []byte(`{"reference":"` + cyRef + `","status":"REJECTED"}`)
	sig := kycsig.Sign(kycCallbackSecret, e.svc.Now(), reject)
	e.advance(kycsig.Tolerance + time.Minute)
	assert.Equal(t, http.StatusUnauthorized, e.kycCallback(reject, sig).status, "a replay after the tolerance")
	wantNoContent(t, e.kycCallback(reject, kycsig.Sign(kycCallbackSecret, e.svc.Now(), reject)))
	wantConflict(t, e.kycStart(e.loginToken("cy@acme.test")), "KYC_REJECTED")
}

// TestKYCCallbackRefusesDeputysOwnCase: the cases Deputy posts to the KYC
// service are signed with the secret that signs the decisions, so one seen
// on its way (a log, a proxy) is a signed body; sent back to the callback it
// decides nothing, whatever the user put in their details: a decision is
// exactly {"reference", "status"}, and a case holds more names than that.
func TestKYCCallbackRefusesDeputysOwnCase(t *testing.T) {
	e := newEnv(t)
	root, bea := e.kycBea()
	ref := e.startKYC(bea)
	for _, name := range []string{"Bea", `Bea","status":"APPROVED`} {
		body, err := json.Marshal(kycwebhook.Case{Reference: ref, ProgrammeID: e.prog.ID,
			User: kycwebhook.CaseUser{ID: bea.id, Name: name, Surname: "APPROVED", Email: bea.email}})
		require.NoError(t, err)
		r := e.kycCallback(body, kycsig.Sign(kycCallbackSecret, e.svc.Now(), body))
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	}
	assert.Equal(t, "PENDING_REVIEW", e.userStatus(root.token, bea.id)["kyc"].(map[string]any)["status"])
}

// TestKYCDetailsStayWhatWasChecked: while a user's case is pending, none of
// the details it sent (name, surname, date of birth, email, mobile) changes,
// by the user or by an admin; once it is approved, the person it vouches for
// (name, surname, date of birth) stays, so that an approval never stands for
// someone nobody checked (as Weavr's consumerUpdate keeps a verified root
// user's), while email and mobile, verified again by their own checks, and
// the other fields still change.
func TestKYCDetailsStayWhatWasChecked(t *testing.T) {
	e := newEnv(t)
	root, bea := e.kycBea()
	ref := e.startKYC(bea)
	dob := map[string]any{"year": 1990, "month": 1, "day": 2}
	person := map[string]map[string]any{"name": {"name": "Mallory"}, "surname": {"surname": "Other"}, "dateOfBirth": {"dateOfBirth": dob}}
	contact := map[string]map[string]any{"email": {"email": "bea.smith@acme.test"},
		"mobile": {"mobile": map[string]any{"countryCode": "+44", "number": "7700900999"}}}
	for name, body := range person {
		wantConflict(t, e.auth(bea.token, "PATCH", userPath(bea.id), body), "KYC_PENDING_REVIEW", name+" by the user")
		wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), body), "KYC_PENDING_REVIEW", name+" by an admin")
	}
	for name, body := range contact {
		wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), body), "KYC_PENDING_REVIEW", name+" by an admin")
	}
	r := e.auth(bea.token, "PATCH", userPath(bea.id), map[string]any{"name": "Bea", "tag": "pending"})
	require.Equal(t, http.StatusOK, r.status, "an unchanged name and a tag: %s", r.body)

	wantNoContent(t, e.sandboxDecide(ref, "APPROVED"))
	for name, body := range person {
		wantConflict(t, e.auth(bea.token, "PATCH", userPath(bea.id), body), "KYC_ALREADY_APPROVED", name+" by the user")
		wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), body), "KYC_ALREADY_APPROVED", name+" by an admin")
	}
	for name, body := range contact {
		r := e.auth(root.token, "PATCH", userPath(bea.id), body)
		require.Equal(t, http.StatusOK, r.status, "%s after the approval: %s", name, r.body)
	}
	got := e.auth(root.token, "GET", userPath(bea.id), nil).json(t)
	assert.Equal(t, []any{"Bea", "Smith", "bea.smith@acme.test"}, []any{got["name"], got["surname"], got["email"]})
}
