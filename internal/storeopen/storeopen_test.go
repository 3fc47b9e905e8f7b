package storeopen_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/internal/pgtest"
	"github.com/deputyhq/deputy/internal/storeopen"
)

func TestOpen(t *testing.T) {
	file, err := storeopen.Open(t.Context(), filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, err)
	assert.IsType(t, &boltstore.Store{}, file, "a path")
	require.NoError(t, file.Close())

	url := pgtest.URL(t)
	require.True(t, storeopen.IsPostgres(url), "pgtest's URL %s", url)
	db, err := storeopen.Open(t.Context(), url)
	require.NoError(t, err)
	assert.IsType(t, &pgstore.Store{}, db, "a postgres:// URL")
	require.NoError(t, db.Close())
}

func TestRedacted(t *testing.T) {
	for _, c := range []struct{ db, want string }{
		{"deputy.db", "deputy.db"},
		{"/var/lib/deputy/deputy.db", "/var/lib/deputy/deputy.db"},
		{"postgres://deputy:s3cret@db:5432/deputy?sslmode=verify-full", "postgres://deputy:xxxxx@db:5432/deputy?sslmode=verify-full"},
		{"postgresql://deputy@/deputy?host=/run/postgresql&password=s3cret", "postgresql://deputy@/deputy?host=%2Frun%2Fpostgresql"},
		{"postgres://deputy@db/deputy?sslmode=verify-full&sslkey=/k.pem&sslpassword=s3cret", "postgres://deputy@db/deputy?sslkey=%2Fk.pem&sslmode=verify-full"},
		{"postgres://deputy@db/deputy?Password=s3cret", "postgres://deputy@db/deputy"},
	} {
		assert.Equal(t, c.want, storeopen.Redacted(c.db), c.db)
	}
}
