package pgstore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/core/storetest"
	"github.com/deputyhq/deputy/internal/pgtest"
)

func open(t *testing.T) core.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), pgtest.URL(t), pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, open)
}
