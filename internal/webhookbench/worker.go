package webhookbench

import (
	"context"
	"testing"
	"time"

	"github.com/deputyhq/deputy/core"
)

// Worker delivers a service's webhooks while resumed: after a round that
// sent something it rests as long as that round took, and otherwise a
// second. RunWebhookDelivery (`deputy serve`) goes on that soon only after a
// round that left work, and otherwise waits for its tick, so this worker
// makes more and smaller rounds than a server would, each two commits on
// the store. A benchmark resumes it for its rounds with endpoints only, so
// that what it has left to send never weighs on the rounds they are
// compared with (a worker running throughout did much of each round's
// deliveries in the next round, which then paid for them too: the
// comparison hid most of their cost). It pauses between rounds, where
// RunWebhookDelivery's stop would cut requests short and make them fail.
// Its methods do nothing on a nil Worker.
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
		for {
			start := time.Now()
			n, err := w.svc.DeliverWebhooks(context.Background())
			if err != nil {
				w.tb.Error(err)
				return
			}
			rest := time.Second
			if n > 0 {
				rest = time.Since(start)
			}
			select {
			case <-stopping:
				return
			case <-time.After(rest):
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
