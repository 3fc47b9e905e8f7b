package core_test

// Core-level tests of issue 3 (SMS factor and step-up challenges): what the
// HTTP API cannot reach. The HTTP behaviour is tested in server/sca_test.go.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// requireCode fails unless err is a core error of class and machine code.
func requireCode(t *testing.T, err error, class error, code string, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, class, msgAndArgs...)
	assert.Equal(t, code, core.CodeOf(err), msgAndArgs...)
}

// attemptOutcomes is what the wrong codes of a challenge allowing n attempts answer, in order.
func attemptOutcomes(n int) []string {
	out := make([]string, n)
	for i := range n {
		switch left := n - (i + 1); {
		case left <= 0:
			out[i] = core.CodeChallengeLimitExceeded
		case left == 1:
			out[i] = core.CodeOneChallengeLimitRemain
		default:
			out[i] = core.CodeCodeInvalid
		}
	}
	return out
}

func TestRequireStepUp(t *testing.T) {
	for _, c := range []struct {
		name   string
		caller *core.Caller
		ok     bool
	}{
		{"no session", &core.Caller{}, false},
		{"fresh session", &core.Caller{Session: &core.Session{}}, false},
		{"stepped-up session", &core.Caller{Session: &core.Session{SteppedUp: true, SteppedUpAt: time.Now()}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := core.RequireStepUp(c.caller)
			if c.ok {
				assert.NoError(t, err)
				return
			}
			requireCode(t, err, core.ErrStepUpRequired, core.CodeStepUpRequired)
		})
	}
}

func TestEnrolVerifyStepsUpTheSession(t *testing.T) {
	e := newCoreEnv(t)
	u, token := e.root(e.prog, "root@acme.test")
	c := e.caller(e.prog, token)
	require.ErrorIs(t, core.RequireStepUp(c), core.ErrStepUpRequired, "a new session is not stepped up")

	require.NoError(t, e.svc.EnrolSMS(e.ctx, c))
	assert.Equal(t, core.FactorPending, e.factorStatus(u.ID))
	requireCode(t, e.svc.VerifyEnrolSMS(e.ctx, c, wrongCode(core.SandboxCode, 0)), core.ErrConflict, core.CodeCodeInvalid)
	require.ErrorIs(t, core.RequireStepUp(e.caller(e.prog, token)), core.ErrStepUpRequired, "a wrong code steps nothing up")

	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, c, core.SandboxCode))
	assert.Equal(t, core.FactorActive, e.factorStatus(u.ID))
	after := e.caller(e.prog, token)
	require.NoError(t, core.RequireStepUp(after), "enrolment steps the session up")
	assert.WithinDuration(t, e.clock.Now(), after.Session.SteppedUpAt, time.Minute)

	other := e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	require.ErrorIs(t, core.RequireStepUp(other), core.ErrStepUpRequired, "only the verifying session is stepped up")
}

func TestStepUpVerifyStepsUpTheSessionForItsLife(t *testing.T) {
	e := newCoreEnv(t)
	e.enrolled(e.prog, "root@acme.test")
	token := e.login(e.prog, "root@acme.test")
	c := e.caller(e.prog, token)
	require.ErrorIs(t, core.RequireStepUp(c), core.ErrStepUpRequired)

	require.NoError(t, e.svc.StepUpSMS(e.ctx, c, ""))
	requireCode(t, e.svc.VerifyStepUpSMS(e.ctx, c, wrongCode(core.SandboxCode, 0)), core.ErrConflict, core.CodeCodeInvalid)
	require.ErrorIs(t, core.RequireStepUp(e.caller(e.prog, token)), core.ErrStepUpRequired, "a wrong code steps nothing up")
	require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, c, core.SandboxCode))
	require.NoError(t, core.RequireStepUp(e.caller(e.prog, token)))

	for i := range 3 {
		e.clock.Advance(4 * time.Minute)
		require.NoError(t, core.RequireStepUp(e.caller(e.prog, token)), "still stepped up after %d active minutes", 4*(i+1))
	}
	e.clock.Advance(5 * time.Minute)
	_, err := e.svc.Authenticate(e.ctx, e.prog, token)
	require.ErrorIs(t, err, core.ErrUnauthenticated, "a stepped-up session still ends after 5 idle minutes")
	require.ErrorIs(t, core.RequireStepUp(e.caller(e.prog, e.login(e.prog, "root@acme.test"))), core.ErrStepUpRequired,
		"a new session starts without step-up")
}

func TestEnrolSMSWithoutMobile(t *testing.T) {
	e := newCoreEnv(t)
	_, _, err := e.svc.CreateIdentity(e.ctx, e.prog, core.NewIdentity{Type: core.Consumer,
		Root: core.UserDetails{Name: "No", Surname: "Mobile", Email: "nomobile@acme.test"}})
	var ce *core.Error
	require.ErrorAs(t, err, &ce, "root users need a mobile")
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Equal(t, []core.FieldError{{Field: "rootUser.mobile", Reason: "REQUIRED"}}, ce.Fields)

	// No API leaves a user without a mobile yet; the store can.
	u, token := e.root(e.prog, "root@acme.test")
	e.updateUser(u.ID, func(u *core.User) { u.Mobile = nil })
	c := e.caller(e.prog, token)
	requireCode(t, e.svc.EnrolSMS(e.ctx, c), core.ErrConflict, core.CodeMobileNotAvailable)
	assert.Empty(t, e.sms.all(), "nothing was sent")
	assert.Empty(t, e.factorStatus(u.ID), "no factor was created")
	requireCode(t, e.svc.VerifyEnrolSMS(e.ctx, c, core.SandboxCode), core.ErrConflict, core.CodeStateInvalid)
}

func TestDeactivatedCallerIsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		// prepare runs before the deactivation and returns the operation to try after it.
		prepare func(e *coreEnv, c *core.Caller) func() error
		enrol   bool // start from a user without a factor
	}{
		{"enrol", func(e *coreEnv, c *core.Caller) func() error {
			return func() error { return e.svc.EnrolSMS(e.ctx, c) }
		}, true},
		{"verify enrolment", func(e *coreEnv, c *core.Caller) func() error {
			require.NoError(e.t, e.svc.EnrolSMS(e.ctx, c))
			return func() error { return e.svc.VerifyEnrolSMS(e.ctx, c, core.SandboxCode) }
		}, true},
		{"step-up", func(e *coreEnv, c *core.Caller) func() error {
			return func() error { return e.svc.StepUpSMS(e.ctx, c, "") }
		}, false},
		{"verify step-up", func(e *coreEnv, c *core.Caller) func() error {
			require.NoError(e.t, e.svc.StepUpSMS(e.ctx, c, ""))
			return func() error { return e.svc.VerifyStepUpSMS(e.ctx, c, core.SandboxCode) }
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newCoreEnv(t)
			var caller *core.Caller
			if c.enrol {
				_, token := e.root(e.prog, "root@acme.test")
				caller = e.caller(e.prog, token)
			} else {
				caller = e.enrolled(e.prog, "root@acme.test")
			}
			op := c.prepare(e, caller)
			statusBefore, sent := e.factorStatus(caller.User.ID), len(e.sms.all())

			e.updateUser(caller.User.ID, func(u *core.User) { u.Active = false })
			requireCode(t, op(), core.ErrConflict, core.CodeCredentialsInactive, "with the caller authenticated before the deactivation")
			assert.Len(t, e.sms.all(), sent, "nothing was sent")
			assert.Equal(t, statusBefore, e.factorStatus(caller.User.ID), "the factor is unchanged")
			s, err := e.session(caller.Session.TokenHash)
			require.NoError(t, err)
			assert.False(t, s.SteppedUp, "the session was not stepped up")
		})
	}
}

func TestEnrolSMSNeedsStepUpWhileAnotherFactorIsActive(t *testing.T) {
	for _, c := range []struct {
		other      core.FactorStatus
		needsStep  bool
		wantStatus core.FactorStatus
	}{
		{core.FactorPending, false, core.FactorPending},
		{core.FactorInactive, false, core.FactorPending},
		{core.FactorActive, true, core.FactorPending},
	} {
		t.Run(string(c.other), func(t *testing.T) {
			e := newCoreEnv(t)
			u, token := e.root(e.prog, "root@acme.test")
			now := e.clock.Now()
			require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
				return tx.PutFactor(&core.Factor{UserID: u.ID, Channel: core.ChannelBiometric, Status: c.other, CreatedAt: now, UpdatedAt: now})
			}))
			caller := e.caller(e.prog, token)
			err := e.svc.EnrolSMS(e.ctx, caller)
			if !c.needsStep {
				require.NoError(t, err)
				assert.Equal(t, c.wantStatus, e.factorStatus(u.ID))
				return
			}
			requireCode(t, err, core.ErrStepUpRequired, core.CodeStepUpRequired)
			assert.Empty(t, e.sms.all(), "nothing was sent")
			assert.Empty(t, e.factorStatus(u.ID), "no SMS factor was created")

			require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
				s, err := tx.Session(caller.Session.TokenHash)
				if err != nil {
					return err
				}
				s.SteppedUp, s.SteppedUpAt = true, now
				return tx.UpdateSession(s)
			}))
			require.NoError(t, e.svc.EnrolSMS(e.ctx, e.caller(e.prog, token)), "a stepped-up session may add a device")
			assert.Equal(t, c.wantStatus, e.factorStatus(u.ID))
		})
	}
}

// ProgrammeSettings.OTPAttempts: 1..5 wrong codes per challenge; anything else means 5.
func TestOTPAttemptsPerProgramme(t *testing.T) {
	flows := []struct {
		name    string
		purpose core.ChallengePurpose
		start   func(e *coreEnv, prog *core.Programme, email string) (*core.Caller, func(code string) error)
	}{
		{"enrolment", core.PurposeEnrolSMS, func(e *coreEnv, prog *core.Programme, email string) (*core.Caller, func(string) error) {
			_, token := e.root(prog, email)
			c := e.caller(prog, token)
			require.NoError(e.t, e.svc.EnrolSMS(e.ctx, c))
			return c, func(code string) error { return e.svc.VerifyEnrolSMS(e.ctx, c, code) }
		}},
		{"step-up", core.PurposeStepUpSMS, func(e *coreEnv, prog *core.Programme, email string) (*core.Caller, func(string) error) {
			c := e.enrolled(prog, email)
			require.NoError(e.t, e.svc.StepUpSMS(e.ctx, c, ""))
			return c, func(code string) error { return e.svc.VerifyStepUpSMS(e.ctx, c, code) }
		}},
	}
	for _, s := range []struct{ setting, want int }{
		{-1, 5}, {0, 5}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 5}, {100, 5},
	} {
		t.Run(fmt.Sprintf("OTPAttempts=%d", s.setting), func(t *testing.T) {
			e := newCoreEnv(t)
			prog := e.programme("Attempts Programme", core.ProgrammeSettings{OTPAttempts: s.setting})
			for _, f := range flows {
				t.Run(f.name+"/all wrong", func(t *testing.T) {
					c, verify := f.start(e, prog, "wrong-"+f.name+"@acme.test")
					assert.Equal(t, s.want, e.challenge(c, f.purpose).MaxAttempts)
					for i, want := range attemptOutcomes(s.want) {
						requireCode(t, verify(wrongCode(core.SandboxCode, i)), core.ErrConflict, want, "wrong code %d", i+1)
					}
					requireCode(t, verify(core.SandboxCode), core.ErrConflict, core.CodeStateInvalid, "the right code after the last attempt")
				})
				t.Run(f.name+"/right on the last attempt", func(t *testing.T) {
					c, verify := f.start(e, prog, "right-"+f.name+"@acme.test")
					for i, want := range attemptOutcomes(s.want)[:s.want-1] {
						requireCode(t, verify(wrongCode(core.SandboxCode, i)), core.ErrConflict, want, "wrong code %d", i+1)
					}
					require.NoError(t, verify(core.SandboxCode), "the right code on attempt %d", s.want)
					sess, err := e.session(c.Session.TokenHash)
					require.NoError(t, err)
					assert.True(t, sess.SteppedUp, "the session is stepped up")
					assert.Equal(t, core.FactorActive, e.factorStatus(c.User.ID))
				})
			}
		})
	}
}

// requireNotStored checks that the challenge record holds the code only as a keyed hash.
func requireNotStored(t *testing.T, e *coreEnv, c *core.Caller, p core.ChallengePurpose, code string) {
	t.Helper()
	ch := e.challenge(c, p)
	assert.Len(t, ch.CodeHash, 32, "an HMAC-SHA-256")
	assert.NotEqual(t, []byte(code), ch.CodeHash)
	assert.NotContains(t, string(ch.CodeHash), code)
	assert.NotContains(t, ch.Nonce, code)
	rec := *ch
	rec.IssuedAt, rec.ExpiresAt = time.Time{}, time.Time{} // clock digits could hold any six digits
	j, err := json.Marshal(rec)
	require.NoError(t, err)
	assert.NotContains(t, string(j), code, "the stored challenge %s", j)
}

var reSixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// Outside sandbox, codes are 6 random digits, sent by SMS and never stored.
func TestCodesOutsideSandbox(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false; c.OriginHost = "bank.example" })
	u, token := e.root(e.prog, "root@acme.test")
	c := e.caller(e.prog, token)

	require.NoError(t, e.svc.EnrolSMS(e.ctx, c))
	sent := e.sms.all()
	require.Len(t, sent, 1)
	code := e.sms.lastCode(t)
	assert.Regexp(t, reSixDigits, code)
	assert.Equal(t, testMobile, sent[0].To, "sent to the user's mobile")
	assert.Equal(t, e.prog.ID, sent[0].ProgrammeID)
	assert.True(t, strings.HasPrefix(sent[0].Text, e.prog.Name+":"), "the text names the programme: %q", sent[0].Text)
	assert.True(t, strings.HasSuffix(sent[0].Text, "\n@bank.example #"+code), "origin-bound last line: %q", sent[0].Text)
	requireNotStored(t, e, c, core.PurposeEnrolSMS, code)
	if code != core.SandboxCode {
		requireCode(t, e.svc.VerifyEnrolSMS(e.ctx, c, core.SandboxCode), core.ErrConflict, core.CodeCodeInvalid, "no sandbox code outside sandbox")
	}
	requireCode(t, e.svc.VerifyEnrolSMS(e.ctx, c, wrongCode(code, 0)), core.ErrConflict, core.CodeCodeInvalid)
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, c, code))
	assert.Equal(t, core.FactorActive, e.factorStatus(u.ID))

	codes := map[string]bool{code: true}
	for i := range 6 {
		s := e.caller(e.prog, e.login(e.prog, "root@acme.test"))
		require.NoError(t, e.svc.StepUpSMS(e.ctx, s, ""))
		require.Len(t, e.sms.all(), 2+i)
		code := e.sms.lastCode(t)
		assert.Regexp(t, reSixDigits, code)
		requireNotStored(t, e, s, core.PurposeStepUpSMS, code)
		codes[code] = true
		require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, s, code))
		requireNotStored(t, e, s, core.PurposeStepUpSMS, code)
	}
	assert.Greater(t, len(codes), 1, "codes differ between challenges: %v", codes)

	// Neither the audit log nor the logs hold a code.
	var events []*core.AuditEvent
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		events, err = tx.AuditEvents(e.prog.ID, 0, 10000)
		return err
	}))
	require.NotEmpty(t, events)
	logs := e.logs.String()
	for code := range codes {
		for _, ev := range events {
			for k, v := range ev.Details {
				assert.NotContains(t, v, code, "audit %s detail %s", ev.Action, k)
			}
		}
		assert.NotContains(t, logs, `"`+code+`"`)
		assert.NotContains(t, logs, "#"+code)
	}
}

// A re-issue replaces the challenge: the earlier code stops working.
func TestReissueReplacesTheCode(t *testing.T) {
	for _, f := range []struct {
		name   string
		caller func(e *coreEnv) *core.Caller
		issue  func(e *coreEnv, c *core.Caller) error
		verify func(e *coreEnv, c *core.Caller, code string) error
	}{
		{"enrolment",
			func(e *coreEnv) *core.Caller {
				_, tok := e.root(e.prog, "root@acme.test")
				return e.caller(e.prog, tok)
			},
			func(e *coreEnv, c *core.Caller) error { return e.svc.EnrolSMS(e.ctx, c) },
			func(e *coreEnv, c *core.Caller, code string) error { return e.svc.VerifyEnrolSMS(e.ctx, c, code) }},
		{"step-up",
			func(e *coreEnv) *core.Caller { return e.enrolled(e.prog, "root@acme.test") },
			func(e *coreEnv, c *core.Caller) error { return e.svc.StepUpSMS(e.ctx, c, "") },
			func(e *coreEnv, c *core.Caller, code string) error { return e.svc.VerifyStepUpSMS(e.ctx, c, code) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
			c := f.caller(e)
			require.NoError(t, f.issue(e, c))
			first := e.sms.lastCode(t)
			firstHash := e.challenge(c, challengePurpose(f.name)).CodeHash
			e.clock.Advance(15 * time.Second)
			require.NoError(t, f.issue(e, c))
			second := e.sms.lastCode(t)
			ch := e.challenge(c, challengePurpose(f.name))
			assert.Equal(t, 1, ch.Reissues)
			assert.NotEqual(t, firstHash, ch.CodeHash, "a new code hash (and nonce)")
			if first != second { // one in a million they coincide
				requireCode(t, f.verify(e, c, first), core.ErrConflict, core.CodeCodeInvalid, "the replaced code")
			}
			require.NoError(t, f.verify(e, c, second))
		})
	}
}

func challengePurpose(flow string) core.ChallengePurpose {
	if flow == "enrolment" {
		return core.PurposeEnrolSMS
	}
	return core.PurposeStepUpSMS
}

// The cross-challenge limit and lockout are configurable (Config.SCAFailureLimit, SCALockout).
func TestSCAFailureLimitIsConfigurable(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.SCAFailureLimit = 3; c.SCALockout = 10 * time.Minute })
	c := e.enrolled(e.prog, "root@acme.test")
	other := e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	require.NoError(t, e.svc.StepUpSMS(e.ctx, c, ""))
	requireCode(t, e.svc.VerifyStepUpSMS(e.ctx, c, wrongCode(core.SandboxCode, 0)), core.ErrConflict, core.CodeCodeInvalid)
	requireCode(t, e.svc.VerifyStepUpSMS(e.ctx, c, wrongCode(core.SandboxCode, 1)), core.ErrConflict, core.CodeCodeInvalid)
	assert.Equal(t, 2, e.user(c.User.ID).SCAFailures)
	assert.Empty(t, e.mail.all())
	locked := e.clock.Now()
	requireCode(t, e.svc.VerifyStepUpSMS(e.ctx, c, wrongCode(core.SandboxCode, 2)), core.ErrConflict, core.CodeChallengeLimitExceeded)

	u := e.user(c.User.ID)
	assert.Zero(t, u.SCAFailures, "the count starts again after the lockout")
	assert.WithinDuration(t, locked.Add(10*time.Minute), u.SCALockedUntil, time.Minute)
	mails := e.mail.all()
	require.Len(t, mails, 1, "one alert email")
	assert.Equal(t, "root@acme.test", mails[0].To)
	assert.Equal(t, e.prog.ID, mails[0].ProgrammeID)
	assert.Equal(t, e.prog.Name, mails[0].FromName)
	assert.Contains(t, mails[0].Text, "3 wrong verification codes")
	assert.Contains(t, mails[0].Text, "10 minutes")
	for _, s := range []*core.Caller{c, other} {
		_, err := e.session(s.Session.TokenHash)
		require.ErrorIs(t, err, core.ErrRecordNotFound, "every session of the user ended")
	}

	fresh := e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	err := e.svc.StepUpSMS(e.ctx, fresh, "")
	requireCode(t, err, core.ErrConflict, core.CodeChallengeLimitExceeded)
	var ce *core.Error
	require.ErrorAs(t, err, &ce)
	assert.InDelta(t, (10 * time.Minute).Seconds(), ce.RetryAfter.Seconds(), 60, "Retry-After says when the lockout ends")
	requireCode(t, e.svc.EnrolSMS(e.ctx, fresh), core.ErrConflict, core.CodeChallengeLimitExceeded, "enrolment is paused too")

	e.clock.Advance(10 * time.Minute)
	fresh = e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	require.NoError(t, e.svc.StepUpSMS(e.ctx, fresh, ""))
	require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, fresh, core.SandboxCode))
}

// A request authenticated just before its session ended (logout, or the SCA
// lockout in another request) must not be served as if the session lived on.
func TestChallengeOfAnEndedSession(t *testing.T) {
	t.Run("verify step-up", func(t *testing.T) {
		e := newCoreEnv(t)
		c := e.enrolled(e.prog, "root@acme.test")
		require.NoError(t, e.svc.StepUpSMS(e.ctx, c, ""))
		require.NoError(t, e.svc.Logout(e.ctx, c))
		err := e.svc.VerifyStepUpSMS(e.ctx, c, core.SandboxCode)
		require.ErrorIs(t, err, core.ErrUnauthenticated, "got %v", err)
	})
	t.Run("verify enrolment", func(t *testing.T) {
		e := newCoreEnv(t)
		u, token := e.root(e.prog, "root@acme.test")
		c := e.caller(e.prog, token)
		require.NoError(t, e.svc.EnrolSMS(e.ctx, c))
		require.NoError(t, e.svc.Logout(e.ctx, c))
		err := e.svc.VerifyEnrolSMS(e.ctx, c, core.SandboxCode)
		require.ErrorIs(t, err, core.ErrUnauthenticated, "got %v", err)
		assert.Equal(t, core.FactorPending, e.factorStatus(u.ID))
	})
	t.Run("issue", func(t *testing.T) {
		e := newCoreEnv(t)
		c := e.enrolled(e.prog, "root@acme.test")
		sent := len(e.sms.all())
		require.NoError(t, e.svc.Logout(e.ctx, c))
		err := e.svc.StepUpSMS(e.ctx, c, "")
		require.ErrorIs(t, err, core.ErrUnauthenticated, "got %v", err)
		assert.Len(t, e.sms.all(), sent, "no code for a session that ended")
	})
}

// One SMS device per user: a changed mobile number makes the factor INACTIVE,
// and the user must enrol the new number before stepping up again.
func TestMobileChangeMakesTheSMSFactorInactive(t *testing.T) {
	e := newCoreEnv(t)
	_, rootToken := e.root(e.prog, "root@acme.test")
	root := e.caller(e.prog, rootToken)
	require.NoError(t, e.svc.EnrolSMS(e.ctx, root))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, root, core.SandboxCode))
	root = e.caller(e.prog, rootToken) // stepped up, as creating users and changing mobiles demand

	oldMobile := core.Mobile{CountryCode: "+44", Number: "7700900456"}
	u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{
		Name: "Bea", Surname: "Smith", Email: "bea@acme.test", Mobile: &oldMobile}})
	require.NoError(t, err)
	set, err := e.svc.CreatePassword(e.ctx, e.prog, u.ID, testPassword)
	require.NoError(t, err)
	bea := e.caller(e.prog, set.Token)
	require.NoError(t, e.svc.EnrolSMS(e.ctx, bea))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, bea, core.SandboxCode))
	require.Equal(t, core.FactorActive, e.factorStatus(u.ID))

	newMobile := core.Mobile{CountryCode: "+356", Number: "79000000"}
	_, err = e.svc.UpdateUser(e.ctx, root, u.ID, core.UserPatch{Mobile: &newMobile})
	require.NoError(t, err)
	assert.Equal(t, core.FactorInactive, e.factorStatus(u.ID), "the factor was bound to the old number")
	fresh := e.caller(e.prog, e.login(e.prog, "bea@acme.test"))
	fs, err := e.svc.Factors(e.ctx, fresh)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, core.FactorInactive, fs[0].Status)

	sent := len(e.sms.all())
	requireCode(t, e.svc.StepUpSMS(e.ctx, fresh, ""), core.ErrConflict, core.CodeChannelNotRegistered, "no step-up on an INACTIVE factor")
	require.Len(t, e.sms.all(), sent, "no code to either number")

	require.NoError(t, e.svc.EnrolSMS(e.ctx, fresh), "enrolling again needs no step-up: no factor is ACTIVE")
	msgs := e.sms.all()
	require.Len(t, msgs, sent+1)
	assert.Equal(t, newMobile, msgs[len(msgs)-1].To, "the code goes to the new number")
	assert.Equal(t, core.FactorPending, e.factorStatus(u.ID))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, fresh, core.SandboxCode))
	assert.Equal(t, core.FactorActive, e.factorStatus(u.ID))

	next := e.caller(e.prog, e.login(e.prog, "bea@acme.test"))
	require.NoError(t, e.svc.StepUpSMS(e.ctx, next, ""))
	msgs = e.sms.all()
	assert.Equal(t, newMobile, msgs[len(msgs)-1].To)
}

// A step-up code texted to the old number is void once the user has changed
// their number and enrolled the new one, even in the session that asked for
// it: whoever holds the old phone must not step that session up.
func TestStepUpCodeToAnOldNumberIsVoid(t *testing.T) {
	e := newCoreEnv(t)
	oldMobile := core.Mobile{CountryCode: "+44", Number: "7700900456"}
	u, err := e.svc.CreateUser(e.ctx, e.steppedUpRoot(e.prog, "root@acme.test"), core.NewUser{UserDetails: core.UserDetails{
		Name: "Bea", Surname: "Smith", Email: "bea@acme.test", Mobile: &oldMobile}})
	require.NoError(t, err)
	set, err := e.svc.CreatePassword(e.ctx, e.prog, u.ID, testPassword)
	require.NoError(t, err)
	bea := func() *core.Caller { return e.caller(e.prog, set.Token) }
	require.NoError(t, e.svc.EnrolSMS(e.ctx, bea()))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, bea(), core.SandboxCode))

	require.NoError(t, e.svc.StepUpSMS(e.ctx, bea(), ""))
	msgs := e.sms.all()
	require.Equal(t, oldMobile, msgs[len(msgs)-1].To, "the step-up code went to the old number")

	e.clock.Advance(time.Second)
	newMobile := core.Mobile{CountryCode: "+356", Number: "79000000"}
	_, err = e.svc.UpdateUser(e.ctx, bea(), u.ID, core.UserPatch{Mobile: &newMobile})
	require.NoError(t, err)
	require.NoError(t, e.svc.EnrolSMS(e.ctx, bea()))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, bea(), core.SandboxCode))

	requireCode(t, e.svc.VerifyStepUpSMS(e.ctx, bea(), core.SandboxCode), core.ErrConflict, core.CodeStateInvalid,
		"the old number's code steps nothing up")
	e.clock.Advance(time.Minute)
	require.NoError(t, e.svc.StepUpSMS(e.ctx, bea(), ""), "a new code is sent")
	msgs = e.sms.all()
	assert.Equal(t, newMobile, msgs[len(msgs)-1].To)
	require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, bea(), core.SandboxCode))
}
