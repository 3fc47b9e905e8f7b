package boltstore

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// putVersion4Factor writes a factor as a version 4 build did: without
// touching any credential index.
func putVersion4Factor(tx *bolt.Tx, f *core.Factor) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRoot).Bucket(bucketFactors).Put(factorKey(f.UserID, f.Channel), data)
}

// TestMigration5IndexesCredentials upgrades a version 4 file holding an SMS
// factor and two biometric ones: each credential id then finds its factor,
// and another factor can no longer take one.
func TestMigration5IndexesCredentials(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:4]) }))
	factors := []*core.Factor{
		{UserID: "101", Channel: core.ChannelSMS, Status: core.FactorActive},
		{UserID: "101", Channel: core.ChannelBiometric, Status: core.FactorActive, DeviceID: "phone-1", CredentialID: []byte("cred-1")},
		{UserID: "102", Channel: core.ChannelBiometric, Status: core.FactorActive, DeviceID: "phone-2", CredentialID: []byte("cred-2")},
	}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, f := range factors {
			if err := putVersion4Factor(tx, f); err != nil {
				return err
			}
		}
		return nil
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:5]) }))
	assert.Equal(t, uint64(5), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, 2, tx.Bucket(bucketRoot).Bucket(bucketFactorCredentials).Stats().KeyN, "one key per credential id")
		r := &readTx{tx: tx, cache: newRecordCaches()}
		for _, want := range factors[1:] {
			got, err := r.FactorByCredentialID(want.CredentialID)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
		return nil
	}))
	err := db.Update(func(tx *bolt.Tx) error {
		w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
		return w.PutFactor(&core.Factor{UserID: "103", Channel: core.ChannelBiometric, CredentialID: []byte("cred-1")})
	})
	requireConstraint(t, err, core.UniqueCredentialID)
}

// TestMigration5RefusesSharedCredential leaves a version 4 file whose two
// factors share a credential id as it was: WebAuthn §7.1 step 22 allows one
// holder, and the migration cannot choose which.
func TestMigration5RefusesSharedCredential(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:4]) }))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, user := range []string{"101", "102"} {
			f := &core.Factor{UserID: user, Channel: core.ChannelBiometric, Status: core.FactorActive, CredentialID: []byte("shared")}
			if err := putVersion4Factor(tx, f); err != nil {
				return err
			}
		}
		return nil
	}))

	err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:5]) })
	requireConstraint(t, err, core.UniqueCredentialID)
	assert.Equal(t, uint64(4), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(bucketRoot).Bucket(bucketFactorCredentials), "bucket of the failed migration")
		return nil
	}))
}

// requireConstraint fails unless err violates that unique constraint.
func requireConstraint(t *testing.T, err error, constraint string) {
	t.Helper()
	var dup *core.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, constraint, dup.Constraint)
}
