package webhookbench

import (
	"context"
	"testing"
	"time"

	"github.com/deputyhq/deputy/core"
)

// Worker delivers a service's webhooks while resumed, pacing its rounds as
// RunWebhookDelivery (`deputy serve`) does with its core.WebhookTick: a
// round at once, the next after a rest as long as that round took while
// one leaves work, and otherwise on the next tick. A benchmark resumes it
// for its rounds with endpoints only, so that what it has left to send
// never weighs on the rounds they are compared with (a worker running
// throughout did much of each round's deliveries in the next round, which
// then paid for them too: the comparison hid most of their cost). It pauses
// between rounds, where RunWebhookDelivery's stop would cut requests short
// and make them fail. Its methods do nothing on a nil Worker.
type Worker struct {
	tb   testing.TB
	svc  *core.Service
	stop func()
}

// NewWorker returns a paused worker over svc, paused again when tb ends.
func NewWorker(tb testing.TB, svc *core.Service) *Worker {
	w := &Worker{tb: tb, svc: svc}
	tb.Cleanup(w.Pause)
	return w
}

// Resume starts the worker's rounds.
func (w *Worker) Resume() {
	if w == nil {
		return
	}
	stopping, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(core.WebhookTick)
		defer tick.Stop()
		for {
			start := time.Now()
			_, more, err := w.svc.DeliverWebhooks(context.Background())
			if err != nil {
				w.tb.Error(err)
				return
			}
			wait := tick.C
			if more {
				wait = time.After(time.Since(start))
			}
			select {
			case <-stopping:
				return
			case <-wait:
			}
		}
	}()
	w.stop = func() { close(stopping); <-done }
}

// Pause stops the worker once its round has ended.
func (w *Worker) Pause() {
	if w != nil && w.stop != nil {
		w.stop()
		w.stop = nil
	}
}
