package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateTo migrates the database at url up to version only, for the tests
// of a later migration to start from the schema before it.
func MigrateTo(ctx context.Context, url string, version int) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	ms, err := migrations()
	if err != nil {
		return err
	}
	return migrate(ctx, pool, ms[:version])
}
