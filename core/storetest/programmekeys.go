package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// byKeyHash looks a programme up by one of its key hashes.
func byKeyHash(t *testing.T, s core.Store, hash string) (*core.Programme, error) {
	t.Helper()
	return read(t, s, func(tx core.ReadTx) (*core.Programme, error) { return tx.ProgrammeByKeyHash([]byte(hash)) })
}

// requireKeys checks that each hash of found resolves to want and each of gone to nothing.
func requireKeys(t *testing.T, s core.Store, want *core.Programme, found, gone []string) {
	t.Helper()
	for _, h := range found {
		got, err := byKeyHash(t, s, h)
		require.NoError(t, err, "programme by key hash %s", h)
		assert.Equal(t, want, got, "programme by key hash %s", h)
	}
	for _, h := range gone {
		_, err := byKeyHash(t, s, h)
		require.ErrorIs(t, err, core.ErrRecordNotFound, "programme by key hash %s", h)
	}
}

// testProgrammeKeyIndex checks that every key hash of a programme (api, ui and
// retired) finds it, and that UpdateProgramme keeps the index exact through a
// rotation and the end of a grace period.
func testProgrammeKeyIndex(t *testing.T, s core.Store) {
	p1, p2 := programme("p1", "Alpha"), programme("p2", "Beta")
	insertAll(t, s, []*core.Programme{p1, p2}, nil, nil)
	requireKeys(t, s, p1, []string{"api-key-hash-p1", "ui-key-hash-p1", "retired-key-hash-p1"}, nil)
	requireKeys(t, s, p2, []string{"api-key-hash-p2", "ui-key-hash-p2", "retired-key-hash-p2"}, nil)

	// Rotate the ui key: the old one becomes a retired key, next to the one already there.
	p1.RetiredKeys = append(p1.RetiredKeys, core.RetiredKey{Kind: core.UIKey, Hash: p1.UIKeyHash, Until: t0.Add(time.Hour)})
	p1.UIKeyHash = []byte("ui-key-hash-p1-2")
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p1) })
	requireKeys(t, s, p1, []string{"api-key-hash-p1", "ui-key-hash-p1", "ui-key-hash-p1-2", "retired-key-hash-p1"}, nil)

	// The grace periods end: the retired keys are dropped and stop resolving.
	p1.RetiredKeys = nil
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p1) })
	requireKeys(t, s, p1, []string{"api-key-hash-p1", "ui-key-hash-p1-2"}, []string{"ui-key-hash-p1", "retired-key-hash-p1"})

	// Rotating the secret key without a grace period frees the old hash at once.
	p1.APIKeyHash = []byte("api-key-hash-p1-2")
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p1) })
	requireKeys(t, s, p1, []string{"api-key-hash-p1-2", "ui-key-hash-p1-2"}, []string{"api-key-hash-p1"})

	requireKeys(t, s, p2, []string{"api-key-hash-p2", "ui-key-hash-p2", "retired-key-hash-p2"}, nil)
	got, err := read(t, s, func(tx core.ReadTx) (*core.Programme, error) { return tx.Programme("p1") })
	require.NoError(t, err)
	assert.Equal(t, p1, got)

	// A programme without keys indexes nothing and clashes with nothing.
	bare := func(id, name string) *core.Programme { return &core.Programme{ID: id, Name: name, CreatedAt: t0} }
	insertAll(t, s, []*core.Programme{bare("p3", "Gamma"), bare("p4", "Delta")}, nil, nil)
	requireKeys(t, s, nil, nil, []string{""})
}

// testProgrammeKeyHashUnique checks that no key hash may belong to two
// programmes, whichever kind of key holds it on either side, and that a failed
// write leaves both programmes and the index as they were.
func testProgrammeKeyHashUnique(t *testing.T, s core.Store) {
	p1, p2 := programme("p1", "Alpha"), programme("p2", "Beta")
	insertAll(t, s, []*core.Programme{p1, p2}, nil, nil)

	clash := func(name, contested string, change func(p *core.Programme)) {
		t.Run(name, func(t *testing.T) {
			p3 := programme("p3", "Gamma")
			change(p3)
			requireDuplicate(t, tryWrite(t, s, func(tx core.Tx) error { return tx.InsertProgramme(p3) }), core.UniqueKeyHash)
			_, err := read(t, s, func(tx core.ReadTx) (*core.Programme, error) { return tx.Programme("p3") })
			requireNotFound(t, err)

			type state struct {
				err       error
				p1, p2    *core.Programme
				byOwn     *core.Programme
				contested *core.Programme
			}
			p := programme("p2", "Beta")
			change(p)
			got, err := write(t, s, func(tx core.Tx) (state, error) {
				var st state
				st.err = tx.UpdateProgramme(p)
				var err error
				if st.p1, err = tx.Programme("p1"); err != nil {
					return st, err
				}
				if st.p2, err = tx.Programme("p2"); err != nil {
					return st, err
				}
				if st.byOwn, err = tx.ProgrammeByKeyHash([]byte("ui-key-hash-p2")); err != nil {
					return st, err
				}
				st.contested, err = tx.ProgrammeByKeyHash([]byte(contested))
				return st, err
			})
			require.NoError(t, err)
			requireDuplicate(t, got.err, core.UniqueKeyHash)
			assert.Equal(t, p1, got.p1, "the hash's owner after a failed update")
			assert.Equal(t, p2, got.p2, "programme after a failed update")
			assert.Equal(t, p2, got.byOwn, "programme by its own key after a failed update")
			assert.Equal(t, p1, got.contested, "programme by the contested key after a failed update")
		})
	}
	clash("api key takes another's api key", "api-key-hash-p1", func(p *core.Programme) { p.APIKeyHash = []byte("api-key-hash-p1") })
	clash("ui key takes another's api key", "api-key-hash-p1", func(p *core.Programme) { p.UIKeyHash = []byte("api-key-hash-p1") })
	clash("api key takes another's ui key", "ui-key-hash-p1", func(p *core.Programme) { p.APIKeyHash = []byte("ui-key-hash-p1") })
	clash("api key takes another's retired key", "retired-key-hash-p1", func(p *core.Programme) {
		p.APIKeyHash = []byte("retired-key-hash-p1")
	})
	clash("retired key takes another's retired key", "retired-key-hash-p1", func(p *core.Programme) {
		p.RetiredKeys = append(p.RetiredKeys, core.RetiredKey{Kind: core.UIKey, Hash: []byte("retired-key-hash-p1"), Until: t0})
	})

	// A hash its programme dropped is free for another.
	p1.RetiredKeys = nil
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p1) })
	p2.RetiredKeys = append(p2.RetiredKeys, core.RetiredKey{Kind: core.SecretKey, Hash: []byte("retired-key-hash-p1"), Until: t0})
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p2) })
	requireKeys(t, s, p2, []string{"retired-key-hash-p1", "retired-key-hash-p2"}, nil)
}
