package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/storetest"
)

// TestMigration6HashesTheLogSoFar upgrades a version 5 file holding audit
// events of two programmes: each programme's stored tree then has the root of
// its events, and the next event extends it.
func TestMigration6HashesTheLogSoFar(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:5]) }))
	events := map[string][]*core.AuditEvent{}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for i := range 11 {
			e := &core.AuditEvent{ProgrammeID: []string{"p1", "p2"}[i%3/2], Actor: "101", Action: "user.login", Subject: "101", Details: map[string]string{"i": string(rune('a' + i))}}
			b, seq, err := nextInProgramme(tx.Bucket(bucketRoot).Bucket(bucketAudit), e.ProgrammeID)
			if err != nil {
				return err
			}
			e.Seq = seq
			if err := put(b, seqKey(seq), e); err != nil { // as version 5 did: no tree, no index
				return err
			}
			events[e.ProgrammeID] = append(events[e.ProgrammeID], e)
		}
		return nil
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:6]) }))
	assert.Equal(t, uint64(6), fileVersion(t, db))
	for p, es := range events {
		var want storetest.MemoryTree
		for _, e := range es {
			require.NoError(t, want.Append(e))
		}
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
			size, err := w.AuditSize(p)
			require.NoError(t, err)
			require.Equal(t, int64(len(es)), size)
			got, err := tlog.TreeHash(size, storetest.StoredTree{Tx: w, ProgrammeID: p})
			require.NoError(t, err)
			wantRoot, err := tlog.TreeHash(size, want)
			require.NoError(t, err)
			assert.Equal(t, wantRoot, got, "programme %s: the stored tree holds the events logged before", p)
			about, err := w.AuditEventsAbout(p, "101", 0, 100)
			require.NoError(t, err)
			assert.Len(t, about, len(es), "programme %s: the events are indexed by subject", p)

			next := &core.AuditEvent{ProgrammeID: p, Actor: "api", Action: "user.create", Subject: "102"}
			require.NoError(t, w.AppendAudit(next))
			require.NoError(t, core.AddAuditLeaf(w, next))
			require.NoError(t, want.Append(next))
			got, err = tlog.TreeHash(size+1, storetest.StoredTree{Tx: w, ProgrammeID: p})
			require.NoError(t, err)
			wantRoot, err = tlog.TreeHash(size+1, want)
			require.NoError(t, err)
			assert.Equal(t, wantRoot, got, "programme %s: a new event extends the migrated tree", p)
			return nil
		}))
	}
}
