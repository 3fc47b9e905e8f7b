package pgstore

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// TestTurnsShareTransactions starts many Updates at once through two stores,
// each appending to one audit log and setting a counter of its own, every
// third failing after its writes: the failed ones leave nothing, every
// other one commits, the log numbers their events without gaps or repeats,
// and some took their turn together, in one transaction.
func TestTurnsShareTransactions(t *testing.T) {
	url := pgtest.URL(t)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(t.Context(), url, Options{MaxConns: 8})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	const n = 60
	errOdd := errors.New("the function fails")
	now := time.Now()
	var (
		mu      sync.Mutex
		seqs    = map[uint64]bool{}
		byTx    = map[int64]int{} // PostgreSQL transaction -> Updates committed in it
		start   = make(chan struct{})
		wg      sync.WaitGroup
		success int
	)
	for i := range n {
		wg.Go(func() {
			<-start
			var seq uint64
			var txid int64
			err := stores[i%2].Update(t.Context(), func(ctx core.Tx) error {
				t := ctx.(*tx)
				e := &core.AuditEvent{ProgrammeID: "p1", Actor: "system", Action: "test", At: now}
				if err := t.AppendAudit(e); err != nil {
					return err
				}
				if err := t.SetCounter("k"+strconv.Itoa(i), i, now.Add(time.Hour)); err != nil {
					return err
				}
				if err := t.scan("transaction", `SELECT txid_current()`, nil, &txid); err != nil {
					return err
				}
				seq = e.Seq
				if i%3 == 0 {
					return errOdd
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			if i%3 == 0 {
				assert.ErrorIs(t, err, errOdd)
				return
			}
			if assert.NoError(t, err) {
				assert.False(t, seqs[seq], "audit seq %d given twice", seq)
				seqs[seq] = true
				byTx[txid]++
				success++
			}
		})
	}
	close(start)
	wg.Wait()

	err := stores[0].Update(t.Context(), func(rt core.Tx) error {
		size, err := rt.AuditSize("p1")
		if err != nil {
			return err
		}
		assert.Equal(t, int64(success), size, "the log holds the committed events only")
		for i := range n {
			count, _, err := rt.Counter("k"+strconv.Itoa(i), now)
			if err != nil {
				return err
			}
			if i%3 == 0 {
				assert.Zero(t, count, "counter of failed Update %d", i)
			} else {
				assert.Equal(t, i, count, "counter of Update %d", i)
			}
		}
		return nil
	})
	require.NoError(t, err)
	for seq := uint64(1); seq <= uint64(success); seq++ {
		assert.True(t, seqs[seq], "audit seq %d", seq)
	}
	shared := 0
	for _, k := range byTx {
		shared = max(shared, k)
	}
	assert.Greater(t, shared, 1, "Updates that shared a transaction")
}

// TestLineTakesTheTurnsOfTheLockedLogs: a batch cut under the locks of some
// logs takes, in order, the Updates that append to those only, at most
// maxTurnBatch of them, and leaves the others their place in line.
func TestLineTakesTheTurnsOfTheLockedLogs(t *testing.T) {
	turnOn := func(logs ...int32) *turn { return &turn{logs: logs} }
	a, b, c, d, e := turnOn(1), turnOn(2), turnOn(1), turnOn(), turnOn(1, 2)
	l := &line{waiting: []*turn{a, b, c, d, e}}
	assert.Equal(t, []*turn{a, c, d}, l.take([]int32{1}))
	assert.Equal(t, []*turn{b, e}, l.waiting)
	assert.Equal(t, []*turn{b, e}, l.take([]int32{1, 2}))
	assert.Empty(t, l.waiting)

	for range maxTurnBatch + 1 {
		l.waiting = append(l.waiting, turnOn(1))
	}
	assert.Len(t, l.take([]int32{1}), maxTurnBatch)
	assert.Len(t, l.waiting, 1)
}
