package boltstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// TestMigration10AddsStepUpGrants upgrades a version 9 file holding a
// session: the grant bucket exists, empty, and the session reads back.
func TestMigration10AddsStepUpGrants(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:9]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketSessions).Put([]byte("token-hash"),
			[]byte(`{"TokenHash":"dG9rZW4taGFzaA==","UserID":"101","SteppedUp":true}`))
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:10]) }))
	assert.Equal(t, uint64(10), fileVersion(t, db))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRoot).Bucket(bucketStepUpGrants)
		require.NotNil(t, b)
		assert.Zero(t, b.Stats().KeyN)
		w := &writeTx{readTx: readTx{tx: tx, cache: newRecordCaches()}}
		err := w.TakeStepUpGrant([]byte("token-hash"), []byte("op"), time.Now())
		assert.ErrorIs(t, err, core.ErrRecordNotFound)
		sess, err := w.Session([]byte("token-hash"))
		require.NoError(t, err)
		assert.True(t, sess.SteppedUp)
		return nil
	}))
}
