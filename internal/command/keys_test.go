package command_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// createProgramme runs `programme create --json` and returns its output.
func createProgramme(t testing.TB, db string) map[string]string {
	t.Helper()
	stdout, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme Cards", "--json")
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout: %s", stdout)
	return got
}

// keyKinds opens the database at db with the clock moved ahead by after and
// reports, for each key, the kind it authenticates as ("dead" when it does not).
// The database is closed again before it returns, so that commands can open it.
func keyKinds(t *testing.T, db string, after time.Duration, keys ...string) []string {
	t.Helper()
	store, err := boltstore.Open(db, boltstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	clock := core.NewOffsetClock(nil)
	clock.Advance(after)
	outbox := core.NewOutbox(store, clock)
	svc, err := core.New(context.Background(), core.Config{Offline: true, Logger: slog.New(slog.DiscardHandler)}, store,
		core.Integrations{SMS: outbox, Email: outbox}, clock)
	require.NoError(t, err)
	var out []string
	for _, k := range keys {
		_, kind, err := svc.AuthenticateKey(context.Background(), k)
		switch {
		case errors.Is(err, core.ErrUnauthenticated):
			out = append(out, "dead")
		case err != nil:
			t.Fatalf("authenticate: %v", err)
		default:
			out = append(out, kind.String())
		}
	}
	return out
}

func TestProgrammeRotateKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)

	stdout, err := run(t, 30*time.Second, "programme", "rotate-key", "--db", db, "--id", p["id"], "--key", "ui", "--grace", "1h", "--json")
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout: %s", stdout)
	assert.Equal(t, p["id"], got["id"])
	assert.Equal(t, "ui", got["key"])
	newUI := got["value"]
	assert.Regexp(t, `^dpk_[A-Za-z0-9_-]{43}$`, newUI)

	assert.Equal(t, []string{"ui", "ui", "secret"}, keyKinds(t, db, 0, newUI, p["uiKey"], p["apiKey"]), "during the grace period")
	assert.Equal(t, []string{"ui", "ui"}, keyKinds(t, db, time.Hour-time.Minute, newUI, p["uiKey"]))
	assert.Equal(t, []string{"ui", "dead", "secret"}, keyKinds(t, db, time.Hour, newUI, p["uiKey"], p["apiKey"]), "after it")

	stdout, err = run(t, 30*time.Second, "programme", "rotate-key", "--db", db, "--id", p["id"], "--key", "secret", "--grace", "0")
	require.NoError(t, err)
	assert.Contains(t, stdout, "New secret key for programme "+p["id"])
	assert.Contains(t, stdout, "shown once")
	assert.Equal(t, []string{"dead", "ui"}, keyKinds(t, db, 0, p["apiKey"], newUI), "grace 0 ends the old secret key at once")

	// Keys are stored only as hashes.
	raw, err := os.ReadFile(db)
	require.NoError(t, err)
	for _, k := range []string{p["apiKey"], p["uiKey"], newUI} {
		assert.NotContains(t, string(raw), k[4:])
	}
}

func TestProgrammeRotateKeyRefusals(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", p["id"], "--key", "admin"}, "want secret or ui"},
		{[]string{"--id", p["id"], "--key", "ui", "--grace", "721h"}, "--grace 721h0m0s: want 0"},
		{[]string{"--id", p["id"], "--key", "ui", "--grace", "-1s"}, "--grace -1s: want 0"},
		{[]string{"--id", "999999999", "--key", "ui"}, "programme not found"},
		{[]string{"--key", "ui"}, "id"},
	} {
		_, err := run(t, 30*time.Second, append([]string{"programme", "rotate-key", "--db", db}, c.args...)...)
		if assert.Error(t, err, "%v", c.args) {
			assert.Contains(t, err.Error(), c.want, "%v", c.args)
		}
	}
	assert.Equal(t, []string{"secret", "ui"}, keyKinds(t, db, 0, p["apiKey"], p["uiKey"]), "nothing changed")
}

// TestProgrammeCommandsReachARunningServer: while `deputy serve` holds the
// database, the programme commands work through its control socket and take
// effect on the running server at once.
func TestProgrammeCommandsReachARunningServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db)
	assert.Contains(t, s.logs.String(), `"control_socket":"`+db+`.sock"`)
	outbox := func(key string) int {
		status, _ := s.call(t, "GET", "/multi/sandbox/outbox", key, "", nil)
		return status
	}
	require.Equal(t, http.StatusOK, outbox(p["apiKey"]))

	stdout, err := run(t, 30*time.Second, "programme", "rotate-key", "--db", db, "--id", p["id"], "--key", "secret", "--grace", "0", "--json")
	require.NoError(t, err)
	var rotated map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &rotated), "stdout: %s", stdout)
	assert.Equal(t, http.StatusUnauthorized, outbox(p["apiKey"]), "the old key stopped at once")
	assert.Equal(t, http.StatusOK, outbox(rotated["value"]), "the new key works on the running server")

	stdout, err = run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Second Programme", "--json")
	require.NoError(t, err)
	var second map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &second), "stdout: %s", stdout)
	assert.NotEqual(t, p["id"], second["id"])
	assert.Equal(t, http.StatusOK, outbox(second["apiKey"]))

	stdout, err = run(t, 30*time.Second, "programme", "settings", "--db", db, "--id", p["id"], "--otp-attempts", "2", "--biometrics")
	require.NoError(t, err)
	var set map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &set), "stdout: %s", stdout)
	weavrTypes := []any{"sends", "outgoing_wire_transfers", "linked_account_declaration", "correspondent_bank_transfers"}
	assert.Equal(t, map[string]any{"passwordProfile": "weavr", "requireTokenisedPasswords": false, "otpAttempts": 2.0, "biometrics": true,
		"resourceTypes": weavrTypes, "stepUpScope": "SESSION"}, set, "the API's JSON style; settings not given keep their value")

	stdout, err = run(t, 30*time.Second, "programme", "settings", "--db", db, "--id", p["id"], "--resource-types", "card_orders, loan_drawdowns")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(stdout), &set), "stdout: %s", stdout)
	assert.Equal(t, append(weavrTypes, "card_orders", "loan_drawdowns"), set["resourceTypes"], "Weavr's types and the declared ones")
	assert.Equal(t, 2.0, set["otpAttempts"])
	_, err = run(t, 30*time.Second, "programme", "settings", "--db", db, "--id", p["id"], "--resource-types", "card_orders,Card Orders")
	assert.ErrorContains(t, err, "resourceTypes[1]", "a malformed type is refused, naming it")
	_, err = run(t, 30*time.Second, "programme", "settings", "--db", db, "--id", p["id"], "--resource-types", "sends")
	assert.ErrorContains(t, err, "resourceTypes[0]", "Weavr's own types need no declaring")

	stdout, err = run(t, 30*time.Second, "programme", "settings", "--db", db, "--id", p["id"], "--step-up-scope", "operation")
	require.NoError(t, err)
	set = nil
	require.NoError(t, json.Unmarshal([]byte(stdout), &set), "stdout: %s", stdout)
	assert.Equal(t, "OPERATION", set["stepUpScope"])
	assert.Equal(t, 2.0, set["otpAttempts"], "settings not given keep their value")
	_, err = run(t, 30*time.Second, "programme", "settings", "--db", db, "--id", p["id"], "--step-up-scope", "forever")
	assert.ErrorContains(t, err, "want session or operation")

	_, err = run(t, 30*time.Second, "programme", "rotate-key", "--db", db, "--id", "100000999", "--key", "ui")
	assert.ErrorContains(t, err, "programme not found", "the server's refusal comes back")
}
