package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// TestPushIdempotencySurvivesACrashAfterTheCommit is
// TestIdempotencySurvivesACrashAfterTheCommit for the companion's idempotent
// routes, and Weavr's multipleSCAChallengePush with BIOMETRIC
// (enrolDeviceUsingPush only ever answers CHANNEL_NOT_SUPPORTED): the
// process dies right after the change commits; the retry with the same ref
// gets the original answer and the change happened once.
func TestPushIdempotencySurvivesACrashAfterTheCommit(t *testing.T) {
	ctx := context.Background()
	ref := client.IdempotencyRef("crash-ref")
	for _, c := range []struct {
		name   string
		action string
		// prepare sets up and returns the call, which answers a comparable result.
		prepare func(e *bioEnv) func() (any, error)
	}{
		{"biometric begin", "challenge.issue", func(e *bioEnv) func() (any, error) {
			e.root("root@acme.test")
			s := e.login("root@acme.test")
			return func() (any, error) {
				out, err := s.BeginBiometricEnrolment(ctx, "phone-1", "Phone", ref)
				return string(out), err
			}
		}},
		{"biometric finish", "factor.enrol", func(e *bioEnv) func() (any, error) {
			e.root("root@acme.test")
			d := e.newDevice("phone-1", "root@acme.test")
			options, err := d.s.BeginBiometricEnrolment(ctx, d.id, "Phone")
			require.NoError(t, err)
			req, err := authenticator.ParseCreationOptions(options, d.origin)
			require.NoError(t, err)
			att, err := d.auth.Register(ctx, req)
			require.NoError(t, err)
			return func() (any, error) { return d.s.FinishBiometricEnrolment(ctx, core.SandboxCode, att, ref) }
		}},
		{"unlink", "factor.unlink", func(e *bioEnv) func() (any, error) {
			d := e.enrolledRoot("root@acme.test", "phone-1")
			return func() (any, error) { return nil, d.s.UnlinkBiometric(ctx, ref) }
		}},
		{"push step-up", "push.issue", func(e *bioEnv) func() (any, error) {
			e.enrolledRoot("root@acme.test", "phone-1")
			s := e.login("root@acme.test")
			return func() (any, error) {
				out, err := s.StepUpPush(ctx, "Approve the test", ref)
				return out, err
			}
		}},
		{"push confirmation", "confirmation.issue", func(e *bioEnv) func() (any, error) {
			id := e.root("root@acme.test")
			phone := e.newDevice("phone-1", "root@acme.test")
			phone.enrol()
			_, err := e.api.RegisterResource(ctx, client.ResourceSends, "7001", client.ResourceRegistration{UserID: id,
				Amount: client.Amount{Currency: "GBP", Amount: 1250}, PayeeName: "Alice Example", PayeeAccount: "GB29NWBK60161331926819"})
			require.NoError(t, err)
			s := e.login("root@acme.test")
			return func() (any, error) { return s.ConfirmPush(ctx, client.ResourceSends, []string{"7001"}, ref) }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			crash := &crashingStore{}
			e := newBioEnv(t, func(o *testserver.Options) {
				o.WrapStore = func(s core.Store) core.Store { crash.Store = s; return crash }
			})
			call := c.prepare(e)
			before := count(e.audit(), c.action)

			crash.armed.Store(true)
			_, err := call()
			require.Equal(t, int32(1), crash.crashed.Load(), "the store crashed after the commit")
			requireAPIError(t, err, http.StatusInternalServerError, "INTERNAL_ERROR", "the answer was lost")

			first, err := call()
			require.NoError(t, err, "the retry gets the original answer")
			again, err := call()
			require.NoError(t, err)
			assert.Equal(t, first, again, "and so does every later one")
			assert.Equal(t, before+1, count(e.audit(), c.action), "the change happened once")
		})
	}
}
