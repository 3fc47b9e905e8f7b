package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// FuzzPushApproveBody sends arbitrary bodies to the push approval endpoint
// (pushChallengeApprove, a WebAuthn trust boundary) through the whole handler
// stack, each time against the same pending challenge. No body may cause a 5xx
// or a response the OpenAPI description does not allow, and only the genuine
// signature with the right number may approve it.
func FuzzPushApproveBody(f *testing.F) {
	store, err := boltstore.Open(filepath.Join(f.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(f, err)
	f.Cleanup(func() { store.Close() })
	clock := core.NewOffsetClock(nil)
	quiet := slog.New(slog.DiscardHandler)
	cfg := core.Config{Sandbox: true, PasswordParams: testParams, Logger: quiet}
	ctx := context.Background()
	svc, err := core.New(ctx, cfg, store, core.Integrations{SMS: discardSender{}, Email: discardSender{}}, clock)
	require.NoError(f, err)
	h, err := server.New(svc, server.Options{Clock: clock, Logger: quiet})
	require.NoError(f, err)
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Fuzz Programme", Settings: core.ProgrammeSettings{Biometrics: true}})
	require.NoError(f, err)
	spec, err := apispec.Load()
	require.NoError(f, err)

	// A user whose companion is enrolled, and a second session of theirs with
	// a pending push step-up.
	_, u, err := svc.CreateIdentity(ctx, prog.Programme, core.NewIdentity{Type: core.Consumer, Root: core.UserDetails{
		Name: "Fuzz", Surname: "User", Email: "fuzz@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"},
	}})
	require.NoError(f, err)
	session := func() (string, *core.Caller) {
		set, err := svc.Login(ctx, prog.Programme, "fuzz@acme.test", testPassword)
		require.NoError(f, err)
		c, err := svc.Authenticate(ctx, prog.Programme, set.Token)
		require.NoError(f, err)
		return set.Token, c
	}
	_, err = svc.CreatePassword(ctx, prog.Programme, u.ID, testPassword)
	require.NoError(f, err)
	deviceToken, device := session()
	keys := authenticator.NewMemoryStore()
	auth, err := authenticator.New(authenticator.Config{}, keys, yes)
	require.NoError(f, err)
	options, err := svc.BeginBiometricEnrolment(ctx, device, "fuzz-phone", "Fuzz phone")
	require.NoError(f, err)
	reg, err := authenticator.ParseCreationOptions(options, bioOrigin)
	require.NoError(f, err)
	att, err := auth.Register(ctx, reg)
	require.NoError(f, err)
	attJSON, err := json.Marshal(att)
	require.NoError(f, err)
	_, err = svc.FinishBiometricEnrolment(ctx, device, core.SandboxCode, attJSON)
	require.NoError(f, err)
	_, requester := session()
	ch, err := svc.StepUpPush(ctx, requester, "Create user alice@example.com with role ADMIN", "")
	require.NoError(f, err)

	var pending *core.PushChallenge
	var factor *core.Factor
	require.NoError(f, store.View(ctx, func(tx core.ReadTx) error {
		if pending, err = tx.PushChallenge(ch.ID); err != nil {
			return err
		}
		factor, err = tx.Factor(u.ID, core.ChannelBiometric)
		return err
	}))
	reqOptions, err := svc.PushOptions(ctx, device, ch.ID)
	require.NoError(f, err)
	areq, err := authenticator.ParseRequestOptions(reqOptions, bioOrigin)
	require.NoError(f, err)
	as, err := auth.Assert(ctx, areq)
	require.NoError(f, err)
	valid, err := json.Marshal(map[string]any{"number": ch.Number, "credential": as})
	require.NoError(f, err)
	asJSON, err := json.Marshal(as)
	require.NoError(f, err)
	other := 10 + (ch.Number-10+1)%90

	for _, s := range []string{
		string(valid),
		fmt.Sprintf(`{"number":%d,"credential":%s}`, other, asJSON),
		strings.Replace(string(valid), `"type":"public-key"`, `"type":"password"`, 1),
		strings.Replace(string(valid), `"authenticatorData":"`, `"authenticatorData":"AA`, 1),
		strings.Replace(string(valid), `"signature":"`, `"signature":"MEUC`, 1),
		strings.Replace(string(valid), `"clientDataJSON":"`, `"clientDataJSON":"e30`, 1),
		`{"number":47,"credential":{}}`,
		`{"number":47,"credential":{"id":"","rawId":"","type":"public-key","response":{}}}`,
		`{"number":47,"credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}}`,
		`{"number":47,"credential":{"response":{"authenticatorData":"` + strings.Repeat("A", 4000) + `"}}}`,
		`{"number":47,"credential":null}`,
		`{"number":"47","credential":{}}`,
		`{"number":1e400,"credential":{}}`,
		`{"number":47}`, `{}`, `[]`, `null`, `{`, ``, strings.Repeat("{", 10000),
	} {
		f.Add([]byte(s))
	}

	// reset puts the challenge back to pending and the credential's counter
	// back to where it was, at the clock's now, so every input meets the same state.
	reset := func(t *testing.T) {
		now := clock.Now()
		require.NoError(t, store.Update(ctx, func(tx core.Tx) error {
			c := *pending
			c.CreatedAt, c.ExpiresAt = now, now.Add(5*time.Minute)
			if err := tx.UpdatePushChallenge(&c); err != nil {
				return err
			}
			fa := *factor
			if err := tx.PutFactor(&fa); err != nil {
				return err
			}
			for _, hash := range [][]byte{device.Session.TokenHash, requester.Session.TokenHash} {
				s, err := tx.Session(hash)
				if err != nil {
					return err
				}
				s.LastSeen, s.SteppedUp, s.SteppedUpAt = now, false, time.Time{}
				if err := tx.UpdateSession(s); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	path := "/multi/push/challenges/" + ch.ID + "/approve"
	f.Fuzz(func(t *testing.T, body []byte) {
		reset(t)
		if fuzzPost(t, h, spec, path, prog.UIKey, deviceToken, body) != http.StatusNoContent {
			return
		}
		var in struct {
			Number     int
			Credential json.RawMessage
		}
		parsed, perr := (*protocol.ParsedCredentialAssertionData)(nil), json.Unmarshal(body, &in)
		if perr == nil {
			parsed, perr = protocol.ParseCredentialRequestResponseBytes(in.Credential)
		}
		if perr != nil || in.Number != ch.Number || !bytes.Equal(parsed.Response.Signature, as.Signature) {
			t.Fatalf("POST %s %q: approved without the genuine signature and number", path, body)
		}
	})
}
