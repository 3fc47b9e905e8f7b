package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/telemetry"
	"github.com/deputyhq/deputy/telemetry/otelstore"
)

// scrape returns the Prometheus exposition of t's metrics.
func scrape(t *testing.T, tel *telemetry.Telemetry) string {
	t.Helper()
	h := tel.MetricsHandler()
	require.NotNil(t, h, "metrics are on")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

// TestObserverMetrics tells the observer of one of each domain event and
// finds each metric, with its labels, in the exposition.
func TestObserverMetrics(t *testing.T) {
	ctx := t.Context()
	tel, err := telemetry.New(ctx, telemetry.Config{Metrics: true})
	require.NoError(t, err)
	obs, err := tel.Observer()
	require.NoError(t, err)
	for _, o := range []core.SignInOutcome{core.SignInSuccess, core.SignInFailure, core.SignInLocked, core.SignInRateLimited} {
		obs.SignIn(ctx, o)
	}
	obs.Lockout(ctx, core.LockoutPassword)
	obs.Lockout(ctx, core.LockoutSCA)
	obs.StepUp(ctx, core.ChannelSMS, core.StepUpVerified)
	obs.StepUp(ctx, core.ChannelBiometric, core.StepUpDeclined)
	obs.CodeSent(ctx, core.ChannelSMS)
	obs.CodeSent(ctx, core.ChannelEmail)
	obs.PushApproved(ctx, 3*time.Second)
	obs.Hashing(ctx)(2 * time.Millisecond)
	obs.WebhookAttempt(ctx, core.WebhookThrottled, 30*time.Millisecond)
	obs.BackgroundFailed(ctx)

	out := scrape(t, tel)
	for _, want := range []string{
		`deputy_sign_ins_total{otel_scope_name="github.com/deputyhq/deputy",otel_scope_schema_url="",otel_scope_version="",outcome="success"} 1`,
		`outcome="failure"} 1`, `outcome="locked"} 1`, `outcome="rate_limited"} 1`,
		`deputy_lockouts_total{kind="password"`, `deputy_lockouts_total{kind="sca"`,
		`deputy_step_ups_total{channel="sms"`, `outcome="verified"} 1`,
		`deputy_step_ups_total{channel="biometric"`, `outcome="declined"} 1`,
		`deputy_otp_sent_total{channel="sms"`, `deputy_otp_sent_total{channel="email"`,
		`deputy_push_approval_duration_seconds_bucket{`, `le="5"} 1`,
		`deputy_password_hash_queue_wait_seconds_bucket{`, `le="0.0025"} 1`,
		`deputy_webhook_deliveries_total{otel_scope_name="github.com/deputyhq/deputy",otel_scope_schema_url="",otel_scope_version="",outcome="rate_limited"} 1`,
		`deputy_webhook_delivery_duration_seconds_bucket{`, `le="0.05"} 1`,
		`deputy_background_failures_total{otel_scope_name="github.com/deputyhq/deputy",otel_scope_schema_url="",otel_scope_version=""} 1`,
	} {
		assert.Contains(t, out, want)
	}
}

// TestCountersStartAtZero: before anything happens, a scrape shows every
// series of every counter, each of core's closed sets' values, at 0.
func TestCountersStartAtZero(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{Metrics: true})
	require.NoError(t, err)
	_, err = tel.Observer()
	require.NoError(t, err)
	_, err = otelstore.Wrap(&retryingStore{}, tel.Tracer, tel.Meter)
	require.NoError(t, err)
	out := scrape(t, tel)
	series := func(name string, labels ...string) {
		t.Helper()
		re := name + `\{`
		for _, l := range labels {
			re += `(?:[^}]*,)?` + regexp.QuoteMeta(l) + `[,}]`
		}
		assert.Regexp(t, re+`.* 0\n`, out)
	}
	lower := func(s string) string { return strings.ToLower(s) }
	v := core.Observed()
	for _, o := range v.SignIns {
		series("deputy_sign_ins_total", `outcome="`+lower(string(o))+`"`)
	}
	for _, k := range v.Lockouts {
		series("deputy_lockouts_total", `kind="`+lower(string(k))+`"`)
	}
	for c, outcomes := range v.StepUps {
		for _, o := range outcomes {
			series("deputy_step_ups_total", `channel="`+lower(string(c))+`"`, `outcome="`+lower(string(o))+`"`)
		}
	}
	for _, c := range v.CodesSent {
		series("deputy_otp_sent_total", `channel="`+lower(string(c))+`"`)
	}
	for _, o := range v.Webhooks {
		series("deputy_webhook_deliveries_total", `outcome="`+lower(string(o))+`"`)
	}
	series("deputy_store_transaction_retries_total", `kind="update"`)
	series("deputy_background_failures_total")
}

// TestMetricsOff: without metrics there is nothing to serve, and the observer
// records into a no-op provider.
func TestMetricsOff(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{})
	require.NoError(t, err)
	assert.Nil(t, tel.MetricsHandler())
	obs, err := tel.Observer()
	require.NoError(t, err)
	obs.SignIn(t.Context(), core.SignInSuccess)
	require.NoError(t, tel.Shutdown(t.Context()))
}

// retryingStore runs each update's function as often as its group commit
// would on retries, and each view once.
type retryingStore struct {
	core.Store
	runs int
}

func (s *retryingStore) Update(_ context.Context, fn func(core.Tx) error) error {
	var err error
	for range s.runs {
		err = fn(nil)
	}
	return err
}

func (s *retryingStore) View(_ context.Context, fn func(core.ReadTx) error) error { return fn(nil) }

// TestStoreRetriesAndDurations: an update whose function ran three times
// counts two retries; views and updates are timed by kind.
func TestStoreRetriesAndDurations(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{Metrics: true})
	require.NoError(t, err)
	s, err := otelstore.Wrap(&retryingStore{runs: 3}, tel.Tracer, tel.Meter)
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), func(core.Tx) error { return nil }))
	require.NoError(t, s.View(t.Context(), func(core.ReadTx) error { return nil }))
	out := scrape(t, tel)
	assert.Regexp(t, `deputy_store_transaction_retries_total\{kind="update",[^}]*\} 2\n`, out)
	assert.Regexp(t, `deputy_store_transaction_duration_seconds_count\{kind="update",[^}]*\} 1\n`, out)
	assert.Regexp(t, `deputy_store_transaction_duration_seconds_count\{kind="view",[^}]*\} 1\n`, out)
}

// TestOTLPEndpointChecked: an endpoint that is no absolute http(s) URL with a
// host is refused, not left to the exporter, which falls back to
// localhost:4318 (or the environment's endpoint) for a value it cannot use and
// exports in plain text for any scheme but https; nor may it carry a user name
// or password, which the serving line would repeat and the exporter ignores;
// nor a query or fragment (an api key as ?key=), which the exporter drops too,
// and which took "/v1/traces" into it, so spans went to the collector's "/".
func TestOTLPEndpointChecked(t *testing.T) {
	for _, bad := range []string{"collector:4318", "collector", "htps://collector:4318", "https://user:secret@collector:4318", "http://", "://x",
		"https://collector:4318/?api-key=secret", "htps://collector/?api-key=secret", "https://collector:4318/#secret",
		"collector:secret@otel.example:4318"} {
		_, err := telemetry.New(t.Context(), telemetry.Config{OTLPEndpoint: bad})
		assert.Error(t, err, bad)
		if err != nil {
			assert.NotContains(t, err.Error(), "secret", "the error repeats no password")
		}
	}
	for _, good := range []string{"http://collector:4318", "https://otel.example/", "http://127.0.0.1:4318/otlp"} {
		tel, err := telemetry.New(t.Context(), telemetry.Config{OTLPEndpoint: good})
		require.NoError(t, err, good)
		require.NoError(t, tel.Shutdown(t.Context()))
	}
}
