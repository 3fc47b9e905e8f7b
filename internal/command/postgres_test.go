package command_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
)

// withPassword puts a password into a pgtest URL (its server trusts local
// connections, so any password will do): it must never be printed.
func withPassword(url, password string) string {
	return strings.Replace(url, "postgres://postgres@", "postgres://postgres:"+password+"@", 1)
}

// TestServeOnPostgres: with --db a postgres:// URL, `deputy programme create`
// and `deputy serve` share the database, also while the server runs, and
// neither prints the URL's password.
func TestServeOnPostgres(t *testing.T) {
	db := withPassword(pgtest.URL(t), "pg-s3cret")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--audit-key", filepath.Join(t.TempDir(), "audit-key"))
	signUp(t, s, p["apiKey"], "ada@acme.test")

	// While serving: no control socket, the command opens the database itself.
	stdout, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Beta Cards", "--json")
	require.NoError(t, err)
	var second map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &second), "stdout: %s", stdout)
	status, body := s.call(t, "POST", "/multi/login_with_password", second["apiKey"], "",
		map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
	// The server knows the new programme's key at once (not 401), and the
	// user is the first programme's.
	assert.Equal(t, http.StatusForbidden, status, "%s", body)
	status, body = s.call(t, "POST", "/multi/login_with_password", p["apiKey"], "",
		map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
	assert.Equal(t, http.StatusOK, status, "%s", body)

	// A key rotated while serving: the server refuses the old key and takes
	// the new one at once (no cache on PostgreSQL to invalidate).
	stdout, err = run(t, 30*time.Second, "programme", "rotate-key", "--db", db, "--id", p["id"], "--key", "secret", "--grace", "0", "--json")
	require.NoError(t, err)
	var rotated struct{ Value string }
	require.NoError(t, json.Unmarshal([]byte(stdout), &rotated), "stdout: %s", stdout)
	login := map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}}
	status, body = s.call(t, "POST", "/multi/login_with_password", p["apiKey"], "", login)
	assert.Equal(t, http.StatusUnauthorized, status, "the old key, at once: %s", body)
	status, body = s.call(t, "POST", "/multi/login_with_password", rotated.Value, "", login)
	assert.Equal(t, http.StatusOK, status, "the new key, at once: %s", body)

	s.stop()
	assert.Contains(t, s.logs.String(), "postgres://postgres:xxxxx@")
	assert.NotContains(t, s.logs.String(), "pg-s3cret")
}

func TestBackupRefusesPostgres(t *testing.T) {
	_, err := run(t, 30*time.Second, "backup", "--db", "postgres://deputy:s3cret@db.internal/deputy", "--out", filepath.Join(t.TempDir(), "b.db"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pg_dump")
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestPostgresDownAndBack: while PostgreSQL is down the server says it is
// not ready (503) instead of failing on, and it recovers by itself when the
// database is back; a create tried during the outage and retried with its
// idempotency-ref afterwards makes one corporate.
func TestPostgresDownAndBack(t *testing.T) {
	pg := pgtest.Own(t)
	p := createProgramme(t, pg.URL)
	s := startServe(t, "--sandbox", "--db", pg.URL, "--audit-key", filepath.Join(t.TempDir(), "audit-key"))
	ready := func() int {
		status, _ := replicaCall(t, s, "GET", "/readyz", nil)
		return status
	}
	require.Equal(t, http.StatusOK, ready())

	require.NoError(t, pg.Halt())
	require.Eventually(t, func() bool { return ready() == http.StatusServiceUnavailable }, 20*time.Second, 50*time.Millisecond)
	corporate := map[string]any{"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": "ada@acme.test", "companyPosition": "DIRECTOR",
		"mobile": map[string]string{"countryCode": "+44", "number": "7700900123"}},
		"company":   map[string]string{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP"}
	status, body := replicaCall(t, s, "POST", "/multi/corporates", corporate, "api-key", p["apiKey"], "idempotency-ref", "outage-1")
	assert.Equal(t, http.StatusServiceUnavailable, status, "nothing is acknowledged while the database is down: %s", body)

	require.NoError(t, pg.Resume())
	require.Eventually(t, func() bool { return ready() == http.StatusOK }, 30*time.Second, 50*time.Millisecond, "ready again by itself")
	status, first := replicaCall(t, s, "POST", "/multi/corporates", corporate, "api-key", p["apiKey"], "idempotency-ref", "outage-1")
	require.Equal(t, http.StatusOK, status, "%s", first)
	status, again := replicaCall(t, s, "POST", "/multi/corporates", corporate, "api-key", p["apiKey"], "idempotency-ref", "outage-1")
	require.Equal(t, http.StatusOK, status, "%s", again)
	assert.JSONEq(t, string(first), string(again), "one corporate, replayed")
}
