package boltstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// TestBackupChecksAndRestores: a backup is a database Check accepts and Open
// serves; a copy cut short or a foreign bbolt file is refused by Check.
func TestBackupChecksAndRestores(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(filepath.Join(dir, "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("marker", []byte("kept")) }))

	var buf bytes.Buffer
	n, err := s.Backup(ctx, &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)
	good := filepath.Join(dir, "good.db")
	require.NoError(t, os.WriteFile(good, buf.Bytes(), 0o600))
	require.NoError(t, boltstore.Check(good))
	restored, err := boltstore.Open(good, boltstore.Options{})
	require.NoError(t, err)
	defer restored.Close()
	require.NoError(t, restored.View(ctx, func(tx core.ReadTx) error {
		v, err := tx.Meta("marker")
		assert.Equal(t, "kept", string(v))
		return err
	}))

	cut := filepath.Join(dir, "cut.db")
	require.NoError(t, os.WriteFile(cut, buf.Bytes()[:buf.Len()/2], 0o600))
	assert.ErrorContains(t, boltstore.Check(cut), "cut short")

	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }))
	require.NoError(t, db.Close())
	assert.ErrorContains(t, boltstore.Check(foreign), "not a Deputy database")
}

// TestOpenRefusesCutShort: a database file cut short (a copy interrupted, a
// full disk) is refused with an error by Open, not read past its end, which
// faults the process.
func TestOpenRefusesCutShort(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(filepath.Join(dir, "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	var buf bytes.Buffer
	_, err = s.Backup(t.Context(), &buf)
	require.NoError(t, err)

	cut := filepath.Join(dir, "cut.db")
	require.NoError(t, os.WriteFile(cut, buf.Bytes()[:20000], 0o600))
	_, err = boltstore.Open(cut, boltstore.Options{})
	assert.ErrorContains(t, err, "cut short")
}
