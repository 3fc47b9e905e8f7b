package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// FuzzConfirmationBodies sends arbitrary bodies to the resource registration
// (secret key) and to both confirmation challenges (a user with an ACTIVE
// SMS factor) through the whole handler stack: no body may cause a 5xx or an
// answer the OpenAPI description does not allow.
func FuzzConfirmationBodies(f *testing.F) {
	for _, s := range []string{
		`{"userId":"100000002","amount":{"currency":"EUR","amount":1250},"payeeName":"Alice","payeeAccount":"DE89"}`,
		`{"userId":"100000002","amount":{"currency":"EUR","amount":-1},"payeeName":"Alice","payeeAccount":"DE89","fields":{"a":"b"}}`,
		`{"userId":"100000002","amount":{"currency":"eur","amount":1e30},"payeeName":"","payeeAccount":"\u0000"}`,
		`{"userId":100000002,"amount":null,"fields":{"":"x","1a":"y"}}`,
		`{"resourceType":"sends","resourceIds":["1"]}`,
		`{"resourceType":"sends","resourceIds":["1","1"]}`,
		`{"resourceType":"sends","resourceIds":[]}`,
		`{"resourceType":"sends","resourceIds":[1,null,"x"]}`,
		`{"resourceType":"payments","resourceIds":"1"}`,
		`{}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	store, err := boltstore.Open(filepath.Join(f.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(f, err)
	f.Cleanup(func() { store.Close() })
	clock := core.NewOffsetClock(nil)
	quiet := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	svc, err := core.New(ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: quiet}, store,
		core.Integrations{SMS: discardSender{}, Email: discardSender{}}, clock)
	require.NoError(f, err)
	h, err := server.New(svc, server.Options{Clock: clock, Logger: quiet})
	require.NoError(f, err)
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Fuzz Programme"})
	require.NoError(f, err)
	spec, err := apispec.Load()
	require.NoError(f, err)
	_, u, err := svc.CreateIdentity(ctx, prog.Programme, core.NewIdentity{Type: core.Consumer, Root: core.UserDetails{
		Name: "Fuzz", Surname: "User", Email: "fuzz@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"},
	}})
	require.NoError(f, err)
	set, err := svc.CreatePassword(ctx, prog.Programme, u.ID, testPassword)
	require.NoError(f, err)
	c, err := svc.Authenticate(ctx, prog.Programme, set.Token)
	require.NoError(f, err)
	require.NoError(f, svc.EnrolSMS(ctx, c))
	require.NoError(f, svc.VerifyEnrolSMS(ctx, c, core.SandboxCode))

	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzPost(t, h, spec, "/multi/challenges/resources/sends/1", prog.APIKey, "", body)
		fuzzPost(t, h, spec, confirmSMSPath, prog.APIKey, set.Token, body)
		fuzzPost(t, h, spec, "/multi/challenges/push/BIOMETRIC", prog.APIKey, set.Token, body)
	})
}
