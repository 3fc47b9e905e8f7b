package pgstore_test

import (
	"context"
	"testing"

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
