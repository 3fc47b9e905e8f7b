package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// TestMigration8AddsConfirmationBuckets upgrades a version 7 file holding a
// push challenge: the resource and confirmation buckets exist, empty, and
// the challenge written before reads back unchanged.
func TestMigration8AddsConfirmationBuckets(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:7]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketPushChallenges).Put([]byte("100000009"),
			[]byte(`{"ID":"100000009","ProgrammeID":"p1","UserID":"101","Kind":"STEP_UP","Summary":"Step up your session","State":"PENDING"}`))
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:8]) }))
	assert.Equal(t, uint64(8), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		for _, name := range []string{"resources", "confirmations"} {
			b := root.Bucket([]byte(name))
			if assert.NotNil(t, b, "bucket %s", name) {
				assert.Zero(t, b.Stats().KeyN, "keys in %s", name)
			}
		}
		r := &readTx{tx: tx, cache: newRecordCaches()}
		_, err := r.Resource("p1", core.ResourceSends, "7")
		assert.ErrorIs(t, err, core.ErrRecordNotFound)
		ch, err := r.PushChallenge("100000009")
		require.NoError(t, err)
		assert.Equal(t, core.PushStepUp, ch.Kind)
		return nil
	}))
}
