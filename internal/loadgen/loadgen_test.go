package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/password"
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

func TestResultJSONRoundTrip(t *testing.T) {
	res := Run(context.Background(), Config{Workers: 2, Requests: 10, Do: func(_ context.Context, _, seq int) error {
		if seq == 3 {
			return errors.New("status 409")
		}
		return nil
	}})
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back Result
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, res.String(), back.String())
	assert.EqualError(t, back.FirstErr, "status 409")

	require.NoError(t, json.Unmarshal([]byte(`{"requests":5,"elapsedNs":1000000000}`), &back))
	assert.NoError(t, back.FirstErr)
	assert.InDelta(t, 5.0, back.PerSecond(), 1e-9)
}

func TestHashTime(t *testing.T) {
	p := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	d, err := HashTime(context.Background(), p, 8)
	require.NoError(t, err)
	assert.Positive(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = HashTime(ctx, p, 8)
	assert.ErrorIs(t, err, context.Canceled)
}
