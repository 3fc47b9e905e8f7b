package telemetry

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/deputyhq/deputy/core"
)

// scope is the instrumentation scope of Deputy's own metrics and spans.
const scope = "github.com/deputyhq/deputy"

// Label keys of the domain metrics. Their values come from core's closed
// sets only (core.Observer's promise), lower-cased.
const (
	keyOutcome = attribute.Key("outcome")
	keyKind    = attribute.Key("kind")
	keyChannel = attribute.Key("channel")
)

// Bucket boundaries, in seconds.
var (
	// latencyBuckets suit work measured in milliseconds: queue waits, transactions.
	latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// humanBuckets suit a person answering a phone.
	humanBuckets = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300}
)

// observer is the core.Observer recording domain metrics and hashing spans.
type observer struct {
	tracer       trace.Tracer
	signIns      metric.Int64Counter
	lockouts     metric.Int64Counter
	stepUps      metric.Int64Counter
	codesSent    metric.Int64Counter
	pushApproval metric.Float64Histogram
	hashWait     metric.Float64Histogram
	webhooks     metric.Int64Counter
	webhookTook  metric.Float64Histogram
	background   metric.Int64Counter
}

var _ core.Observer = (*observer)(nil)

// Observer returns the core.Observer recording into t's providers.
func (t *Telemetry) Observer() (core.Observer, error) {
	m := t.Meter.Meter(scope)
	o := &observer{tracer: t.Tracer.Tracer(scope)}
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		err = firstErr(err, e)
		return c
	}
	histogram := func(name, desc string, buckets []float64) metric.Float64Histogram {
		h, e := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...))
		err = firstErr(err, e)
		return h
	}
	o.signIns = counter("deputy.sign_ins", "Password sign-ins by outcome (success, failure, locked, rate_limited).", "{sign_in}")
	o.lockouts = counter("deputy.lockouts", "Users locked out, by kind (password, sca).", "{lockout}")
	o.stepUps = counter("deputy.step_ups", "Step-up challenges answered, by channel (sms, biometric) and outcome (verified, failed, declined).", "{step_up}")
	o.codesSent = counter("deputy.otp.sent", "One-time codes sent, by channel (sms, email).", "{code}")
	o.pushApproval = histogram("deputy.push.approval.duration", "Time from a push challenge's creation to its approval on the device.", humanBuckets)
	o.hashWait = histogram("deputy.password.hash.queue_wait", "Time a password hash waited for a free hashing slot.", latencyBuckets)
	o.webhooks = counter("deputy.webhook.deliveries", "Webhook delivery attempts, by outcome (delivered, gone, rate_limited, refused, unreachable).", "{attempt}")
	o.webhookTook = histogram("deputy.webhook.delivery.duration", "Time a receiver took to answer a webhook delivery attempt.", latencyBuckets)
	o.background = counter("deputy.background.failures", "Background work after an answer (an email, a password reset's code) that failed: nothing was sent.", "{failure}")
	if err == nil {
		o.startAtZero(core.Observed())
	}
	return o, err
}

// startAtZero makes each counter's every series exist at 0 from the start,
// so that a scrape shows what has not happened yet and rates over it work.
func (o *observer) startAtZero(v core.ObservedValues) {
	ctx := context.Background()
	for _, x := range v.SignIns {
		o.signIns.Add(ctx, 0, signInLabels(x))
	}
	for _, x := range v.Lockouts {
		o.lockouts.Add(ctx, 0, lockoutLabels(x))
	}
	for c, outcomes := range v.StepUps {
		for _, x := range outcomes {
			o.stepUps.Add(ctx, 0, stepUpLabels(c, x))
		}
	}
	for _, c := range v.CodesSent {
		o.codesSent.Add(ctx, 0, codeLabels(c))
	}
	for _, x := range v.Webhooks {
		o.webhooks.Add(ctx, 0, webhookLabels(x))
	}
	o.background.Add(ctx, 0)
}

// The labels of each counter's series, for startAtZero and the count alike.
func signInLabels(o core.SignInOutcome) metric.AddOption {
	return metric.WithAttributes(label(keyOutcome, o))
}
func lockoutLabels(k core.LockoutKind) metric.AddOption {
	return metric.WithAttributes(label(keyKind, k))
}
func codeLabels(c core.Channel) metric.AddOption { return metric.WithAttributes(label(keyChannel, c)) }
func webhookLabels(o core.WebhookOutcome) metric.AddOption {
	return metric.WithAttributes(label(keyOutcome, o))
}
func stepUpLabels(c core.Channel, o core.StepUpOutcome) metric.AddOption {
	return metric.WithAttributes(label(keyChannel, c), label(keyOutcome, o))
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func label[T ~string](k attribute.Key, v T) attribute.KeyValue {
	return k.String(strings.ToLower(string(v)))
}

func (o *observer) Hashing(ctx context.Context) func(time.Duration) {
	ctx, span := o.tracer.Start(ctx, "password.hash", trace.WithSpanKind(trace.SpanKindInternal))
	return func(wait time.Duration) {
		o.hashWait.Record(ctx, wait.Seconds())
		span.SetAttributes(attribute.Float64("deputy.password.queue_wait", wait.Seconds()))
		span.End()
	}
}

func (o *observer) SignIn(ctx context.Context, outcome core.SignInOutcome) {
	o.signIns.Add(ctx, 1, signInLabels(outcome))
}

func (o *observer) Lockout(ctx context.Context, kind core.LockoutKind) {
	o.lockouts.Add(ctx, 1, lockoutLabels(kind))
}

func (o *observer) StepUp(ctx context.Context, channel core.Channel, outcome core.StepUpOutcome) {
	o.stepUps.Add(ctx, 1, stepUpLabels(channel, outcome))
}

func (o *observer) CodeSent(ctx context.Context, channel core.Channel) {
	o.codesSent.Add(ctx, 1, codeLabels(channel))
}

func (o *observer) PushApproved(ctx context.Context, latency time.Duration) {
	o.pushApproval.Record(ctx, latency.Seconds())
}

func (o *observer) BackgroundFailed(ctx context.Context) { o.background.Add(ctx, 1) }

func (o *observer) WebhookAttempt(ctx context.Context, outcome core.WebhookOutcome, took time.Duration) {
	o.webhooks.Add(ctx, 1, webhookLabels(outcome))
	o.webhookTook.Record(ctx, took.Seconds())
}
