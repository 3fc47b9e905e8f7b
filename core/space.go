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

// metaSpaceProbe is the meta key readiness checks write while the store is
// full; spaceProbeBytes is how much they write: a store that can take this
// much again has room for a while, where one tiny write could succeed on the
// last free page.
const (
	metaSpaceProbe  = "space_probe"
	spaceProbeBytes = 1 << 20
)

// spaceWatch is the Service's view of its store: an Update that fails for want
// of space (ErrNoSpace) becomes ErrUnavailable and marks the store full, until
// a readiness check finds room again (ready). Readiness is this replica's own
// state, so it is kept in the process, unlike every security decision.
type spaceWatch struct {
	Store
	clock  Clock
	full   atomic.Bool
	probed atomic.Int64 // unix nanoseconds of the last write tried by ready
}

var _ Store = (*spaceWatch)(nil)

// Update runs fn in the store, noting when the store has no space left, and
// telling the idempotent call of ctx, if any, whether the store reported the
// commit (an answer it recorded is then known to be stored).
func (w *spaceWatch) Update(ctx context.Context, fn func(Tx) error) error {
	call, _ := ctx.Value(idempotentCallKey{}).(*IdempotentCall)
	before := 0
	if call != nil {
		before = call.recorded()
	}
	err := w.Store.Update(ctx, fn)
	if call != nil {
		call.settle(before, err == nil)
	}
	switch {
	case errors.Is(err, ErrNoSpace):
		w.full.Store(true)
		return fmt.Errorf("%w: %w", errOutOfSpace(), err)
	case errors.Is(err, ErrUnreachable):
		return fmt.Errorf("%w: %w", errUnreachable(), err)
	}
	return err
}

// View runs fn in the store; an unreachable store is ErrUnavailable.
func (w *spaceWatch) View(ctx context.Context, fn func(ReadTx) error) error {
	err := w.Store.View(ctx, fn)
	if errors.Is(err, ErrUnreachable) {
		return fmt.Errorf("%w: %w", errUnreachable(), err)
	}
	return err
}

// ready reports ErrUnavailable while the store is full. Once per
// UnavailableRetry it writes spaceProbeBytes and frees them again; when that
// succeeds the store is no longer full. So a replica the load balancer took out
// of rotation comes back by itself, small writes that happen to fit do not
// make it flap, and probing /readyz cannot make it write more often than that.
func (w *spaceWatch) ready(ctx context.Context) error {
	if !w.full.Load() {
		return nil
	}
	now := w.clock.Now()
	last := w.probed.Load()
	if now.Sub(time.Unix(0, last)) < UnavailableRetry || !w.probed.CompareAndSwap(last, now.UnixNano()) {
		return errOutOfSpace()
	}
	probe := func(v []byte) error {
		return w.Update(ctx, func(tx Tx) error { return tx.PutMeta(metaSpaceProbe, v) })
	}
	if err := probe(make([]byte, spaceProbeBytes)); err != nil {
		return err
	}
	if err := probe([]byte{}); err != nil {
		return err
	}
	w.full.Store(false)
	return nil
}

// errOutOfSpace is the error callers see while the store is full.
func errUnreachable() *Error {
	return &Error{Class: ErrUnavailable, Message: "The service cannot reach its database at the moment; retry later (with the same idempotency-ref).", RetryAfter: UnavailableRetry}
}

func errOutOfSpace() *Error {
	return &Error{Class: ErrUnavailable, Message: "The service cannot store changes at the moment; retry later.", RetryAfter: UnavailableRetry}
}
