package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// TestCommitterSharesCommitsExactly: many writers at once, some failing after
// they wrote and one panicking; the writes of those that succeed all land,
// exactly once, and nothing of the others does, however the committer
// grouped them.
func TestCommitterSharesCommitsExactly(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	c := newCommitter(db, 16)
	bucket := []byte("b")
	require.NoError(t, c.do(context.Background(), func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucket)
		return err
	}))
	errBoom := errors.New("boom")
	const writers = 200
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results = map[int]error{}
	)
	for i := range writers {
		wg.Go(func() {
			err := c.do(context.Background(), func(tx *bolt.Tx) error {
				b := tx.Bucket(bucket)
				v := make([]byte, 8)
				if old := b.Get([]byte("sum")); old != nil {
					binary.BigEndian.PutUint64(v, binary.BigEndian.Uint64(old)+1)
				} else {
					binary.BigEndian.PutUint64(v, 1)
				}
				if err := b.Put([]byte("sum"), v); err != nil {
					return err
				}
				switch {
				case i == 77:
					panic("a bug in a write")
				case i%7 == 0:
					return errBoom // after writing: the write must not land
				}
				return nil
			})
			mu.Lock()
			results[i] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range results {
		switch {
		case i == 77:
			assert.ErrorContains(t, err, "panicked")
		case i%7 == 0:
			assert.ErrorIs(t, err, errBoom)
		default:
			require.NoError(t, err)
			ok++
		}
	}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, uint64(ok), binary.BigEndian.Uint64(tx.Bucket(bucket).Get([]byte("sum"))), "each success counted once")
		return nil
	}))

	c.stop()
	c.stop()
	assert.ErrorIs(t, c.do(context.Background(), func(*bolt.Tx) error { return nil }), bolterrors.ErrDatabaseNotOpen)
}

// TestCommitterSkipsCancelled: a write whose context ended before its
// commit does not run.
func TestCommitterSkipsCancelled(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	c := newCommitter(db, 16)
	defer c.stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err = c.do(ctx, func(*bolt.Tx) error { ran = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran)
}
