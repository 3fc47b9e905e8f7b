package server_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// recordingObserver is a core.Observer keeping what it was told, as strings.
type recordingObserver struct {
	mu     sync.Mutex
	events []string
	push   []time.Duration
}

func (r *recordingObserver) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recordingObserver) Hashing(context.Context) func(time.Duration) {
	return func(time.Duration) { r.add("hash") }
}
func (r *recordingObserver) SignIn(_ context.Context, o core.SignInOutcome) {
	r.add("sign_in " + string(o))
}
func (r *recordingObserver) Lockout(_ context.Context, k core.LockoutKind) {
	r.add("lockout " + string(k))
}
func (r *recordingObserver) StepUp(_ context.Context, c core.Channel, o core.StepUpOutcome) {
	r.add("step_up " + string(c) + " " + string(o))
}
func (r *recordingObserver) CodeSent(_ context.Context, c core.Channel) { r.add("code " + string(c)) }
func (r *recordingObserver) PushApproved(_ context.Context, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.push = append(r.push, d)
}

func (r *recordingObserver) WebhookAttempt(_ context.Context, o core.WebhookOutcome, _ time.Duration) {
	r.add("webhook " + string(o))
}

func (r *recordingObserver) BackgroundFailed(context.Context) { r.add("background failed") }

// take returns the events so far without hashes, and forgets them.
func (r *recordingObserver) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.DeleteFunc(r.events, func(e string) bool { return e == "hash" })
	r.events = nil
	return out
}

// TestObserverHearsPushStepUps: the observer hears of a push approved after
// the (sandbox) clock moved 7 seconds, one answered with the wrong number and
// one declined, each once, as biometric step-ups; and of the SMS code of the
// enrolment.
func TestObserverHearsPushStepUps(t *testing.T) {
	ctx := context.Background()
	rec := &recordingObserver{}
	e := newBioEnv(t, func(o *testserver.Options) { o.Config.Observer = rec })
	phone := e.enrolledRoot("ada@acme.test", "phone")
	assert.Contains(t, rec.take(), "code SMS", "the enrolment texted a code")
	admin := e.login("ada@acme.test")
	assert.Equal(t, []string{"sign_in success"}, rec.take())

	up, err := admin.StepUpPush(ctx, "")
	require.NoError(t, err)
	e.inst.Clock.Advance(7 * time.Second)
	require.NoError(t, phone.approve(up.ID, up.Number))
	assert.Equal(t, []string{"step_up BIOMETRIC verified"}, rec.take())
	require.Len(t, rec.push, 1)
	assert.InDelta(t, 7, rec.push[0].Seconds(), 1, "from the challenge's creation to its approval")

	up, err = admin.StepUpPush(ctx, "")
	require.NoError(t, err)
	wrong := slices.DeleteFunc(phone.choicesOf(up.ID), func(n int) bool { return n == up.Number })[0]
	require.Error(t, phone.approve(up.ID, wrong))
	assert.Equal(t, []string{"step_up BIOMETRIC failed"}, rec.take())

	up, err = admin.StepUpPush(ctx, "")
	require.NoError(t, err)
	require.NoError(t, phone.s.DeclinePush(ctx, up.ID, client.DeclineCancelled))
	assert.Equal(t, []string{"step_up BIOMETRIC declined"}, rec.take())
	assert.Len(t, rec.push, 1, "only approvals have a latency")
}

// TestObserverHearsSignIns: each password sign-in outcome once, the lockout
// on the threshold, and a sign-in refused by its budget as rate_limited.
func TestObserverHearsSignIns(t *testing.T) {
	rec := &recordingObserver{}
	e := newEnv(t, func(c *core.Config) {
		c.Observer = rec
		rl := core.DefaultRateLimits()
		rl.LoginPerIP = core.RateLimit{Requests: 7, Window: time.Hour}
		c.RateLimits = &rl
	})
	e.corporate("ada@acme.test")
	rec.take()
	require.Equal(t, 200, e.login("ada@acme.test", testPassword).status)
	for range 5 {
		require.Equal(t, 403, e.login("ada@acme.test", "Wr0ng-Passw0rd").status)
	}
	require.Equal(t, 423, e.login("ada@acme.test", testPassword).status)
	require.Equal(t, 429, e.login("ada@acme.test", testPassword).status, "the 8th sign-in from this address")
	assert.Equal(t, []string{"sign_in success",
		"sign_in failure", "sign_in failure", "sign_in failure", "sign_in failure", "lockout password", "sign_in failure",
		"sign_in locked", "sign_in rate_limited"}, rec.take())
}
