package pgstore_test

import (
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// connect opens a plain connection to the database at url, closed when t ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(t.Context()) })
	return conn
}

// applied returns the versions schema_migrations records.
func applied(t *testing.T, conn *pgx.Conn) []int {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return versions
}

// TestMigration0001 checks the first migration: on an empty database it
// creates every table, and records version 1; opening again changes nothing.
func TestMigration0001(t *testing.T) {
	url := pgtest.URL(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	conn := connect(t, url)
	assert.Equal(t, []int{1}, applied(t, conn))

	rows, err := conn.Query(t.Context(), `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = 'public' ORDER BY table_name`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{
		"audit_checkpoints", "audit_events", "audit_hashes", "challenges", "confirmations", "counters", "email_codes", "factors",
		"idempotency", "identities", "invites", "kyc", "log_heads", "meta", "outbox", "password_tokens", "passwords",
		"programme_keys", "programmes", "push_challenges", "reset_codes", "resources", "schema_migrations", "sessions", "users",
		"webauthn_registrations", "webhook_deliveries", "webhook_endpoints", "webhook_events",
	}, tables)

	s, err = pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err, "open a database at the current version")
	require.NoError(t, s.Close())
	assert.Equal(t, []int{1}, applied(t, conn), "versions after opening again")
}

// TestNewerSchemaRefused: a database migrated by a newer build is refused,
// and left alone.
func TestNewerSchemaRefused(t *testing.T) {
	url := pgtest.URL(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	conn := connect(t, url)
	newer := pgstore.SchemaVersion() + 1
	_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')`, newer)
	require.NoError(t, err)

	_, err = pgstore.Open(t.Context(), url, pgstore.Options{})
	var newerErr *pgstore.NewerSchemaError
	require.ErrorAs(t, err, &newerErr)
	assert.Equal(t, pgstore.NewerSchemaError{Database: newer, Known: pgstore.SchemaVersion()}, *newerErr)
	assert.ErrorContains(t, err, "newer than this deputy knows")
	assert.Len(t, applied(t, conn), newer, "versions after the refusal")
}

// TestReplicasMigrateOnce opens one empty database from several stores at
// once: the advisory lock lets one migrate, and the others find it done.
func TestReplicasMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 2})
			if assert.NoError(t, err) {
				assert.NoError(t, s.Close())
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []int{1}, applied(t, connect(t, url)))
}
