package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema is versioned: migrations/NNNN_what.sql takes a database from
// version NNNN-1 to NNNN, and schema_migrations records every version applied.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// A migration is one file of migrations/.
type migration struct {
	Version int
	Name    string // the file name
	SQL     string
}

// migrations returns the embedded migrations in version order; their
// versions must run 1, 2, 3... without a gap.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for i, name := range names { // fs.Glob sorts them
		base := path.Base(name)
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v != i+1 || len(prefix) != 4 {
			return nil, fmt.Errorf("migration %s: want the number %04d and a name, as %04d_what.sql", base, i+1, i+1)
		}
		sql, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{Version: v, Name: base, SQL: string(sql)})
	}
	return ms, nil
}

// SchemaVersion is the newest schema this build knows: its last migration's.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// NewerSchemaError says the database was migrated by a newer build than this one.
type NewerSchemaError struct{ Database, Known int }

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("the database's schema is version %d, newer than this deputy knows (version %d): run a deputy at least as new as the one that migrated it",
		e.Database, e.Known)
}

// migrationLock is the key of the advisory lock under which Open migrates,
// so that replicas starting together migrate once: "deputy" and 1.
const migrationLock int64 = 0x6465_7075_7479_0001

// minServerVersion is PostgreSQL 14, as server_version_num writes it.
const minServerVersion = 140000

// migrate brings the database up to the last of ms (Open: every one) under
// the advisory lock, each migration in a transaction of its own with its row
// in schema_migrations. A database with a newer schema is refused.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Release()
	var server int
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&server); err != nil {
		return fmt.Errorf("PostgreSQL version: %w", err)
	}
	if server < minServerVersion {
		return fmt.Errorf("PostgreSQL %d.%d is too old: deputy needs 14 or newer", server/10000, server%10000)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("lock the schema for migrations: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
			// The pool would keep the session, and the lock with it.
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if known := len(ms); current > known {
		return &NewerSchemaError{Database: current, Known: known}
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
