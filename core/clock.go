package core

import (
	"sync"
	"time"
)

// Clock tells the time. Everything in core asks it instead of calling time.Now,
// so tests and the sandbox can move time forward without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// OffsetClock runs at wall-clock speed from a start point that can be moved
// forward: the sandbox's test clock, and the clock tests use.
type OffsetClock struct {
	base   func() time.Time
	mu     sync.Mutex
	offset time.Duration
}

// NewOffsetClock returns a clock that follows base (time.Now when nil) plus an offset.
func NewOffsetClock(base func() time.Time) *OffsetClock {
	if base == nil {
		base = time.Now
	}
	return &OffsetClock{base: base}
}

// Now returns base time plus the accumulated offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base().Add(c.offset)
}

// Wall returns base time, where the clock runs from before its offset.
func (c *OffsetClock) Wall() time.Time { return c.base() }

// Advance moves the clock forward by d (d must not be negative).
func (c *OffsetClock) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
