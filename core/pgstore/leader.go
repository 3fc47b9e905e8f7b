package pgstore

import (
	"context"
	"hash/fnv"

	"github.com/deputyhq/deputy/core"
)

// leaderClass is the first key of Deputy's advisory locks for background
// work ("DEPU"), apart from the migration lock.
const leaderClass = 0x44455055

var _ core.Leader = (*Store)(nil)

// Lead implements core.Leader with a session advisory lock on a pooled
// connection, held while fn runs: another replica's Lead of the same name
// does not wait, it skips.
func (s *Store) Lead(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	conn, err := s.acquireEnded(ctx)
	if err != nil {
		return false, err
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	key := int32(h.Sum32())
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(leaderClass), key).Scan(&got); err != nil {
		conn.Release()
		return false, unreachable(ctx, err)
	}
	if !got {
		conn.Release()
		return false, nil
	}
	defer func() {
		// A connection that could not unlock must not go back to the pool
		// still holding the lock: closing it ends the lock with it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, int32(leaderClass), key); err != nil {
			_ = conn.Hijack().Close(context.WithoutCancel(ctx))
			return
		}
		conn.Release()
	}()
	return true, fn(ctx)
}
