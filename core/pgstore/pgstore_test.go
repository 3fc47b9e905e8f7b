package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/core/storetest"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// migrated is a database with the schema, which each contract test copies.
var migrated = pgtest.NewTemplate(func(ctx context.Context, url string) error {
	s, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return err
	}
	return s.Close()
})

func open(t *testing.T) core.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), migrated.Copy(t), pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, open)
}

// TestPanicReturnsTheConnection: a transaction whose fn panics is rolled
// back and its connection goes back to the pool (here of one).
func TestPanicReturnsTheConnection(t *testing.T) {
	s, err := pgstore.Open(t.Context(), migrated.Copy(t), pgstore.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	assert.Panics(t, func() {
		_ = s.Update(t.Context(), func(tx core.Tx) error {
			if err := tx.PutMeta("k", []byte("v")); err != nil {
				return err
			}
			panic("boom")
		})
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = s.View(ctx, func(tx core.ReadTx) error {
		_, err := tx.Meta("k")
		return err
	})
	assert.ErrorIs(t, err, core.ErrRecordNotFound, "the panicking Update's write")
}
