package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deputyhq/deputy/core"
)

// Options tune Open. The zero value is ready to use.
type Options struct {
	// MaxConns is the most connections the pool opens; zero means the URL's
	// pool_max_conns, or else DefaultMaxConns.
	MaxConns int32
}

// DefaultMaxConns is the pool size when neither Options nor the URL set one:
// enough for every core to wait on the database at once, a few times over.
func DefaultMaxConns() int32 { return int32(max(8, 4*runtime.GOMAXPROCS(0))) }

// maxAttempts bounds how often Update runs a transaction that keeps failing
// to serialize; backoff is the first pause between attempts, doubled each time
// up to maxBackoff, and jittered.
const (
	maxAttempts = 100
	backoff     = time.Millisecond
	maxBackoff  = 50 * time.Millisecond
)

// Store is a core.Store on a PostgreSQL database. It is safe for concurrent
// use, and any number of Stores (in any number of processes) may share one
// database.
type Store struct {
	pool *pgxpool.Pool
}

var _ core.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...), checks that the
// server is PostgreSQL 14 or newer and brings the schema up to date
// (migrate.go). It fails when the database's schema is newer than this build.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("parse the PostgreSQL URL: it must look like postgres://user:password@host:5432/database")
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	ms, err := migrations()
	if err == nil {
		err = migrate(ctx, pool, ms)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection of the pool; it waits for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Update runs fn in a SERIALIZABLE transaction that commits if fn returns nil.
// A transaction that fails to serialize (40001) or is chosen as a deadlock
// victim (40P01), in any statement or at commit, is rolled back and fn runs
// again, after a jittered pause, so fn may be called more than once.
func (s *Store) Update(ctx context.Context, fn func(core.Tx) error) error {
	pause := backoff
	for attempt := 1; ; attempt++ {
		err := s.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(t *tx) error { return fn(t) })
		if !retryable(err) || attempt == maxAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause/2 + rand.N(pause)):
		}
		pause = min(2*pause, maxBackoff)
	}
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot.
func (s *Store) View(ctx context.Context, fn func(core.ReadTx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(t *tx) error { return fn(t) })
}

// run runs fn once in a transaction with opts, committing when fn returns nil.
func (s *Store) run(ctx context.Context, opts pgx.TxOptions, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ptx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return unreachable(ctx, storeError(err))
	}
	// Rolls back whatever did not commit, also when fn panics, so that the
	// connection goes back to the pool; after a commit it does nothing.
	defer ptx.Rollback(context.WithoutCancel(ctx))
	t := &tx{ctx: ctx, tx: ptx}
	err = fn(t)
	if t.retry != nil {
		// fn may have turned the failure into an error of its own (or none).
		return t.retry
	}
	if err != nil {
		return err
	}
	return unreachable(ctx, storeError(ptx.Commit(ctx)))
}

// unreachable marks err core.ErrUnreachable when it is not PostgreSQL's
// answer but a failure to reach it (no connection, a connection cut), and
// the caller's context is still alive.
func unreachable(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if err == nil || ctx.Err() != nil || errors.As(err, &pgErr) || errors.Is(err, core.ErrNoSpace) {
		return err
	}
	return fmt.Errorf("%w: %w", core.ErrUnreachable, err)
}

// retryable reports whether err is a failure to serialize or a deadlock.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// storeError maps PostgreSQL's errors to core's: a full disk or quota is
// core.ErrNoSpace (disk_full).
func storeError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "53100" {
		return fmt.Errorf("%w: %w", core.ErrNoSpace, err)
	}
	return err
}
