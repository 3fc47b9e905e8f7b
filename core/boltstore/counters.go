package boltstore

import (
	"time"

	"github.com/deputyhq/deputy/core"
)

var _ core.CounterWriter = (*writeTx)(nil)

// counter is how an expiring counter is stored under its key in counters.
type counter struct {
	Count     int
	ExpiresAt time.Time
}

// IncrementCounter reads, bumps and writes the counter in the Update's
// transaction, so concurrent Updates incrementing one key never lose a count.
func (w *writeTx) IncrementCounter(key string, expiresAt, now time.Time) (int, error) {
	b := w.bucket(bucketCounters)
	c := &counter{}
	if data := b.Get([]byte(key)); data != nil {
		var err error
		if c, err = decode[counter](data, "counter "+key); err != nil {
			return 0, err
		}
		if c.ExpiresAt.Before(now) {
			c.Count = 0
		}
	}
	c.Count++
	c.ExpiresAt = expiresAt
	if err := put(b, []byte(key), c); err != nil {
		return 0, err
	}
	return c.Count, nil
}

func (w *writeTx) Counter(key string, now time.Time) (int, time.Time, error) {
	data := w.bucket(bucketCounters).Get([]byte(key))
	if data == nil {
		return 0, time.Time{}, nil
	}
	c, err := decode[counter](data, "counter "+key)
	if err != nil || c.ExpiresAt.Before(now) {
		return 0, time.Time{}, err
	}
	return c.Count, c.ExpiresAt, nil
}

func (w *writeTx) SetCounter(key string, count int, expiresAt time.Time) error {
	return put(w.bucket(bucketCounters), []byte(key), &counter{Count: count, ExpiresAt: expiresAt})
}

func (w *writeTx) DeleteCountersExpired(t time.Time) (int, error) {
	b := w.bucket(bucketCounters)
	keys, _, err := match(b, "counter", func(c *counter) bool { return c.ExpiresAt.Before(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}
