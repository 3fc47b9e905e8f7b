package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
)

// TestAcquireWaitBounded: while every pooled connection is busy, a
// transaction waits for one at most Options.AcquireWait, however long its
// context lives, and then fails with core.ErrUnreachable (a 503 with
// Retry-After) instead of queueing behind the busy ones for as long as the
// client holds on; and so does a Lead that must open its lock connection.
// Once a connection is free again, everything runs.
func TestAcquireWaitBounded(t *testing.T) {
	url := migrated.Copy(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 1, AcquireWait: 300 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	busy, free := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.Update(ctx, func(tx core.Tx) error {
			close(busy)
			<-free
			return tx.PutMeta("k", []byte("v"))
		})
	}()
	<-busy
	start := time.Now()
	err = s.View(ctx, func(tx core.ReadTx) error { _, err := tx.Meta("k"); return err })
	assert.ErrorIs(t, err, core.ErrUnreachable, "a View with no connection to be had")
	assert.Less(t, time.Since(start), 10*time.Second, "it waited at most about AcquireWait")
	err = s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("j", []byte("v")) })
	assert.ErrorIs(t, err, core.ErrUnreachable, "an Update with no connection to be had")
	ran, err := s.Lead(ctx, "sweep", func(context.Context) error { return nil })
	assert.ErrorIs(t, err, core.ErrUnreachable, "a Lead with no connection to be had")
	assert.False(t, ran)
	close(free)
	require.NoError(t, <-held)

	require.NoError(t, s.View(ctx, func(tx core.ReadTx) error { _, err := tx.Meta("k"); return err }))
	ran, err = s.Lead(ctx, "sweep", func(context.Context) error { return nil })
	require.NoError(t, err)
	assert.True(t, ran)
}
