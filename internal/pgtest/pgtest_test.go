package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

// TestDatabasesAreApart: every test gets its own database, empty or a copy
// of its template, and what one writes no other sees.
func TestDatabasesAreApart(t *testing.T) {
	tmpl := pgtest.NewTemplate(func(ctx context.Context, url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE prepared (n int)`)
		return err
	})
	a, b := connect(t, tmpl.Copy(t)), connect(t, tmpl.Copy(t))
	assert.NotEqual(t, a.Config().Database, b.Config().Database)
	assert.Equal(t, []string{"prepared"}, tables(t, a), "a copy of the template")
	_, err := a.Exec(t.Context(), `CREATE TABLE mine (n int)`)
	require.NoError(t, err)
	assert.Equal(t, []string{"prepared"}, tables(t, b), "another copy")
	assert.Empty(t, tables(t, connect(t, pgtest.URL(t))), "an empty database")
}

// TestStartStop starts a server of its own: Stop ends it and removes its directory.
func TestStartStop(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skipf("%s names the server to use", pgtest.EnvURL)
	}
	s, err := pgtest.Start()
	require.NoError(t, err)
	conn, err := pgx.Connect(t.Context(), s.URL)
	require.NoError(t, err)
	var one int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT 1`).Scan(&one))
	conn.Close(t.Context())

	require.NoError(t, s.Stop())
	_, err = pgx.Connect(t.Context(), s.URL)
	assert.Error(t, err, "connect after Stop")
	_, err = os.Stat(s.Dir())
	assert.ErrorIs(t, err, os.ErrNotExist, "the server's directory after Stop")
}
