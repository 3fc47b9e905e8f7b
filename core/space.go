package core

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// UnavailableRetry is how long callers are told to wait (Retry-After) while the
// store is out of space, and how often a readiness check tries a write then.
const UnavailableRetry = 10 * time.Second

// metaReadyProbe is the meta key readiness checks write while the store is full.
const metaReadyProbe = "ready_probe"

// spaceWatch is the Service's view of its store: an Update that fails for want
// of space (ErrNoSpace) becomes ErrUnavailable and marks the store full until
// an Update succeeds again. Readiness is this replica's own state, so it is
// kept in the process, unlike every security decision.
type spaceWatch struct {
	Store
	clock  Clock
	full   atomic.Bool
	probed atomic.Int64 // unix nanoseconds of the last write tried by ready
}

var _ Store = (*spaceWatch)(nil)

// Update runs fn in the store, noting whether the store could write.
func (w *spaceWatch) Update(ctx context.Context, fn func(Tx) error) error {
	err := w.Store.Update(ctx, fn)
	switch {
	case err == nil:
		w.full.Store(false)
	case errors.Is(err, ErrNoSpace):
		w.full.Store(true)
		return fmt.Errorf("%w: %w", errOutOfSpace(), err)
	}
	return err
}

// ready reports ErrUnavailable while the store is full. Once per UnavailableRetry
// it tries one small write, whose success ends the state: so a replica the
// load balancer took out of rotation comes back by itself, and probing
// /readyz cannot make the server write more often than that.
func (w *spaceWatch) ready(ctx context.Context) error {
	if !w.full.Load() {
		return nil
	}
	now := w.clock.Now()
	last := w.probed.Load()
	if now.Sub(time.Unix(0, last)) < UnavailableRetry || !w.probed.CompareAndSwap(last, now.UnixNano()) {
		return errOutOfSpace()
	}
	return w.Update(ctx, func(tx Tx) error {
		return tx.PutMeta(metaReadyProbe, []byte(now.UTC().Format(time.RFC3339Nano)))
	})
}

// errOutOfSpace is the error callers see while the store is full.
func errOutOfSpace() *Error {
	return &Error{Class: ErrUnavailable, Message: "The service cannot store changes at the moment; retry later.", RetryAfter: UnavailableRetry}
}
