package core_test

// Issue 17 point 8: one check decides every kind of one-time code. The same
// table of guesses runs through each kind's public calls, so that a caller
// whose rule drifts from the others (expiry, attempts, single use) fails here.

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// otpTTL is the life of every kind of code in these tests: shorter than a
// session's idle time, so that a step-up session outlives its code.
const otpTTL = 2 * time.Minute

// otpKind drives one kind of one-time code through its public calls.
type otpKind struct {
	name string
	// issue sends a fresh code for a new user and returns how to guess at it.
	issue func(e *coreEnv, n int) (guess func(code string) error)
	// attempts wrong guesses void the code; 0 for a code whose wrong guesses
	// a budget limits instead (invites: 256 bits, never voided by strangers).
	attempts int
	// refused is the machine code of a refusal, by case (wrong when absent).
	refused map[string]string
}

// The cases of the table, and what each refusal answers when a kind says nothing else.
const (
	otpWrong     = "wrong"
	otpOneLeft   = "wrong guess leaving one attempt"
	otpLastWrong = "last wrong guess"
	otpExpired   = "expired"
	otpSpent     = "right after the attempts"
	otpReplay    = "replay"
)

func otpKinds() []otpKind {
	return []otpKind{
		{
			name: "SMS step-up", attempts: 5,
			issue: func(e *coreEnv, n int) func(string) error {
				c := e.enrolled(e.prog, fmt.Sprintf("sca%d@acme.test", n))
				require.NoError(e.t, e.svc.StepUpSMS(e.ctx, c, ""))
				return func(code string) error { return e.svc.VerifyStepUpSMS(e.ctx, c, code) }
			},
			refused: map[string]string{
				otpWrong: core.CodeCodeInvalid, otpOneLeft: core.CodeOneChallengeLimitRemain, otpLastWrong: core.CodeChallengeLimitExceeded,
				otpExpired: core.CodeCodeExpired, otpSpent: core.CodeStateInvalid, otpReplay: core.CodeAlreadyVerified,
			},
		},
		{
			name: "invite", attempts: 0,
			issue: func(e *coreEnv, n int) func(string) error {
				root := e.steppedUpRoot(e.prog, fmt.Sprintf("root%d@acme.test", n))
				u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: fmt.Sprintf("bea%d@acme.test", n)}})
				require.NoError(e.t, err)
				require.NoError(e.t, e.svc.SendInvite(e.ctx, root, u.ID))
				return func(code string) error {
					_, err := e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, code, testPassword, nil, testIP)
					return err
				}
			},
			refused: map[string]string{otpWrong: core.CodeInviteInvalid},
		},
		{
			name: "email verification", attempts: 5,
			issue: func(e *coreEnv, n int) func(string) error {
				email := fmt.Sprintf("verify%d@acme.test", n)
				e.root(e.prog, email)
				require.NoError(e.t, e.svc.SendEmailVerification(e.ctx, e.prog, core.EmailScope{}, email))
				return func(code string) error { return e.svc.VerifyEmail(e.ctx, e.prog, core.EmailScope{}, email, code) }
			},
			refused: map[string]string{otpWrong: core.CodeCodeInvalid},
		},
		{
			name: "lost-password reset", attempts: 5,
			issue: func(e *coreEnv, n int) func(string) error {
				email := fmt.Sprintf("reset%d@acme.test", n)
				e.root(e.prog, email)
				require.NoError(e.t, e.svc.LostPasswordStart(e.ctx, e.prog, email))
				resets := 0
				return func(code string) error {
					resets++ // a new password each time, so that the history rule never answers
					_, err := e.svc.LostPasswordResume(e.ctx, e.prog, email, code, fmt.Sprintf("N3w-Passw0rd-%d!", resets))
					return err
				}
			},
			refused: map[string]string{otpWrong: core.CodeInvalidNonceOrEmail},
		},
	}
}

// refusal is the machine code kind k answers in case c.
func (k otpKind) refusal(c string) string {
	if code, ok := k.refused[c]; ok {
		return code
	}
	return k.refused[otpWrong]
}

// Every kind of one-time code obeys one rule: the right code is accepted
// once, a wrong one is refused and counted, an expired one is refused from
// the end of its life on, and a code out of attempts is void even for the
// right guess, each kind answering with its own codes (sandbox: every code
// is core.SandboxCode).
func TestOneTimeCodesFollowOneRule(t *testing.T) {
	right := core.SandboxCode
	cases := []struct {
		name string
		run  func(t *testing.T, e *coreEnv, k otpKind, guess func(string) error)
	}{
		{"right code", func(t *testing.T, _ *coreEnv, _ otpKind, guess func(string) error) {
			require.NoError(t, guess(right))
		}},
		{"wrong code, then the right one", func(t *testing.T, _ *coreEnv, k otpKind, guess func(string) error) {
			requireCode(t, guess(wrongCode(right, 0)), core.ErrConflict, k.refusal(otpWrong))
			require.NoError(t, guess(right), "one wrong guess does not void the code")
		}},
		{"just alive, then expired", func(t *testing.T, e *coreEnv, k otpKind, guess func(string) error) {
			e.clock.Advance(otpTTL - time.Second)
			requireCode(t, guess(wrongCode(right, 0)), core.ErrConflict, k.refusal(otpWrong), "a second before the end")
			e.clock.Advance(time.Second)
			requireCode(t, guess(right), core.ErrConflict, k.refusal(otpExpired), "at the end of its life")
		}},
		{"out of attempts", func(t *testing.T, _ *coreEnv, k otpKind, guess func(string) error) {
			wrongs := max(k.attempts, 5)
			for i := range wrongs {
				want := k.refusal(otpWrong)
				switch {
				case k.attempts == 0:
				case i == k.attempts-1:
					want = k.refusal(otpLastWrong)
				case i == k.attempts-2:
					want = k.refusal(otpOneLeft)
				}
				requireCode(t, guess(wrongCode(right, i)), core.ErrConflict, want, "wrong guess %d", i+1)
			}
			if k.attempts == 0 {
				require.NoError(t, guess(right), "wrong guesses never void this kind")
				return
			}
			requireCode(t, guess(right), core.ErrConflict, k.refusal(otpSpent), "the right code after the last attempt")
		}},
		{"replay after success", func(t *testing.T, _ *coreEnv, k otpKind, guess func(string) error) {
			require.NoError(t, guess(right))
			requireCode(t, guess(right), core.ErrConflict, k.refusal(otpReplay), "the same code again")
		}},
	}
	for _, k := range otpKinds() {
		t.Run(k.name, func(t *testing.T) {
			start := time.Now()
			e := newCoreEnvOn(t, core.NewOffsetClock(func() time.Time { return start }),
				func(c *core.Config) { c.ChallengeTTL, c.ResetCodeTTL, c.InviteTTL = otpTTL, otpTTL, otpTTL })
			for n, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					tc.run(t, e, k, k.issue(e, n))
				})
			}
		})
	}
}
