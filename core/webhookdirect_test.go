package core_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestWebhookDeliveryWrittenOnce: a round sends new events before it
// writes their deliveries, and writes each delivery once, as it ended:
// delivered ones are never queued, claimed and then updated.
func TestWebhookDeliveryWrittenOnce(t *testing.T) {
	e := newHookEnv(t)
	e.addHook(e.rcv.srv.URL + "/second")
	createUsers(t, e, 5)
	store := &countingStore{Store: e.store}
	assert.Equal(t, 12, drain(t, e.workerOn(store, nil)), "the root's factor and five users created, to two endpoints")
	assert.EqualValues(t, 12, store.writes.Load(), "one write of each delivery")
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		assert.Equal(t, core.DeliveryDelivered, d.State)
		assert.Equal(t, 1, d.Attempts)
		assert.Len(t, d.Log, 1)
	}
	assert.Nil(t, e.endpoint(e.hook.Webhook.ID).Sending, "the claim ends with the round")
}

// TestWebhookNewEventsWaitBehindAFailedOne: events of a user whose last
// delivery failed are queued behind it, not sent, and go in their order
// once it is delivered; a round that had nothing to send leaves no claim
// on the endpoint behind it.
func TestWebhookNewEventsWaitBehindAFailedOne(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	e.root(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	var calls atomic.Int32
	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			rw.Header().Set("X-Test-Dropped", "1")
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	w := e.worker(nil)
	assert.Equal(t, 1, drain(t, w), "the first login fails")
	e.login(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	assert.Zero(t, drain(t, w), "the next two wait behind it")
	assert.Nil(t, e.endpoint(e.hook.Webhook.ID).Sending, "no claim left behind")
	ds := e.deliveries(e.hook.Webhook.ID)
	require.Len(t, ds, 3, "both queued")
	assert.Equal(t, core.DeliveryPending, ds[1].State)
	assert.Zero(t, ds[1].Attempts)

	e.clock.Advance(6 * time.Second)
	assert.Equal(t, 3, drain(t, w), "the failed one again, then the two behind it")
	e.requireDeliveredInOrder(3)
}

// TestWebhookRemovedEndpointMidRound: an endpoint removed while a round
// sends to it gets no deliveries written, and the round ends cleanly.
func TestWebhookRemovedEndpointMidRound(t *testing.T) {
	e := newHookEnv(t)
	e.root(e.prog, "ada@example.com")
	e.login(e.prog, "ada@example.com")
	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) {
		assert.NoError(t, e.svc.RemoveWebhook(context.WithoutCancel(e.ctx), e.prog.ID, e.hook.Webhook.ID))
		rw.WriteHeader(http.StatusNoContent)
	})
	assert.Equal(t, 1, drain(t, e.worker(nil)))
	ds, err := e.svc.WebhookDeliveries(e.ctx, e.prog.ID, e.hook.Webhook.ID, 0, 10)
	assert.Empty(t, ds)
	assert.ErrorIs(t, err, core.ErrNotFound)
}

func (e *hookEnv) endpoint(id string) *core.WebhookEndpoint {
	e.t.Helper()
	var ep *core.WebhookEndpoint
	require.NoError(e.t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		ep, err = tx.WebhookEndpoint(id)
		return err
	}))
	return ep
}

// TestWebhookBacklogGoesDirectOnceCaughtUp: a user's queued events (a
// backlog) are sent in a round that holds the whole queue, and the events
// that happened since are sent right after them in the same round, in
// order, instead of being queued behind them for the next.
func TestWebhookBacklogGoesDirectOnceCaughtUp(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	e.root(e.prog, "ada@example.com")
	for range 3 {
		e.login(e.prog, "ada@example.com")
	}
	require.NoError(t, e.svc.FanOutWebhooks(e.ctx)) // the backlog: three queued
	for range 2 {
		e.login(e.prog, "ada@example.com")
	}
	store := &countingStore{Store: e.store}
	n, _, err := e.workerOn(store, nil).DeliverWebhooks(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, n, "the backlog and the two since, in one round")
	assert.EqualValues(t, 3+1+2, store.writes.Load(), "the backlog recorded (and its head claimed); the two since written once")
	e.requireDeliveredInOrder(5)
	assert.Nil(t, e.endpoint(e.hook.Webhook.ID).Sending)
}
