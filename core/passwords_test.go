package core_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/password"
)

// onceHashing runs then once, when the new password plain is hashed and
// before the change that hashed it commits.
type onceHashing struct {
	core.PasswordHasher
	plain string
	armed *atomic.Bool
	then  func()
}

func (h onceHashing) HashWithSalt(ctx context.Context, plain string, salt []byte) (string, error) {
	hash, err := h.PasswordHasher.HashWithSalt(ctx, plain, salt)
	if plain == h.plain && h.armed.CompareAndSwap(true, false) {
		h.then()
	}
	return hash, err
}

// TestPasswordChangeWhileASignInRehashes: a password change or reset reads
// the stored hash, checks its rules against it and hashes the new
// password; a sign-in that rehashes the password meanwhile (new argon2id
// parameters) replaces that hash, not the password. The change does not
// commit on its stale reading: it reads the hash again, checks again and
// goes through. (It used to answer 409 PASSWORD_CHANGED_CONCURRENTLY, a
// code Weavr's clients do not know, for a change nobody made.)
func TestPasswordChangeWhileASignInRehashes(t *testing.T) {
	const plain, mine = "Str0ng-Passw0rd", "M1ne-Passw0rd!"
	for _, c := range []struct {
		name   string
		change func(ctx context.Context, svc *core.Service, prog *core.Programme, token string) error
	}{
		{"a change", func(ctx context.Context, svc *core.Service, prog *core.Programme, token string) error {
			caller, err := svc.Authenticate(ctx, prog, token)
			require.NoError(t, err)
			_, err = svc.UpdatePassword(ctx, caller, plain, mine)
			return err
		}},
		{"a reset", func(ctx context.Context, svc *core.Service, prog *core.Programme, _ string) error {
			require.NoError(t, svc.LostPasswordStart(ctx, prog, "ada@acme.test"))
			_, err := svc.LostPasswordResume(ctx, prog, "ada@acme.test", core.SandboxCode, mine)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			store, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { store.Close() })
			clock := core.NewOffsetClock(nil)
			outbox := core.NewOutbox(store, clock)
			service := func(p password.Params) *core.Service {
				svc, err := core.New(ctx, core.Config{Sandbox: true, PasswordParams: p}, store, core.Integrations{SMS: outbox, Email: outbox}, clock)
				require.NoError(t, err)
				return svc
			}
			// Two services over one store: a server and one restarted with new parameters.
			old := service(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
			cur := service(password.Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32})
			prog, err := old.CreateProgramme(ctx, core.NewProgramme{Name: "Acme"})
			require.NoError(t, err)
			_, root, err := old.CreateIdentity(ctx, prog.Programme, core.NewIdentity{
				Type: core.Corporate, Name: "Acme Ltd", Profile: []byte(`{}`),
				Root: core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"}},
			})
			require.NoError(t, err)
			set, err := old.CreatePassword(ctx, prog.Programme, root.ID, plain)
			require.NoError(t, err)

			var armed atomic.Bool
			core.WrapHasher(cur, func(h core.PasswordHasher) core.PasswordHasher {
				return onceHashing{h, mine, &armed, func() {
					_, err := cur.Login(ctx, prog.Programme, "ada@acme.test", plain) // rehashes: new parameters
					require.NoError(t, err)
				}}
			})
			armed.Store(true)
			require.NoError(t, c.change(ctx, cur, prog.Programme, set.Token))
			assert.False(t, armed.Load(), "the sign-in rehashed while the change hashed")
			_, err = cur.Login(ctx, prog.Programme, "ada@acme.test", mine)
			assert.NoError(t, err, "the new password is the password")
			_, err = cur.Login(ctx, prog.Programme, "ada@acme.test", plain)
			assert.ErrorIs(t, err, core.ErrInvalidCredentials, "the old one is not")
		})
	}
}
