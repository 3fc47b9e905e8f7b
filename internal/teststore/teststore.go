// Package teststore opens the store tests run on: bbolt, or PostgreSQL when
// DEPUTY_TEST_STORE=postgres, so that one suite covers both.
package teststore

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// EnvStore selects the store tests run on: "postgres" for
// PostgreSQL (a fresh database per test, from internal/pgtest); bbolt
// otherwise.
const EnvStore = "DEPUTY_TEST_STORE"

// migrated is a database with pgstore's schema, which each test copies.
var migrated = pgtest.NewTemplate(func(ctx context.Context, url string) error {
	s, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return err
	}
	return s.Close()
})

// OnPostgres reports whether EnvStore selects PostgreSQL.
func OnPostgres() bool { return os.Getenv(EnvStore) == "postgres" }

// Open opens an empty store for tb, closed when tb ends: a bbolt file in
// tb.TempDir(), or a new PostgreSQL database under DEPUTY_TEST_STORE=postgres.
func Open(tb testing.TB) core.Store {
	tb.Helper()
	return OpenPool(tb, 0)
}

// OpenPool is Open with a PostgreSQL pool of at most pool connections (0:
// pgstore's default).
func OpenPool(tb testing.TB, pool int32) core.Store {
	tb.Helper()
	var (
		store core.Store
		err   error
	)
	if OnPostgres() {
		url := migrated.Copy(tb)
		if store, err = pgstore.Open(context.Background(), url, pgstore.Options{MaxConns: pool}); err == nil {
			urls.Store(store, url)
		}
	} else {
		store, err = boltstore.Open(filepath.Join(tb.TempDir(), "deputy.db"), boltstore.Options{})
	}
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}

// urls are the database URLs of the PostgreSQL stores Open opened.
var urls sync.Map // core.Store -> string

// OpenReplica opens a second store on the database of a store Open returned,
// with its own pool of at most pool connections (0: pgstore's default), as
// a second replica has; it is closed when tb ends. On bbolt, whose file one
// process holds, it skips tb.
func OpenReplica(tb testing.TB, of core.Store, pool int32) core.Store {
	tb.Helper()
	url, ok := urls.Load(of)
	if !ok {
		tb.Skip("replicas share a PostgreSQL database: set " + EnvStore + "=postgres")
	}
	store, err := pgstore.Open(context.Background(), url.(string), pgstore.Options{MaxConns: pool})
	if err != nil {
		tb.Fatalf("open a replica's store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}
