package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
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
