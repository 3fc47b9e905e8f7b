package pgstore

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// derived are the relations of the schema no kind of record is kept in:
// rebuilt from the records (programme_keys), true for seconds only
// (device_presence), or the schema's own.
var derived = []string{"device_presence", "programme_keys", "schema_migrations"}

// TestCopyCoversEveryRelation: every table and sequence of a migrated
// database keeps a kind of record a copy moves, or is derived; every kind
// has a copy. A table added without either fails here.
func TestCopyCoversEveryRelation(t *testing.T) {
	s, err := Open(t.Context(), pgtest.URL(t), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	covered := map[string]core.RecordKind{}
	for _, kind := range core.RecordKinds() {
		k, ok := kinds[kind]
		if assert.True(t, ok, "no copy of %s records", kind) {
			for _, rel := range k.relations {
				covered[rel] = kind
			}
		}
	}
	assert.Len(t, kinds, len(core.RecordKinds()), "a copy of a kind core.RecordKinds does not list")
	rows, err := s.pool.Query(t.Context(), `SELECT relname FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S') ORDER BY relname`)
	require.NoError(t, err)
	relations, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, relations)
	for _, rel := range relations {
		_, isKind := covered[rel]
		assert.True(t, isKind != slices.Contains(derived, rel),
			"%s: a kind's copy must keep it (kinds' relations) or it must be derived, not both", rel)
	}
	for rel := range covered {
		assert.Contains(t, relations, rel, "a copy names a relation the schema does not have")
	}
}
