package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// openRaw opens a bbolt file without migrating it.
func openRaw(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	return db
}

// fileVersion reads the schema version of a bbolt file.
func fileVersion(t *testing.T, db *bolt.DB) uint64 {
	t.Helper()
	var v uint64
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		if root == nil {
			return nil
		}
		var err error
		v, err = schemaVersion(root)
		return err
	}))
	return v
}

func setFileVersion(t *testing.T, db *bolt.DB, v uint64) {
	t.Helper()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Put(keyVersion, binary.BigEndian.AppendUint64(nil, v))
	}))
}

func TestMigrationsNumberedInOrder(t *testing.T) {
	for i, m := range migrations {
		assert.Equal(t, uint64(i+1), m.Version, "migration %d (%s)", i, m.Description)
	}
}

// TestEveryMigrationHasItsOwnTest: each migration N has a test of its own in
// this package, a function named TestMigrationN..., so that a new migration
// cannot land with only the generic tests above.
func TestEveryMigrationHasItsOwnTest(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	tests := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		parsed, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range parsed.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
				tests[fn.Name.Name] = true
			}
		}
	}
	for _, m := range migrations {
		prefix := fmt.Sprintf("TestMigration%d", m.Version)
		found := false
		for name := range tests {
			rest, ok := strings.CutPrefix(name, prefix)
			// TestMigration1CreatesTree counts for 1, not for 10.
			if ok && (rest == "" || rest[0] < '0' || rest[0] > '9') {
				found = true
			}
		}
		assert.True(t, found, "migration %d (%s) has no test of its own: add a %s... test", m.Version, m.Description, prefix)
	}
}

func TestMigration1CreatesTree(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:1]) }))

	assert.Equal(t, uint64(1), fileVersion(t, db))
	var got []string
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).ForEachBucket(func(k []byte) error {
			got = append(got, string(k))
			return nil
		})
	}))
	assert.ElementsMatch(t, []string{
		"meta", "programmes", "programme_keys", "programme_names", "identities", "users",
		"user_email", "root_email", "identity_email", "passwords", "sessions", "user_sessions",
		"reset_codes", "factors", "challenges", "audit", "idempotency", "outbox",
	}, got)
}

func TestMigrateFromVersion0(t *testing.T) {
	// A file whose root bucket exists without a version, as a crash before the
	// first commit of an older build could leave it.
	path := filepath.Join(t.TempDir(), "deputy.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucket(bucketRoot)
		if err != nil {
			return err
		}
		_, err = root.CreateBucket(bucketProgrammes)
		return err
	}))
	require.NoError(t, db.Close())

	s, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Equal(t, uint64(len(migrations)), fileVersion(t, openRaw(t, path)))
}

// TestMigrateOlderFile runs a migration that adds a bucket and rewrites records
// on a file written at the current version, the way the next real migration will.
func TestMigrateOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deputy.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	user := &core.User{ID: "100000001", IdentityID: "100000001", ProgrammeID: "p1", Root: true, Email: "ann@example.com", Tag: "old"}
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
		if err := tx.InsertProgramme(&core.Programme{ID: "p1", Name: "Alpha"}); err != nil {
			return err
		}
		return tx.InsertUser(user)
	}))
	require.NoError(t, s.Close())

	runs := 0
	next := uint64(len(migrations) + 1)
	ms := append(slices.Clone(migrations), migration{
		Version:     next,
		Description: "test: add a bucket, rewrite users",
		Migrate: func(tx *bolt.Tx) error {
			runs++
			root := tx.Bucket(bucketRoot)
			if _, err := root.CreateBucket([]byte("extra")); err != nil {
				return err
			}
			users := root.Bucket(bucketUsers)
			return users.ForEach(func(k, v []byte) error {
				var u core.User
				if err := json.Unmarshal(v, &u); err != nil {
					return err
				}
				u.Tag = strings.ToUpper(u.Tag)
				data, err := json.Marshal(&u)
				if err != nil {
					return err
				}
				return users.Put(k, data)
			})
		},
	})

	db := openRaw(t, path)
	for range 2 {
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, ms) }))
	}
	assert.Equal(t, 1, runs, "times the new migration ran")
	assert.Equal(t, next, fileVersion(t, db))

	var got *core.User
	var extra bool
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		extra = tx.Bucket(bucketRoot).Bucket([]byte("extra")) != nil
		var err error
		got, err = (&readTx{tx: tx, cache: newRecordCaches()}).User(user.ID)
		return err
	}))
	assert.True(t, extra, "bucket added by the migration")
	user.Tag = "OLD"
	assert.Equal(t, user, got, "user rewritten by the migration")
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations) }))

	boom := errors.New("boom")
	ms := append(slices.Clone(migrations), migration{
		Version:     uint64(len(migrations) + 1),
		Description: "test: fail halfway",
		Migrate: func(tx *bolt.Tx) error {
			if _, err := tx.Bucket(bucketRoot).CreateBucket([]byte("extra")); err != nil {
				return err
			}
			return boom
		},
	})
	err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, ms) })
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "test: fail halfway")

	assert.Equal(t, uint64(len(migrations)), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(bucketRoot).Bucket([]byte("extra")), "bucket of the failed migration")
		return nil
	}))
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deputy.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	newer := uint64(len(migrations) + 1)
	setFileVersion(t, db, newer)
	require.NoError(t, db.Close())

	_, err = Open(path, Options{})
	require.Error(t, err)
	assert.ErrorContains(t, err, path)
	assert.ErrorContains(t, err, "newer than this build of deputy knows")

	db = openRaw(t, path) // Open let go of the file
	assert.Equal(t, newer, fileVersion(t, db), "schema version after the refused Open")
}

// putVersion2Programme stores p as a version 2 build did: programme_keys maps
// only its api key hash, whatever other keys the record holds.
func putVersion2Programme(tx *bolt.Tx, p *core.Programme) error {
	root := tx.Bucket(bucketRoot)
	if err := put(root.Bucket(bucketProgrammes), []byte(p.ID), p); err != nil {
		return err
	}
	if err := root.Bucket(bucketProgrammeNames).Put([]byte(p.Name), []byte(p.ID)); err != nil {
		return err
	}
	return root.Bucket(bucketProgrammeKeys).Put(p.APIKeyHash, []byte(p.ID))
}

// TestMigration3IndexesEveryKey upgrades a version 2 file holding programmes:
// the new buckets exist and programme_keys maps every key hash of each programme.
func TestMigration3IndexesEveryKey(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:2]) }))
	t1 := time.Date(2026, time.March, 14, 0, 0, 0, 0, time.UTC)
	p1 := &core.Programme{
		ID: "p1", Name: "Alpha", APIKeyHash: []byte("api-1"), UIKeyHash: []byte("ui-1"),
		RetiredKeys: []core.RetiredKey{{Kind: core.SecretKey, Hash: []byte("retired-1"), Until: t1}},
		CreatedAt:   t1,
	}
	p2 := &core.Programme{ID: "p2", Name: "Beta", APIKeyHash: []byte("api-2"), CreatedAt: t1}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		if err := putVersion2Programme(tx, p1); err != nil {
			return err
		}
		return putVersion2Programme(tx, p2)
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:3]) }))
	assert.Equal(t, uint64(3), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		for _, name := range []string{"password_tokens", "counters"} {
			assert.NotNil(t, root.Bucket([]byte(name)), "bucket %s", name)
		}
		index := map[string]string{}
		require.NoError(t, root.Bucket(bucketProgrammeKeys).ForEach(func(k, v []byte) error {
			index[string(k)] = string(v)
			return nil
		}))
		assert.Equal(t, map[string]string{"api-1": "p1", "ui-1": "p1", "retired-1": "p1", "api-2": "p2"}, index, "programme_keys")
		r := &readTx{tx: tx, cache: newRecordCaches()}
		for hash, want := range map[string]*core.Programme{"api-1": p1, "ui-1": p1, "retired-1": p1, "api-2": p2} {
			got, err := r.ProgrammeByKeyHash([]byte(hash))
			require.NoError(t, err, "programme by key hash %s", hash)
			assert.Equal(t, want, got, "programme by key hash %s", hash)
		}
		return nil
	}))
}

// TestMigration3RefusesSharedKeyHash leaves a version 2 file whose programmes
// share a key hash as it was: the index cannot map one hash to two programmes.
func TestMigration3RefusesSharedKeyHash(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:2]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		if err := putVersion2Programme(tx, &core.Programme{ID: "p1", Name: "Alpha", APIKeyHash: []byte("api-1"), UIKeyHash: []byte("shared")}); err != nil {
			return err
		}
		return putVersion2Programme(tx, &core.Programme{ID: "p2", Name: "Beta", APIKeyHash: []byte("api-2"), UIKeyHash: []byte("shared")})
	}))

	err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:3]) })
	var dup *core.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, core.UniqueKeyHash, dup.Constraint)
	assert.Equal(t, uint64(2), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(bucketRoot).Bucket(bucketPasswordTokens), "bucket of the failed migration")
		return nil
	}))
}
