package pgstore

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// TestTurnQueuedWriteFailsLater: in a transaction that Updates share, the
// first function's queued write (an audit event PostgreSQL refuses: its
// subject is too large for the index) goes out with the second function's
// first statement and fails there. The first function must not be told it
// committed while its changes are rolled back with the second's: each
// function either commits all its changes or fails.
func TestTurnQueuedWriteFailsLater(t *testing.T) {
	s, err := Open(t.Context(), pgtest.URL(t), Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	huge := rand.Text()
	for len(huge) < 10000 {
		huge += rand.Text()
	}
	first := &turn{ctx: t.Context(), done: make(chan error, 1), fn: func(tx core.Tx) error {
		if err := tx.PutMeta("first", []byte("1")); err != nil {
			return err
		}
		return tx.AppendAudit(&core.AuditEvent{ProgrammeID: "p1", Actor: "system", Action: "test", Subject: huge, At: now})
	}}
	second := &turn{ctx: t.Context(), done: make(chan error, 1), fn: func(tx core.Tx) error {
		return tx.PutMeta("second", []byte("2"))
	}}
	s.line.waiting = []*turn{first, second}
	s.runTurns(t.Context(), nil)
	errFirst, errSecond := <-first.done, <-second.done
	t.Log(errFirst, errSecond)
	var got []string
	require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
		for _, k := range []string{"first", "second"} {
			if _, err := tx.Meta(k); err == nil {
				got = append(got, k)
			} else if !isNotFound(err) {
				return err
			}
		}
		return nil
	}))
	if errFirst == nil {
		assert.Contains(t, got, "first", "the first function was told it committed")
	} else {
		assert.NotContains(t, got, "first", "the first function failed, yet its change committed")
	}
	if errSecond == nil {
		assert.Contains(t, got, "second", "the second function was told it committed")
	} else {
		assert.NotContains(t, got, "second", "the second function failed, yet its change committed")
	}
}
