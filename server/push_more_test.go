package server_test

import (
	"context"
	"errors"
	"net/http"
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

// TestParallelApprovalsApproveOnce sends one assertion many times at once:
// exactly one approval wins, the others are ALREADY_VERIFIED.
func TestParallelApprovalsApproveOnce(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	up, err := e.login("ada@acme.test").StepUpPush(ctx, "")
	require.NoError(t, err)
	as := phone.assertion(up.ID)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = phone.s.ApprovePush(ctx, up.ID, up.Number, as) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		requireAPIError(t, err, http.StatusConflict, core.CodeAlreadyVerified)
	}
	assert.Equal(t, 1, ok, "approvals accepted")
}

// TestPushLimits: a new request from a session replaces its pending one; a
// user has at most five pending challenges.
func TestPushLimits(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	s := e.login("ada@acme.test")
	first, err := s.StepUpPush(ctx, "first")
	require.NoError(t, err)
	second, err := s.StepUpPush(ctx, "second")
	require.NoError(t, err)
	st, err := s.PushStatus(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushCancelled, st.State, "superseded")
	assert.Equal(t, core.PushReasonSuperseded, e.pushRecord(first.ID).Reason)
	for range 4 {
		_, err := e.login("ada@acme.test").StepUpPush(ctx, "")
		require.NoError(t, err)
	}
	_, err = e.login("ada@acme.test").StepUpPush(ctx, "one too many")
	requireAPIError(t, err, http.StatusConflict, core.CodeChallengeLimitExceeded, "five pending already")
	pending, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	assert.Len(t, pending, 5)
	require.NoError(t, phone.approve(second.ID, second.Number))
	_, err = e.login("ada@acme.test").StepUpPush(ctx, "room again")
	require.NoError(t, err)
}

// TestBiometricSignInPromptsAreBudgetedPerEmail: the public ui key cannot
// flood a user's device with sign-in prompts (push fatigue). The five-pending
// cap alone lets five through every five minutes, as prompts expire; the
// email's budget bounds them per hour, and over it the caller gets the decoy
// an unknown email gets, so the answer tells nothing.
func TestBiometricSignInPromptsAreBudgetedPerEmail(t *testing.T) {
	const budget = 4
	e := newBioEnv(t, func(o *testserver.Options) {
		o.Config.RateLimits = &core.RateLimits{BiometricSignInPerEmail: core.RateLimit{Requests: budget, Window: time.Hour}}
	})
	ctx := context.Background()
	e.enrolledRoot("ada@acme.test", "phone-1")
	now, err := e.api.AdvanceClock(ctx, 0)
	require.NoError(t, err)
	_, err = e.api.AdvanceClock(ctx, now.Truncate(time.Hour).Add(time.Hour+time.Second).Sub(now)) // a whole window ahead
	require.NoError(t, err)

	prompted := 0
	for range 6 { // half an hour of attack, each prompt expired before the next round
		for range 5 {
			bl, err := e.ui.LoginViaBiometrics(ctx, "Ada@acme.test")
			require.NoError(t, err, "over the budget the answer is the same")
			if e.pushRecord(bl.ChallengeID).UserID != "" {
				prompted++
			}
		}
		_, err := e.api.AdvanceClock(ctx, 5*time.Minute+time.Second)
		require.NoError(t, err)
	}
	assert.Equal(t, budget, prompted, "prompts that reached the device in the hour")

	_, err = e.api.AdvanceClock(ctx, time.Hour)
	require.NoError(t, err)
	bl, err := e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
	require.NoError(t, err)
	assert.NotEmpty(t, e.pushRecord(bl.ChallengeID).UserID, "the next window prompts again")
}

// TestSignInPromptsLeaveStepUpsRoom: sign-in prompts, which anyone who
// knows the email can cause, fill only their own five slots (the sixth is a
// decoy), so the user's own step-up still reaches the phone.
func TestSignInPromptsLeaveStepUpsRoom(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	s := e.login("ada@acme.test")
	prompted := 0
	for range 6 {
		bl, err := e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
		require.NoError(t, err)
		if e.pushRecord(bl.ChallengeID).UserID != "" {
			prompted++
		}
	}
	assert.Equal(t, 5, prompted, "sign-in prompts that reached the phone")
	up, err := s.StepUpPush(ctx, "mine")
	require.NoError(t, err, "a stranger's prompts do not take the user's slots")
	pending, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	assert.Len(t, pending, 6)
	require.NoError(t, phone.approve(up.ID, up.Number))
}

// TestPushPromptsAreBudgetedPerUser: whoever holds one of the user's
// sessions cannot wear the user down with push step-ups and confirmations
// (asking again supersedes the last, so the pending cap never stops it).
// Asks fired at once spend exactly the user's budget, each one over it is a
// 429 that stores and wakes nothing, and the next window prompts again.
func TestPushPromptsAreBudgetedPerUser(t *testing.T) {
	const budget, asks = 5, 16
	e := newBioEnv(t, func(o *testserver.Options) {
		o.Config.RateLimits = &core.RateLimits{PushPromptsPerUser: core.RateLimit{Requests: budget, Window: time.Hour}}
	})
	ctx := context.Background()
	userID := e.root("ada@acme.test")
	e.newDevice("phone-1", "ada@acme.test").enrol()
	_, err := e.api.RegisterResource(ctx, client.ResourceSends, "7001", client.ResourceRegistration{UserID: userID,
		Amount: client.Amount{Currency: "GBP", Amount: 1250}, PayeeName: "Alice Example", PayeeAccount: "12345678"})
	require.NoError(t, err)
	now, err := e.api.AdvanceClock(ctx, 0)
	require.NoError(t, err)
	_, err = e.api.AdvanceClock(ctx, now.Truncate(time.Hour).Add(time.Hour+time.Second).Sub(now)) // a whole window ahead
	require.NoError(t, err)
	before := len(e.pushRecords(userID))

	s := e.login("ada@acme.test")
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		ok, limited   int
		unexpectedErr []error
	)
	for i := range asks {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = s.StepUpPush(ctx, "")
			} else {
				_, err = s.ConfirmPush(ctx, client.ResourceSends, []string{"7001"})
			}
			var ae *client.Error
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests && ae.RetryAfter > 0:
				limited++
			default:
				unexpectedErr = append(unexpectedErr, err)
			}
		})
	}
	wg.Wait()
	require.Empty(t, unexpectedErr)
	assert.Equal(t, budget, ok)
	assert.Equal(t, asks-budget, limited)
	assert.Len(t, e.pushRecords(userID), before+budget, "prompts stored in the window")
	e.root("bea@bank.test")
	e.newDevice("phone-bea", "bea@bank.test").enrol()
	_, err = e.login("bea@bank.test").StepUpPush(ctx, "")
	require.NoError(t, err, "another user's budget is their own")

	_, err = e.api.AdvanceClock(ctx, time.Hour)
	require.NoError(t, err)
	_, err = e.login("ada@acme.test").StepUpPush(ctx, "")
	require.NoError(t, err, "the next window prompts again")
}

// TestLockoutLeavesBiometricSignInsAlone: with the ui key alone, an attacker
// starts a biometric sign-in for an email and then locks the email with
// wrong passwords. A lockout that cancelled the sign-in would tell that the
// email has a phone (an unknown email's decoy only ever waits), so both
// answers stay alike; and a sign-in the user approves during the lock is
// still refused at collection.
func TestLockoutLeavesBiometricSignInsAlone(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")

	type answer struct {
		status     int
		code       string
		retryAfter time.Duration
	}
	lockAndCollect := func(email string) (*client.BiometricLogin, answer) {
		bl, err := e.ui.LoginViaBiometrics(ctx, email)
		require.NoError(t, err)
		for range 5 { // the default LockoutThreshold
			_, err := e.ui.LoginWithPassword(ctx, email, "Wr0ng-Passw0rd")
			require.Error(t, err)
		}
		_, err = e.ui.LoginWithPassword(ctx, email, "Wr0ng-Passw0rd")
		requireAPIError(t, err, http.StatusLocked, "LOCKED", "%s is locked", email)
		_, err = e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
		var ae *client.Error
		require.ErrorAs(t, err, &ae)
		return bl, answer{ae.Status, ae.Code, ae.RetryAfter}
	}
	known, knownAnswer := lockAndCollect("ada@acme.test")
	_, unknownAnswer := lockAndCollect("nobody@acme.test")
	assert.Equal(t, unknownAnswer, knownAnswer, "collecting after a lockout: a user with a phone, an unknown email")
	assert.Equal(t, answer{http.StatusConflict, core.CodeStateInvalid, time.Second}, knownAnswer, "still waiting for approval")

	require.NoError(t, phone.approve(known.ChallengeID, known.Number))
	_, err := e.ui.BiometricLoginToken(ctx, known.ChallengeID, known.Secret)
	requireAPIError(t, err, http.StatusLocked, "LOCKED", "approved during the lock: no session")
}

// TestEndedStreamIsShownNothingNew: a device's event stream whose session
// logged out, or whose ui key was revoked, is woken by the next challenge of
// its user and ends without showing it (the operation's summary, the
// numbers): long heartbeats and polls leave the wake-up as the only look.
func TestEndedStreamIsShownNothingNew(t *testing.T) {
	for name, end := range map[string]func(*bioEnv, *device){
		"logged out": func(e *bioEnv, phone *device) { require.NoError(t, phone.s.Logout(context.Background())) },
		"key revoked": func(e *bioEnv, _ *device) {
			_, err := e.inst.Service.RotateKey(context.Background(), e.inst.Programme.ID, core.UIKey, 0)
			require.NoError(t, err)
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newBioEnv(t, withPushIntervals(time.Hour, time.Hour))
			ctx := context.Background()
			phone := e.enrolledRoot("ada@acme.test", "phone-1")
			admin := e.api.Session(e.login("ada@acme.test").Token()) // the secret key: it outlives a ui key's rotation
			stream := e.stream(phone.s, phone.id)
			end(e, phone)
			_, err := phone.s.Factors(ctx)
			require.ErrorIs(t, err, client.ErrUnauthorized)

			_, err = admin.StepUpPush(ctx, "Create user mallory@example.com with role ADMIN")
			require.NoError(t, err)
			seen := requireStreamEnds(t, stream)
			assert.NotContains(t, seen, client.EventChallenge, "%v", seen)
		})
	}
}

// TestWrongNumbersCountAsFailedAttempts: a wrong number picked on the phone
// is a failed authentication like a wrong code (PSD2 RTS Art. 4(3)(b)), so
// whoever keeps prompting a user who taps at random (a biometric sign-in
// needs only the email) is stopped after SCAFailureLimit wrong picks in a
// row, not left to win one time in three; a right pick starts the count again.
func TestWrongNumbersCountAsFailedAttempts(t *testing.T) {
	e := newBioEnv(t, func(o *testserver.Options) { o.Config.SCAFailureLimit = 3 })
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	pick := func(right bool) error {
		t.Helper()
		up, err := e.login("ada@acme.test").StepUpPush(ctx, "")
		require.NoError(t, err)
		n := up.Number
		if !right {
			n = slices.DeleteFunc(phone.choicesOf(up.ID), func(c int) bool { return c == up.Number })[0]
		}
		return phone.approve(up.ID, n)
	}
	for range 2 {
		requireAPIError(t, pick(false), http.StatusConflict, core.CodeCodeInvalid)
	}
	require.NoError(t, pick(true), "a right pick ends the run of wrong ones")
	for range 2 {
		requireAPIError(t, pick(false), http.StatusConflict, core.CodeCodeInvalid)
	}
	requireAPIError(t, pick(false), http.StatusConflict, core.CodeChallengeLimitExceeded, "the third wrong pick in a row locks")
	_, err := e.login("ada@acme.test").StepUpPush(ctx, "")
	requireAPIError(t, err, http.StatusConflict, core.CodeChallengeLimitExceeded, "no prompt while locked")
}
