package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// TestMigration9StartsFanOutAtAuditSize upgrades a version 8 file with an
// endpoint in a programme whose audit log holds three events and one in a
// programme without a log: their cursors start at 3 and 0, so that the
// events earlier builds queued themselves are not queued again, and the
// rest of each endpoint reads back unchanged.
func TestMigration9StartsFanOutAtAuditSize(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:8]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
		for range 3 {
			if err := w.AppendAudit(&core.AuditEvent{ProgrammeID: "p1", Action: "user.login"}); err != nil {
				return err
			}
		}
		endpoints := w.bucket(bucketWebhookEndpoints)
		if err := endpoints.Put([]byte("wh_1"), []byte(`{"ID":"wh_1","ProgrammeID":"p1","URL":"https://hooks.example/a","Events":["login"]}`)); err != nil {
			return err
		}
		return endpoints.Put([]byte("wh_2"), []byte(`{"ID":"wh_2","ProgrammeID":"p2","URL":"https://hooks.example/b"}`))
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:9]) }))
	assert.Equal(t, uint64(9), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		r := &readTx{tx: tx, cache: newRecordCaches()}
		e1, err := r.WebhookEndpoint("wh_1")
		require.NoError(t, err)
		assert.Equal(t, uint64(3), e1.Fanned)
		assert.Equal(t, []string{"login"}, e1.Events)
		assert.Equal(t, "https://hooks.example/a", e1.URL)
		e2, err := r.WebhookEndpoint("wh_2")
		require.NoError(t, err)
		assert.Zero(t, e2.Fanned)
		return nil
	}))
}
