package loadgen

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunCountsEveryRequestOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	res := Run(context.Background(), Config{Workers: 8, Requests: 1000, Do: func(_ context.Context, w, seq int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[seq]++
		if seq%100 == 0 {
			return errors.New("boom")
		}
		return nil
	}})
	assert.Equal(t, 1000, res.Requests)
	assert.Len(t, seen, 1000)
	for seq, n := range seen {
		assert.Equal(t, 1, n, "request %d ran %d times", seq, n)
	}
	assert.Equal(t, 10, res.Errors)
	assert.EqualError(t, res.FirstErr, "boom")
	assert.LessOrEqual(t, res.P50, res.P99)
	assert.LessOrEqual(t, res.P99, res.Max)
}
