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
	run := func(err error, lat ...time.Duration) Result {
		r := Result{Requests: len(lat), Elapsed: time.Second, latencies: lat}
		if err != nil {
			r.Errors, r.FirstErr = 1, err
		}
		r.summarise()
		return r
	}
	fast := make([]time.Duration, 90)
	for i := range fast {
		fast[i] = time.Duration(i+1) * time.Microsecond
	}
	slow := make([]time.Duration, 10)
	for i := range slow {
		slow[i] = time.Duration(i+1) * time.Second
	}
	all := Combine(run(nil, slow...), run(errors.New("first"), fast...), run(errors.New("second"), time.Millisecond))
	assert.Equal(t, 101, all.Requests)
	assert.Equal(t, 2, all.Errors)
	assert.EqualError(t, all.FirstErr, "first")
	assert.Equal(t, 3*time.Second, all.Elapsed)
	assert.Equal(t, 51*time.Microsecond, all.P50, "the 51st fastest of 101")
	assert.Equal(t, 9*time.Second, all.P99, "the 100th fastest of 101")
	assert.Equal(t, 10*time.Second, all.Max)
}
