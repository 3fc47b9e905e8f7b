package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A View's transaction is read only, and its answers are in when fn returns:
// nobody needs to wait for its COMMIT. So View parks its connection still in
// the transaction, and the next transaction of this Store to take it sends
// the COMMIT ahead of its own first statement (tx.ahead): a round trip less
// per View (an authenticated GET makes two). A parked connection holds its
// snapshot and its tables' share locks until then, so one parked longer
// than parkFor is committed and given back to the pool, and transactions
// take the longest parked first.

// parkFor is the longest a connection stays parked.
const parkFor = 2 * time.Millisecond

// parkedConn is a connection whose View's COMMIT is still to be sent.
type parkedConn struct {
	pc *pgxpool.Conn
	at time.Time
}

// park leaves pc, in a read-only transaction, for the next transaction;
// once Close has begun, it ends the transaction and gives pc back.
func (s *Store) park(pc *pgxpool.Conn) {
	if s.closing.Load() {
		endParked(pc)
		return
	}
	select {
	case s.parked <- parkedConn{pc, time.Now()}:
		if s.sweeping.CompareAndSwap(false, true) {
			time.AfterFunc(parkFor, s.sweepParked)
		}
	default: // more parked than the pool holds: cannot happen
		endParked(pc)
	}
}

// sweepParked ends the connections parked for parkFor or longer, and comes
// back for the others.
func (s *Store) sweepParked() {
	for {
		select {
		case p := <-s.parked:
			if wait := parkFor - time.Since(p.at); wait > 0 && !s.closing.Load() {
				s.parked <- p // the youngest so far, at the back of the line
				time.AfterFunc(wait, s.sweepParked)
				return
			}
			endParked(p.pc)
		default:
			s.sweeping.Store(false)
			if len(s.parked) > 0 && s.sweeping.CompareAndSwap(false, true) {
				continue // parked meanwhile
			}
			return
		}
	}
}

// endParked commits a parked connection's transaction (which rolls back one
// a failed statement aborted) and gives the connection back to the pool; one
// that cannot is closed.
func endParked(pc *pgxpool.Conn) {
	if _, err := pc.Exec(context.Background(), "COMMIT"); err != nil {
		_ = pc.Hijack().Close(context.Background())
		return
	}
	pc.Release()
}

// acquire takes a connection for a transaction: the longest parked, whose
// COMMIT the transaction sends first (parked is true), or one from the pool,
// whichever comes first: a transaction that waited for the pool alone could
// wait as long as the parked ones go from View to View.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	select {
	case p := <-s.parked:
		return p.pc, true, nil
	default:
	}
	type acquired struct {
		pc  *pgxpool.Conn
		err error
	}
	// Bounded (Options.AcquireWait): past it, unreachable below makes the
	// deadline core.ErrUnreachable, ctx being still alive.
	actx, cancel := context.WithTimeoutCause(ctx, s.acquireWait, errPoolBusy)
	defer cancel()
	got := make(chan acquired, 1)
	go func() {
		pc, err := s.pool.Acquire(actx)
		got <- acquired{pc, err}
	}()
	select {
	case p := <-s.parked:
		cancel()
		go func() {
			if a := <-got; a.err == nil {
				a.pc.Release()
			}
		}()
		return p.pc, true, nil
	case a := <-got:
		if a.err != nil {
			if ctx.Err() == nil && context.Cause(actx) == errPoolBusy {
				a.err = fmt.Errorf("%w (%v): %w", errPoolBusy, s.acquireWait, a.err)
			}
			return nil, false, unreachable(ctx, storeError(a.err))
		}
		return a.pc, false, nil
	}
}

// errPoolBusy is why a wait for a pooled connection ended early.
var errPoolBusy = errors.New("no pooled connection came free in time")

// acquireEnded takes a connection outside any transaction: what takes one
// for anything else than a transaction takes it here, never from the pool
// directly, which could keep it waiting as acquire says.
func (s *Store) acquireEnded(ctx context.Context) (*pgxpool.Conn, error) {
	pc, parked, err := s.acquire(ctx)
	if err != nil || !parked {
		return pc, err
	}
	if _, err := pc.Exec(ctx, "COMMIT"); err != nil {
		_ = pc.Hijack().Close(context.WithoutCancel(ctx))
		return nil, unreachable(ctx, storeError(err))
	}
	return pc, nil
}

// closeParked ends every parked connection, for Close.
func (s *Store) closeParked() {
	s.closing.Store(true)
	for {
		select {
		case p := <-s.parked:
			endParked(p.pc)
		default:
			return
		}
	}
}
