package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func getPasswordToken(t *testing.T, s core.Store, hash string) (*core.PasswordToken, error) {
	t.Helper()
	return read(t, s, func(tx core.ReadTx) (*core.PasswordToken, error) { return tx.PasswordToken([]byte(hash)) })
}

func testPasswordToken(t *testing.T, s core.Store) {
	_, err := getPasswordToken(t, s, "tok-1")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeletePasswordToken([]byte("tok-1")) }))

	tok := passwordToken("tok-1", t0.Add(5*time.Minute))
	requireComplete(t, tok)
	other := passwordToken("tok-2", t0.Add(5*time.Minute))
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.InsertPasswordToken(tok); err != nil {
			return err
		}
		return tx.InsertPasswordToken(other)
	})
	got, err := getPasswordToken(t, s, "tok-1")
	require.NoError(t, err)
	assert.Equal(t, tok, got)

	dup := passwordToken("tok-1", t0.Add(time.Hour))
	dup.Sealed = []byte("another password")
	requireDuplicate(t, tryWrite(t, s, func(tx core.Tx) error { return tx.InsertPasswordToken(dup) }), core.UniquePasswordToken)
	got, err = getPasswordToken(t, s, "tok-1")
	require.NoError(t, err)
	assert.Equal(t, tok, got, "token after a duplicate insert")

	// Redeeming deletes the token, once.
	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeletePasswordToken([]byte("tok-1")) })
	_, err = getPasswordToken(t, s, "tok-1")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeletePasswordToken([]byte("tok-1")) }))
	got, err = getPasswordToken(t, s, "tok-2")
	require.NoError(t, err)
	assert.Equal(t, other, got, "the other token after a delete")

	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertPasswordToken(dup) })
	got, err = getPasswordToken(t, s, "tok-1")
	require.NoError(t, err)
	assert.Equal(t, dup, got, "a deleted token's hash is free again")
}

func testPasswordTokenExpiry(t *testing.T, s core.Store) {
	expirySweep{
		what: "token",
		insert: func(tx core.Tx, name string, at time.Time) error {
			return tx.InsertPasswordToken(passwordToken(name, at))
		},
		sweep: func(tx core.Tx, before time.Time) (int, error) { return tx.DeletePasswordTokensExpired(before) },
		get: func(tx core.ReadTx, name string) error {
			_, err := tx.PasswordToken([]byte(name))
			return err
		},
	}.check(t, s)
}

// increment runs IncrementCounter in an Update of its own.
func increment(t *testing.T, s core.Store, key string, expiresAt, now time.Time) int {
	t.Helper()
	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.IncrementCounter(key, expiresAt, now) })
	require.NoError(t, err)
	return n
}

func testCounter(t *testing.T, s core.Store) {
	window := t0.Add(time.Minute)
	for _, c := range []struct {
		name      string
		key       string
		expiresAt time.Time
		now       time.Time
		want      int
	}{
		{"new counter", "a", window, t0, 1},
		{"second", "a", window, t0.Add(time.Second), 2},
		{"other key starts at one", "b", window, t0.Add(time.Second), 1},
		{"third", "a", window, t0.Add(2 * time.Second), 3},
		{"at the expiry instant it still counts", "a", window, window, 4},
		{"a later expiry extends the window", "a", window.Add(time.Minute), window, 5},
		{"after the expiry it starts again", "a", window.Add(2 * time.Minute), window.Add(time.Minute + time.Microsecond), 1},
		{"and counts on in the new window", "a", window.Add(2 * time.Minute), window.Add(90 * time.Second), 2},
		{"the other key kept its count", "b", window, t0.Add(2 * time.Second), 2},
		{"the other key expires on its own", "b", window.Add(3 * time.Minute), window.Add(time.Second), 1},
	} {
		got := increment(t, s, c.key, c.expiresAt, c.now)
		assert.Equal(t, c.want, got, "%s: count of %s", c.name, c.key)
	}

	// Increments rolled back leave no trace.
	require.ErrorIs(t, s.Update(t.Context(), func(tx core.Tx) error {
		if _, err := tx.IncrementCounter("a", window.Add(2*time.Minute), window.Add(91*time.Second)); err != nil {
			return err
		}
		return errRollback
	}), errRollback)
	assert.Equal(t, 3, increment(t, s, "a", window.Add(2*time.Minute), window.Add(92*time.Second)), "count after a rolled-back increment")
}

func testCounterExpiry(t *testing.T, s core.Store) {
	counters := []struct {
		key       string
		expiresAt time.Time
	}{{"old", t0.Add(-time.Hour)}, {"now", t0}, {"new", t0.Add(time.Hour)}}
	// Incremented at a time before every expiry, a counter still stored counts
	// on, and one that was deleted starts again at 1.
	early := t0.Add(-2 * time.Hour)
	for _, c := range counters {
		for range 2 {
			increment(t, s, c.key, c.expiresAt, early)
		}
	}

	for _, c := range []struct {
		before  time.Time
		deleted int
	}{
		{before: t0, deleted: 1},
		{before: t0, deleted: 0},
	} {
		n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteCountersExpired(c.before) })
		require.NoError(t, err)
		assert.Equal(t, c.deleted, n, "counters expired before %v", c.before)
	}
	for _, c := range counters {
		want := 3
		if c.key == "old" {
			want = 1
		}
		assert.Equal(t, want, increment(t, s, c.key, c.expiresAt, early), "count of %s after the sweep", c.key)
	}

	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteCountersExpired(t0.Add(2 * time.Hour)) })
	require.NoError(t, err)
	assert.Equal(t, len(counters), n, "counters expired before t0+2h")
	for _, c := range counters {
		assert.Equal(t, 1, increment(t, s, c.key, c.expiresAt, early), "count of %s after the second sweep", c.key)
	}
}

// testCounterSetAndRead: SetCounter stores a count and an expiry that Counter
// reads back until the expiry, and IncrementCounter counts on from it.
func testCounterSetAndRead(t *testing.T, s core.Store) {
	type state struct {
		n   int
		exp time.Time
	}
	read := func(key string, now time.Time) state {
		t.Helper()
		got, err := write(t, s, func(tx core.Tx) (state, error) {
			n, exp, err := tx.Counter(key, now)
			return state{n, exp}, err
		})
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, state{}, read("set", t0), "a counter never set")
	_, err := write(t, s, func(tx core.Tx) (int, error) { return 0, tx.SetCounter("set", 5, t0.Add(time.Hour)) })
	require.NoError(t, err)
	assert.Equal(t, 5, read("set", t0).n)
	assert.True(t, read("set", t0).exp.Equal(t0.Add(time.Hour)), "expiry read back")
	assert.Equal(t, 5, read("set", t0.Add(time.Hour)).n, "at the expiry instant it still counts")
	assert.Equal(t, state{}, read("set", t0.Add(time.Hour+time.Microsecond)), "after the expiry")
	assert.Equal(t, 6, increment(t, s, "set", t0.Add(2*time.Hour), t0), "an increment counts on from a set count")
	_, err = write(t, s, func(tx core.Tx) (int, error) { return 0, tx.SetCounter("set", 0, t0.Add(time.Hour)) })
	require.NoError(t, err)
	assert.Equal(t, 0, read("set", t0).n, "set back to zero")
}

// testCounterConcurrentIncrements runs concurrent Updates incrementing one
// counter: each must see the count the one before it committed, so that the
// counts handed out are exactly 1..concurrency.
func testCounterConcurrentIncrements(t *testing.T, s core.Store) {
	var (
		mu     sync.Mutex
		counts []int
		wg     sync.WaitGroup
	)
	for range concurrency {
		wg.Go(func() {
			n, err := write(t, s, func(tx core.Tx) (int, error) {
				return tx.IncrementCounter("login:101", t0.Add(time.Hour), t0)
			})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			counts = append(counts, n)
		})
	}
	wg.Wait()

	want := make([]int, concurrency)
	for i := range want {
		want[i] = i + 1
	}
	slices.Sort(counts)
	assert.Equal(t, want, counts, "counts returned to %d concurrent Updates", concurrency)
	assert.Equal(t, concurrency+1, increment(t, s, "login:101", t0.Add(time.Hour), t0), "count after the concurrent Updates")
}
