package core_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestWebhookRedeliveryDuringAdoptedRoundIsSent: a redelivery queued while
// a round sends a user's whole queue and the events since (adopt) is queued
// behind the queue's head, not due; once the round has delivered them all,
// it must become due and be sent, not stay pending forever.
func TestWebhookRedeliveryDuringAdoptedRoundIsSent(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	e.root(e.prog, "ada@example.com")
	for range 2 {
		e.login(e.prog, "ada@example.com")
	}
	first := e.deliveries(e.hook.Webhook.ID)[0].EventID // the backlog: two queued
	e.login(e.prog, "ada@example.com")                  // and one since: adopted
	var once atomic.Bool
	e.rcv.respond(func(rw http.ResponseWriter, _ *http.Request) {
		if once.CompareAndSwap(false, true) {
			n, err := e.svc.RedeliverWebhooks(context.WithoutCancel(e.ctx), e.prog.ID, e.hook.Webhook.ID, core.Redeliver{EventID: first})
			assert.NoError(t, err)
			assert.Equal(t, 1, n)
		}
		rw.WriteHeader(http.StatusNoContent)
	})
	w := e.worker(nil)
	n, _, err := w.DeliverWebhooks(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n, "the backlog and the one since, in one round")
	e.clock.Advance(time.Hour)
	drain(t, w)
	got := e.rcv.all()
	assert.Len(t, got, 4, "the redelivery is sent")
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		assert.Equal(t, core.DeliveryDelivered, d.State, "delivery %d (%s) next at %v", d.Seq, d.EventID, d.NextAt)
	}
}

// okAfterRelease answers 204 to every request, the first only once released.
type okAfterRelease struct {
	entered, release chan struct{}
	once             sync.Once
	sent             atomic.Int32
}

func (s *okAfterRelease) Send(context.Context, *core.WebhookRequest) core.WebhookResult {
	s.once.Do(func() { close(s.entered); <-s.release })
	s.sent.Add(1)
	return core.WebhookResult{Status: http.StatusNoContent}
}

// TestWebhookSlowAdoptedRoundLeavesNothingStuck: a worker sends a user's
// whole queue and the event since (adopt) but is slower than the lease; a
// fan-out after the lease queues that event again behind the queue's head.
// The slow worker's outcome for the stored queue still counts (nobody
// claimed it since), its direct batch does not; the event queued again
// must then become due, not stay pending forever.
func TestWebhookSlowAdoptedRoundLeavesNothingStuck(t *testing.T) {
	e := newHookEnv(t, core.EventLogin)
	e.root(e.prog, "ada@example.com")
	for range 2 {
		e.login(e.prog, "ada@example.com")
	}
	require.NoError(t, e.svc.FanOutWebhooks(e.ctx)) // the backlog: two queued
	e.login(e.prog, "ada@example.com")              // and one since: adopted
	slow := &okAfterRelease{entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, _, err := e.worker(slow).DeliverWebhooks(e.ctx)
		done <- err
	}()
	<-slow.entered
	e.clock.Advance(core.WebhookLease + time.Second)
	require.NoError(t, e.svc.FanOutWebhooks(e.ctx)) // e.g. an operator listing deliveries
	close(slow.release)
	require.NoError(t, <-done)
	require.EqualValues(t, 3, slow.sent.Load())

	e.clock.Advance(time.Hour)
	drain(t, e.worker(nil))
	for _, d := range e.deliveries(e.hook.Webhook.ID) {
		assert.Equal(t, core.DeliveryDelivered, d.State, "delivery %d (%s) next at %v", d.Seq, d.EventID, d.NextAt)
	}
}
