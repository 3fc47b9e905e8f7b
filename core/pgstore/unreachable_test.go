package pgstore_test

import (
	"context"
	"crypto/rand"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
)

// TestTerminatedConnections: when PostgreSQL ends the pool's connections
// (a restart, a failover, pg_terminate_backend), the Updates and Views that
// meet them fail with core.ErrUnreachable (a 503 with Retry-After, and a
// retry with the same idempotency-ref tells), not with PostgreSQL's FATAL
// 57P01 as an unknown error (a 500); and the store recovers by itself.
func TestTerminatedConnections(t *testing.T) {
	url := migrated.Copy(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	put := func() error {
		return s.Update(t.Context(), func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) })
	}
	view := func() error {
		return s.View(t.Context(), func(tx core.ReadTx) error { _, err := tx.Meta("k"); return err })
	}
	require.NoError(t, put())
	require.NoError(t, view())
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer admin.Close(t.Context())
	terminate := func() {
		_, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		require.NoError(t, err)
	}
	for _, op := range []func() error{put, view} {
		terminate()
		if err := op(); err != nil {
			assert.ErrorIs(t, err, core.ErrUnreachable)
		}
	}
	require.NoError(t, put(), "recovered")
	require.NoError(t, view(), "recovered")
}

// TestTooManyConnections: a database that refuses a new connection for want
// of slots (53300, too_many_connections: more replicas than
// max_connections, or a role's connection limit) is unreachable for now, a
// 503, not an unknown error.
func TestTooManyConnections(t *testing.T) {
	url := migrated.Copy(t)
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer admin.Close(t.Context())
	role := "limited_" + strings.ToLower(rand.Text()[:8])
	// A superuser is exempt from connection limits.
	for _, sql := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD 'pw' CONNECTION LIMIT 1`,
		`GRANT ALL ON SCHEMA public TO ` + role,
		`GRANT ALL ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ` + role,
	} {
		_, err = admin.Exec(t.Context(), sql)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	})
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	u.User = neturl.UserPassword(role, "pw")
	s, err := pgstore.Open(t.Context(), u.String(), pgstore.Options{MaxConns: 2})
	require.NoError(t, err)
	defer s.Close()
	// Another process takes the role's one connection.
	_, err = admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	require.NoError(t, err)
	cfg, err := pgx.ParseConfig(u.String())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		hold, err := pgx.ConnectConfig(t.Context(), cfg)
		if err == nil {
			t.Cleanup(func() { hold.Close(context.Background()) })
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	for range 3 {
		err := s.Update(t.Context(), func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) })
		assert.ErrorIs(t, err, core.ErrUnreachable)
	}
}

// TestSerializationRetriesExhausted: an Update whose every run fails to
// serialize (here another replica writes the row it read, each time) gives
// up after its attempts with core.ErrUnreachable: the change did not
// commit, and core answers a 503 with Retry-After, not PostgreSQL's 40001
// as an unknown error (a 500).
func TestSerializationRetriesExhausted(t *testing.T) {
	stores := replicas(t, 2)
	now := time.Now()
	runs := 0
	err := stores[0].Update(t.Context(), func(tx core.Tx) error {
		runs++
		c, _, err := tx.Counter("hot", now)
		if err != nil {
			return err
		}
		if err := stores[1].Update(t.Context(), func(tx core.Tx) error {
			return tx.SetCounter("hot", c+100, now.Add(time.Hour))
		}); err != nil {
			return err
		}
		return tx.SetCounter("hot", c+1, now.Add(time.Hour))
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrUnreachable)
	assert.Greater(t, runs, 1, "retried")
}

// TestIdleSessionTimeout: a server that ends idle sessions
// (idle_session_timeout, FATAL 57P05) leaves the pool holding dead
// connections; the Update that meets one fails with core.ErrUnreachable
// (a 503), never an unknown error, and the next one works.
func TestIdleSessionTimeout(t *testing.T) {
	url := migrated.Copy(t)
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	q := u.Query()
	q.Set("idle_session_timeout", "100")
	u.RawQuery = q.Encode()
	s, err := pgstore.Open(t.Context(), u.String(), pgstore.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	put := func() error {
		return s.Update(t.Context(), func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) })
	}
	require.NoError(t, put())
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer admin.Close(t.Context())
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n))
		return n == 0
	}, 10*time.Second, 10*time.Millisecond, "the server ended the idle sessions")
	if err := put(); err != nil {
		assert.ErrorIs(t, err, core.ErrUnreachable)
	}
}

// TestReadOnlyServer: a server that takes no writes (a standby after a
// failover, or default_transaction_read_only) makes an Update fail with
// core.ErrUnreachable, a 503 to retry once the primary is back, not an
// unknown error.
func TestReadOnlyServer(t *testing.T) {
	url := migrated.Copy(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer admin.Close(t.Context())
	_, err = admin.Exec(t.Context(), `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database()); END $$`)
	require.NoError(t, err)
	_, err = admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	require.NoError(t, err)
	for range 2 {
		err := s.Update(t.Context(), func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) })
		assert.ErrorIs(t, err, core.ErrUnreachable)
	}
}

// TestStatementGivenUp: a statement PostgreSQL gives up on (an operator's
// statement_timeout or lock_timeout while a lock is held elsewhere) makes an
// Update fail with core.ErrUnreachable, a 503 to retry, not an unknown
// error, and changes nothing.
func TestStatementGivenUp(t *testing.T) {
	for _, setting := range []string{"statement_timeout", "lock_timeout"} {
		t.Run(setting, func(t *testing.T) {
			url := migrated.Copy(t)
			admin, err := pgx.Connect(t.Context(), url)
			require.NoError(t, err)
			defer admin.Close(t.Context())
			_, err = admin.Exec(t.Context(), `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET `+setting+` = ''50ms''', current_database()); END $$`)
			require.NoError(t, err)
			s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 1})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })

			lock, err := admin.Begin(t.Context())
			require.NoError(t, err)
			_, err = lock.Exec(t.Context(), `LOCK TABLE meta IN ACCESS EXCLUSIVE MODE`)
			require.NoError(t, err)
			err = s.Update(t.Context(), func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) })
			assert.ErrorIs(t, err, core.ErrUnreachable)
			require.NoError(t, lock.Rollback(t.Context()))

			err = s.View(t.Context(), func(tx core.ReadTx) error {
				_, err := tx.Meta("k")
				return err
			})
			assert.ErrorIs(t, err, core.ErrRecordNotFound, "nothing written")
		})
	}
}
