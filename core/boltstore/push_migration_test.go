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

// TestMigration4AddsPushBuckets upgrades a version 3 file holding a factor:
// the push and WebAuthn buckets exist, empty, and the factor reads back with
// the biometric fields at their zero values.
func TestMigration4AddsPushBuckets(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:3]) }))
	t1 := time.Date(2026, time.March, 14, 0, 0, 0, 0, time.UTC)
	// A version 3 build wrote factors without the biometric fields.
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketFactors).Put(factorKey("101", core.ChannelSMS),
			[]byte(`{"UserID":"101","Channel":"SMS","Status":"ACTIVE","Mobile":{"CountryCode":"+44","Number":"7700900123"},"CreatedAt":"2026-03-14T00:00:00Z","UpdatedAt":"2026-03-14T00:00:00Z"}`))
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:4]) }))
	assert.Equal(t, uint64(4), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		for _, name := range []string{"push_challenges", "user_push_challenges", "user_pending_push", "webauthn_registrations"} {
			b := root.Bucket([]byte(name))
			if assert.NotNil(t, b, "bucket %s", name) {
				assert.Zero(t, b.Stats().KeyN, "keys in %s", name)
			}
		}
		r := &readTx{tx: tx, cache: newRecordCaches()}
		f, err := r.Factor("101", core.ChannelSMS)
		require.NoError(t, err)
		assert.Equal(t, &core.Factor{UserID: "101", Channel: core.ChannelSMS, Status: core.FactorActive,
			Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"}, CreatedAt: t1, UpdatedAt: t1}, f)
		list, err := r.PushChallengesAfter("101", "", 0)
		require.NoError(t, err)
		assert.Empty(t, list)
		return nil
	}))
}
