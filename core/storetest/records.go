package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func testProgrammeRoundTrip(t *testing.T, s core.Store) {
	p1, p2 := programme("p1", "Alpha"), programme("p2", "Beta")
	requireComplete(t, p1)
	insertAll(t, s, []*core.Programme{p1, p2}, nil, nil)

	got, err := read(t, s, func(tx core.ReadTx) (*core.Programme, error) { return tx.Programme("p1") })
	require.NoError(t, err)
	assert.Equal(t, p1, got)

	got, err = read(t, s, func(tx core.ReadTx) (*core.Programme, error) {
		return tx.ProgrammeByKeyHash([]byte("api-key-hash-p2"))
	})
	require.NoError(t, err)
	assert.Equal(t, p2, got)

	all, err := read(t, s, func(tx core.ReadTx) ([]*core.Programme, error) { return tx.Programmes() })
	require.NoError(t, err)
	assert.ElementsMatch(t, []*core.Programme{p1, p2}, all)
}

func testProgrammeNotFound(t *testing.T, s core.Store) {
	all, err := read(t, s, func(tx core.ReadTx) ([]*core.Programme, error) { return tx.Programmes() })
	require.NoError(t, err)
	assert.Empty(t, all, "programmes of an empty store")

	insertAll(t, s, []*core.Programme{programme("p1", "Alpha")}, nil, nil)
	for _, c := range []struct {
		name string
		fn   func(core.Tx) error
	}{
		{"Programme", func(tx core.Tx) error {
			_, err := tx.Programme("p2")
			return err
		}},
		{"ProgrammeByKeyHash", func(tx core.Tx) error {
			_, err := tx.ProgrammeByKeyHash([]byte("api-key-hash-p2"))
			return err
		}},
		{"ProgrammeByKeyHash(nil)", func(tx core.Tx) error {
			_, err := tx.ProgrammeByKeyHash(nil)
			return err
		}},
		{"UpdateProgramme", func(tx core.Tx) error { return tx.UpdateProgramme(programme("p2", "Beta")) }},
	} {
		t.Run(c.name, func(t *testing.T) { requireNotFound(t, tryWrite(t, s, c.fn)) })
	}
}

func testProgrammeNameUnique(t *testing.T, s core.Store) {
	insertAll(t, s, []*core.Programme{programme("p1", "Alpha"), programme("p2", "Beta")}, nil, nil)

	err := tryWrite(t, s, func(tx core.Tx) error { return tx.InsertProgramme(programme("p3", "Alpha")) })
	requireDuplicate(t, err, core.UniqueProgrammeName)

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(programme("p2", "Alpha")) })
	requireDuplicate(t, err, core.UniqueProgrammeName)

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertProgramme(programme("p1", "Gamma")) })
	require.ErrorIs(t, err, core.ErrDuplicate, "insert with a used id")

	p := programme("p2", "Beta")
	p.Settings.PasswordProfile = "weavr"
	err = tryWrite(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p) })
	require.NoError(t, err, "update that keeps its own name")
}

func testUpdateProgrammeMovesIndexes(t *testing.T, s core.Store) {
	insertAll(t, s, []*core.Programme{programme("p1", "Alpha")}, nil, nil)
	p := programme("p1", "Omega")
	p.APIKeyHash = []byte("rotated-key-hash")
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateProgramme(p) })

	got, err := read(t, s, func(tx core.ReadTx) (*core.Programme, error) { return tx.Programme("p1") })
	require.NoError(t, err)
	assert.Equal(t, p, got)

	got, err = read(t, s, func(tx core.ReadTx) (*core.Programme, error) {
		return tx.ProgrammeByKeyHash([]byte("rotated-key-hash"))
	})
	require.NoError(t, err)
	assert.Equal(t, p, got)

	_, err = read(t, s, func(tx core.ReadTx) (*core.Programme, error) {
		return tx.ProgrammeByKeyHash([]byte("api-key-hash-p1"))
	})
	requireNotFound(t, err)

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertProgramme(programme("p2", "Alpha")) })
	require.NoError(t, err, "the old name is free again")
}

func testIdentity(t *testing.T, s core.Store) {
	i := identity("100", "p1")
	requireComplete(t, i)
	bare := &core.Identity{ID: "200", ProgrammeID: "p1", Type: core.Consumer, Name: "Bo", CreatedAt: t0}
	insertAll(t, s, nil, []*core.Identity{i, bare}, nil)

	for _, want := range []*core.Identity{i, bare} {
		got, err := read(t, s, func(tx core.ReadTx) (*core.Identity, error) { return tx.Identity(want.ID) })
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	_, err := read(t, s, func(tx core.ReadTx) (*core.Identity, error) { return tx.Identity("300") })
	requireNotFound(t, err)

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertIdentity(identity("100", "p1")) })
	require.ErrorIs(t, err, core.ErrDuplicate, "insert with a used id")

	changed := *i
	changed.Profile = []byte(`{"baseCurrency":  "EUR"}`)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateIdentity(&changed) })
	got, err := read(t, s, func(tx core.ReadTx) (*core.Identity, error) { return tx.Identity(i.ID) })
	require.NoError(t, err)
	assert.Equal(t, &changed, got, "the profile comes back verbatim")

	missing := changed
	missing.ID = "300"
	err = tryWrite(t, s, func(tx core.Tx) error { return tx.UpdateIdentity(&missing) })
	requireNotFound(t, err)
}

func testPassword(t *testing.T, s core.Store) {
	_, err := read(t, s, func(tx core.ReadTx) (*core.PasswordRecord, error) { return tx.Password("100") })
	requireNotFound(t, err)

	for _, p := range []*core.PasswordRecord{
		{UserID: "100", Hash: "$argon2id$first", SetAt: t0},
		{UserID: "100", Hash: "$argon2id$second", History: []string{"$argon2id$first"}, SetAt: t0.Add(time.Hour)},
	} {
		if len(p.History) > 0 {
			requireComplete(t, p)
		}
		mustUpdate(t, s, func(tx core.Tx) error { return tx.PutPassword(p) })
		got, err := read(t, s, func(tx core.ReadTx) (*core.PasswordRecord, error) { return tx.Password("100") })
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
}

func testResetCode(t *testing.T, s core.Store) {
	get := func() (*core.ResetCode, error) {
		return read(t, s, func(tx core.ReadTx) (*core.ResetCode, error) { return tx.ResetCode("100") })
	}
	_, err := get()
	requireNotFound(t, err)

	for _, c := range []*core.ResetCode{
		{UserID: "100", Nonce: "n1", CodeHash: []byte("first"), ExpiresAt: t0, Attempts: 1},
		{UserID: "100", CodeHash: []byte("second"), ExpiresAt: t0.Add(time.Hour)},
	} {
		if c.Attempts > 0 {
			requireComplete(t, c)
		}
		mustUpdate(t, s, func(tx core.Tx) error { return tx.PutResetCode(c) })
		got, err := get()
		require.NoError(t, err)
		assert.Equal(t, c, got, "a new code replaces the old")
	}

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteResetCode("100") })
	_, err = get()
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteResetCode("100") }))
}

func testMeta(t *testing.T, s core.Store) {
	get := func() ([]byte, error) {
		return read(t, s, func(tx core.ReadTx) ([]byte, error) { return tx.Meta("k") })
	}
	_, err := get()
	requireNotFound(t, err)

	for _, v := range [][]byte{[]byte("one"), []byte("two"), {}} {
		mustUpdate(t, s, func(tx core.Tx) error { return tx.PutMeta("k", v) })
		got, err := get()
		require.NoError(t, err)
		assert.Equal(t, string(v), string(got))
	}
}

func testIdempotency(t *testing.T, s core.Store) {
	get := func() (*core.IdempotencyRecord, error) {
		return read(t, s, func(tx core.ReadTx) (*core.IdempotencyRecord, error) { return tx.Idempotency("k1") })
	}
	_, err := get()
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error {
		return tx.UpdateIdempotency(idempotency("k1", t0))
	}))
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteIdempotency("k1") }))

	r := idempotency("k1", t0.Add(24*time.Hour))
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertIdempotency(r) })
	got, err := get()
	require.NoError(t, err)
	assert.Equal(t, r, got)

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertIdempotency(idempotency("k1", t0)) })
	requireDuplicate(t, err, core.UniqueIdempotency)

	r.Done, r.Status, r.Body, r.Sealed = true, 201, []byte(`{"id":"100"}`), true
	requireComplete(t, r)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateIdempotency(r) })
	got, err = get()
	require.NoError(t, err)
	assert.Equal(t, r, got)

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteIdempotency("k1") })
	_, err = get()
	requireNotFound(t, err)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertIdempotency(idempotency("k1", t0)) })
}

func testIdempotencyExpiry(t *testing.T, s core.Store) {
	expirySweep{
		what:   "record",
		insert: func(tx core.Tx, name string, at time.Time) error { return tx.InsertIdempotency(idempotency(name, at)) },
		sweep:  func(tx core.Tx, before time.Time) (int, error) { return tx.DeleteIdempotencyExpired(before) },
		get: func(tx core.ReadTx, name string) error {
			_, err := tx.Idempotency(name)
			return err
		},
	}.check(t, s)
}
