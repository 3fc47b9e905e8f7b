package core_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// tokenService is a service over a bbolt file whose path the test knows.
func tokenService(tb testing.TB) (svc *core.Service, clock *core.OffsetClock, path string) {
	tb.Helper()
	path = filepath.Join(tb.TempDir(), "deputy.db")
	store, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { store.Close() })
	clock = core.NewOffsetClock(nil)
	outbox := core.NewOutbox(store, clock)
	svc, err = core.New(context.Background(), core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.DiscardHandler)},
		store, core.Integrations{SMS: outbox, Email: outbox}, clock)
	require.NoError(tb, err)
	return svc, clock, path
}

func newProgramme(tb testing.TB, svc *core.Service, name string) *core.Programme {
	tb.Helper()
	p, err := svc.CreateProgramme(context.Background(), core.NewProgramme{Name: name})
	require.NoError(tb, err)
	return p.Programme
}

// tokenCode returns the machine code of a token error, failing unless err is one.
func tokenCode(t *testing.T, err error) string {
	t.Helper()
	require.True(t, errors.Is(err, core.ErrTokenNotFound), "got %v, want a token error", err)
	return core.CodeOf(err)
}

func TestIsPasswordToken(t *testing.T) {
	token := "dtk_" + strings.Repeat("A", 43)
	tests := []struct {
		value string
		want  bool
	}{
		{token, true},
		{"dtk_" + strings.Repeat("-", 43), true},
		{token[:len(token)-1], false},
		{token + "A", false},
		{"DTK_" + strings.Repeat("A", 43), false},
		{"dst_" + strings.Repeat("A", 43), false},
		{"Str0ng-Passw0rd", false},
		{"dtk_Str0ng-Passw0rd", false},
		{"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, core.IsPasswordToken(tt.value), "%q", tt.value)
	}
}

func TestPasswordTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	svc, clock, _ := tokenService(t)
	prog := newProgramme(t, svc, "Acme")
	other := newProgramme(t, svc, "Other")

	token, err := svc.Tokenise(ctx, prog, "Str0ng-Passw0rd", "203.0.113.1")
	require.NoError(t, err)
	require.True(t, core.IsPasswordToken(token), token)

	_, err = svc.Password(ctx, other, "password.value", token)
	assert.Equal(t, core.CodeTokenNotFound, tokenCode(t, err), "another programme")
	plain, err := svc.Password(ctx, prog, "password.value", token)
	require.NoError(t, err, "the refusal in another programme did not spend it")
	assert.Equal(t, "Str0ng-Passw0rd", plain)
	_, err = svc.Password(ctx, prog, "password.value", token)
	assert.Equal(t, core.CodeTokenNotFound, tokenCode(t, err), "single use")

	late, err := svc.Tokenise(ctx, prog, "Str0ng-Passw0rd", "203.0.113.1")
	require.NoError(t, err)
	clock.Advance(5 * time.Minute)
	_, err = svc.Password(ctx, prog, "password.value", late)
	assert.Equal(t, core.CodeTokenExpired, tokenCode(t, err))
	require.NoError(t, svc.Sweep(ctx))
	_, err = svc.Password(ctx, prog, "password.value", late)
	assert.Equal(t, core.CodeTokenNotFound, tokenCode(t, err), "swept")
}

func TestPasswordPlaintext(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := tokenService(t)
	prog := newProgramme(t, svc, "Acme")
	plain, err := svc.Password(ctx, prog, "password.value", "Str0ng-Passw0rd")
	require.NoError(t, err)
	assert.Equal(t, "Str0ng-Passw0rd", plain, "plaintext passes through")

	set := prog.Settings
	set.RequireTokenisedPasswords = true
	prog, err = svc.UpdateProgrammeSettings(ctx, prog.ID, nil, set)
	require.NoError(t, err)
	_, err = svc.Password(ctx, prog, "newPassword.value", "Str0ng-Passw0rd")
	require.True(t, errors.Is(err, core.ErrInvalid), "%v", err)
	var ce *core.Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, core.CodePlaintextRefused, ce.Code)
	require.Len(t, ce.Fields, 1)
	assert.Equal(t, "newPassword.value", ce.Fields[0].Field)
	assert.NotContains(t, err.Error(), "Str0ng-Passw0rd")

	token, err := svc.Tokenise(ctx, prog, "Str0ng-Passw0rd", "203.0.113.1")
	require.NoError(t, err)
	plain, err = svc.Password(ctx, prog, "newPassword.value", token)
	require.NoError(t, err)
	assert.Equal(t, "Str0ng-Passw0rd", plain)
}

func TestTokeniseRefusals(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := tokenService(t)
	prog := newProgramme(t, svc, "Acme")
	for _, v := range []string{"", strings.Repeat("x", 101)} {
		_, err := svc.Tokenise(ctx, prog, v, "203.0.113.1")
		assert.True(t, errors.Is(err, core.ErrInvalid), "%q: %v", v, err)
	}
	_, err := svc.Tokenise(ctx, prog, strings.Repeat("€", 100), "203.0.113.1")
	assert.NoError(t, err, "100 characters")
}

// The password is sealed at rest and the token kept only as a keyed hash: the
// database file holds neither.
func TestPasswordTokenIsSealedAtRest(t *testing.T) {
	ctx := context.Background()
	svc, _, path := tokenService(t)
	prog := newProgramme(t, svc, "Acme")
	const secret = "Plain-Text-Secret-1234567890"
	var tokens []string
	for range 20 {
		token, err := svc.Tokenise(ctx, prog, secret, "203.0.113.1")
		require.NoError(t, err)
		tokens = append(tokens, token)
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret)
	assert.NotContains(t, string(raw), "Plain-Text")
	for _, token := range tokens {
		assert.NotContains(t, string(raw), token[len("dtk_"):])
	}
	plain, err := svc.Password(ctx, prog, "password.value", tokens[7])
	require.NoError(t, err)
	assert.Equal(t, secret, plain)
}

// FuzzPassword feeds arbitrary password.values to Password: plaintext comes
// back unchanged, anything shaped like a token is an unknown token, and no
// value ever resolves to another password.
func FuzzPassword(f *testing.F) {
	for _, s := range []string{"Str0ng-Passw0rd", "dtk_" + strings.Repeat("A", 43), "dtk_", "dtk_" + strings.Repeat("\x00", 43), "", "é"} {
		f.Add(s)
	}
	svc, _, _ := tokenService(f)
	prog := newProgramme(f, svc, "Acme")
	_, err := svc.Tokenise(context.Background(), prog, "The-0ne-Stored", "203.0.113.1")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, value string) {
		plain, err := svc.Password(context.Background(), prog, "password.value", value)
		if !core.IsPasswordToken(value) {
			require.NoError(t, err)
			require.Equal(t, value, plain)
			return
		}
		require.Equal(t, core.CodeTokenNotFound, tokenCode(t, err))
		require.Empty(t, plain)
	})
}
