package core

import (
	"context"
	"errors"
	"time"

	"github.com/deputyhq/deputy/password"
)

// Observer is told of the domain events operators count: sign-ins, lockouts,
// step-ups, codes sent, push approvals and webhook attempts, and (through
// password.Observer) each password hash. Core tells it only after the
// transaction deciding the event committed, once per event; a webhook
// attempt, as its answer comes (its record is written later, with others).
// Every argument is one of core's closed sets below or a duration, never a
// user, an email or a secret, so that an implementation may turn each into
// a metric label as it is.
type Observer interface {
	password.Observer
	SignIn(ctx context.Context, outcome SignInOutcome)
	Lockout(ctx context.Context, kind LockoutKind)
	StepUp(ctx context.Context, channel Channel, outcome StepUpOutcome)
	CodeSent(ctx context.Context, channel Channel)
	// PushApproved reports how long a push challenge waited for its approval.
	PushApproved(ctx context.Context, latency time.Duration)
	// WebhookAttempt reports how one attempt to deliver a webhook went and
	// how long the receiver took.
	WebhookAttempt(ctx context.Context, outcome WebhookOutcome, took time.Duration)
	// BackgroundFailed reports background work that followed an answer (an
	// email or notice, a password reset's lookup and code) and failed or
	// panicked: what it was to send is not sent. A budget's refusal is no
	// failure.
	BackgroundFailed(ctx context.Context)
}

// SignInOutcome is how a password sign-in ended.
type SignInOutcome string

// Sign-in outcomes.
const (
	SignInSuccess     SignInOutcome = "success"
	SignInFailure     SignInOutcome = "failure"      // wrong credentials (403)
	SignInLocked      SignInOutcome = "locked"       // refused by a lockout (423)
	SignInRateLimited SignInOutcome = "rate_limited" // refused by a budget (429)
)

// LockoutKind says which guesses locked a user out.
type LockoutKind string

// Lockout kinds.
const (
	LockoutPassword LockoutKind = "password" // LockoutThreshold wrong passwords
	LockoutSCA      LockoutKind = "sca"      // SCAFailureLimit wrong one-time codes
)

// StepUpOutcome is how a step-up challenge ended.
type StepUpOutcome string

// Step-up outcomes.
const (
	StepUpVerified StepUpOutcome = "verified" // the right code, or an approved push
	StepUpFailed   StepUpOutcome = "failed"   // a wrong code
	StepUpDeclined StepUpOutcome = "declined" // a push declined on the device
)

// WebhookOutcome is how one attempt to deliver a webhook went.
type WebhookOutcome string

// Webhook attempt outcomes.
const (
	WebhookDelivered   WebhookOutcome = "delivered"    // a 2xx
	WebhookGone        WebhookOutcome = "gone"         // 410: the endpoint is disabled
	WebhookThrottled   WebhookOutcome = "rate_limited" // 429: tried again after its Retry-After
	WebhookRefused     WebhookOutcome = "refused"      // any other status (a redirect too): tried again
	WebhookUnreachable WebhookOutcome = "unreachable"  // no answer: refused, reset or timed out
)

// ObservedValues lists every value each of the Observer's closed sets can
// take, so that a metrics backend can show each count at zero before the
// first event: a rate over a series that does not exist yet is no rate.
type ObservedValues struct {
	SignIns   []SignInOutcome
	Lockouts  []LockoutKind
	StepUps   map[Channel][]StepUpOutcome // the outcomes each channel has
	CodesSent []Channel
	Webhooks  []WebhookOutcome
}

// Observed returns ObservedValues, fresh at each call.
func Observed() ObservedValues {
	return ObservedValues{
		SignIns:  []SignInOutcome{SignInSuccess, SignInFailure, SignInLocked, SignInRateLimited},
		Lockouts: []LockoutKind{LockoutPassword, LockoutSCA},
		StepUps: map[Channel][]StepUpOutcome{
			ChannelSMS:       {StepUpVerified, StepUpFailed},
			ChannelBiometric: {StepUpVerified, StepUpFailed, StepUpDeclined},
		},
		CodesSent: []Channel{ChannelSMS, ChannelEmail},
		Webhooks:  []WebhookOutcome{WebhookDelivered, WebhookGone, WebhookThrottled, WebhookRefused, WebhookUnreachable},
	}
}

// ChannelEmail is the channel of codes sent by email (verification, lost
// password); it is no authentication factor.
const ChannelEmail Channel = "EMAIL"

// signInOutcome classifies a password sign-in's result; ok is false for an
// error that is no outcome of the sign-in rule (a store failure).
func signInOutcome(err error) (o SignInOutcome, ok bool) {
	switch {
	case err == nil:
		return SignInSuccess, true
	case errors.Is(err, ErrInvalidCredentials):
		return SignInFailure, true
	case errors.Is(err, ErrLocked):
		return SignInLocked, true
	case errors.Is(err, ErrRateLimited):
		return SignInRateLimited, true
	}
	return "", false
}

// observeSignIn tells the observer how a sign-in ended.
func (s *Service) observeSignIn(ctx context.Context, err error) {
	if o, ok := signInOutcome(err); ok {
		s.obs.SignIn(ctx, o)
	}
}

// lockoutKinds are the revocation reasons that are lockouts.
var lockoutKinds = map[RevocationReason]LockoutKind{RevokeLockout: LockoutPassword, RevokeSCALock: LockoutSCA}

// nopObserver observes nothing: the default.
type nopObserver struct{}

func (nopObserver) Hashing(context.Context) func(time.Duration)                   { return func(time.Duration) {} }
func (nopObserver) SignIn(context.Context, SignInOutcome)                         {}
func (nopObserver) Lockout(context.Context, LockoutKind)                          {}
func (nopObserver) StepUp(context.Context, Channel, StepUpOutcome)                {}
func (nopObserver) CodeSent(context.Context, Channel)                             {}
func (nopObserver) PushApproved(context.Context, time.Duration)                   {}
func (nopObserver) WebhookAttempt(context.Context, WebhookOutcome, time.Duration) {}
func (nopObserver) BackgroundFailed(context.Context)                              {}

// observeStepUpCode tells the observer how a step-up code check ended: the
// right code, or a wrong one (counted); a check refused before any code was
// compared (expired, already used, paused) is no step-up outcome.
func (s *Service) observeStepUpCode(ctx context.Context, outcome error) {
	var e *Error
	switch {
	case outcome == nil:
		s.obs.StepUp(ctx, ChannelSMS, StepUpVerified)
	case errors.As(outcome, &e) && wrongCodeAnswers[e.Code]:
		s.obs.StepUp(ctx, ChannelSMS, StepUpFailed)
	}
}

// wrongCodeAnswers are the answers verifyChallenge gives to a wrong code.
var wrongCodeAnswers = map[string]bool{CodeCodeInvalid: true, CodeOneChallengeLimitRemain: true, CodeChallengeLimitExceeded: true}

// observePush tells the observer how a push challenge was resolved on the
// device (nil: it was not): an approval's latency, and a step-up's outcome.
func (s *Service) observePush(ctx context.Context, c *PushChallenge) {
	if c == nil {
		return
	}
	if c.State == PushApproved {
		s.obs.PushApproved(ctx, c.ResolvedAt.Sub(c.CreatedAt))
	}
	if c.Kind != PushStepUp {
		return
	}
	switch {
	case c.State == PushApproved:
		s.obs.StepUp(ctx, ChannelBiometric, StepUpVerified)
	case c.Reason == PushReasonWrongNumber:
		s.obs.StepUp(ctx, ChannelBiometric, StepUpFailed)
	default:
		s.obs.StepUp(ctx, ChannelBiometric, StepUpDeclined)
	}
}
