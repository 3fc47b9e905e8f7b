package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
)

// TestLeadOneAtATime: while one replica runs a piece of background work,
// another's Lead of the same name skips it; other names and later runs go on.
func TestLeadOneAtATime(t *testing.T) {
	stores := replicas(t, 3)
	ran, err := stores[0].Lead(t.Context(), "sweep", func(ctx context.Context) error {
		other, err := stores[1].Lead(ctx, "sweep", func(context.Context) error { return nil })
		require.NoError(t, err)
		assert.False(t, other, "the other replica skips the sweep running here")
		other, err = stores[1].Lead(ctx, "audit-checkpoints", func(context.Context) error { return nil })
		require.NoError(t, err)
		assert.True(t, other, "other work is not held up")
		return nil
	})
	require.NoError(t, err)
	assert.True(t, ran)
	ran, err = stores[1].Lead(t.Context(), "sweep", func(context.Context) error { return nil })
	require.NoError(t, err)
	assert.True(t, ran, "the lock is free once the first sweep ended")
}

// TestLeadNeedsNoPooledConnection: jobs that Lead holds take no connection
// from the pool, so on a pool of one, three running at once (as the sweep,
// the audit checkpoints and the bulks do) each still gets one for their
// transactions; and a second Lead of a name in the same replica skips.
func TestLeadNeedsNoPooledConnection(t *testing.T) {
	s := replicas(t, 1)[0]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var all, inside sync.WaitGroup
	inside.Add(3)
	allIn := make(chan struct{})
	go func() { inside.Wait(); close(allIn) }()
	for _, name := range []string{"sweep", "audit-checkpoints", "bulks"} {
		all.Go(func() {
			ran, err := s.Lead(ctx, name, func(ctx context.Context) error {
				inside.Done()
				select { // all three hold their locks
				case <-allIn:
				case <-ctx.Done():
					return ctx.Err()
				}
				again, err := s.Lead(ctx, name, func(context.Context) error { return nil })
				require.NoError(t, err)
				assert.False(t, again, "%s runs once in this replica too", name)
				return s.View(ctx, func(core.ReadTx) error { return nil })
			})
			assert.NoError(t, err, name)
			assert.True(t, ran, name)
		})
	}
	all.Wait()
	require.NoError(t, ctx.Err(), "the jobs waited for a connection")
}

// TestLeadLockLost: when the connection holding the advisory locks ends
// (PostgreSQL restarted, failed over or ended it: pg_terminate_backend,
// idle_session_timeout), the locks end with it and another replica may start
// the same work. The work running here learns it promptly: its context is
// cancelled, so it stops instead of running alongside the other replica's
// for as long as it lasts; and the next Lead runs on a new connection.
func TestLeadLockLost(t *testing.T) {
	url := migrated.Copy(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer admin.Close(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	started, cancelled, finish := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var stopped time.Duration
	done := make(chan error, 1)
	go func() {
		_, err := s.Lead(ctx, "bulks", func(fctx context.Context) error {
			close(started)
			<-fctx.Done()
			close(cancelled)
			<-finish // winding down
			return fctx.Err()
		})
		done <- err
	}()
	<-started
	killed := time.Now()
	var n int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, uint32(0x44455055)).Scan(&n))
	require.Equal(t, 1, n, "one connection holds the lock")
	select {
	case <-cancelled:
		stopped = time.Since(killed)
	case <-time.After(20 * time.Second):
		t.Fatal("the work ran on for 20 s after its lock ended")
	}
	ran, err := s.Lead(ctx, "bulks", func(context.Context) error { return nil })
	require.NoError(t, err)
	assert.False(t, ran, "this replica does not start the work again while it winds down")
	close(finish)
	err = <-done
	assert.Error(t, err, "Lead tells the work lost its lock")
	assert.Less(t, stopped, 20*time.Second)
	require.NoError(t, ctx.Err())

	ran, err = s.Lead(ctx, "bulks", func(context.Context) error { return nil })
	require.NoError(t, err)
	assert.True(t, ran, "the next Lead runs on a new connection")
}
