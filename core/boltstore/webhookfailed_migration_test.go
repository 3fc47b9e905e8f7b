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

// TestMigration12IndexesFailedDeliveries upgrades a version 11 file holding
// failed, delivered and pending deliveries of two endpoints: the new index
// holds exactly the failed ones, by endpoint and failure time, and the
// deliveries read back unchanged.
func TestMigration12IndexesFailedDeliveries(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:11]) }))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)
	d := func(endpoint string, state core.WebhookDeliveryState, doneAt time.Time) *core.WebhookDelivery {
		return &core.WebhookDelivery{ProgrammeID: "p1", EndpointID: endpoint, EventID: "evt", Subject: "101",
			State: state, CreatedAt: t0, DoneAt: doneAt}
	}
	late := d("wh_1", core.DeliveryFailed, t0.Add(time.Hour))
	early := d("wh_1", core.DeliveryFailed, t0)
	delivered := d("wh_1", core.DeliveryDelivered, t0)
	pending := d("wh_1", core.DeliveryPending, time.Time{})
	other := d("wh_2", core.DeliveryFailed, t0)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { // the records as version 11 wrote them
		b := tx.Bucket(bucketRoot).Bucket(bucketWebhookDeliveries)
		for i, x := range []*core.WebhookDelivery{late, early, delivered, pending, other} {
			x.Seq = uint64(i + 1)
			if err := put(b, seqKey(x.Seq), x); err != nil {
				return err
			}
		}
		return nil
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:12]) }))
	assert.Equal(t, uint64(12), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, 3, tx.Bucket(bucketRoot).Bucket(bucketWebhookFailed).Stats().KeyN, "the failed deliveries only")
		r := &readTx{tx: tx, cache: newRecordCaches()}
		ds, err := r.FailedWebhookDeliveries("wh_1", t0, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, []*core.WebhookDelivery{early, late}, ds)
		ds, err = r.FailedWebhookDeliveries("wh_2", t0, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, []*core.WebhookDelivery{other}, ds)
		return nil
	}))
}
