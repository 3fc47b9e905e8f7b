package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/webhook"
)

// hookT0 is where the webhook tests' clock stands still until they move it.
var hookT0 = time.Date(2026, time.March, 14, 9, 0, 0, 0, time.UTC)

// hookEnv is a coreEnv with a programme whose api key is known, a receiver,
// and an endpoint of the programme pointing at it.
type hookEnv struct {
	*coreEnv
	prog   *core.Programme
	apiKey string
	rcv    *receiver
	hook   *core.CreatedWebhook
}

// newHookEnv returns a hookEnv on a clock that stands still at hookT0.
func newHookEnv(t testing.TB, events ...string) *hookEnv {
	t.Helper()
	return newHookEnvOn(t, core.NewOffsetClock(func() time.Time { return hookT0 }), events...)
}

// newHookEnvOn returns a hookEnv on clock.
func newHookEnvOn(t testing.TB, clock *core.OffsetClock, events ...string) *hookEnv {
	t.Helper()
	e := &hookEnv{coreEnv: newCoreEnvOn(t, clock)}
	p, err := e.svc.CreateProgramme(e.ctx, core.NewProgramme{Name: "Hooked"})
	require.NoError(t, err)
	e.prog, e.apiKey = p.Programme, p.APIKey
	e.rcv = newReceiver(t)
	e.hook = e.addHook(e.rcv.srv.URL, events...)
	return e
}

func (e *hookEnv) addHook(url string, events ...string) *core.CreatedWebhook {
	e.t.Helper()
	return e.addHookTo(e.prog, url, events...)
}

func (e *hookEnv) addHookTo(prog *core.Programme, url string, events ...string) *core.CreatedWebhook {
	e.t.Helper()
	h, err := e.svc.AddWebhook(e.ctx, prog.ID, core.NewWebhook{URL: url, Events: events, AllowPrivate: true})
	require.NoError(e.t, err)
	return h
}

// worker is another service over the same store (a replica) that delivers
// webhooks with sender (an HTTP sender timing out after a second when nil).
func (e *hookEnv) worker(sender core.WebhookSender, opts ...func(*core.Config)) *core.Service {
	e.t.Helper()
	return e.workerOn(e.store, sender, opts...)
}

// workerOn is a worker over store, logging to e.logs, its configuration
// changed by opts.
func (e *hookEnv) workerOn(store core.Store, sender core.WebhookSender, opts ...func(*core.Config)) *core.Service {
	e.t.Helper()
	if sender == nil {
		sender = webhook.NewSender(time.Second, "deputy-test")
	}
	cfg := core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := core.New(e.ctx, cfg, store, core.Integrations{SMS: e.sms, Email: e.mail, Webhooks: sender}, e.clock)
	require.NoError(e.t, err)
	return w
}

// drain delivers until nothing is due and returns how many attempts it made.
func drain(t testing.TB, w *core.Service) int {
	t.Helper()
	total := 0
	for {
		n, _, err := w.DeliverWebhooks(context.Background())
		require.NoError(t, err)
		if n == 0 {
			return total
		}
		total += n
	}
}

// verifier checks deliveries as an embedder would, at the wall clock's time
// (the test clock's before it is moved forward).
func (e *hookEnv) verifier() client.WebhookVerifier {
	return client.WebhookVerifier{APIKey: e.apiKey, Secrets: []string{e.hook.Secret}, Now: e.clock.Wall}
}

// deliveries lists the endpoint's deliveries, oldest first.
func (e *hookEnv) deliveries(endpointID string) []*core.WebhookDeliveryView {
	e.t.Helper()
	require.NoError(e.t, e.svc.FanOutWebhooks(e.ctx))
	ds, err := e.svc.WebhookDeliveries(e.ctx, e.prog.ID, endpointID, 0, core.MaxWebhookDeliveriesPage)
	require.NoError(e.t, err)
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	return ds
}

// requireDeliveredInOrder checks that the receiver got n requests, one per
// delivery to e's endpoint, each delivered, in the deliveries' order.
func (e *hookEnv) requireDeliveredInOrder(n int) {
	e.t.Helper()
	got := e.rcv.all()
	require.Len(e.t, got, n)
	for i, d := range e.deliveries(e.hook.Webhook.ID) {
		assert.Equal(e.t, core.DeliveryDelivered, d.State)
		assert.Equal(e.t, d.EventID, got[i].Header.Get("webhook-id"), "delivery %d in order", i)
	}
}

// receiver is an embedder's webhook endpoint on loopback: it records what
// it receives and answers with answer (204 when nil).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer atomic.Pointer[func(w http.ResponseWriter, r *http.Request)]
}

type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := make([]byte, 0, 512)
		buf := make([]byte, 512)
		for {
			n, err := req.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		if f := r.answer.Load(); f != nil {
			(*f)(w, req)
			if w.Header().Get("X-Test-Dropped") != "" {
				return
			}
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		r.mu.Lock()
		r.got = append(r.got, received{Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// respond makes the receiver answer with f; recorded only when f does not set X-Test-Dropped.
func (r *receiver) respond(f func(w http.ResponseWriter, r *http.Request)) {
	if f == nil {
		r.answer.Store(nil)
		return
	}
	r.answer.Store(&f)
}

func (r *receiver) status(code int) {
	r.respond(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Test-Dropped", "1")
		w.WriteHeader(code)
	})
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// TestWebhookDeliveredAndSigned: a sign-in reaches the endpoint as Weavr's
// LoginEvent on /login/watch, with Weavr's and Standard Webhooks' headers,
// both signatures verifying with the client's helper; a tampered body or a
// wrong key does not verify.
func TestWebhookDeliveredAndSigned(t *testing.T) {
	e := newHookEnv(t)
	u, _ := e.root(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	_, err := e.svc.Login(e.ctx, e.prog, "ada@example.com", "wrong-password")
	require.Error(t, err)

	assert.Equal(t, 2, drain(t, e.worker(nil)))
	got := e.rcv.all()
	require.Len(t, got, 2)
	for _, r := range got {
		assert.Equal(t, "/login/watch", r.Path)
		require.NoError(t, e.verifier().Verify(r.Header, r.Body))
		assert.Equal(t, r.Header.Get("call-ref"), r.Header.Get("webhook-id"))
		assert.Equal(t, r.Header.Get("call-ref"), r.Header.Get("request-ref"))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Regexp(t, `^[0-9]+$`, r.Header.Get("published-timestamp"))
		assert.NotEmpty(t, r.Header.Get("signature"), "Weavr's deprecated signature too")
	}
	assert.NotEqual(t, got[0].Header.Get("call-ref"), got[1].Header.Get("call-ref"), "call-ref unique per event")
	assert.JSONEq(t, fmt.Sprintf(`{"credential":{"type":"ROOT","id":%q},"identity":{"type":"CORPORATE","id":%q},
		"type":"PASSWORD","status":"VERIFIED","publishedTimestamp":"%d"}`, u.ID, u.IdentityID, hookT0.UnixMilli()), string(got[0].Body))
	assert.Contains(t, string(got[1].Body), `"status":"DECLINED"`)

	tampered := append([]byte(nil), got[0].Body...)
	tampered[len(tampered)-2] = '1'
	assert.ErrorIs(t, e.verifier().Verify(got[0].Header, tampered), client.ErrWebhookSignature)
	for _, v := range []client.WebhookVerifier{
		{APIKey: "dsk_wrong", Now: e.clock.Now},
		{Secrets: []string{"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, Now: e.clock.Now},
	} {
		assert.ErrorIs(t, v.Verify(got[0].Header, got[0].Body), client.ErrWebhookSignature)
	}
	late := e.verifier()
	late.Now = func() time.Time { return hookT0.Add(time.Hour) }
	assert.ErrorIs(t, late.Verify(got[0].Header, got[0].Body), client.ErrWebhookTimestamp, "a replay an hour later")

	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		assert.Equal(t, core.DeliveryDelivered, d.State)
		assert.Equal(t, 1, d.Attempts)
		assert.Equal(t, 204, d.LastStatus)
		require.Len(t, d.Log, 1)
	}
	assert.Zero(t, drain(t, e.worker(nil)), "delivered once")
}

// TestWebhookSignedAtWallClockTime: in the sandbox, after its clock has
// been moved forward, deliveries are still signed at the time they are
// sent, so that a receiver checking the timestamps against its own clock
// (client.WebhookVerifier, Standard Webhooks' libraries) accepts them.
func TestWebhookSignedAtWallClockTime(t *testing.T) {
	e := &hookEnv{coreEnv: newCoreEnv(t)}
	p, err := e.svc.CreateProgramme(e.ctx, core.NewProgramme{Name: "Hooked"})
	require.NoError(t, err)
	e.prog, e.apiKey = p.Programme, p.APIKey
	e.rcv = newReceiver(t)
	e.hook = e.addHook(e.rcv.srv.URL)
	e.clock.Advance(24 * time.Hour)
	e.root(e.prog, "ada@acme.test")
	e.login(e.prog, "ada@acme.test")
	drain(t, e.worker(nil))

	require.NotEmpty(t, e.rcv.all())
	for _, r := range e.rcv.all() {
		v := client.WebhookVerifier{APIKey: e.apiKey, Secrets: []string{e.hook.Secret}}
		assert.NoError(t, v.Verify(r.Header, r.Body), r.Path)
	}
}

// TestWebhookSecretRotation: during the overlap both secrets sign, so a
// receiver holding either verifies; after it only the new one does.
func TestWebhookSecretRotation(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	newSecret, err := e.svc.RotateWebhookSecret(e.ctx, e.prog.ID, e.hook.Webhook.ID, time.Hour)
	require.NoError(t, err)
	e.login(e.prog, "ada@example.com")
	drain(t, e.worker(nil))
	e.clock.Advance(2 * time.Hour)
	e.login(e.prog, "ada@example.com")
	drain(t, e.worker(nil))

	got := e.rcv.all()
	require.Len(t, got, 2)
	for i, secret := range []string{e.hook.Secret, newSecret} {
		v := client.WebhookVerifier{Secrets: []string{secret}, Now: e.clock.Now}
		v.Now = func() time.Time { return hookT0 }
		assert.NoError(t, v.Verify(got[0].Header, got[0].Body), "secret %d during the overlap", i)
	}
	v := client.WebhookVerifier{Secrets: []string{e.hook.Secret}, Now: e.clock.Wall} // signed at the wall clock's time
	assert.ErrorIs(t, v.Verify(got[1].Header, got[1].Body), client.ErrWebhookSignature, "old secret after the overlap")
	v.Secrets = []string{newSecret}
	assert.NoError(t, v.Verify(got[1].Header, got[1].Body))
}

// TestWebhookReceiverDownThenBack: a receiver that fails for an hour gets
// every event once, in order, when it comes back; each retry waits as the
// schedule says, and nothing after the head is attempted meanwhile.
func TestWebhookReceiverDownThenBack(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	w := e.worker(nil)
	e.rcv.status(http.StatusServiceUnavailable)
	var attempts atomic.Int32
	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) {
		attempts.Add(1)
		rw.Header().Set("X-Test-Dropped", "1")
		rw.WriteHeader(http.StatusServiceUnavailable)
	})
	for range 5 {
		e.login(e.prog, "ada@example.com")
		e.clock.Advance(time.Second)
	}
	assert.Equal(t, 1, drain(t, w), "only the head is due")
	for _, wait := range []time.Duration{4 * time.Second, 5 * time.Minute, 30 * time.Minute} {
		e.clock.Advance(wait)
		drain(t, w)
	}
	assert.EqualValues(t, 3, attempts.Load(), "attempts at 0, about 5s and about 5m; none at 35m (the next is after 30m ±10%% from 5m)")
	for range 12 { // an hour in 5-minute steps
		e.clock.Advance(5 * time.Minute)
		drain(t, w)
	}
	assert.EqualValues(t, 4, attempts.Load())
	assert.Empty(t, e.rcv.all())

	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusOK) })
	e.clock.Advance(2*time.Hour + 13*time.Minute) // past the retry after 2h ±10%
	assert.Equal(t, 5, drain(t, w))
	got := e.rcv.all()
	ds := e.deliveries(e.hook.Webhook.ID)
	require.Len(t, got, 5)
	for i, d := range ds {
		assert.Equal(t, core.DeliveryDelivered, d.State)
		assert.Equal(t, d.EventID, got[i].Header.Get("call-ref"), "delivery %d in order", i)
	}
	assert.Equal(t, 5, ds[0].Attempts)
	assert.Len(t, ds[0].Log, 5)
}

// TestWebhookChainStopsAtFailure: a round sends a user's queued events one
// after the other, in order, until one fails; that one waits for its retry
// and the ones behind it are not attempted until it is delivered.
func TestWebhookChainStopsAtFailure(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	e.root(e.prog, "ada@example.com")
	for range 5 {
		e.login(e.prog, "ada@example.com")
	}
	var calls atomic.Int32
	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 3 {
			rw.Header().Set("X-Test-Dropped", "1")
			rw.WriteHeader(http.StatusInternalServerError)
		}
	})
	w := e.worker(nil)
	n, _, err := w.DeliverWebhooks(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "two delivered and the third failed, in one round")
	ds := e.deliveries(e.hook.Webhook.ID)
	require.Len(t, ds, 5)
	for i, want := range []struct {
		state    core.WebhookDeliveryState
		attempts int
	}{{core.DeliveryDelivered, 1}, {core.DeliveryDelivered, 1}, {core.DeliveryPending, 1}, {core.DeliveryPending, 0}, {core.DeliveryPending, 0}} {
		assert.Equal(t, want.state, ds[i].State, "delivery %d", i)
		assert.Equal(t, want.attempts, ds[i].Attempts, "delivery %d", i)
		assert.Len(t, ds[i].Log, want.attempts, "delivery %d", i)
	}
	assert.Equal(t, hookT0.Add(5*time.Second).Round(time.Second), ds[2].NextAt.Round(time.Second), "retried on the schedule")
	assert.Zero(t, drain(t, w), "the rest waits behind the failed one")

	e.clock.Advance(6 * time.Second)
	n, _, err = w.DeliverWebhooks(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the failed one again, then the rest")
	e.requireDeliveredInOrder(5)
}

// TestWebhookRunDrainsBacklogAtOnce: RunWebhookDelivery goes on after a
// short rest, not at its next tick, while a round leaves deliveries due: here each
// user's next event, failed without an attempt once a 410 has disabled the
// endpoint.
func TestWebhookRunDrainsBacklogAtOnce(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	for _, email := range []string{"ada@example.com", "bob@example.com"} {
		e.root(e.prog, email)
		for range 3 {
			e.login(e.prog, email)
		}
	}
	e.rcv.status(http.StatusGone)
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.worker(nil).RunWebhookDelivery(ctx, time.Hour) }()
	t.Cleanup(func() { stop(); <-done })
	require.Eventually(t, func() bool {
		ds := e.deliveries(e.hook.Webhook.ID)
		return len(ds) == 6 && !slices.ContainsFunc(ds, func(d *core.WebhookDeliveryView) bool { return d.State != core.DeliveryFailed })
	}, 10*time.Second, 10*time.Millisecond, "every delivery failed long before the next tick")
}

// TestWebhookGivenUpAfterSchedule: a receiver that never answers 2xx is
// given up after every attempt of the schedule (about three days); then the
// next event of the user is attempted.
func TestWebhookGivenUpAfterSchedule(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	w := e.worker(nil)
	e.rcv.status(http.StatusInternalServerError)
	e.login(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	drain(t, w)
	var elapsed time.Duration
	for _, wait := range core.WebhookRetrySchedule {
		step := wait + wait/10 + time.Second
		e.clock.Advance(step)
		elapsed += step
		drain(t, w)
	}
	ds := e.deliveries(e.hook.Webhook.ID)
	assert.Equal(t, core.DeliveryFailed, ds[0].State)
	assert.Equal(t, len(core.WebhookRetrySchedule)+1, ds[0].Attempts)
	assert.Greater(t, elapsed, 72*time.Hour)
	assert.Equal(t, core.DeliveryPending, ds[1].State)
	assert.Equal(t, 1, ds[1].Attempts, "the next event goes once the first is given up")

	// Redelivering what failed since the start queues it behind the pending one.
	e.rcv.respond(nil)
	n, err := e.svc.RedeliverWebhooks(e.ctx, e.prog.ID, e.hook.Webhook.ID, core.Redeliver{Since: hookT0})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	e.clock.Advance(10 * time.Second)
	drain(t, w)
	got := e.rcv.all()
	require.Len(t, got, 2)
	assert.Equal(t, ds[1].EventID, got[0].Header.Get("webhook-id"))
	assert.Equal(t, ds[0].EventID, got[1].Header.Get("webhook-id"), "the redelivery keeps the event's id")
}

// TestWebhookRedeliverFailedInOrder: redelivering what failed since a time
// queues the failed events oldest first, however many pages of deliveries
// the search reads.
func TestWebhookRedeliverFailedInOrder(t *testing.T) {
	e := newHookEnv(t)
	for _, email := range []string{"ada@example.com", "bea@example.com", "cy@example.com"} {
		e.root(e.prog, email)
		e.login(e.prog, email)
	}
	w := e.worker(nil)
	// A refusal of each event, not a failing receiver: a 5xx would have a
	// round give back the queues it had not started yet, and they would fall
	// behind the schedule by a step now and then.
	e.rcv.status(http.StatusBadRequest)
	e.retryThroughSchedule(w)
	failed := e.failedSince(hookT0)
	require.GreaterOrEqual(t, len(failed), 3, "one queue's head per user failed")
	e.requireRedelivered(hookT0, failed)
}

// TestWebhookRedeliverFailedLongAfterQueued: a delivery that waited behind
// its user's failing head, so that it failed more than a delivery's life
// after it was queued, is still among those failed since a time (the scan
// used to stop at deliveries queued that long before).
func TestWebhookRedeliverFailedLongAfterQueued(t *testing.T) {
	e := newHookEnv(t)
	for _, email := range []string{"ada@example.com", "bea@example.com"} {
		e.root(e.prog, email)
		e.login(e.prog, email) // each user's queue: the head,
		e.login(e.prog, email) // and one behind it
	}
	w := e.worker(nil)
	e.rcv.status(http.StatusBadRequest)
	e.retryThroughSchedule(w) // the heads fail; those behind them start
	e.clock.Advance(36 * time.Hour)
	since := e.clock.Now()
	e.retryThroughSchedule(w)

	require.Greater(t, since.Sub(hookT0), 4*24*time.Hour, "since is more than a delivery's life after every event was queued")
	want := e.failedSince(since)
	require.GreaterOrEqual(t, len(want), 2, "each user's second delivery failed after since")
	e.requireRedelivered(since, want)
}

// retryThroughSchedule has w deliver what is due, then moves the clock
// through each wait of the retry schedule (its jitter at the most) and has
// w deliver again: a delivery refused every time is given up.
func (e *hookEnv) retryThroughSchedule(w *core.Service) {
	drain(e.t, w)
	for _, wait := range core.WebhookRetrySchedule {
		e.clock.Advance(wait + wait/10 + time.Second)
		drain(e.t, w)
	}
}

// failedSince returns the events whose delivery to the env's endpoint was
// given up at or after since, oldest delivery first.
func (e *hookEnv) failedSince(since time.Time) []string {
	var events []string
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		if d.State == core.DeliveryFailed && !d.DoneAt.Before(since) {
			events = append(events, d.EventID)
		}
	}
	return events
}

// requireRedelivered redelivers to the env's endpoint what failed since,
// and checks that exactly the events of want were queued again, in order.
func (e *hookEnv) requireRedelivered(since time.Time, want []string) {
	e.t.Helper()
	n, err := e.svc.RedeliverWebhooks(e.ctx, e.prog.ID, e.hook.Webhook.ID, core.Redeliver{Since: since})
	require.NoError(e.t, err)
	require.Equal(e.t, len(want), n)
	ds := e.deliveries(e.hook.Webhook.ID)
	var queued []string
	for _, d := range ds[len(ds)-n:] {
		queued = append(queued, d.EventID)
	}
	assert.Equal(e.t, want, queued, "queued again oldest first")
}

// TestWebhook410DisablesEndpoint: a 410 disables the endpoint; later events
// are not queued for it until its secret is rotated.
func TestWebhook410DisablesEndpoint(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	e.rcv.status(http.StatusGone)
	e.login(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	drain(t, e.worker(nil))
	hooks, err := e.svc.Webhooks(e.ctx, e.prog.ID)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	assert.True(t, hooks[0].Disabled)
	assert.Contains(t, hooks[0].DisabledReason, "410")
	ds := e.deliveries(e.hook.Webhook.ID)
	require.Len(t, ds, 2)
	assert.Equal(t, core.DeliveryFailed, ds[0].State)
	assert.Equal(t, core.DeliveryFailed, ds[1].State, "queued behind it: failed, not sent")
	assert.Equal(t, 0, ds[1].Attempts)

	e.login(e.prog, "ada@example.com")
	assert.Len(t, e.deliveries(e.hook.Webhook.ID), 2, "nothing queued for a disabled endpoint")
	_, err = e.svc.RotateWebhookSecret(e.ctx, e.prog.ID, e.hook.Webhook.ID, 0)
	require.NoError(t, err)
	e.login(e.prog, "ada@example.com")
	assert.Len(t, e.deliveries(e.hook.Webhook.ID), 3, "enabled again")
}

// TestWebhookRetryAfter: a 429 with Retry-After waits that long, not the
// schedule's 5 seconds.
func TestWebhookRetryAfter(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	var calls atomic.Int32
	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			rw.Header().Set("Retry-After", "120")
			rw.Header().Set("X-Test-Dropped", "1")
			rw.WriteHeader(http.StatusTooManyRequests)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})
	e.login(e.prog, "ada@example.com")
	w := e.worker(nil)
	drain(t, w)
	d := e.deliveries(e.hook.Webhook.ID)[0]
	assert.Equal(t, hookT0.Add(120*time.Second), d.NextAt)
	assert.Equal(t, 429, d.LastStatus)
	e.clock.Advance(119 * time.Second)
	assert.Zero(t, drain(t, w))
	e.clock.Advance(time.Second)
	assert.Equal(t, 1, drain(t, w))
	assert.Len(t, e.rcv.all(), 1)
}

// attemptRecorder is an Observer keeping the outcomes of webhook attempts.
type attemptRecorder struct {
	core.NopObserver
	mu  sync.Mutex
	got []core.WebhookOutcome
}

func (a *attemptRecorder) WebhookAttempt(_ context.Context, o core.WebhookOutcome, took time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, o)
}

// TestWebhookAttemptsObserved: the observer hears how each attempt went,
// once per attempt: a receiver that takes it, one gone (410), one
// throttling (429), one failing (500), one redirecting and one not
// listening.
func TestWebhookAttemptsObserved(t *testing.T) {
	e := newHookEnv(t)
	require.NoError(t, e.svc.RemoveWebhook(e.ctx, e.prog.ID, e.hook.Webhook.ID))
	answering := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if status == http.StatusFound {
				w.Header().Set("Location", "http://127.0.0.1:1/")
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for _, status := range []int{http.StatusNoContent, http.StatusGone, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusFound} {
		e.addHook(answering(status))
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	e.addHook(closed.URL)

	e.root(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com") // an event for each endpoint
	rec := &attemptRecorder{}
	drain(t, e.worker(nil, func(c *core.Config) { c.Observer = rec }))
	assert.ElementsMatch(t, []core.WebhookOutcome{core.WebhookDelivered, core.WebhookGone, core.WebhookThrottled,
		core.WebhookRefused, core.WebhookRefused, core.WebhookUnreachable}, rec.got)
}

// TestWebhookBadReceiversBlockNobody: receivers that hang, redirect, reset
// the connection or answer garbage fail their own deliveries only; a healthy
// endpoint gets its event in the same round, and the round ends when the
// slow one times out.
func TestWebhookBadReceiversBlockNobody(t *testing.T) {
	e := newHookEnv(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Store(true) }))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}))
	t.Cleanup(reset.Close)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err == nil {
			buf.WriteString("this is not HTTP\r\n\r\n")
			buf.Flush()
			conn.Close()
		}
	}))
	t.Cleanup(garbage.Close)
	bad := map[string]string{}
	for name, url := range map[string]string{"hang": hang.URL, "redirect": redirect.URL, "reset": reset.URL, "garbage": garbage.URL} {
		bad[e.addHook(url).Webhook.ID] = name
	}

	e.root(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	start := time.Now()
	// The hanging receiver costs the round this timeout; the healthy one
	// must answer within it too, which a loaded race run's pause can
	// overrun at a few hundred ms.
	const timeout = time.Second
	_, _, err := e.worker(webhook.NewSender(timeout, "deputy-test")).DeliverWebhooks(e.ctx)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Len(t, e.rcv.all(), 1, "the healthy endpoint got its event")
	assert.False(t, followed.Load(), "redirect not followed")
	for id, name := range bad {
		d := e.deliveries(id)[0]
		assert.Equal(t, core.DeliveryPending, d.State, name)
		assert.Equal(t, 1, d.Attempts, name)
		require.Len(t, d.Log, 1, name)
		assert.NotEmpty(t, d.Log[0].Error, name)
		assert.Equal(t, hookT0.Add(5*time.Second).Round(time.Second), d.NextAt.Round(time.Second), "%s: retried on the schedule", name)
	}
}

// rollbackStore, once armed, runs every Update's function and then rolls it back.
type rollbackStore struct {
	core.Store
	armed *atomic.Bool
}

var errRolledBack = errors.New("rolled back")

func (s rollbackStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	return s.Store.Update(ctx, func(tx core.Tx) error {
		if err := fn(tx); err != nil || !s.armed.Load() {
			return err
		}
		return errRolledBack
	})
}

// TestWebhookRolledBackChangeSendsNothing: the event of a sign-in whose
// transaction rolled back never enters the outbox.
func TestWebhookRolledBackChangeSendsNothing(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	var armed atomic.Bool
	failing, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.DiscardHandler)},
		rollbackStore{e.store, &armed}, core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.NoError(t, err)
	armed.Store(true)
	_, err = failing.Login(e.ctx, e.prog, "ada@example.com", testPassword)
	require.ErrorIs(t, err, errRolledBack)
	assert.Empty(t, e.deliveries(e.hook.Webhook.ID))
	assert.Zero(t, drain(t, e.worker(nil)))
	assert.Empty(t, e.rcv.all())

	e.login(e.prog, "ada@example.com") // and the same change committed does send
	assert.Equal(t, 1, drain(t, e.worker(nil)))
}

// TestWebhookLeaseExpiryResends: a worker that dies mid-delivery (here: hangs
// in Send) leaves the delivery to another once its lease ends; the event is
// sent again, with the same id, and the first worker's late outcome is
// ignored. Both leases: a direct batch's claim on its endpoint (a new
// event), and a queued delivery's own (one fanned out before).
func TestWebhookLeaseExpiryResends(t *testing.T) {
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprintf("queued=%v", queued), func(t *testing.T) {
			e := newHookEnv(t)
			e.root(e.prog, "ada@example.com")
			e.login(e.prog, "ada@example.com")
			if queued {
				require.NoError(t, e.svc.FanOutWebhooks(e.ctx))
			}
			stuck := &blockingSender{entered: make(chan struct{}), release: make(chan struct{})}
			done := make(chan error)
			go func() {
				_, _, err := e.worker(stuck).DeliverWebhooks(e.ctx)
				done <- err
			}()
			<-stuck.entered
			w := e.worker(nil)
			assert.Zero(t, drain(t, w), "leased: another worker does not take it")
			e.clock.Advance(core.WebhookLease)
			assert.Equal(t, 1, drain(t, w), "the lease ended: sent again")
			close(stuck.release)
			require.NoError(t, <-done)
			ds := e.deliveries(e.hook.Webhook.ID)
			require.Len(t, ds, 1, "one delivery, written once")
			assert.Equal(t, core.DeliveryDelivered, ds[0].State, "the dead worker's failure is not recorded over the delivery")
			if queued {
				assert.Equal(t, 2, ds[0].Attempts, "the dead worker's claim counts as an attempt")
			} else {
				assert.Equal(t, 1, ds[0].Attempts, "the dead worker wrote nothing")
			}
			require.Len(t, e.rcv.all(), 1)
			assert.Equal(t, ds[0].EventID, e.rcv.all()[0].Header.Get("webhook-id"))
		})
	}
}

// blockingSender stands for a worker killed mid-request: it never reaches
// the receiver, and answers a failure only when released.
type blockingSender struct {
	entered, release chan struct{}
	once             sync.Once
}

func (b *blockingSender) Send(context.Context, *core.WebhookRequest) core.WebhookResult {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return core.WebhookResult{Status: 500}
}

// TestWebhookParallelChangesExactlyOnceInOrder: users signing in in parallel
// while two workers (replicas) deliver: with a healthy receiver, every event
// arrives exactly once, and each user's in the order they happened.
func TestWebhookParallelChangesExactlyOnceInOrder(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	const users, logins = 6, 8
	emails := make([]string, users)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%d@example.com", i)
		e.root(e.prog, emails[i])
	}
	ctx, stop := context.WithCancel(e.ctx)
	var workers sync.WaitGroup
	for range 2 {
		w := e.worker(nil)
		workers.Go(func() {
			for ctx.Err() == nil {
				_, _, _ = w.DeliverWebhooks(ctx)
			}
		})
	}
	var wg sync.WaitGroup
	for _, email := range emails {
		wg.Go(func() {
			for range logins {
				_, err := e.svc.Login(e.ctx, e.prog, email, testPassword)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(e.rcv.all()) >= users*logins }, 20*time.Second, 10*time.Millisecond)
	stop()
	workers.Wait()
	assert.Zero(t, drain(t, e.worker(nil)))

	seqOf := map[string]uint64{}
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		seqOf[d.EventID] = d.Seq
	}
	got := e.rcv.all()
	require.Len(t, got, users*logins, "exactly once")
	last := map[string]uint64{}
	seen := map[string]bool{}
	for _, r := range got {
		id := r.Header.Get("webhook-id")
		assert.False(t, seen[id], "event %s delivered twice", id)
		seen[id] = true
		var body struct{ Credential struct{ ID string } }
		require.NoError(t, json.Unmarshal(r.Body, &body))
		user := body.Credential.ID
		assert.Greater(t, seqOf[id], last[user], "user %s's events in order", user)
		last[user] = seqOf[id]
	}
}

// TestWebhookURLChecks: malformed, non-https and private URLs are refused,
// naming the field; allowing private addresses lets loopback and http through.
func TestWebhookURLChecks(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	for _, c := range []struct{ url, reason string }{
		{"", "REQUIRED"},
		{"::not a url", "URL"},
		{"https://user:pw@hooks.example/x", "URL"},
		{"http://hooks.example/x", "HTTPS_REQUIRED"},
		{"ftp://hooks.example/x", "HTTPS_REQUIRED"},
		{"https://127.0.0.1/x", "PRIVATE_ADDRESS"},
		{"https://10.1.2.3/x", "PRIVATE_ADDRESS"},
		{"https://[::1]/x", "PRIVATE_ADDRESS"},
		{"https://169.254.169.254/latest", "PRIVATE_ADDRESS"},
		{"https://localhost:8443/x", "PRIVATE_ADDRESS"},
		{"https://hooks.example/x?token=abc", "URL_QUERY"},
		{"https://hooks.example/x?", "URL_QUERY"},
		{"https://[::127.0.0.1]/x", "PRIVATE_ADDRESS"},
		{"https://[2002:a00:1::1]/x", "PRIVATE_ADDRESS"},
		{"https://[fec0::1]/x", "PRIVATE_ADDRESS"},
		{"https://[2001:db8::1]/x", "PRIVATE_ADDRESS"},
		{"https://0.1.2.3/x", "PRIVATE_ADDRESS"},
		{"https://198.18.0.1/x", "PRIVATE_ADDRESS"},
		{"https://240.1.2.3/x", "PRIVATE_ADDRESS"},
		{"https://255.255.255.255/x", "PRIVATE_ADDRESS"},
		{"https://192.0.0.170/x", "PRIVATE_ADDRESS"},
		{"https://203.0.113.9/x", "PRIVATE_ADDRESS"},
		{"https://9.9.9.9:0/x", "URL"},
		{"https://9.9.9.9:65536/x", "URL"},
		{"https://9.9.9.9:99999/x", "URL"},
		{"https://9.9.9.9/x#", "URL"},
	} {
		_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: c.url})
		var ce *core.Error
		if assert.ErrorAs(t, err, &ce, c.url) && assert.Len(t, ce.Fields, 1, c.url) {
			assert.Equal(t, "url", ce.Fields[0].Field, c.url)
			assert.Equal(t, c.reason, ce.Fields[0].Reason, c.url)
			if c.url != "" {
				assert.NotEmpty(t, ce.Message, "%s: the reason in words", c.url)
			}
			assert.NotContains(t, ce.Error(), "token=abc", "the URL's query is not echoed")
		}
	}
	_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: "https://9.9.9.9/x", Events: []string{"nope"}})
	assert.ErrorIs(t, err, core.ErrInvalid)
	h, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: "http://127.0.0.1:8443/x", AllowPrivate: true, Events: []string{"login", "stepup"}})
	require.NoError(t, err)
	assert.Regexp(t, `^whsec_[A-Za-z0-9+/]{32}$`, h.Secret)
	assert.NotContains(t, e.logs.String(), h.Secret)
}

// TestWebhookSenderRefusesPrivateAtDial: a name that resolves to loopback is
// refused when the request is made, unless the endpoint allows it.
func TestWebhookSenderRefusesPrivateAtDial(t *testing.T) {
	rcv := newReceiver(t)
	s := webhook.NewSender(time.Second, "deputy-test")
	url := "http://localhost:" + rcv.srv.Listener.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):]
	r := s.Send(t.Context(), &core.WebhookRequest{URL: url, Body: []byte("{}")})
	require.Error(t, r.Err)
	assert.Contains(t, r.Err.Error(), "private")
	assert.Empty(t, rcv.all())
	r = s.Send(t.Context(), &core.WebhookRequest{URL: url, Body: []byte("{}"), AllowPrivate: true})
	require.NoError(t, r.Err)
	assert.Equal(t, 204, r.Status)
}

// TestWebhookStepUpExpired: an SMS or push step-up that nobody answers is
// told once as a StepupEvent EXPIRED, whether the sweep finds it or a later
// push to the same user notices it first.
func TestWebhookStepUpExpired(t *testing.T) {
	e := newHookEnv(t, core.EventStepUp)
	sms := e.biometricRoot("ada@acme.test")
	require.NoError(t, e.svc.StepUpSMS(e.ctx, sms, ""))
	var first []string
	for range 2 {
		ch, err := e.svc.StepUpPush(e.ctx, e.caller(e.prog, e.login(e.prog, "ada@acme.test")), "Create user bea@acme.test", "")
		require.NoError(t, err)
		first = append(first, ch.ID)
	}

	e.clock.Advance(10 * time.Minute)
	last, err := e.svc.StepUpPush(e.ctx, e.caller(e.prog, e.login(e.prog, "ada@acme.test")), "Create user bea@acme.test", "")
	require.NoError(t, err, "the two expired challenges no longer count as pending")
	require.NoError(t, e.svc.Sweep(e.ctx))
	require.NoError(t, e.svc.Sweep(e.ctx), "a second sweep finds nothing new")
	e.clock.Advance(10 * time.Minute)
	require.NoError(t, e.svc.Sweep(e.ctx))
	require.NoError(t, e.svc.Sweep(e.ctx))
	drain(t, e.worker(nil))

	doc, err := openapi3.NewLoader().LoadFromData(assets.OpenAPI())
	require.NoError(t, err)
	var got []string
	for _, r := range e.rcv.all() {
		require.Equal(t, "/stepup/watch", r.Path)
		require.NoError(t, e.verifier().Verify(r.Header, r.Body))
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.NoError(t, doc.Components.Schemas["WebhookStepupEvent"].Value.VisitJSON(body), "%s", r.Body)
		var ev struct{ ChallengeID, Type, Status string }
		require.NoError(t, json.Unmarshal(r.Body, &ev))
		require.Equal(t, "EXPIRED", ev.Status, "%s", r.Body)
		id := ev.ChallengeID
		if ev.Type == "SMS" {
			id = "sms"
		}
		got = append(got, ev.Type+" "+id)
	}
	assert.ElementsMatch(t, []string{"BIOMETRIC " + first[0], "BIOMETRIC " + first[1], "SMS sms", "BIOMETRIC " + last.ID}, got)
	for _, id := range append(first, last.ID) {
		ch, err := e.svc.PushStatus(e.ctx, e.caller(e.prog, e.login(e.prog, "ada@acme.test")), id)
		if err == nil {
			assert.Equal(t, core.PushExpired, ch.State)
		}
	}
}

// turnOnBiometrics turns biometrics on for e's programme.
func (e *hookEnv) turnOnBiometrics() {
	e.t.Helper()
	set := e.prog.Settings
	set.Biometrics = true
	prog, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, set)
	require.NoError(e.t, err)
	e.prog = prog
}

// biometricRoot turns biometrics on for the programme and returns the
// session of a root user enrolled for codes by SMS and with a biometric
// factor, as if they had enrolled their phone.
func (e *hookEnv) biometricRoot(email string) *core.Caller {
	e.t.Helper()
	e.turnOnBiometrics()
	c := e.enrolled(e.prog, email)
	require.NoError(e.t, e.store.Update(e.ctx, func(tx core.Tx) error {
		return tx.PutFactor(&core.Factor{UserID: c.User.ID, Channel: core.ChannelBiometric, Status: core.FactorActive,
			CredentialID: []byte("credential-" + email), CreatedAt: hookT0, UpdatedAt: hookT0})
	}))
	return c
}

// TestWebhookPushEndedUnapproved: a biometric sign-in nobody approved is
// told as a LoginEvent EXPIRED; a sign-in and a step-up still pending when
// the user changed the password as DECLINED: a Weavr client waiting on either
// learns it will not pass. A step-up its own session asked again for is not
// told (the session knows; a webhook each would let it flood the queue).
func TestWebhookPushEndedUnapproved(t *testing.T) {
	e := newHookEnv(t, core.EventLogin, core.EventStepUp)
	e.biometricRoot("ada@acme.test")
	_, err := e.svc.LoginViaBiometrics(e.ctx, e.prog, "ada@acme.test", core.IdentityRef{})
	require.NoError(t, err)
	e.clock.Advance(10 * time.Minute)
	require.NoError(t, e.svc.Sweep(e.ctx))

	ada := e.caller(e.prog, e.login(e.prog, "ada@acme.test"))

	superseded, err := e.svc.StepUpPush(e.ctx, ada, "Create user bea@acme.test", "")
	require.NoError(t, err)
	pending, err := e.svc.StepUpPush(e.ctx, ada, "Create user bea@acme.test", "")
	require.NoError(t, err)
	signIn, err := e.svc.LoginViaBiometrics(e.ctx, e.prog, "ada@acme.test", core.IdentityRef{})
	require.NoError(t, err)
	_, err = e.svc.UpdatePassword(e.ctx, ada, testPassword, "N3w-Passw0rd!")
	require.NoError(t, err)
	_, err = e.svc.CollectBiometricLogin(e.ctx, e.prog, signIn.Challenge.ID, signIn.Secret)
	require.Error(t, err, "a cancelled sign-in gives no token")
	drain(t, e.worker(nil))

	doc, err := openapi3.NewLoader().LoadFromData(assets.OpenAPI())
	require.NoError(t, err)
	var got []string
	for _, r := range e.rcv.all() {
		require.NoError(t, e.verifier().Verify(r.Header, r.Body))
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.NoError(t, doc.Components.Schemas[webhookSchemas[r.Path]].Value.VisitJSON(body), "%s", r.Body)
		if body["type"] == "PASSWORD" {
			continue // Ada's password sign-ins
		}
		ev := r.Path + " " + body["status"].(string)
		if id, ok := body["challengeId"].(string); ok {
			ev += " " + id
		}
		got = append(got, ev)
	}
	assert.Equal(t, []string{"/login/watch EXPIRED", "/stepup/watch DECLINED " + pending.ID, "/login/watch DECLINED"}, got,
		"a step-up its own session asked again for (%s) is not told: that session knows", superseded.ID)
}

// TestWebhookFanOutFailureHoldsBackOneProgramme: an audit event whose
// webhook event cannot be built (its user's identity is missing) holds back
// its own programme's events only; another programme's go out, and once the
// record is repaired the held event goes too, once.
func TestWebhookFanOutFailureHoldsBackOneProgramme(t *testing.T) {
	e := newHookEnv(t)
	other := e.programme("Other", core.ProgrammeSettings{})
	e.addHookTo(other, e.rcv.srv.URL+"/other")
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		if err := tx.InsertUser(&core.User{ID: "ghost", IdentityID: "gone", IdentityType: core.Corporate, ProgrammeID: e.prog.ID,
			Name: "Gil", Surname: "Host", Email: "ghost@acme.test", Active: true}); err != nil {
			return err
		}
		a := &core.AuditEvent{ProgrammeID: e.prog.ID, Actor: "ghost", Action: "user.update", Subject: "ghost", At: hookT0}
		if err := tx.AppendAudit(a); err != nil {
			return err
		}
		return core.AddAuditLeaf(tx, a)
	}))
	e.root(other, "bea@acme.test")
	e.login(other, "bea@acme.test")
	w := e.worker(nil)

	drain(t, w)
	paths := func() []string {
		var ps []string
		for _, r := range e.rcv.all() {
			ps = append(ps, r.Path)
		}
		return ps
	}
	assert.Equal(t, []string{"/other/login/watch"}, paths(), "the other programme's sign-in, nothing of the held one")

	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		return tx.InsertIdentity(&core.Identity{ID: "gone", ProgrammeID: e.prog.ID, Type: core.Corporate, Name: "Acme"})
	}))
	drain(t, w)
	drain(t, w)
	assert.Equal(t, []string{"/other/login/watch", "/deputy/users/updated/watch"}, paths(), "the held event, once")
}

// TestWebhookRedeliverOnlyWhatTheEndpointTakes: redelivering one event by
// its id sends it only to an endpoint that takes its type; an endpoint that
// takes step-ups only (a receiver trusted with less) is not sent another
// endpoint's sign-in by naming its event id.
func TestWebhookRedeliverOnlyWhatTheEndpointTakes(t *testing.T) {
	e := newHookEnv(t, core.EventStepUp)
	all := e.addHook(e.rcv.srv.URL)
	e.root(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	var login string
	for _, d := range e.deliveries(all.Webhook.ID) {
		if d.EventType == core.EventLogin {
			login = d.EventID
		}
	}
	require.NotEmpty(t, login)

	n, err := e.svc.RedeliverWebhooks(e.ctx, e.prog.ID, e.hook.Webhook.ID, core.Redeliver{EventID: login})
	assert.Error(t, err)
	assert.Zero(t, n)
	assert.Empty(t, e.deliveries(e.hook.Webhook.ID), "nothing queued for the step-up endpoint")

	n, err = e.svc.RedeliverWebhooks(e.ctx, e.prog.ID, all.Webhook.ID, core.Redeliver{EventID: login})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the endpoint that takes sign-ins gets it again")
}

// TestWebhookURLRefusesPrivateBehindNAT64: an IPv6 address of the NAT64
// well-known prefix (RFC 6052) is the IPv4 address it embeds, which an
// IPv6-only host behind a NAT64 gateway reaches: 64:ff9b::a00:1 is 10.0.0.1
// and 64:ff9b::a9fe:a9fe the metadata service. The local-use prefix (RFC
// 8215) is a network's own. A public IPv4 address behind NAT64 or 6to4 is
// taken.
func TestWebhookURLRefusesPrivateBehindNAT64(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	for _, u := range []string{"https://[64:ff9b::a00:1]/x", "https://[64:ff9b::7f00:1]/x", "https://[64:ff9b::a9fe:a9fe]/x",
		"https://[64:ff9b::a00:1%25eth0]/x", "https://[64:ff9b:1::a00:1]/x", "https://[64:ff9b:1:2::cb00:7109]/x"} {
		_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: u})
		var ce *core.Error
		if assert.ErrorAs(t, err, &ce, u) && assert.Len(t, ce.Fields, 1, u) {
			assert.Equal(t, "PRIVATE_ADDRESS", ce.Fields[0].Reason, u)
		}
	}
	for _, u := range []string{"https://[64:ff9b::909:909]/x", "https://[2002:909:909::1]/x", "https://9.9.9.9/x", "https://[2620:fe::fe]/x"} {
		_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: u})
		assert.NoError(t, err, "a public address (9.9.9.9 behind NAT64 or 6to4, or itself, or in IPv6)")
	}
}

// TestWebhookURLRefusesIPv6OutsideGlobalUnicast: IANA has given out only
// 2000::/3 for global unicast, so an IPv6 address outside it reaches no
// public receiver: an IPv4-translated one (RFC 2765, ::ffff:0:a.b.c.d),
// which a SIIT gateway turns into the private IPv4 address it holds, or
// another of the reserved ranges, is refused.
func TestWebhookURLRefusesIPv6OutsideGlobalUnicast(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	for _, u := range []string{"https://[::ffff:0:7f00:1]/x", "https://[::ffff:0:a9fe:a9fe]/x", "https://[400::1]/x", "https://[c000::1]/x"} {
		_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: u})
		var ce *core.Error
		if assert.ErrorAs(t, err, &ce, u) && assert.Len(t, ce.Fields, 1, u) {
			assert.Equal(t, "PRIVATE_ADDRESS", ce.Fields[0].Reason, u)
		}
	}
}

// A bulk removed before its end was fanned out (an identity keeps 100)
// still has its bulk_process_end event, as it ended, and holds up none of
// the programme's later events.
func TestBulkEndEventOfARemovedBulk(t *testing.T) {
	e := newHookEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	users := newUsers("gone", 3)
	users[2].Roles = []core.Role{"NO_SUCH_ROLE"}
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, root, users)
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, root, b.ID, core.BulkContinue))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error { return tx.DeleteBulk(b.ID) }))
	bea, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Later", Email: "later@acme.test"}})
	require.NoError(t, err)
	drain(t, e.worker(nil))

	var end map[string]any
	later := false
	for _, r := range e.rcv.all() {
		switch {
		case r.Path == "/bulk_process_end/watch":
			require.NoError(t, json.Unmarshal(r.Body, &end))
		case r.Path == "/deputy/users/created/watch" && strings.Contains(string(r.Body), `"`+bea.ID+`"`):
			later = true
		}
	}
	require.NotNil(t, end, "the bulk's end was sent")
	assert.Equal(t, b.ID, end["bulkId"])
	assert.Equal(t, string(core.BulkPartiallyCompleted), end["status"])
	assert.EqualValues(t, 3, end["submittedItemsCount"])
	assert.Equal(t, []any{map[string]any{"status": "COMPLETED", "count": 2.0}, map[string]any{"status": "FAILED", "count": 1.0}},
		end["operationStatusCounts"])
	assert.True(t, later, "a later event of the programme was sent too")
}

// TestWebhookSMSStepUpsHaveTheirOwnChallengeID: SMS step-ups settled at the
// same instant (the still clock, or two replicas' requests in one
// millisecond) each carry a challengeId of their own, the same on every
// attempt of a delivery.
func TestWebhookSMSStepUpsHaveTheirOwnChallengeID(t *testing.T) {
	e := newHookEnv(t, core.EventStepUp)
	e.steppedUpRoot(e.prog, "ada@acme.test")
	for range 3 {
		c := e.caller(e.prog, e.login(e.prog, "ada@acme.test"))
		require.NoError(t, e.svc.StepUpSMS(e.ctx, c, ""))
		require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, c, e.sms.lastCode(t)))
	}
	drain(t, e.worker(nil))

	ids := map[string]bool{}
	for _, r := range e.rcv.all() {
		var body struct{ ChallengeID, Status string }
		require.NoError(t, json.Unmarshal(r.Body, &body))
		require.Equal(t, "VERIFIED", body.Status)
		require.NotEmpty(t, body.ChallengeID)
		require.False(t, ids[body.ChallengeID], "two step-ups share an id")
		ids[body.ChallengeID] = true
	}
	assert.Len(t, ids, 3)
}

// TestWebhookURLWithoutHost: a URL whose authority has a port but no host
// is malformed, also where private addresses are allowed (a dial to ":443"
// reaches the local machine).
func TestWebhookURLWithoutHost(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	for _, allow := range []bool{false, true} {
		for _, url := range []string{"https://:8443/x", "http://:8443"} {
			_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: url, AllowPrivate: allow})
			var ce *core.Error
			if assert.ErrorAs(t, err, &ce, "%s, allow private %v", url, allow) && assert.Len(t, ce.Fields, 1) {
				assert.Equal(t, "url", ce.Fields[0].Field)
				assert.Equal(t, core.ReasonURL, ce.Fields[0].Reason, "%s, allow private %v", url, allow)
			}
		}
	}
}

// TestWebhookURLOfText: a URL holding a character TextRule refuses (a C1
// control that a terminal takes for an escape sequence, a bidi override
// that shows `list` another host than the one delivered to) is malformed,
// also where private addresses are allowed.
func TestWebhookURLOfText(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	for _, allow := range []bool{false, true} {
		for _, url := range []string{"https://9.9.9.9/\u009b2J", "https://9.9.9.9/\u202emoc.elpmaxe", "https://9.9.9.9/a\u200bb", "https://9.9.9.9/\xff"} {
			_, err := e.svc.AddWebhook(e.ctx, e.prog.ID, core.NewWebhook{URL: url, AllowPrivate: allow})
			var ce *core.Error
			if assert.ErrorAs(t, err, &ce, "%q, allow private %v", url, allow) && assert.Len(t, ce.Fields, 1) {
				assert.Equal(t, "url", ce.Fields[0].Field)
				assert.Equal(t, core.ReasonURL, ce.Fields[0].Reason, "%q, allow private %v", url, allow)
			}
		}
	}
}

// newPlanEnv returns a hookEnv with a user, a function that updates the
// user (an audit event, and a webhook event) and one that runs a fan-out
// Update with a plan (nil: derived in the Update) and returns how many audit
// events it read.
func newPlanEnv(t *testing.T) (e *hookEnv, update func(tag string), fanOut func(*core.FanOutPlan) int) {
	t.Helper()
	e = newHookEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
	require.NoError(t, err)
	update = func(tag string) {
		_, err := e.svc.UpdateUser(e.ctx, root, u.ID, core.UserPatch{Tag: &tag})
		require.NoError(t, err)
	}
	fanOut = func(plan *core.FanOutPlan) int {
		n, err := e.svc.FanOutPlanned(e.ctx, e.prog.ID, plan)
		require.NoError(t, err)
		return n
	}
	return e, update, fanOut
}

// TestWebhookFanOutPlans: a round derives its fan-out batch in a read
// transaction before its Update (core.FanOutPlan). A plan made before
// another fan-out moved the endpoint's cursor is not used, so its events
// are queued once, not again; a plan made before further changes queues its
// own batch, and those changes go with the next.
func TestWebhookFanOutPlans(t *testing.T) {
	e, update, fanOut := newPlanEnv(t)
	plan := func() *core.FanOutPlan {
		p, err := e.svc.PlanFanOut(e.ctx, e.prog.ID)
		require.NoError(t, err)
		return p
	}

	update("a")
	stale := plan()
	require.Positive(t, fanOut(nil))
	update("b")
	update("c")
	assert.Equal(t, 2, fanOut(stale), "the two changes since, not the stale plan's batch again")

	update("d")
	fresh := plan()
	update("e")
	assert.Equal(t, 1, fanOut(fresh), "the plan's batch")
	assert.Equal(t, 1, fanOut(nil), "the change made after the plan")
	assert.Zero(t, fanOut(nil))

	var updated []string
	seen := map[string]bool{}
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		require.False(t, seen[d.EventID], "event %s queued twice", d.EventID)
		seen[d.EventID] = true
		if d.EventType == core.EventUserUpdated {
			updated = append(updated, d.EventID)
		}
	}
	assert.Len(t, updated, 5, "each update once")
}

// TestWebhookFanOutPlanAheadOfAClaimedEndpoint: a plan made while the
// endpoint with the lowest cursor (A) was claimed by a worker, and so left
// out of the plan's cursor, begins past A's cursor; once the claim has run
// out (the worker died), using it would move A's cursor past events A never
// got. The Update derives the batch again instead.
func TestWebhookFanOutPlanAheadOfAClaimedEndpoint(t *testing.T) {
	e, update, fanOut := newPlanEnv(t)
	for fanOut(nil) > 0 { // everything before the test's changes
	}
	b := e.addHook(e.rcv.srv.URL)
	update("x")
	update("y")
	// A worker claims endpoint A (the direct round's lease).
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		a, err := tx.WebhookEndpoint(e.hook.Webhook.ID)
		if err != nil {
			return err
		}
		a.Sending = &core.WebhookSending{Through: a.Fanned + 2, Until: e.clock.Now().Add(time.Minute), Claim: "dead"}
		return tx.PutWebhookEndpoint(a)
	}))
	require.Positive(t, fanOut(nil)) // B only
	update("z")
	plan, err := e.svc.PlanFanOut(e.ctx, e.prog.ID) // from B's cursor
	require.NoError(t, err)
	e.clock.Advance(2 * time.Minute) // the worker died: A's lease is over
	fanOut(plan)
	for fanOut(nil) > 0 {
	}
	count := func(id string) int {
		n := 0
		for _, d := range e.deliveries(id) {
			if d.EventType == core.EventUserUpdated {
				n++
			}
		}
		return n
	}
	require.Equal(t, 3, count(b.Webhook.ID), "B")
	require.Equal(t, 3, count(e.hook.Webhook.ID), "A: x, y and z")
}

// TestWebhookFanOutPlanOfAnEventNobodyWanted: a plan encodes only the
// bodies of events an endpoint wants as it is made; an event an endpoint
// has come to want by the Update is still stored whole, its body encoded
// then.
func TestWebhookFanOutPlanOfAnEventNobodyWanted(t *testing.T) {
	e, update, fanOut := newPlanEnv(t)
	for fanOut(nil) > 0 { // everything before the test's changes
	}
	setEvents := func(events []string) {
		require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
			ep, err := tx.WebhookEndpoint(e.hook.Webhook.ID)
			if err != nil {
				return err
			}
			ep.Events = events
			return tx.PutWebhookEndpoint(ep)
		}))
	}
	setEvents([]string{core.EventLogin})
	update("x")
	plan, err := e.svc.PlanFanOut(e.ctx, e.prog.ID)
	require.NoError(t, err)
	setEvents(nil) // every event, from the next fan-out on
	require.Equal(t, 1, fanOut(plan))

	var updated []*core.WebhookDeliveryView
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		if d.EventType == core.EventUserUpdated {
			updated = append(updated, d)
		}
	}
	require.Len(t, updated, 1)
	var body struct {
		Event      string `json:"event"`
		Credential struct {
			ID string `json:"id"`
		} `json:"credential"`
	}
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		ev, err := tx.WebhookEvent(updated[0].EventID)
		if err != nil {
			return err
		}
		return json.Unmarshal(ev.Body, &body)
	}))
	assert.Equal(t, core.EventUserUpdated, body.Event)
	assert.NotEmpty(t, body.Credential.ID)
}
