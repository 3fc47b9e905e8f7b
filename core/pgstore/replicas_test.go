package pgstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
)

// replicas opens two stores (two pools of conns connections, as two replicas
// have) on a new copy of the migrated database, closed when t ends.
func replicas(t *testing.T, conns int32) [2]*pgstore.Store {
	t.Helper()
	url := migrated.Copy(t)
	var stores [2]*pgstore.Store
	for i := range stores {
		s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: conns})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	return stores
}

// TestStoresShareOneDatabase runs concurrent Updates through two stores (two
// pools, as two replicas have) on one database: counters count every
// increment, ids are handed out once, and the audit log numbers its events
// without gaps or repeats.
func TestStoresShareOneDatabase(t *testing.T) {
	stores := replicas(t, 4)
	const n = 40
	now := time.Now()
	var (
		mu   sync.Mutex
		ids  = map[string]bool{}
		seqs = map[uint64]bool{}
		wg   sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			var id string
			var seq uint64
			err := stores[i%2].Update(t.Context(), func(tx core.Tx) error {
				if _, err := tx.IncrementCounter("shared", now.Add(time.Hour), now); err != nil {
					return err
				}
				var err error
				if id, err = tx.NextID(); err != nil {
					return err
				}
				e := &core.AuditEvent{ProgrammeID: "p1", Actor: "system", Action: "test", At: now}
				err = tx.AppendAudit(e)
				seq = e.Seq
				return err
			})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			assert.False(t, ids[id], "id %s handed out twice", id)
			assert.False(t, seqs[seq], "audit seq %d given twice", seq)
			ids[id], seqs[seq] = true, true
		})
	}
	wg.Wait()

	var count int
	err := stores[0].Update(t.Context(), func(tx core.Tx) error {
		var err error
		count, _, err = tx.Counter("shared", now)
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, n, count, "increments through both stores")
	for seq := uint64(1); seq <= n; seq++ {
		assert.True(t, seqs[seq], "audit seq %d", seq)
	}
	size, err := readSize(t, stores[1])
	require.NoError(t, err)
	assert.Equal(t, int64(n), size, "audit size seen by the other store")
}

func readSize(t *testing.T, s core.Store) (int64, error) {
	var size int64
	err := s.View(t.Context(), func(tx core.ReadTx) error {
		var err error
		size, err = tx.AuditSize("p1")
		return err
	})
	return size, err
}
