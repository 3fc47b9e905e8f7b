package pgstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
