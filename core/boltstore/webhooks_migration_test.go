package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestMigration7AddsWebhookBuckets upgrades a version 6 file holding a
// programme written before api keys were sealed: the webhook buckets exist,
// empty, and the programme reads back without a sealed key.
func TestMigration7AddsWebhookBuckets(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:6]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketProgrammes).Put([]byte("100000001"),
			[]byte(`{"ID":"100000001","Name":"P","APIKeyHash":"AQI=","UIKeyHash":"AwQ=","Settings":{},"CreatedAt":"2026-03-14T00:00:00Z"}`))
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:7]) }))
	assert.Equal(t, uint64(7), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		for _, name := range []string{"webhook_endpoints", "programme_webhooks", "webhook_events", "webhook_deliveries", "webhook_due", "webhook_queue", "endpoint_deliveries"} {
			b := root.Bucket([]byte(name))
			if assert.NotNil(t, b, "bucket %s", name) {
				assert.Zero(t, b.Stats().KeyN, "keys in %s", name)
			}
		}
		r := &readTx{tx: tx, cache: newRecordCaches()}
		p, err := r.Programme("100000001")
		require.NoError(t, err)
		assert.Nil(t, p.APIKeySealed)
		es, err := r.WebhookEndpoints(p.ID)
		require.NoError(t, err)
		assert.Empty(t, es)
		return nil
	}))
}
