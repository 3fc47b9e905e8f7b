package pgstore_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestAppendsCancelledMidway: many Updates through two stores append to one
// audit log, each setting a counter of its own, and many have their context
// cancelled at a random moment. Whatever was cancelled, every Update that
// returned nil committed, none committed half (event without counter or the
// reverse), and the log numbers its events 1..n without gaps or repeats.
func TestAppendsCancelledMidway(t *testing.T) {
	stores := replicas(t, 6)
	const n = 200
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if i%2 == 0 {
				time.AfterFunc(time.Duration(rand.N(300000))*time.Microsecond, cancel)
			}
			errs[i] = stores[i%2].Update(ctx, func(tx core.Tx) error {
				if err := tx.AppendAudit(&core.AuditEvent{ProgrammeID: "p1", Actor: "system", Action: "test", Subject: strconv.Itoa(i), At: now}); err != nil {
					return err
				}
				_, err := tx.IncrementCounter("k"+strconv.Itoa(i), now.Add(time.Hour), now)
				return err
			})
		})
	}
	wg.Wait()
	var events []*core.AuditEvent
	counters := map[string]int{}
	require.NoError(t, stores[0].View(t.Context(), func(tx core.ReadTx) error {
		var err error
		if events, err = tx.AuditEvents("p1", 0, 10*n); err != nil {
			return err
		}
		for i := range n {
			c, _, err := tx.(core.Tx).Counter("k"+strconv.Itoa(i), now)
			if err != nil {
				return err
			}
			counters[strconv.Itoa(i)] = c
		}
		return nil
	}))
	seen := map[string]bool{}
	for j, e := range events {
		assert.Equal(t, uint64(j+1), e.Seq, "event %d", j)
		assert.False(t, seen[e.Subject], "Update %s appended twice", e.Subject)
		seen[e.Subject] = true
	}
	cancelled := 0
	for i := range n {
		k := strconv.Itoa(i)
		assert.Equal(t, seen[k], counters[k] == 1, "Update %d committed half: event %v, counter %d", i, seen[k], counters[k])
		if errs[i] == nil {
			assert.True(t, seen[k], "Update %d returned nil yet did not commit", i)
		} else {
			cancelled++
		}
	}
	t.Logf("%d cancelled, %d committed", cancelled, len(events))
}
