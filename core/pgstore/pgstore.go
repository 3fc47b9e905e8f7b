package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deputyhq/deputy/core"
)

// Options tune Open. The zero value is ready to use.
type Options struct {
	// MaxConns is the most connections the pool opens; zero means the URL's
	// pool_max_conns, or else DefaultMaxConns.
	MaxConns int32
	// AcquireWait is the longest a transaction, or a Lead opening its lock
	// connection, waits for a pooled connection while all are busy; zero
	// means DefaultAcquireWait. Past it the store answers
	// core.ErrUnreachable (a 503 with Retry-After), whatever time the
	// caller's context has left.
	AcquireWait time.Duration
}

// DefaultAcquireWait bounds the wait for a pooled connection. A transaction
// holds one for milliseconds, so a queue this long is a database that stopped
// answering (a partition, a lock held for ever) or far more load than the
// pool can take: requests that queued behind it for as long as their clients
// hold on would only pile up, each holding its goroutine and its client,
// where a 503 with Retry-After lets clients back off.
const DefaultAcquireWait = 5 * time.Second

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
	line line // the Updates waiting for their turn on a log (turns.go)
	// appenders are the functions passed to Update whose last run appended
	// to logs: the code of the function (that of a closure's literal) ->
	// appender (turns.go).
	appenders sync.Map
	// parked are the connections whose View's COMMIT is still to be sent,
	// the longest parked first (park.go); sweeping is whether a sweep of
	// them is due, closing whether Close has begun.
	parked            chan parkedConn
	sweeping, closing atomic.Bool
	locks             leaderLocks   // the advisory locks of background work (leader.go)
	acquireWait       time.Duration // Options.AcquireWait (park.go)
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
	wait := opts.AcquireWait
	if wait <= 0 {
		wait = DefaultAcquireWait
	}
	return &Store{pool: pool, parked: make(chan parkedConn, cfg.MaxConns), acquireWait: wait}, nil
}

// Close closes every connection of the pool; it waits for those in use.
func (s *Store) Close() error {
	s.locks.close()
	s.closeParked()
	s.pool.Close()
	return nil
}

// The statements that open Update's and View's transactions.
const (
	beginUpdate = "BEGIN ISOLATION LEVEL SERIALIZABLE"
	beginView   = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
)

// Update runs fn in a SERIALIZABLE transaction that commits if fn returns nil.
// A transaction that fails to serialize (40001) or is chosen as a deadlock
// victim (40P01), in any statement or at commit, is rolled back and fn runs
// again, so fn may be called more than once: after appending to a log, in
// its turn (turns.go); otherwise after a pause, jittered and doubling. A
// function that would most likely fail first goes straight to its turn
// (straightToTurn).
func (s *Store) Update(ctx context.Context, fn func(core.Tx) error) error {
	code := reflect.ValueOf(fn).Pointer()
	if logs, ok := s.straightToTurn(code); ok {
		return s.takeTurn(ctx, fn, logs)
	}
	pause := backoff
	for attempt := 1; ; attempt++ {
		var logs []int32
		err := s.once(ctx, func(t *tx) error {
			defer func() { logs = t.logs }()
			return fn(t)
		})
		if attempt == 1 {
			s.noteRun(code, logs, retryable(err))
		}
		if !retryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return contended(err)
		}
		if len(logs) > 0 {
			return s.takeTurn(ctx, fn, logs)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause/2 + rand.N(pause)):
		}
		pause = min(2*pause, maxBackoff)
	}
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot,
// which ends when the connection is next used (park.go).
func (s *Store) View(ctx context.Context, fn func(core.ReadTx) error) error {
	return s.view(ctx, func(t *tx) error { return fn(t) })
}

// view is View with fn given the tx itself (Export's walk needs it); a
// read-only transaction is parked, never left for pgxpool, which closes a
// connection given back amid a transaction.
func (s *Store) view(ctx context.Context, fn func(*tx) error) error {
	pc, parked, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		switch conn := pc.Conn(); {
		case conn.IsClosed() || conn.PgConn().TxStatus() == 'I':
			pc.Release()
		case conn.PgConn().IsBusy(): // fn panicked amid a read
			_ = pc.Hijack().Close(context.WithoutCancel(ctx))
		case aborted(conn.PgConn().TxStatus()):
			endParked(pc)
		default:
			s.park(pc)
		}
	}()
	t := &tx{ctx: ctx, conn: pc.Conn(), begin: beginView, parked: parked}
	return t.run(func() error { return fn(t) })
}

// aborted reports whether a connection's transaction status is that of a
// transaction a failed statement aborted (PostgreSQL refused a value, a
// statement timed out): such a View's connection is ended, never parked.
// Parked, the next transaction's first batch, which pgx prepares before the
// COMMIT ahead of it runs, failed (25P02), and so, through pgx's statement
// cache, did the one after it (42P05): one bad request failed others.
func aborted(txStatus byte) bool { return txStatus == 'E' }

// once runs fn once in an Update's transaction, committing when fn returns
// nil (a read-only transaction goes through view, which ends it).
func (s *Store) once(ctx context.Context, fn func(*tx) error) error {
	pc, parked, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	t := updateTx(ctx, pc.Conn(), nil)
	t.parked = parked
	return t.run(func() error { return fn(t) })
}

// release gives the connection back to the pool without the log locks it
// holds; one that cannot unlock is closed, which ends its locks.
func release(ctx context.Context, pc *pgxpool.Conn, locked []int32) {
	if len(locked) > 0 {
		if _, err := pc.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock_all()`); err != nil {
			_ = pc.Hijack().Close(context.WithoutCancel(ctx))
			return
		}
	}
	pc.Release()
}

// run runs fn once in t's transaction. An Update's commits when fn returns
// nil, and whatever did not commit is rolled back, also when fn panics; a
// View's is left to View.
func (t *tx) run(fn func() error) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if t.update && t.conn.PgConn().TxStatus() != 'I' && !t.conn.IsClosed() {
			// A connection still in a transaction is not given back to the pool
			// (pgxpool closes it), so a failed ROLLBACK loses nothing.
			_, _ = t.conn.Exec(context.WithoutCancel(t.ctx), "ROLLBACK")
		}
	}()
	err := fn()
	if t.retry != nil {
		// fn may have turned the failure into an error of its own (or none).
		return t.retry
	}
	if err != nil || !t.update {
		return err
	}
	return t.commit()
}

// unreachable marks err core.ErrUnreachable when it is a failure to reach
// PostgreSQL (no connection, a connection cut) or PostgreSQL's refusal to
// serve a connection for now (gone), and the caller's context is still alive.
func unreachable(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if err == nil || ctx.Err() != nil || errors.As(err, &pgErr) && !gone(pgErr) || errors.Is(err, core.ErrNoSpace) {
		return err
	}
	return fmt.Errorf("%w: %w", core.ErrUnreachable, err)
}

// gone reports whether PostgreSQL's answer ends or refuses a connection for
// a while, not for what was asked: a connection exception (class 08), no
// connection slot left (53300: more replicas' pools than max_connections,
// or a role's connection limit), a server shutting down, restarting or
// failing over (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
// cannot_connect_now), or a session the server ended for idling
// (57P05 idle_session_timeout, 25P03 idle_in_transaction_session_timeout).
// A retry later may well succeed.
func gone(pgErr *pgconn.PgError) bool {
	switch pgErr.Code {
	case "53300", "57P01", "57P02", "57P03", "57P05", "25P03":
		return true
	}
	return strings.HasPrefix(pgErr.Code, "08")
}

// retryable reports whether err is a failure to serialize, a deadlock or an
// append that found a line appending (turns.go).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, errLogQueued) || errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// contended is the error of an Update that failed to serialize (or was a
// deadlock's victim) maxAttempts times: it did not commit, and is
// core.ErrUnreachable, which core answers with a 503 and Retry-After, as it
// is no fault of the request's.
func contended(err error) error {
	return fmt.Errorf("%w: gave up after %d attempts: %w", core.ErrUnreachable, maxAttempts, err)
}

// storeError maps PostgreSQL's errors to core's: a full disk or quota is
// core.ErrNoSpace (disk_full); a server that takes no writes (25006
// read_only_sql_transaction: a standby, as after a failover, or a database
// made read only) is core.ErrUnreachable until the primary is back, and so
// is a statement the server gave up on for now, no fault of the request's
// (57014 query_canceled: an operator's statement_timeout or
// pg_cancel_backend; 55P03 lock_not_available: a lock_timeout; 53000
// insufficient_resources and 53200 out_of_memory).
func storeError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "53100":
			return fmt.Errorf("%w: %w", core.ErrNoSpace, err)
		case "25006":
			return fmt.Errorf("%w: the server takes no writes: %w", core.ErrUnreachable, err)
		case "57014", "55P03", "53000", "53200":
			return fmt.Errorf("%w: the server gave up on a statement: %w", core.ErrUnreachable, err)
		}
	}
	return err
}
