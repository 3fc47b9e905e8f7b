package storecopy_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/core/storecopy"
	"github.com/deputyhq/deputy/core/storetest"
	"github.com/deputyhq/deputy/internal/pgtest"
)

func openBolt(t testing.TB) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func openPostgres(t testing.TB) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), pgtest.URL(t), pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// requireAllMatch fails unless every kind matches and holds records: a kind
// Fill leaves empty is a kind the copy is not shown to move.
func requireAllMatch(t *testing.T, kinds []storecopy.Kind) {
	t.Helper()
	require.Len(t, kinds, len(core.RecordKinds()))
	for _, k := range kinds {
		assert.True(t, k.OK(), "%s: source %+v, target %+v", k.Kind, k.Source, k.Target)
		assert.NotZero(t, k.Source.Count, "storetest.Fill writes no %s records: add some, so that the copy is shown to move them", k.Kind)
	}
}

// count counts a store's records of each kind.
func count(t *testing.T, s core.Exporter) map[core.RecordKind]int {
	t.Helper()
	n := map[core.RecordKind]int{}
	require.NoError(t, s.Export(t.Context(), func(r core.Record) error {
		n[r.Kind]++
		return nil
	}))
	return n
}

// TestCopyBoltToPostgres: a bbolt store holding every kind of record, copied
// into PostgreSQL, answers every read as the source did, through every
// index; the audit trees' roots are their events'; sequences go on where
// they were. The filled database takes no second copy, and PostgreSQL copies
// on to PostgreSQL.
func TestCopyBoltToPostgres(t *testing.T) {
	from := openBolt(t)
	storetest.Fill(t, from)
	storetest.RequireFilled(t, from)

	to := openPostgres(t)
	kinds, err := storecopy.Copy(t.Context(), from, to)
	require.NoError(t, err)
	requireAllMatch(t, kinds)
	storetest.RequireFilled(t, to)

	_, err = storecopy.Copy(t.Context(), from, to)
	require.ErrorIs(t, err, core.ErrNotEmpty, "a second copy into the filled database")
	assert.ErrorContains(t, err, "meta", "names what it found")
	storetest.RequireFilled(t, to)

	again := openPostgres(t)
	kinds, err = storecopy.Copy(t.Context(), to, again)
	require.NoError(t, err)
	requireAllMatch(t, kinds)
	storetest.RequireFilled(t, again)
}

// lossy is an Importer that drops the records of one kind on their way in.
type lossy struct {
	core.Importer
	drop core.RecordKind
}

func (l lossy) Import(ctx context.Context, load core.Walk, check func(core.Walk) error) error {
	return l.Importer.Import(ctx, func(put func(core.Record) error) error {
		return load(func(r core.Record) error {
			if r.Kind == l.drop {
				return nil
			}
			return put(r)
		})
	}, check)
}

// TestCopyMismatchCommitsNothing: a target that does not read back what the
// source holds fails the copy, the report says which kind, and the database
// is left as empty as it was (sequences too), so the copy can be run again.
func TestCopyMismatchCommitsNothing(t *testing.T) {
	from := openBolt(t)
	storetest.Fill(t, from)
	to := openPostgres(t)

	kinds, err := storecopy.Copy(t.Context(), from, lossy{to, core.KindSessions})
	require.ErrorIs(t, err, storecopy.ErrMismatch)
	var bad []core.RecordKind
	for _, k := range kinds {
		if !k.OK() {
			bad = append(bad, k.Kind)
			assert.Equal(t, 2, k.Source.Count)
			assert.Equal(t, 0, k.Target.Count)
		}
	}
	assert.Equal(t, []core.RecordKind{core.KindSessions}, bad)
	assert.Empty(t, count(t, to), "nothing committed")

	kinds, err = storecopy.Copy(t.Context(), from, to)
	require.NoError(t, err, "the copy runs again on the database the failure left")
	requireAllMatch(t, kinds)
}
