package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
)

// TestParkedViews runs Views on a pool of one connection, whose COMMIT is
// left to the next use of the connection (park.go): a View after another
// replica's write sees it, a View that failed leaves nothing behind, a
// leader and a push take the parked connection rather than wait for one,
// and a connection nobody takes leaves its transaction by itself.
func TestParkedViews(t *testing.T) {
	url := migrated.Copy(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	other, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, other.Close()) })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	put := func(v string) {
		t.Helper()
		require.NoError(t, other.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte(v)) }))
	}
	read := func() string {
		t.Helper()
		var v []byte
		require.NoError(t, s.View(ctx, func(tx core.ReadTx) (err error) {
			v, err = tx.Meta("k")
			return err
		}))
		return string(v)
	}
	put("1")
	assert.Equal(t, "1", read())
	put("2")
	assert.Equal(t, "2", read(), "a View after a parked one reads a new snapshot")

	err = s.View(ctx, func(tx core.ReadTx) error {
		_, err := tx.Meta("missing")
		return err
	})
	assert.ErrorIs(t, err, core.ErrRecordNotFound)
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte("3")) }),
		"an Update on the connection a failed View parked")
	assert.Equal(t, "3", read())

	led, err := s.Lead(ctx, "parked", func(context.Context) error { return nil })
	require.NoError(t, err)
	assert.True(t, led)
	read()
	require.NoError(t, s.Publish(ctx, "101"))

	read()
	conn := connect(t, url)
	assert.Eventually(t, func() bool {
		var open int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&open))
		return open == 0
	}, 10*time.Second, 5*time.Millisecond, "a parked connection nobody takes ends its transaction")
}

// TestViewWhoseStatementFailedIsNotParked: a View in which PostgreSQL
// refused a statement (here a key that is not UTF-8, 22021) leaves an
// aborted transaction; parked, it failed the next two transactions to take
// the connection, whoever's they were (25P02 on the parked COMMIT's batch,
// then 42P05 from pgx's statement cache), so one bad request made others 500s.
func TestViewWhoseStatementFailedIsNotParked(t *testing.T) {
	s, err := pgstore.Open(t.Context(), migrated.Copy(t), pgstore.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	err = s.View(ctx, func(tx core.ReadTx) error {
		_, err := tx.Idempotency("not utf-8: \xff")
		return err
	})
	require.Error(t, err, "PostgreSQL refuses the statement")
	err = s.View(ctx, func(tx core.ReadTx) error {
		_, err := tx.Meta("k")
		return err
	})
	assert.ErrorIs(t, err, core.ErrRecordNotFound, "a View on the connection after it")
	assert.NoError(t, s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) }),
		"an Update on the connection after it")
}
