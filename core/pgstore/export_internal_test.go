package pgstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// TestExportKeepsConnection: an Export's read-only transaction ends like a
// View's (park.go), so its connection goes back to the pool: given back
// amid the transaction, pgxpool would close it and the next use would
// connect again.
func TestExportKeepsConnection(t *testing.T) {
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url, Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte("1")) }))
	before := s.pool.Stat().NewConnsCount()
	require.NoError(t, s.Export(ctx, func(core.Record) error { return nil }))
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte("2")) }))
	assert.Equal(t, before, s.pool.Stat().NewConnsCount(), "Export closed its connection")
}
