package boltstore_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/internal/testserver"
)

// TestFullDiskIsErrNoSpace fills a real (tmpfs) disk under the store: writes
// then fail with core.ErrNoSpace, reads still work, and writes succeed again
// once space is freed.
func TestFullDiskIsErrNoSpace(t *testing.T) {
	dir := testserver.SmallDisk(t, 2<<20)
	s, err := boltstore.Open(filepath.Join(dir, "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	ctx := context.Background()
	put := func(i int) error {
		return s.Update(ctx, func(tx core.Tx) error {
			return tx.PutMeta("filler-"+strconv.Itoa(i), make([]byte, 64<<10))
		})
	}
	require.NoError(t, put(0))
	free := testserver.FillDisk(t, dir)
	var err2 error
	for i := 1; i < 100 && err2 == nil; i++ {
		err2 = put(i)
	}
	require.ErrorIs(t, err2, core.ErrNoSpace, "writes on a full disk")
	require.NoError(t, s.View(ctx, func(tx core.ReadTx) error {
		_, err := tx.Meta("filler-0")
		return err
	}), "reads still work")

	free()
	require.NoError(t, put(1000), "writes work again once space is freed")
}
