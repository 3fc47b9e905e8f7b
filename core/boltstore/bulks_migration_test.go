package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// TestMigration11AddsBulkBuckets upgrades a version 10 file holding a
// confirmation: the bulk buckets exist, empty, and the confirmation written
// before reads back unchanged.
func TestMigration11AddsBulkBuckets(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:10]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketConfirmations).Put([]byte("100000009"),
			[]byte(`{"ID":"100000009","ProgrammeID":"p1","UserID":"101","Channel":"SMS","State":"PENDING"}`))
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:11]) }))
	assert.Equal(t, uint64(11), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		for _, name := range []string{"bulks", "bulk_operations", "identity_bulks", "running_bulks"} {
			b := root.Bucket([]byte(name))
			if assert.NotNil(t, b, "bucket %s", name) {
				assert.Zero(t, b.Stats().KeyN, "keys in %s", name)
			}
		}
		r := &readTx{tx: tx, cache: newRecordCaches()}
		running, err := r.RunningBulks(0)
		require.NoError(t, err)
		assert.Empty(t, running)
		c, err := r.Confirmation("100000009")
		require.NoError(t, err)
		assert.Equal(t, core.ChannelSMS, c.Channel)
		return nil
	}))
}
