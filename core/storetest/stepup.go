package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func stepUpGrant(sessionHash, operation string, expiresAt time.Time) *core.StepUpGrant {
	return &core.StepUpGrant{
		SessionHash: []byte(sessionHash),
		UserID:      "101",
		Operation:   []byte(operation),
		Summary:     "Create user alice@example.com with roles ADMIN",
		GrantedAt:   expiresAt.Add(-5 * time.Minute),
		ExpiresAt:   expiresAt,
	}
}

// take runs TakeStepUpGrant in an Update of its own.
func take(t *testing.T, s core.Store, sessionHash, operation string, now time.Time) error {
	t.Helper()
	return s.Update(t.Context(), func(tx core.Tx) error {
		return tx.TakeStepUpGrant([]byte(sessionHash), []byte(operation), now)
	})
}

// A grant is taken once, only for its session and operation and before it
// expires; a failed take leaves it; a put replaces the session's grant.
func testStepUpGrant(t *testing.T, s core.Store) {
	requireNotFound(t, take(t, s, "session-1", "op-a", t0))
	g := stepUpGrant("session-1", "op-a", t0.Add(time.Minute))
	requireComplete(t, g)
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.PutStepUpGrant(g); err != nil {
			return err
		}
		return tx.PutStepUpGrant(stepUpGrant("session-2", "op-b", t0.Add(time.Minute)))
	})

	requireNotFound(t, take(t, s, "session-1", "op-b", t0))
	requireNotFound(t, take(t, s, "session-2", "op-a", t0))
	requireNotFound(t, take(t, s, "session-1", "op-a", t0.Add(time.Minute)))
	require.NoError(t, take(t, s, "session-1", "op-a", t0.Add(time.Minute-time.Microsecond)), "the refusals above left the grant")
	requireNotFound(t, take(t, s, "session-1", "op-a", t0))

	mustUpdate(t, s, func(tx core.Tx) error {
		return tx.PutStepUpGrant(stepUpGrant("session-2", "op-c", t0.Add(time.Minute)))
	})
	requireNotFound(t, take(t, s, "session-2", "op-b", t0))
	require.NoError(t, take(t, s, "session-2", "op-c", t0), "a put replaces the session's grant")

	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutStepUpGrant(g) })
	err := s.Update(t.Context(), func(tx core.Tx) error {
		if err := tx.TakeStepUpGrant([]byte("session-1"), []byte("op-a"), t0); err != nil {
			return err
		}
		return errors.New("the operation failed")
	})
	require.Error(t, err)
	require.NoError(t, take(t, s, "session-1", "op-a", t0), "a rolled-back take leaves the grant")
}

// Of concurrent Updates taking one grant, exactly one succeeds.
func testStepUpGrantTakenOnce(t *testing.T, s core.Store) {
	mustUpdate(t, s, func(tx core.Tx) error {
		return tx.PutStepUpGrant(stepUpGrant("session-1", "op-a", t0.Add(time.Minute)))
	})
	var (
		wg    sync.WaitGroup
		taken atomic.Int32
	)
	for range concurrency {
		wg.Go(func() {
			err := take(t, s, "session-1", "op-a", t0)
			switch {
			case err == nil:
				taken.Add(1)
			case !errors.Is(err, core.ErrRecordNotFound):
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), taken.Load(), "takes that succeeded of %d concurrent", concurrency)
}

// DeleteStepUpGrantsExpired removes the grants expired at t, and only them.
func testStepUpGrantSweep(t *testing.T, s core.Store) {
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, g := range []*core.StepUpGrant{
			stepUpGrant("expired", "op", t0.Add(-time.Second)),
			stepUpGrant("now", "op", t0),
			stepUpGrant("live", "op", t0.Add(time.Second)),
		} {
			if err := tx.PutStepUpGrant(g); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteStepUpGrantsExpired(t0) })
	require.NoError(t, err)
	assert.Equal(t, 2, n, "grants removed")
	require.NoError(t, take(t, s, "live", "op", t0.Add(-time.Minute)))
	requireNotFound(t, take(t, s, "now", "op", t0.Add(-time.Minute)))
	requireNotFound(t, take(t, s, "expired", "op", t0.Add(-time.Minute)))
}
