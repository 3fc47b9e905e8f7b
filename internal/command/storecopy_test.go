package command_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// TestStoreCopyMovesUp: an installation served from a bbolt file, copied
// into PostgreSQL by `deputy store copy`, serves the same users, sessions,
// factors and keys from there; its audit log exports byte for byte as it
// did and still verifies. A server running on the file stops the copy, and
// so does a database that is not empty.
func TestStoreCopyMovesUp(t *testing.T) {
	dir := t.TempDir()
	file, auditKey := filepath.Join(dir, "deputy.db"), filepath.Join(dir, "deputy.db.audit-key")
	db := withPassword(pgtest.URL(t), "pg-s3cret")
	p := createProgramme(t, file)
	key := p["apiKey"]

	s := startServe(t, "--sandbox", "--db", file, "--audit-key", auditKey)
	_, token := signUp(t, s, key, "ada@acme.test")
	for _, step := range []struct{ path, code string }{
		{"/multi/authentication_factors/otp/SMS", ""},
		{"/multi/authentication_factors/otp/SMS/verify", core.SandboxCode},
	} {
		var body any
		if step.code != "" {
			body = map[string]string{"verificationCode": step.code}
		}
		status, out := s.call(t, "POST", step.path, key, token, body)
		require.Equal(t, http.StatusNoContent, status, "%s: %s", step.path, out)
	}
	var bob struct{ ID string }
	for _, email := range []string{"bob@acme.test", "cy@acme.test"} {
		status, out := s.call(t, "POST", "/multi/users", key, token, map[string]any{
			"name": "User", "surname": "Of Acme", "email": email, "roles": []string{"CARD_ASSIGNEE"}})
		require.Equal(t, http.StatusOK, status, "create %s: %s", email, out)
		if bob.ID == "" {
			require.NoError(t, json.Unmarshal(out, &bob))
		}
	}
	// What the installation answers, asked again after the move.
	reads := []string{"/multi/users", "/multi/authentication_factors", "/multi/users/" + bob.ID}
	before := map[string]string{}
	for _, path := range reads {
		status, out := s.call(t, "GET", path, key, token, nil)
		require.Equal(t, http.StatusOK, status, "%s: %s", path, out)
		before[path] = string(out)
	}

	_, err := run(t, time.Minute, "store", "copy", "--from", file, "--to", db)
	require.Error(t, err, "a copy while the server runs")
	assert.Contains(t, err.Error(), "in use by another process")
	assert.Contains(t, err.Error(), "stop every `deputy serve` on it first")
	s.stop()

	exported := filepath.Join(dir, "audit-before.txt")
	_, err = run(t, time.Minute, "audit", "export", "--db", file, "--id", p["id"], "--out", exported)
	require.NoError(t, err)

	stdout, err := run(t, 5*time.Minute, "store", "copy", "--from", file, "--to", db)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, len(core.RecordKinds())+2, "a header, a row per kind and a summary:\n%s", stdout)
	assert.Regexp(t, `^kind +count +checksum +ok$`, lines[0])
	for _, l := range lines[1 : len(lines)-1] {
		assert.Regexp(t, `^[a-z_]+ +([1-9][0-9]*  [0-9a-f]{16}|0  -) +ok$`, l)
	}
	assert.Regexp(t, `^users +3  [0-9a-f]{16}  ok$`, lines[1+slices.Index(core.RecordKinds(), core.KindUsers)])
	assert.Contains(t, lines[len(lines)-1], "every count and checksum read back matches")
	assert.Contains(t, stdout, "postgres://postgres:xxxxx@")
	assert.NotContains(t, stdout, "pg-s3cret")

	_, err = run(t, time.Minute, "store", "copy", "--from", file, "--to", db)
	require.ErrorIs(t, err, core.ErrNotEmpty, "a second copy")
	assert.Contains(t, err.Error(), "empty database only")
	assert.NotContains(t, err.Error(), "pg-s3cret")

	// The audit log exports from PostgreSQL as it did from the file, and verifies.
	moved := filepath.Join(dir, "audit-after.txt")
	_, err = run(t, time.Minute, "audit", "export", "--db", db, "--id", p["id"], "--out", moved)
	require.NoError(t, err)
	want, err := os.ReadFile(exported)
	require.NoError(t, err)
	got, err := os.ReadFile(moved)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "the audit export, events, tree and checkpoints")
	vkey, err := run(t, time.Minute, "audit", "key", "--audit-key", auditKey)
	require.NoError(t, err)
	stdout, err = run(t, time.Minute, "audit", "verify", "--in", moved, "--key", strings.TrimSpace(vkey))
	require.NoError(t, err)
	assert.Contains(t, stdout, "Verified")

	pg := startServe(t, "--sandbox", "--db", db, "--audit-key", auditKey)
	for _, path := range reads {
		status, out := pg.call(t, "GET", path, key, token, nil)
		require.Equal(t, http.StatusOK, status, "%s with the session opened on the file: %s", path, out)
		assert.JSONEq(t, before[path], string(out), "%s", path)
	}
	status, out := pg.call(t, "POST", "/multi/login_with_password", key, "",
		map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
	assert.Equal(t, http.StatusOK, status, "the password set on the file: %s", out)
	status, out = pg.call(t, "POST", "/multi/users", key, token, map[string]any{
		"name": "User", "surname": "Of Acme", "email": "dee@acme.test", "roles": []string{"CARD_ASSIGNEE"}})
	assert.Equal(t, http.StatusOK, status, "the stepped-up session creates a user with a fresh id: %s", out)
	status, out = pg.call(t, "POST", "/multi/users", key, token, map[string]any{
		"name": "User", "surname": "Of Acme", "email": "bob@acme.test"})
	assert.Equal(t, http.StatusConflict, status, "an email taken on the file is taken in PostgreSQL: %s", out)
}

func TestStoreCopyRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		from, to string
		want     string
	}{
		{"a file target", filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), "--to must be a postgres:// URL"},
		{"a missing source", filepath.Join(dir, "missing.db"), "postgres://deputy:s3cret@db.invalid/deputy", "--from"},
		{"one database", "postgres://deputy:s3cret@db.invalid/deputy", "postgres://deputy:s3cret@db.invalid/deputy", "the same database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := run(t, time.Minute, "store", "copy", "--from", c.from, "--to", c.to)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

// copyJSON is `deputy store copy --json`'s output.
type copyJSON struct {
	Records int
	OK      bool
	Kinds   []struct {
		Kind  string
		Count int
		OK    bool
	}
}

func TestStoreCopyJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "deputy.db")
	createProgramme(t, file)
	stdout, err := run(t, time.Minute, "store", "copy", "--from", file, "--to", pgtest.URL(t), "--json")
	require.NoError(t, err)
	var got copyJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout: %s", stdout)
	assert.True(t, got.OK)
	assert.Len(t, got.Kinds, len(core.RecordKinds()))
	for _, k := range got.Kinds {
		if k.Kind == string(core.KindProgrammes) {
			assert.Equal(t, 1, k.Count)
		}
	}
	assert.Positive(t, got.Records)
}

// TestStoreCopyURLsFromTheEnvironment: the database URLs of `deputy store
// copy`, which hold passwords, can come from the environment, as every
// other secret does, instead of the command line that every local user sees
// in the process list.
func TestStoreCopyURLsFromTheEnvironment(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	t.Setenv("DEPUTY_COPY_FROM", missing)
	t.Setenv("DEPUTY_COPY_TO", "postgres://deputy:pg-s3cret@127.0.0.1:1/deputy")
	_, _, err := runCLI("store", "copy")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--from: ", "the flags came from the environment")
	assert.Contains(t, err.Error(), missing)
	assert.NotContains(t, err.Error(), "pg-s3cret")
}

// TestStoreCopyRefusesADamagedFile: a source file whose pages are damaged is
// refused with bbolt's check, before anything is read from it or written to
// the target, rather than crashing the copy halfway.
func TestStoreCopyRefusesADamagedFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "deputy.db")
	createProgramme(t, file)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	for page := 2 * 4096; page+4096 <= len(b); page += 4096 { // past the two meta pages
		for i := page + 16; i < page+56; i++ { // past each page's header
			b[i] ^= 0xff
		}
	}
	require.NoError(t, os.WriteFile(file, b, 0o600))
	_, err = run(t, time.Minute, "store", "copy", "--from", file, "--to", "postgres://deputy:pg-s3cret@127.0.0.1:1/deputy")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is damaged")
}
