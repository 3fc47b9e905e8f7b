package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deputyhq/deputy/core"
)

// leaderClass is the first key of Deputy's advisory locks for background
// work ("DEPU"), apart from the migration lock.
const leaderClass = 0x44455055

// lockTimeout bounds a lock's, unlock's or check's statement: the lock
// connection is shared by every Lead of the replica, and one statement stuck
// on it would hold up the others.
const lockTimeout = 10 * time.Second

// lockCheck is how often the lock connection is checked: a connection that
// ended (a restart, a failover, pg_terminate_backend) ended its locks, and
// nothing else would tell the work holding them until its Lead ends. The
// check also keeps the connection from idling, so a server's
// idle_session_timeout (of more than lockCheck) does not end it.
const lockCheck = 3 * time.Second

// errLockLost is the cause with which the context of work whose lock ended
// is cancelled.
var errLockLost = errors.New("the advisory lock of the work ended with its connection")

var _ core.Leader = (*Store)(nil)

// leaderLocks is the connection, of the store's own and outside the pool, on
// which a replica holds the session advisory locks of its background work.
// Held on a pooled connection, each lock took one the work's own
// transactions needed: with a small pool, the jobs running at once held
// every connection and waited forever for another.
//
// held is the work running in this replica under its lock, by key, with
// the cancel of its context: a session may take its own lock again, so a
// second Lead of a name in this replica must skip on held, not on
// PostgreSQL's answer. held outlives the connection: work whose lock ended
// with its connection (drop) is cancelled, and stays held until its Lead
// returns, so this replica never runs it twice at once.
type leaderLocks struct {
	mu     sync.Mutex
	conn   *pgx.Conn     // nil before the first lock and after conn broke
	stop   chan struct{} // closed when conn is dropped: ends its checks
	held   map[int32]heldLock
	closed bool // Close has run: no new connection
}

// heldLock is a Lead running in this replica: the connection it locked on
// and the cancel of its work's context.
type heldLock struct {
	conn   *pgx.Conn
	cancel context.CancelCauseFunc
}

// Lead implements core.Leader with a session advisory lock, held on the
// store's lock connection while fn runs: another replica's Lead of the same
// name, or this one's, does not wait, it skips. Should the lock end before fn
// does (its connection ended), fn's context is cancelled with errLockLost
// within about lockCheck, and Lead returns fn's error with it: another
// replica may have started the work meanwhile, so work must be safe to
// overlap for that moment (each of Deputy's is transactions that re-read
// what they do).
func (s *Store) Lead(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	h := fnv.New32a()
	h.Write([]byte(name))
	key := int32(h.Sum32())
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conn, got, err := s.locks.take(ctx, s, key, cancel)
	if err != nil || !got {
		return false, err
	}
	defer s.locks.release(ctx, conn, key)
	err = fn(fctx)
	if err != nil && errors.Is(context.Cause(fctx), errLockLost) {
		err = fmt.Errorf("%w: %w", errLockLost, err)
	}
	return true, err
}

// take locks key on the lock connection, opening it first when there is
// none, and returns the connection it locked on.
func (l *leaderLocks) take(ctx context.Context, s *Store, key int32, cancel context.CancelCauseFunc) (*pgx.Conn, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, false, errors.New("pgstore: Lead after Close")
	}
	if _, ok := l.held[key]; ok {
		return nil, false, nil
	}
	if l.conn != nil && l.conn.IsClosed() {
		l.drop()
	}
	if l.conn == nil {
		pooled, err := s.acquireEnded(ctx)
		if err != nil {
			return nil, false, err
		}
		l.conn, l.stop = pooled.Hijack(), make(chan struct{})
		go l.check(l.conn, l.stop)
	}
	// Not ctx: a statement cancelled midway closes the connection, and with
	// it the locks other Leads hold on it.
	stmtCtx, cancelStmt := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancelStmt()
	var got bool
	if err := l.conn.QueryRow(stmtCtx, `SELECT pg_try_advisory_lock($1, $2)`, int32(leaderClass), key).Scan(&got); err != nil {
		l.drop()
		return nil, false, unreachable(ctx, err)
	}
	if got {
		if l.held == nil {
			l.held = map[int32]heldLock{}
		}
		l.held[key] = heldLock{l.conn, cancel}
	}
	return l.conn, got, nil
}

// release forgets key and unlocks it on conn, unless conn ended meanwhile:
// its locks ended with it. A connection that cannot unlock is dropped.
func (l *leaderLocks) release(ctx context.Context, conn *pgx.Conn, key int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, key)
	if l.conn != conn {
		return
	}
	stmtCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	if _, err := conn.Exec(stmtCtx, `SELECT pg_advisory_unlock($1, $2)`, int32(leaderClass), key); err != nil {
		l.drop()
	}
}

// check pings conn every lockCheck until it is dropped, and drops it when
// it fails.
func (l *leaderLocks) check(conn *pgx.Conn, stop chan struct{}) {
	t := time.NewTicker(lockCheck)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		if l.conn != conn {
			l.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
		if err := conn.Ping(ctx); err != nil {
			l.drop()
		}
		cancel()
		l.mu.Unlock()
	}
}

// drop closes the lock connection, ending every lock on it, and cancels
// the work that held them; that work stays held until its Lead returns.
func (l *leaderLocks) drop() {
	if l.conn == nil {
		return
	}
	for _, h := range l.held {
		if h.conn == l.conn {
			h.cancel(errLockLost)
		}
	}
	close(l.stop)
	_ = l.conn.Close(context.Background())
	l.conn, l.stop = nil, nil
}

// close ends the lock connection, for Close; Leads after it fail.
func (l *leaderLocks) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.drop()
}
