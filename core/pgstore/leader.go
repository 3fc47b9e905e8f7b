package pgstore

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deputyhq/deputy/core"
)

// leaderClass is the first key of Deputy's advisory locks for background
// work ("DEPU"), apart from the migration lock.
const leaderClass = 0x44455055

// lockTimeout bounds a lock's or unlock's statement: the lock connection is
// shared by every Lead of the replica, and one statement stuck on it would
// hold up the others.
const lockTimeout = 10 * time.Second

var _ core.Leader = (*Store)(nil)

// leaderLocks is the connection, of the store's own and outside the pool, on
// which a replica holds the session advisory locks of its background work.
// Held on a pooled connection, each lock took one the work's own
// transactions needed: with a small pool, the jobs running at once held
// every connection and waited forever for another. held is the keys locked
// on conn: a session may take its own lock again, so a second Lead of a
// name in this replica must skip on held, not on PostgreSQL's answer.
type leaderLocks struct {
	mu   sync.Mutex
	conn *pgx.Conn // nil before the first lock and after conn broke
	held map[int32]bool
}

// Lead implements core.Leader with a session advisory lock, held on the
// store's lock connection while fn runs: another replica's Lead of the same
// name, or this one's, does not wait, it skips.
func (s *Store) Lead(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	h := fnv.New32a()
	h.Write([]byte(name))
	key := int32(h.Sum32())
	conn, got, err := s.locks.take(ctx, s, key)
	if err != nil || !got {
		return false, err
	}
	defer s.locks.release(ctx, conn, key)
	return true, fn(ctx)
}

// take locks key on the lock connection, opening it first when there is
// none, and returns the connection it locked on.
func (l *leaderLocks) take(ctx context.Context, s *Store, key int32) (*pgx.Conn, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] {
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
		l.conn, l.held = pooled.Hijack(), map[int32]bool{}
	}
	// Not ctx: a statement cancelled midway closes the connection, and with
	// it the locks other Leads hold on it.
	stmtCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	var got bool
	if err := l.conn.QueryRow(stmtCtx, `SELECT pg_try_advisory_lock($1, $2)`, int32(leaderClass), key).Scan(&got); err != nil {
		l.drop()
		return nil, false, unreachable(ctx, err)
	}
	l.held[key] = got
	return l.conn, got, nil
}

// release unlocks key on conn, unless conn broke meanwhile: its locks ended
// with it. A connection that cannot unlock is closed, which ends its locks.
func (l *leaderLocks) release(ctx context.Context, conn *pgx.Conn, key int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != conn {
		return
	}
	delete(l.held, key)
	stmtCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	if _, err := conn.Exec(stmtCtx, `SELECT pg_advisory_unlock($1, $2)`, int32(leaderClass), key); err != nil {
		l.drop()
	}
}

// drop closes the lock connection, ending every lock on it.
func (l *leaderLocks) drop() {
	if l.conn != nil {
		_ = l.conn.Close(context.Background())
	}
	l.conn, l.held = nil, nil
}

// close ends the lock connection, for Close.
func (l *leaderLocks) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drop()
}
