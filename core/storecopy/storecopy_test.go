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

// altered is an Importer that passes each record through change on its way
// in, writing none when change says so.
type altered struct {
	core.Importer
	change func(r core.Record) (core.Record, bool)
}

func (a altered) Import(ctx context.Context, load core.Walk, check func(core.Walk) error) error {
	return a.Importer.Import(ctx, func(put func(core.Record) error) error {
		return load(func(r core.Record) error {
			if r, ok := a.change(r); ok {
				return put(r)
			}
			return nil
		})
	}, check)
}

// TestCopyMismatchCommitsNothing: a target that does not read back what the
// source holds (a record lost, a record changed) fails the copy, the report
// says which kind, and the database is left as empty as it was (sequences
// too), so the copy can be run again.
func TestCopyMismatchCommitsNothing(t *testing.T) {
	from := openBolt(t)
	storetest.Fill(t, from)
	to := openPostgres(t)

	for _, c := range []struct {
		name   string
		change func(core.Record) (core.Record, bool)
		kind   core.RecordKind
		count  int
	}{
		{"a session lost", func(r core.Record) (core.Record, bool) { return r, r.Kind != core.KindSessions }, core.KindSessions, 0},
		{"a surname changed", func(r core.Record) (core.Record, bool) {
			if u, ok := r.Value.(*core.User); ok && u.ID == "102" {
				changed := *u
				changed.Surname = "Smyth"
				r.Value = &changed
			}
			return r, true
		}, core.KindUsers, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			kinds, err := storecopy.Copy(t.Context(), from, altered{to, c.change})
			require.ErrorIs(t, err, storecopy.ErrMismatch)
			var bad []storecopy.Kind
			for _, k := range kinds {
				if !k.OK() {
					bad = append(bad, k)
				}
			}
			require.Len(t, bad, 1)
			assert.Equal(t, c.kind, bad[0].Kind)
			assert.Equal(t, c.count, bad[0].Target.Count)
			assert.NotEqual(t, bad[0].Source.Sum, bad[0].Target.Sum)
			assert.Empty(t, count(t, to), "nothing committed")
		})
	}

	kinds, err := storecopy.Copy(t.Context(), from, to)
	require.NoError(t, err, "the copy runs again on the database the failures left")
	requireAllMatch(t, kinds)
}
