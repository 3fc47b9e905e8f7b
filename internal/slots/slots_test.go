package slots

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// take takes a slot of key that must be free.
func take(t *testing.T, s *Slots, key string) func() {
	t.Helper()
	release, ok := s.Take(context.Background(), key)
	require.True(t, ok, "a free slot of %s", key)
	return release
}

// TestSlotsBoundAKeyAndAll: a key holds at most its share, whose next
// waiter gets nothing while another key's is admitted; once every slot is
// held, any key's waiter gets nothing, even one with room in its share;
// what is given back is taken again, and no key is remembered once nothing holds or waits for its slots.
func TestSlotsBoundAKeyAndAll(t *testing.T) {
	s := New(4, 2, 10*time.Millisecond)
	var held []func()
	for range 2 {
		held = append(held, take(t, s, "a"))
	}
	_, ok := s.Take(context.Background(), "a")
	assert.False(t, ok, "a's share is held")
	for range 2 {
		held = append(held, take(t, s, "b"))
	}
	_, ok = s.Take(context.Background(), "c")
	assert.False(t, ok, "every slot is held")

	held[0]()
	release := take(t, s, "c") // a slot given back is all's again
	_, ok = s.Take(context.Background(), "a")
	assert.False(t, ok, "a's share has room, all's has none")
	release()
	held[0] = take(t, s, "a") // its wait for all's gave a's slot back
	for _, release := range held {
		release()
	}
	assert.Empty(t, s.keys)
	assert.Empty(t, s.all)
}

// TestSlotsWaiterGetsAReleasedSlot: a waiter is admitted as soon as a slot
// is given back within its wait.
func TestSlotsWaiterGetsAReleasedSlot(t *testing.T) {
	s := New(1, 1, time.Minute)
	release := take(t, s, "a")
	got := make(chan func())
	go func() {
		r, ok := s.Take(context.Background(), "b")
		assert.True(t, ok)
		got <- r
	}()
	for !s.waiting("b") {
		runtime.Gosched()
	}
	release()
	select {
	case r := <-got:
		r()
	case <-time.After(10 * time.Second): // a watchdog: the slot is free at once
		t.Fatal("the waiter never got the slot")
	}
	assert.Empty(t, s.keys)
}

// waiting reports whether a caller of key has joined its slots.
func (s *Slots) waiting(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key] != nil
}

// TestSlotsReleaseTwice: a release called again gives back nothing more,
// so that a holder's slots stay its own.
func TestSlotsReleaseTwice(t *testing.T) {
	s := New(2, 2, 10*time.Millisecond)
	first := take(t, s, "a")
	second := take(t, s, "a")
	first()
	first()
	again := take(t, s, "a")
	_, ok := s.Take(context.Background(), "a")
	assert.False(t, ok, "the second holder's slot was given back by the first's release")
	second()
	again()
	assert.Empty(t, s.keys)
	assert.Empty(t, s.all)
}

// TestSlotsCallerThatLeaves: a caller that leaves while it waits, for its
// key's share or for all's, gets nothing and holds nothing; one that has
// left already gets nothing, even with slots free.
func TestSlotsCallerThatLeaves(t *testing.T) {
	s := New(2, 1, time.Minute)
	leaving := func() context.Context { // leaves while it waits, well within the slots' wait
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	held := []func(){take(t, s, "a")}
	_, ok := s.Take(leaving(), "a")
	assert.False(t, ok, "waiting for a's share")
	held = append(held, take(t, s, "b"))
	_, ok = s.Take(leaving(), "c")
	assert.False(t, ok, "waiting for all's")
	for _, release := range held {
		release()
	}
	assert.Empty(t, s.keys)
	assert.Empty(t, s.all)
	left, cancel := context.WithCancel(context.Background())
	cancel()
	_, ok = s.Take(left, "c")
	assert.False(t, ok, "a caller that has left")
	take(t, s, "c")()
}

// TestSlotsBoundsHoldUnderParallelTakes: many callers of a few keys at once
// never hold more than all's slots, nor more than a key's share of one key.
// The first holders keep their slots until every slot is held (full), so
// that all of them are used at once, and the callers after them still
// meet full shares.
func TestSlotsBoundsHoldUnderParallelTakes(t *testing.T) {
	const total, perKey, keys, callers = 6, 2, 5, 200
	s := New(total, perKey, time.Minute)
	var inAll atomic.Int64
	inKey := make([]atomic.Int64, keys)
	var most, mostOfAKey atomic.Int64
	raise := func(m *atomic.Int64, v int64) {
		for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
		}
	}
	full := make(chan struct{})
	var fill sync.Once
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			k := i % keys
			release, ok := s.Take(context.Background(), fmt.Sprint(k))
			if !assert.True(t, ok) {
				return
			}
			n := inAll.Add(1)
			raise(&most, n)
			raise(&mostOfAKey, inKey[k].Add(1))
			if n == total {
				fill.Do(func() { close(full) })
			}
			<-full
			inKey[k].Add(-1)
			inAll.Add(-1)
			release()
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, most.Load(), int64(total))
	assert.LessOrEqual(t, mostOfAKey.Load(), int64(perKey))
	assert.Equal(t, int64(total), most.Load(), "the slots were all used")
	assert.Empty(t, s.keys)
}
