package server_test

// Tests of issue 3 (SCA: the SMS one-time-password factor and step-up
// challenges) through the real HTTP server. Weavr operations: authFactorsGet,
// enrolDeviceUsingOtpStepOne/StepTwo, stepupSCAChallenge, stepupSCAVerify.
// Points HTTP cannot reach (the session's stepped-up flag, deactivated callers,
// users without a mobile, codes outside sandbox) are in core/sca_test.go.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	factorsPath      = "/multi/authentication_factors"
	enrolPath        = "/multi/authentication_factors/otp/SMS"
	enrolVerifyPath  = enrolPath + "/verify"
	stepUpPath       = "/multi/stepup/challenges/otp/SMS"
	stepUpVerifyPath = stepUpPath + "/verify"

	// rootMobile is corporateBody's mobile as the outbox shows it.
	rootMobile = "+447700900123"
	// sandboxCode is the code of every sandbox challenge.
	sandboxCode = "123456"
)

// wrongCode returns the i-th of many well-formed codes that are not sandboxCode.
func wrongCode(i int) string { return fmt.Sprintf("%06d", 900000+i) }

// codeBody is an SCAVerifyRequest.
func codeBody(code string) map[string]any { return map[string]any{"verificationCode": code} }

// wantConflict fails unless r is a 409 with errorCode code.
func wantConflict(t *testing.T, r resp, code string, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, http.StatusConflict, r.status, append([]any{"body %s; want 409 %s", r.body, code}, msgAndArgs...)...)
	assert.Equal(t, code, r.errorCode(t), msgAndArgs...)
}

// wantNoContent fails unless r is a 204.
func wantNoContent(t *testing.T, r resp, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, http.StatusNoContent, r.status, append([]any{"body %s", r.body}, msgAndArgs...)...)
}

// factorList returns the caller's factors as "type/channel/status", and whether
// the `factors` member was present at all.
func (e *env) factorList(token string) (list []string, present bool) {
	e.t.Helper()
	r := e.auth(token, "GET", factorsPath, nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	raw, present := r.json(e.t)["factors"]
	if !present {
		return nil, false
	}
	for _, f := range raw.([]any) {
		m := f.(map[string]any)
		list = append(list, fmt.Sprintf("%s/%s/%s", m["type"], m["channel"], m["status"]))
	}
	return list, true
}

// enrolledRoot creates a corporate whose root user has an ACTIVE SMS factor and
// returns the root's (stepped-up) session token.
func (e *env) enrolledRoot(email string) string {
	e.t.Helper()
	_, token := e.corporate(email)
	wantNoContent(e.t, e.auth(token, "POST", enrolPath, nil), "enrol")
	wantNoContent(e.t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)), "verify enrolment")
	return token
}

// loginToken signs in with testPassword and returns the new session's token.
func (e *env) loginToken(email string) string {
	e.t.Helper()
	r := e.login(email, testPassword)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return r.json(e.t)["token"].(string)
}

// smsTo returns the outbox's text messages to a number, newest first.
func (e *env) smsTo(to string) []outboxMessage {
	e.t.Helper()
	var out []outboxMessage
	for _, m := range e.outbox() {
		if m.Channel == "SMS" && m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// attemptOutcomes is what the wrong codes of a challenge allowing n attempts answer, in order.
func attemptOutcomes(n int) []string {
	out := make([]string, n)
	for i := range n {
		switch left := n - (i + 1); {
		case left <= 0:
			out[i] = "CHALLENGE_LIMIT_EXCEEDED"
		case left == 1:
			out[i] = "ONE_CHALLENGE_LIMIT_REMAINING"
		default:
			out[i] = "VERIFICATION_CODE_INVALID"
		}
	}
	return out
}

func TestAuthFactorsGet(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")

	r := e.auth(token, "GET", factorsPath, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, r.json(t), "factors", "a user without factors gets no `factors` member: %s", r.body)

	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	list, _ := e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/PENDING_VERIFICATION"}, list)

	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	list, _ = e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)

	other := e.loginToken("root@acme.test")
	list, _ = e.factorList(other)
	assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list, "factors belong to the user, not the session")

	assert.Equal(t, http.StatusUnauthorized, e.key("GET", factorsPath, nil).status, "no bearer token")
}

func TestEnrolSMSSendsCodeToTheUsersMobile(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	require.Empty(t, e.smsTo(rootMobile))

	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	sms := e.smsTo(rootMobile)
	require.Len(t, sms, 1, "one text message to the root user's mobile")
	assert.Contains(t, sms[0].Text, e.prog.Name, "the text names the programme")
	assert.True(t, strings.HasSuffix(sms[0].Text, "@localhost #"+sandboxCode),
		"the text ends with the origin-bound line; got %q", sms[0].Text)
	assert.Equal(t, "\n@localhost #"+sandboxCode, sms[0].Text[strings.LastIndexByte(sms[0].Text, '\n'):],
		"the origin-bound line is a line of its own")
}

func TestEnrolSMSAgainBeforeVerifying(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))

	// Weavr answers a repeat within 15 s 204: Deputy does, and sends nothing.
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "at once")
	e.advance(14 * time.Second)
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "14 s after the first code")
	require.Len(t, e.smsTo(rootMobile), 1, "an early repeat sends nothing: the first code stays valid")

	e.advance(time.Second)
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "15 s after the first code")
	assert.Len(t, e.smsTo(rootMobile), 2, "a new code was sent")
	list, _ := e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/PENDING_VERIFICATION"}, list, "still pending")

	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	list, _ = e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)

	wantConflict(t, e.auth(token, "POST", enrolPath, nil), "CHANNEL_ALREADY_REGISTERED", "right after verifying")
	e.advance(time.Minute)
	wantConflict(t, e.auth(token, "POST", enrolPath, nil), "CHANNEL_ALREADY_REGISTERED", "a minute later")
	wantConflict(t, e.auth(e.loginToken("root@acme.test"), "POST", enrolPath, nil), "CHANNEL_ALREADY_REGISTERED", "from a new session")
	assert.Len(t, e.smsTo(rootMobile), 2, "no code for an ACTIVE channel")
}

func TestEnrolVerifyAgain(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	wantConflict(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)), "STATE_INVALID", "no enrolment started")

	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	wantConflict(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)), "STATE_INVALID", "the code is spent")
	list, _ := e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)
}

func TestOTPUnknownChannel(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	for _, ch := range []string{"EMAIL", "sms", "BIOMETRIC", "PUSH", "SMS%20"} {
		for _, c := range []struct {
			path string
			body any
		}{
			{"/multi/authentication_factors/otp/" + ch, nil},
			{"/multi/authentication_factors/otp/" + ch + "/verify", codeBody(sandboxCode)},
			{"/multi/stepup/challenges/otp/" + ch, nil},
			{"/multi/stepup/challenges/otp/" + ch + "/verify", codeBody(sandboxCode)},
		} {
			r := e.auth(token, "POST", c.path, c.body)
			assert.Equal(t, []string{"channel:IN"}, r.invalidFields(t), "POST %s", c.path)
		}
	}
	assert.Empty(t, e.smsTo(rootMobile), "nothing was sent")
	_, present := e.factorList(token)
	assert.False(t, present, "nothing was enrolled")
}

func TestStepUpNeedsAnActiveSMSFactor(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	wantConflict(t, e.auth(token, "POST", stepUpPath, nil), "CHANNEL_NOT_REGISTERED", "no factor")

	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	wantConflict(t, e.auth(token, "POST", stepUpPath, nil), "CHANNEL_NOT_REGISTERED", "factor pending verification")
	assert.Len(t, e.smsTo(rootMobile), 1, "only the enrolment code was sent")

	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	wantNoContent(t, e.auth(token, "POST", stepUpPath, nil), "factor active")
	sms := e.smsTo(rootMobile)
	require.Len(t, sms, 2)
	assert.Contains(t, sms[0].Text, e.prog.Name)
	assert.True(t, strings.HasSuffix(sms[0].Text, "@localhost #"+sandboxCode), "got %q", sms[0].Text)
}

func TestStepUpReissueLimits(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	sent := func() int { return len(e.smsTo(rootMobile)) }
	before := sent()

	wantNoContent(t, e.auth(token, "POST", stepUpPath, nil), "first issue")
	r := e.auth(token, "POST", stepUpPath, nil)
	wantConflict(t, r, "RETRY_IN_15SEC", "at once")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	e.advance(14 * time.Second)
	wantConflict(t, e.auth(token, "POST", stepUpPath, nil), "RETRY_IN_15SEC", "after 14 s")
	e.advance(time.Second)
	wantNoContent(t, e.auth(token, "POST", stepUpPath, nil), "first re-issue")
	wantConflict(t, e.auth(token, "POST", stepUpPath, nil), "RETRY_IN_15SEC", "right after the re-issue")
	e.advance(15 * time.Second)
	// Weavr answers a third step-up code with 400 (BadRequestError, no syntaxErrors).
	r = e.auth(token, "POST", stepUpPath, nil)
	require.Equal(t, http.StatusBadRequest, r.status, "third code: %s", r.body)
	assert.Contains(t, r.badRequest(t).Message, "2 step-up codes")
	assert.Nil(t, r.badRequest(t).SyntaxErrors)
	e.advance(time.Minute)
	assert.Equal(t, http.StatusBadRequest, e.auth(token, "POST", stepUpPath, nil).status, "the limit is per session")
	assert.Equal(t, before+2, sent(), "one code per accepted issue")

	wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "the last code still works")

	other := e.loginToken("root@acme.test")
	wantNoContent(t, e.auth(other, "POST", stepUpPath, nil), "a new session may issue again")
	assert.Equal(t, before+3, sent())
}

func TestStepUpReissueReplacesTheChallenge(t *testing.T) {
	t.Run("attempts start again", func(t *testing.T) {
		e := newEnv(t)
		token := e.enrolledRoot("root@acme.test")
		wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
		want := attemptOutcomes(5)
		for i := range 4 {
			wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(i))), want[i], "wrong code %d", i+1)
		}
		e.advance(15 * time.Second)
		wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
		wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(4))), "VERIFICATION_CODE_INVALID",
			"the new challenge has all its attempts")
		wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
	})
	t.Run("a failed challenge is replaced", func(t *testing.T) {
		e := newEnv(t)
		token := e.enrolledRoot("root@acme.test")
		wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
		for i, want := range attemptOutcomes(5) {
			wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(i))), want, "wrong code %d", i+1)
		}
		e.advance(15 * time.Second)
		wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
		wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
	})
	t.Run("the life starts again", func(t *testing.T) {
		e := newEnv(t)
		token := e.enrolledRoot("root@acme.test")
		wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
		e.advance(4 * time.Minute)
		wantNoContent(t, e.auth(token, "POST", stepUpPath, nil), "re-issue 4 minutes in")
		e.advance(2 * time.Minute) // the first code would have expired a minute ago
		wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
	})
}

func TestStepUpVerify(t *testing.T) {
	e := newEnv(t)
	e.enrolledRoot("root@acme.test")
	token := e.loginToken("root@acme.test")
	wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "STATE_INVALID", "no challenge issued")

	wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
	wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
	wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "ALREADY_VERIFIED", "again")
	wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(0))), "ALREADY_VERIFIED", "again, wrong code")

	other := e.loginToken("root@acme.test")
	wantConflict(t, e.auth(other, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "STATE_INVALID",
		"another session of the same user has no challenge")
}

func TestStepUpCodeExpiresAfterFiveMinutes(t *testing.T) {
	for _, c := range []struct {
		name  string
		after time.Duration // since the issue, spent in two steps so the session does not idle out
		want  string        // "" for 204
	}{
		{"4m59s", 4*time.Minute + 59*time.Second, ""},
		{"5m", 5 * time.Minute, "VERIFICATION_CODE_EXPIRED"},
		{"6m", 6 * time.Minute, "VERIFICATION_CODE_EXPIRED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			token := e.enrolledRoot("root@acme.test")
			wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
			e.advance(3 * time.Minute)
			_, _ = e.factorList(token) // activity keeps the session alive
			e.advance(c.after - 3*time.Minute)
			r := e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode))
			if c.want == "" {
				wantNoContent(t, r)
				return
			}
			wantConflict(t, r, c.want)
			e.advance(15 * time.Second)
			wantNoContent(t, e.auth(token, "POST", stepUpPath, nil), "a new challenge may be issued")
			wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
		})
	}
}

func TestEnrolCodeExpiresAfterFiveMinutes(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	e.advance(3 * time.Minute)
	_, _ = e.factorList(token)
	e.advance(2 * time.Minute)
	wantConflict(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)), "VERIFICATION_CODE_EXPIRED")
	list, _ := e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/PENDING_VERIFICATION"}, list)

	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "enrolling again sends a new code")
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
}

// scaFlow is enrolment or step-up, as the attempt tests drive them.
type scaFlow struct {
	name       string
	issue      string
	verify     string
	setUp      func(e *env) string // returns a token of a session ready to issue
	afterFails func(t *testing.T, e *env, token string)
}

var scaFlows = []scaFlow{
	{
		name: "enrolment", issue: enrolPath, verify: enrolVerifyPath,
		setUp: func(e *env) string { _, token := e.corporate("root@acme.test"); return token },
		afterFails: func(t *testing.T, e *env, token string) {
			list, _ := e.factorList(token)
			assert.Equal(t, []string{"OTP/SMS/PENDING_VERIFICATION"}, list, "the factor stays pending")
		},
	},
	{
		name: "step-up", issue: stepUpPath, verify: stepUpVerifyPath,
		setUp: func(e *env) string { e.enrolledRoot("root@acme.test"); return e.loginToken("root@acme.test") },
		afterFails: func(t *testing.T, e *env, token string) {
			list, _ := e.factorList(token)
			assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list, "failed step-ups leave the factor alone")
		},
	},
}

func TestWrongCodesUseUpTheChallenge(t *testing.T) {
	for _, f := range scaFlows {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			token := f.setUp(e)
			wantNoContent(t, e.auth(token, "POST", f.issue, nil))
			want := []string{"VERIFICATION_CODE_INVALID", "VERIFICATION_CODE_INVALID", "VERIFICATION_CODE_INVALID",
				"ONE_CHALLENGE_LIMIT_REMAINING", "CHALLENGE_LIMIT_EXCEEDED"}
			require.Equal(t, want, attemptOutcomes(5))
			for i, code := range want {
				wantConflict(t, e.auth(token, "POST", f.verify, codeBody(wrongCode(i))), code, "wrong code %d", i+1)
			}
			wantConflict(t, e.auth(token, "POST", f.verify, codeBody(sandboxCode)), "STATE_INVALID", "the right code after the last attempt")
			wantConflict(t, e.auth(token, "POST", f.verify, codeBody(wrongCode(9))), "STATE_INVALID", "a wrong code after the last attempt")
			f.afterFails(t, e, token)
		})
	}
}

func TestRightCodeOnTheLastAttempt(t *testing.T) {
	for _, f := range scaFlows {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			token := f.setUp(e)
			wantNoContent(t, e.auth(token, "POST", f.issue, nil))
			for i, code := range attemptOutcomes(5)[:4] {
				wantConflict(t, e.auth(token, "POST", f.verify, codeBody(wrongCode(i))), code, "wrong code %d", i+1)
			}
			wantNoContent(t, e.auth(token, "POST", f.verify, codeBody(sandboxCode)), "the right code on the 5th attempt")
			list, _ := e.factorList(token)
			assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)
		})
	}
}

func TestVerifyBadCodeFormat(t *testing.T) {
	bodies := []struct {
		name string
		body any
		want string // fieldName:error
	}{
		{"5 digits", codeBody("12345"), "verificationCode:REGEX"},
		{"7 digits", codeBody("1234567"), "verificationCode:REGEX"},
		{"letters", codeBody("abcdef"), "verificationCode:REGEX"},
		{"digits and a letter", codeBody("12345a"), "verificationCode:REGEX"},
		{"leading space", codeBody(" 123456"), "verificationCode:REGEX"},
		{"trailing newline", codeBody("123456\n"), "verificationCode:REGEX"},
		{"non-ASCII digits", codeBody("١٢٣٤٥٦"), "verificationCode:REGEX"},
		{"signed", codeBody("+12345"), "verificationCode:REGEX"},
		{"empty", codeBody(""), "verificationCode:REQUIRED"},
		{"blank", codeBody("      "), "verificationCode:REQUIRED"},
		{"missing", map[string]any{}, "verificationCode:REQUIRED"},
		{"null", `{"verificationCode":null}`, "verificationCode:REQUIRED"},
		{"a short number", `{"verificationCode":12345}`, "verificationCode:REGEX"}, // read as its text, as Weavr does
		{"a boolean", `{"verificationCode":true}`, "verificationCode:IN"},
		{"unknown field", `{"verificationCode":"123456","code":"123456"}`, "code:NOT_IN"},
	}
	for _, f := range scaFlows {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			token := f.setUp(e)
			wantNoContent(t, e.auth(token, "POST", f.issue, nil))
			for _, b := range bodies {
				r := e.auth(token, "POST", f.verify, b.body)
				assert.Equal(t, []string{b.want}, r.invalidFields(t), b.name)
				m, _ := b.body.(map[string]any)
				if s, _ := m["verificationCode"].(string); strings.TrimSpace(s) != "" {
					assert.NotContains(t, string(r.body), s, "%s: the 400 does not echo the code", b.name)
				}
			}
			for _, raw := range []string{"", "null", "[]", `"123456"`, "{", `{"verificationCode":"123456"} {}`} {
				assert.Equal(t, http.StatusBadRequest, e.auth(token, "POST", f.verify, raw).status, "body %q", raw)
			}
			wantNoContent(t, e.auth(token, "POST", f.verify, codeBody(sandboxCode)),
				"malformed codes are not attempts: the challenge is untouched")
		})
	}
}

// Ten consecutive wrong codes, however spread over challenges, re-issues and
// sessions, lock the user's second factor (PSD2 RTS Art. 4(3)(b)).
func TestWrongCodesAcrossChallengesLockTheUser(t *testing.T) {
	t.Run("step-up re-issues and new sessions", func(t *testing.T) {
		e := newEnv(t)
		a := e.enrolledRoot("root@acme.test")
		wrong := 0
		guess := func(token, want string) {
			t.Helper()
			wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(wrong))), want, "wrong code %d", wrong+1)
			wrong++
		}
		wantNoContent(t, e.auth(a, "POST", stepUpPath, nil))
		for _, want := range attemptOutcomes(5)[:4] {
			guess(a, want)
		}
		e.advance(15 * time.Second)
		wantNoContent(t, e.auth(a, "POST", stepUpPath, nil), "re-issue")
		for _, want := range attemptOutcomes(5)[:4] {
			guess(a, want)
		}
		b := e.loginToken("root@acme.test")
		wantNoContent(t, e.auth(b, "POST", stepUpPath, nil), "a new session")
		guess(b, "VERIFICATION_CODE_INVALID") // 9
		require.Equal(t, http.StatusOK, e.auth(b, "GET", factorsPath, nil).status, "nine wrong codes do not lock")
		require.Empty(t, lockAlerts(e), "no alert before the limit")
		guess(b, "CHALLENGE_LIMIT_EXCEEDED") // 10

		assertLocked(t, e, "root@acme.test", a, b)
	})
	t.Run("enrolment re-issues", func(t *testing.T) {
		e := newEnv(t)
		_, a := e.corporate("root@acme.test")
		wantNoContent(t, e.auth(a, "POST", enrolPath, nil))
		for i, want := range attemptOutcomes(5) {
			wantConflict(t, e.auth(a, "POST", enrolVerifyPath, codeBody(wrongCode(i))), want, "wrong code %d", i+1)
		}
		e.advance(15 * time.Second)
		wantNoContent(t, e.auth(a, "POST", enrolPath, nil), "enrol again")
		for i, want := range attemptOutcomes(5)[:4] {
			wantConflict(t, e.auth(a, "POST", enrolVerifyPath, codeBody(wrongCode(5+i))), want, "wrong code %d", 6+i)
		}
		wantConflict(t, e.auth(a, "POST", enrolVerifyPath, codeBody(wrongCode(9))), "CHALLENGE_LIMIT_EXCEEDED", "wrong code 10")

		assert.Equal(t, http.StatusUnauthorized, e.auth(a, "GET", factorsPath, nil).status, "the session ended")
		c := e.loginToken("root@acme.test")
		wantConflict(t, e.auth(c, "POST", enrolPath, nil), "CHALLENGE_LIMIT_EXCEEDED", "no enrolment code while locked")
		require.Len(t, lockAlerts(e), 1)
		e.advance(30 * time.Minute)
		c = e.loginToken("root@acme.test")
		wantNoContent(t, e.auth(c, "POST", enrolPath, nil))
		wantNoContent(t, e.auth(c, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	})
}

// lockAlerts returns the SCA-lock alert emails in the outbox.
func lockAlerts(e *env) []outboxMessage {
	e.t.Helper()
	var out []outboxMessage
	for _, m := range e.outbox() {
		if m.Channel == "EMAIL" && strings.Contains(m.Subject, "wrong verification codes") {
			out = append(out, m)
		}
	}
	return out
}

// assertLocked checks the consequences of the tenth wrong code: every session
// ended, an alert email, no challenges for 30 minutes, then challenges again.
func assertLocked(t *testing.T, e *env, email string, tokens ...string) {
	t.Helper()
	for i, tok := range tokens {
		assert.Equal(t, http.StatusUnauthorized, e.auth(tok, "GET", factorsPath, nil).status, "session %d ended", i)
	}
	alerts := lockAlerts(e)
	require.Len(t, alerts, 1, "one alert email")
	assert.Equal(t, email, alerts[0].To)
	assert.Contains(t, alerts[0].Subject, e.prog.Name)
	assert.NotContains(t, alerts[0].Text, sandboxCode)
	sent := len(e.smsTo(rootMobile))

	c := e.loginToken(email) // the password still works: only the second factor is paused
	r := e.auth(c, "POST", stepUpPath, nil)
	wantConflict(t, r, "CHALLENGE_LIMIT_EXCEEDED", "no challenge while locked")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	wantConflict(t, e.auth(c, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "STATE_INVALID", "nothing to verify")
	e.advance(29 * time.Minute)
	c = e.loginToken(email)
	wantConflict(t, e.auth(c, "POST", stepUpPath, nil), "CHALLENGE_LIMIT_EXCEEDED", "29 minutes later")
	assert.Equal(t, sent, len(e.smsTo(rootMobile)), "no code is sent while locked")

	e.advance(time.Minute)
	c = e.loginToken(email)
	wantNoContent(t, e.auth(c, "POST", stepUpPath, nil), "30 minutes later")
	wantNoContent(t, e.auth(c, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
}

func TestRightCodeResetsTheCrossChallengeCount(t *testing.T) {
	e := newEnv(t)
	e.enrolledRoot("root@acme.test")
	wrong := 0
	// nineWrong spends nine wrong codes in new sessions, two codes (a
	// challenge and its re-issue) each, and returns the last one.
	nineWrong := func() string {
		t.Helper()
		var tok string
		codes := 0
		for n := 9; n > 0; {
			if tok == "" || codes == 2 {
				tok, codes = e.loginToken("root@acme.test"), 0
			} else {
				e.advance(15 * time.Second)
			}
			codes++
			wantNoContent(t, e.auth(tok, "POST", stepUpPath, nil))
			for _, want := range attemptOutcomes(5)[:min(4, n)] {
				wantConflict(t, e.auth(tok, "POST", stepUpVerifyPath, codeBody(wrongCode(wrong))), want, "wrong code %d", wrong+1)
				wrong++
				n--
			}
		}
		return tok
	}
	a := nineWrong()
	wantNoContent(t, e.auth(a, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "a success after nine wrong codes")
	b := nineWrong()
	for i, tok := range []string{a, b} {
		assert.Equal(t, http.StatusOK, e.auth(tok, "GET", factorsPath, nil).status, "session %d lives on", i)
	}
	assert.Empty(t, lockAlerts(e))
	wantNoContent(t, e.auth(b, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "not locked")
}

func TestVerifyIsSingleUseUnderParallelRequests(t *testing.T) {
	const n = 50
	for _, f := range []struct {
		scaFlow
		rest string // what every request but the winner gets
	}{
		{scaFlows[0], "STATE_INVALID"},
		{scaFlows[1], "ALREADY_VERIFIED"},
	} {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			token := f.setUp(e)
			wantNoContent(t, e.auth(token, "POST", f.issue, nil))
			results := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := e.auth(token, "POST", f.verify, codeBody(sandboxCode))
					results[i] = fmt.Sprint(r.status)
					if r.status == http.StatusConflict {
						results[i] += " " + r.errorCode(t)
					}
				})
			}
			wg.Wait()
			got := map[string]int{}
			for _, r := range results {
				got[r]++
			}
			assert.Equal(t, map[string]int{"204": 1, "409 " + f.rest: n - 1}, got)
			list, _ := e.factorList(token)
			assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)
		})
	}
}

// Codes are secrets (GUIDE convention 8): apart from the sandbox outbox, which
// exists to show them, no response and no log line carries one.
func TestCodesNeverLeak(t *testing.T) {
	e := newEnv(t)
	var bodies []resp
	do := func(r resp) resp { bodies = append(bodies, r); return r }
	_, token := e.corporate("root@acme.test")

	do(e.auth(token, "GET", factorsPath, nil))
	do(e.auth(token, "POST", enrolPath, nil))
	do(e.auth(token, "POST", enrolPath, nil)) // within 15 s: 204, nothing sent
	do(e.auth(token, "POST", enrolVerifyPath, codeBody(wrongCode(0))))
	do(e.auth(token, "POST", enrolVerifyPath, codeBody("12345")))
	do(e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	do(e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
	do(e.auth(token, "GET", factorsPath, nil))
	do(e.auth(token, "POST", stepUpPath, nil))
	do(e.auth(token, "POST", stepUpPath, nil))
	do(e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(1))))
	do(e.auth(token, "POST", stepUpVerifyPath, codeBody("1234567")))
	do(e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
	do(e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)))
	do(e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "ref-1"))
	do(e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "ref-1"))
	// Lock the user, so the alert path runs too.
	b := e.loginToken("root@acme.test")
	for i := range 2 {
		if i > 0 {
			e.advance(15 * time.Second)
		}
		do(e.auth(b, "POST", stepUpPath, nil))
		for j := range 5 {
			do(e.auth(b, "POST", stepUpVerifyPath, codeBody(wrongCode(10+5*i+j))))
		}
	}
	do(e.auth(b, "GET", factorsPath, nil))
	require.Len(t, lockAlerts(e), 1, "the flow reached the lock")
	require.NotEmpty(t, e.smsTo(rootMobile), "codes were sent")

	for _, r := range bodies {
		for _, s := range []string{`"` + sandboxCode + `"`, "#" + sandboxCode} {
			assert.NotContains(t, string(r.body), s, "status %d body", r.status)
			for name, vs := range r.header {
				for _, v := range vs {
					assert.NotContains(t, v, s, "header %s", name)
				}
			}
		}
	}
	logs := e.logs.String()
	require.NotEmpty(t, logs)
	for _, s := range []string{`"` + sandboxCode + `"`, "#" + sandboxCode, "is " + sandboxCode, "verificationCode"} {
		assert.NotContains(t, logs, s, "the logs")
	}
}

func TestVerifyIdempotencyRefReplaysInTheSameSession(t *testing.T) {
	e := newEnv(t)
	token := e.enrolledRoot("root@acme.test")
	wantNoContent(t, e.auth(token, "POST", stepUpPath, nil))
	wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "v-1"))
	wantNoContent(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "v-1"),
		"the same ref and payload replay the 204")
	wantConflict(t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "v-2"), "ALREADY_VERIFIED",
		"a new ref runs the operation")
	assert.Equal(t, http.StatusBadRequest, e.auth(token, "POST", stepUpVerifyPath, codeBody(wrongCode(0)), "idempotency-ref", "v-1").status,
		"the same ref with another payload")
}

// A challenge belongs to one session, so an idempotency-ref of the SCA
// operations must not replay one session's outcome to another session of the
// same user: the other session would believe it was stepped up, or that a code
// was sent to it.
func TestSCAIdempotencyRefIsPerSession(t *testing.T) {
	e := newEnv(t)
	e.enrolledRoot("root@acme.test")
	a, b := e.loginToken("root@acme.test"), e.loginToken("root@acme.test")

	wantNoContent(t, e.auth(a, "POST", stepUpPath, nil))
	wantNoContent(t, e.auth(a, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "verify-1"))
	wantConflict(t, e.auth(b, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", "verify-1"), "STATE_INVALID",
		"session b issued no challenge; a's 204 must not be replayed to it")

	sent := len(e.smsTo(rootMobile))
	wantNoContent(t, e.auth(b, "POST", stepUpPath, nil, "idempotency-ref", "issue-1"))
	e.advance(15 * time.Second)
	wantNoContent(t, e.auth(a, "POST", stepUpPath, nil, "idempotency-ref", "issue-1"))
	assert.Equal(t, sent+2, len(e.smsTo(rootMobile)), "each session got its own code")
}

// Enrolment step one never answers RETRY_IN_15SEC (Weavr lists no such
// conflict for it): a repeat while the code is pending gets 204 and no new
// text; once that code is spent on wrong guesses, a repeat at once sends a
// new one, which enrols.
func TestEnrolAgainAfterASpentCode(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	sent := func() int { return len(e.smsTo(rootMobile)) }
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil))
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "a repeat while the code is pending")
	require.Equal(t, 1, sent(), "no second text for a pending code")
	for range 5 {
		r := e.auth(token, "POST", enrolVerifyPath, codeBody("000000"))
		require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	}
	wantNoContent(t, e.auth(token, "POST", enrolPath, nil), "a new code at once")
	require.Equal(t, 2, sent())
	wantNoContent(t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)))
}
