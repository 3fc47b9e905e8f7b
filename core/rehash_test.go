package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/password"
)

// A password hashed with old argon2id parameters is rehashed with the current
// ones at the next successful sign-in, and only then (GUIDE: "rehashed when
// parameters change"). Two services over one bbolt store stand for a server
// restarted with new parameters.
func TestLoginRehashesWhenParamsChange(t *testing.T) {
	ctx := context.Background()
	store, svcs := servicesOverOneStore(t, oldParams, newParams)
	before, after := svcs[0], svcs[1]
	prog, root, _ := adaWithAPassword(t, before)
	const plain = testPassword
	stored := func() string {
		t.Helper()
		var hash string
		require.NoError(t, store.View(ctx, func(tx core.ReadTx) error {
			rec, err := tx.Password(root.ID)
			if err != nil {
				return err
			}
			hash = rec.Hash
			return nil
		}))
		return hash
	}
	phc := func(p password.Params) string {
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", p.Memory, p.Time, p.Threads)
	}
	original := stored()
	require.True(t, strings.HasPrefix(original, phc(oldParams)), "got %s, want the old parameters", original)

	_, err := after.Login(ctx, prog, "ada@acme.test", "Wr0ng-Passw0rd")
	require.ErrorIs(t, err, core.ErrInvalidCredentials)
	assert.Equal(t, original, stored(), "a failed sign-in does not rehash")

	_, err = after.Login(ctx, prog, "ada@acme.test", plain)
	require.NoError(t, err)
	rehashed := stored()
	assert.True(t, strings.HasPrefix(rehashed, phc(newParams)), "got %s, want the new parameters", rehashed)

	_, err = after.Login(ctx, prog, "ada@acme.test", plain)
	require.NoError(t, err, "the rehashed password still signs in")
	assert.Equal(t, rehashed, stored(), "no rehash when the parameters are current")

	_, err = before.Login(ctx, prog, "ada@acme.test", plain)
	require.NoError(t, err, "a server still on the old parameters accepts the new hash")
	assert.True(t, strings.HasPrefix(stored(), phc(oldParams)), "and rehashes back to its own parameters")
}

// oldParams and newParams are argon2id parameters of a server before and
// after an upgrade (small, for tests).
var (
	oldParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	newParams = password.Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
)

// servicesOverOneStore opens a bbolt store and a service over it with each
// of params: servers restarted with other argon2id parameters.
func servicesOverOneStore(t *testing.T, params ...password.Params) (core.Store, []*core.Service) {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	clock := core.NewOffsetClock(nil)
	outbox := core.NewOutbox(store, clock)
	var svcs []*core.Service
	for _, p := range params {
		svc, err := core.New(context.Background(), core.Config{Sandbox: true, PasswordParams: p}, store, core.Integrations{SMS: outbox, Email: outbox}, clock)
		require.NoError(t, err)
		svcs = append(svcs, svc)
	}
	return store, svcs
}

// adaWithAPassword makes a programme and a corporate whose root, Ada
// (ada@acme.test), has testPassword; it returns the programme, Ada and her
// session's token.
func adaWithAPassword(t *testing.T, svc *core.Service) (*core.Programme, *core.User, string) {
	t.Helper()
	ctx := context.Background()
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Acme"})
	require.NoError(t, err)
	_, root, err := svc.CreateIdentity(ctx, prog.Programme, core.NewIdentity{
		Type: core.Corporate, Name: "Acme Ltd", Profile: []byte(`{}`),
		Root: core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"}},
	})
	require.NoError(t, err)
	set, err := svc.CreatePassword(ctx, prog.Programme, root.ID, testPassword)
	require.NoError(t, err)
	return prog.Programme, root, set.Token
}
