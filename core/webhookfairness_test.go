package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/webhook"
)

// createUsers has a stepped-up root of e's programme create n users, each
// one event (user created) about a user of its own, so n queues per endpoint.
func createUsers(t *testing.T, e *hookEnv, n int) {
	t.Helper()
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	for i := range n {
		_, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith",
			Email: fmt.Sprintf("bea%d@acme.test", i)}})
		require.NoError(t, err)
	}
}

// TestWebhookHangingEndpointHoldsBackNoOther: an endpoint whose receiver
// hangs, with more users' events queued than a round claims, takes at most
// its share of a round's senders, and no more while those hang; the other
// endpoint of the programme gets every one of the same events meanwhile,
// from the same worker.
func TestWebhookHangingEndpointHoldsBackNoOther(t *testing.T) {
	e := newHookEnv(t)
	var inFlight, most, total atomic.Int64
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	hanging := e.addHook(hang.URL)
	const users = 260 // more than a round claims
	createUsers(t, e, users)
	require.NoError(t, e.svc.FanOutWebhooks(e.ctx)) // queued, not sent direct by the round

	ctx, stop := context.WithCancel(e.ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.worker(webhook.NewSender(time.Minute, "deputy-test")).RunWebhookDelivery(ctx, 50*time.Millisecond)
	}()
	defer func() { stop(); <-stopped }()

	require.Eventually(t, func() bool {
		healthy := 0
		for _, d := range e.deliveries(e.hook.Webhook.ID) {
			if d.State == core.DeliveryDelivered {
				healthy++
			}
		}
		return healthy >= users
	}, 30*time.Second, 50*time.Millisecond, "the healthy endpoint gets every event while the other hangs")
	assert.Len(t, e.deliveries(hanging.Webhook.ID), len(e.deliveries(e.hook.Webhook.ID)), "both endpoints take every event")
	assert.EqualValues(t, core.WebhookEndpointSenders, most.Load(), "the hanging receiver had its share of senders at once")
	assert.Equal(t, most.Load(), total.Load(), "and no more requests while those hang")
}

// TestWebhookFailingEndpointNotHammered: once a round's chain finds an
// endpoint's receiver failing (here a 503), the round sends that endpoint
// nothing more; the queues it claimed and did not send are due again after
// the schedule's first wait, no attempt counted, and every attempt the
// receiver saw is in a delivery's log. A receiver refusing single events
// (a 400) is not failing: every queue is attempted.
func TestWebhookFailingEndpointNotHammered(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusBadRequest} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e := newHookEnv(t)
			var seen atomic.Int64
			e.rcv.respond(func(w http.ResponseWriter, _ *http.Request) {
				seen.Add(1)
				w.Header().Set("X-Test-Dropped", "1")
				w.WriteHeader(status)
			})
			const users = 60
			createUsers(t, e, users)
			_, _, err := e.worker(nil).DeliverWebhooks(e.ctx)
			require.NoError(t, err)

			attempted, givenBack := 0, 0
			for _, d := range e.deliveries(e.hook.Webhook.ID) {
				require.Equal(t, core.DeliveryPending, d.State)
				assert.InDelta(t, 5*time.Second, d.NextAt.Sub(hookT0), float64(time.Second), "the schedule's first wait")
				switch d.Attempts {
				case 1:
					attempted++
					require.Len(t, d.Log, 1)
					assert.Equal(t, status, d.Log[0].Status)
				case 0:
					givenBack++
					assert.Empty(t, d.Log)
				default:
					t.Fatalf("delivery %d: %d attempts in one round", d.Seq, d.Attempts)
				}
			}
			assert.EqualValues(t, seen.Load(), attempted, "every request the receiver saw is logged")
			if status == http.StatusBadRequest {
				assert.Zero(t, givenBack, "every queue attempted")
				return
			}
			assert.GreaterOrEqual(t, attempted, 1)
			assert.LessOrEqual(t, attempted, core.WebhookEndpointSenders, "no chain starts after one found the receiver failing")
			assert.Greater(t, givenBack, users-core.WebhookEndpointSenders-1)
		})
	}
}

// TestWebhookUnsignableChainGivenBack: a chain that cannot be signed (here
// its endpoint's secret no longer opens) is not sent and its claim is given
// back, round after round, without counting attempts, noting since when it
// cannot be signed (logged once per queue), while that is shorter than the
// delivery life; the other endpoint's chains go.
func TestWebhookUnsignableChainGivenBack(t *testing.T) {
	e := newHookEnv(t)
	other := newReceiver(t)
	broken := e.addHook(other.srv.URL)
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		ep, err := tx.WebhookEndpoint(broken.Webhook.ID)
		if err != nil {
			return err
		}
		ep.Secrets[0].Sealed = []byte("no longer opens")
		return tx.PutWebhookEndpoint(ep)
	}))
	createUsers(t, e, 3)
	w := e.worker(nil)
	for range len(core.WebhookRetrySchedule) + 2 {
		_, _, err := w.DeliverWebhooks(e.ctx)
		require.NoError(t, err)
		e.clock.Advance(time.Minute)
	}
	assert.Empty(t, other.all(), "nothing unsigned is sent")
	ds := e.deliveries(broken.Webhook.ID)
	require.NotEmpty(t, ds)
	heads := 0
	for _, d := range ds {
		assert.Equal(t, core.DeliveryPending, d.State, "not given up")
		assert.Zero(t, d.Attempts)
		assert.Empty(t, d.Log)
		if !d.NextAt.IsZero() {
			heads++
			assert.Equal(t, hookT0, d.UnsignableSince, "found unsignable in the first round")
		}
	}
	assert.Equal(t, heads, strings.Count(e.logs.String(), `"msg":"webhook delivery cannot be signed"`), "once per queue")
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		assert.Equal(t, core.DeliveryDelivered, d.State)
	}
}

// TestWebhookUnsignableDeliveryGivenUp: a chain ends before its first
// delivery that cannot be signed (here its event is gone), the ones before
// it sent. Once the head, that one is given back until it has been
// unsignable for the delivery life, then given up: failed, why in its log,
// logged once; and the next delivery of the user goes.
func TestWebhookUnsignableDeliveryGivenUp(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	e.root(e.prog, "ada@example.com")
	for range 3 {
		e.login(e.prog, "ada@example.com")
	}
	views := e.deliveries(e.hook.Webhook.ID)
	require.Len(t, views, 3)
	// Read from the store: operators' listing needs every event.
	deliveries := func() (ds []*core.WebhookDelivery) {
		t.Helper()
		require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
			for _, v := range views {
				d, err := tx.WebhookDelivery(v.Seq)
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			return nil
		}))
		return ds
	}
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		d, err := tx.WebhookDelivery(views[1].Seq)
		if err != nil {
			return err
		}
		d.EventID = "evt_gone"
		return tx.UpdateWebhookDelivery(d)
	}))
	w := e.worker(nil)
	assert.Equal(t, 1, drain(t, w), "the first goes; the chain ends before the second")
	for range int(core.WebhookDeliveryLife/time.Hour) - 1 {
		e.clock.Advance(time.Hour)
		assert.Zero(t, drain(t, w))
	}
	ds := deliveries()
	assert.Equal(t, core.DeliveryPending, ds[1].State, "not given up within the delivery life")
	assert.Equal(t, hookT0, ds[1].UnsignableSince)
	assert.Equal(t, core.DeliveryPending, ds[2].State)

	e.clock.Advance(time.Hour)
	drain(t, w)
	assert.Equal(t, 1, drain(t, w), "the next delivery goes")
	ds = deliveries()
	assert.Equal(t, core.DeliveryFailed, ds[1].State)
	assert.Zero(t, ds[1].Attempts, "never sent")
	require.Len(t, ds[1].Log, 1)
	assert.Contains(t, ds[1].Log[0].Error, "cannot be signed")
	assert.Equal(t, core.DeliveryDelivered, ds[2].State)
	got := e.rcv.all()
	require.Len(t, got, 2)
	assert.Equal(t, ds[2].EventID, got[1].Header.Get("webhook-id"))
	assert.Equal(t, 1, strings.Count(e.logs.String(), `"msg":"webhook delivery given up"`))
	assert.Equal(t, 1, strings.Count(e.logs.String(), `"msg":"webhook delivery cannot be signed"`))
}

// eventlessStore is a store whose Views fail to read webhook events, as
// one whose connection breaks would.
type eventlessStore struct{ core.Store }

type eventlessTx struct{ core.ReadTx }

var errStoreDown = errors.New("store down")

func (s eventlessStore) View(ctx context.Context, fn func(core.ReadTx) error) error {
	return s.Store.View(ctx, func(tx core.ReadTx) error { return fn(eventlessTx{tx}) })
}

func (eventlessTx) WebhookEvent(string) (*core.WebhookEvent, error) { return nil, errStoreDown }

// TestWebhookSigningStoreErrorEndsRound: a store error while signing ends
// the round with it, once, rather than a log line per chain; every claim is
// given back, no attempt counted, and no delivery taken for unsignable.
func TestWebhookSigningStoreErrorEndsRound(t *testing.T) {
	e := newHookEnv(t)
	createUsers(t, e, 3)
	require.NoError(t, e.svc.FanOutWebhooks(e.ctx)) // queued: a round reads their events to sign them
	_, _, err := e.workerOn(eventlessStore{e.store}, nil).DeliverWebhooks(e.ctx)
	require.ErrorIs(t, err, errStoreDown)
	assert.NotContains(t, e.logs.String(), "webhook", "nothing logged per chain")
	assert.Empty(t, e.rcv.all())
	ds := e.deliveries(e.hook.Webhook.ID)
	require.NotEmpty(t, ds)
	for _, d := range ds {
		assert.Equal(t, core.DeliveryPending, d.State)
		assert.Zero(t, d.Attempts)
		assert.Zero(t, d.UnsignableSince)
	}
}

// TestWebhookBusyEndpointTakesNoPlace: while a chain to an endpoint is in
// flight, a round claims none of its queues, and they take no other
// endpoint's place in the batch: every due queue of the other endpoint is
// claimed, beyond its fair share.
func TestWebhookBusyEndpointTakesNoPlace(t *testing.T) {
	e := newHookEnv(t)
	other := e.addHook(newReceiver(t).srv.URL)
	createUsers(t, e, 150)
	queues := map[string]bool{}
	for _, d := range e.deliveries(other.Webhook.ID) {
		queues[d.Subject] = true
	}
	claimed, err := e.worker(nil).ClaimWebhooksWhileBusy(e.ctx, e.hook.Webhook.ID)
	require.NoError(t, err)
	assert.NotContains(t, claimed, e.hook.Webhook.ID)
	assert.Equal(t, len(queues), len(claimed), "every due queue of the other endpoint")
}
