package core

import "time"

// CounterWriter keeps expiring counters, the shared state behind rate limits:
// every replica increments the same counter in the store.
type CounterWriter interface {
	// IncrementCounter adds one to the counter under key, starting from zero when
	// it does not exist or expired before now, and returns the new count.
	IncrementCounter(key string, expiresAt, now time.Time) (int, error)
	// DeleteCountersExpired removes counters that expired before t.
	DeleteCountersExpired(t time.Time) (int, error)
}
