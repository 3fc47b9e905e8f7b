package loadgen

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

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

func TestCombine(t *testing.T) {
	slow := Run(context.Background(), Config{Workers: 1, Requests: 10, Do: func(context.Context, int, int) error {
		time.Sleep(2 * time.Millisecond)
		return nil
	}})
	fast := Run(context.Background(), Config{Workers: 1, Requests: 90, Do: func(_ context.Context, _, seq int) error {
		if seq == 5 {
			return errors.New("first")
		}
		return nil
	}})
	all := Combine(fast, slow)
	assert.Equal(t, 100, all.Requests)
	assert.Equal(t, 1, all.Errors)
	assert.EqualError(t, all.FirstErr, "first")
	assert.Equal(t, fast.Elapsed+slow.Elapsed, all.Elapsed)
	assert.Equal(t, slow.Max, all.Max)
	assert.Less(t, all.P50, time.Millisecond, "90 of the 100 were fast")
	assert.GreaterOrEqual(t, all.P99, 2*time.Millisecond, "the slowest 10 reach the 99th percentile")
}
