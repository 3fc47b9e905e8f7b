package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/core/storetest"
)

func open(t *testing.T) core.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, open)
}

func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deputy.db")
	first, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)

	_, err = boltstore.Open(path, boltstore.Options{LockTimeout: 50 * time.Millisecond})
	var inUse *boltstore.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, path, inUse.Path)
	assert.EqualError(t, err, "database "+path+" is in use by another process (is `deputy serve` running?)")

	require.NoError(t, first.Close())
	second, err := boltstore.Open(path, boltstore.Options{LockTimeout: 50 * time.Millisecond})
	require.NoError(t, err, "open after the first store closed")
	require.NoError(t, second.Close())
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deputy.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	var id string
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
		var err error
		if id, err = tx.NextID(); err != nil {
			return err
		}
		return tx.InsertProgramme(&core.Programme{ID: "p1", Name: "Alpha", CreatedAt: time.Unix(0, 0).UTC()})
	}))
	require.NoError(t, s.Close())

	s, err = boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	var next string
	var p *core.Programme
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
		var err error
		if next, err = tx.NextID(); err != nil {
			return err
		}
		p, err = tx.Programme("p1")
		return err
	}))
	assert.Equal(t, "Alpha", p.Name)
	before, err := strconv.ParseUint(id, 10, 64)
	require.NoError(t, err)
	after, err := strconv.ParseUint(next, 10, 64)
	require.NoError(t, err)
	assert.Greater(t, after, before, "the id sequence survives a reopen")
}

// BenchmarkUpdateParallel runs small concurrent Updates, GOMAXPROCS times
// parallelism goroutines at a time: ns/op falls as more of them share each
// commit (db.Batch) and its fsync.
func BenchmarkUpdateParallel(b *testing.B) {
	for _, parallelism := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("parallelism=%d", parallelism), func(b *testing.B) {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "deputy.db"), boltstore.Options{})
			require.NoError(b, err)
			b.Cleanup(func() { assert.NoError(b, s.Close()) })
			ctx := context.Background()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := s.Update(ctx, func(tx core.Tx) error {
						return tx.AppendAudit(&core.AuditEvent{ProgrammeID: "p1", Actor: "system", Action: "bench", At: time.Now()})
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkViewUser reads one user per read-only transaction: the path every
// authenticated request takes several times. The decoded-record cache serves
// it while the stored bytes stay the same.
func BenchmarkViewUser(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { assert.NoError(b, s.Close()) })
	ctx := context.Background()
	u := &core.User{ID: "100000002", IdentityID: "100000002", IdentityType: core.Corporate, ProgrammeID: "100000001", Root: true,
		Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"},
		Active: true, PasswordSet: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	require.NoError(b, s.Update(ctx, func(tx core.Tx) error { return tx.InsertUser(u) }))
	b.ReportAllocs()
	for b.Loop() {
		err := s.View(ctx, func(tx core.ReadTx) error {
			_, err := tx.User(u.ID)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
