package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/deputyhq/deputy/core"
)

// DefaultLockTimeout is how long Open waits for another process to release the file.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for the file lock held by another
	// process before giving up with an *InUseError; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// MaxBatchSize is the most writes one commit takes; zero means DefaultMaxBatchSize.
	MaxBatchSize int
}

// InUseError says the database file is locked by another process.
type InUseError struct{ Path string }

func (e *InUseError) Error() string {
	return fmt.Sprintf("database %s is in use by another process (is `deputy serve` running?)", e.Path)
}

// Store is a core.Store on one bbolt file. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	cache  *recordCaches
	commit *committer
}

var _ core.Store = (*Store)(nil)

// Open opens (creating it if needed) the database file at path and brings its
// schema up to date. It fails with an *InUseError when another process holds
// the file, and refuses a file cut short (checkWhole).
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if err := checkWhole(path, timeout); err != nil {
		return nil, err
	}
	var db *bolt.DB
	err := guard("open", func() (err error) { // it reads the free list
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, FreelistType: bolt.FreelistMapType})
		return err
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &InUseError{Path: path}
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := update("migration", db, func(tx *bolt.Tx) error { return migrate(tx, migrations) }); err != nil {
		return nil, errors.Join(fmt.Errorf("database %s: %w", path, err), db.Close())
	}
	batch := opts.MaxBatchSize
	if batch <= 0 {
		batch = DefaultMaxBatchSize
	}
	return &Store{db: db, cache: newRecordCaches(), commit: newCommitter(db, batch)}, nil
}

// Update runs fn in a read-write transaction that commits if fn returns nil.
// Concurrent Updates share one bbolt transaction (committer); if one of them
// fails, the others run again without it, so fn may be called more than once.
func (s *Store) Update(ctx context.Context, fn func(core.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.commit.do(ctx, func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(&writeTx{readTx{tx: tx, cache: s.cache}})
	})
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", core.ErrNoSpace, err)
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(core.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return guard("read", func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			return fn(&readTx{tx: tx, cache: s.cache})
		})
	})
}

// Close closes the file; it waits for running transactions to finish.
func (s *Store) Close() error {
	s.commit.stop()
	return s.db.Close()
}

// Backup writes a consistent copy of the whole database to w, from one read
// transaction: writers go on meanwhile, and the copy is the database as it
// stood when the backup began. It returns the bytes written.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// BackupFile writes a consistent copy of the database file at path to w, as
// Backup does, from the file opened read-only: unlike Open it creates
// nothing and migrates nothing, so a copy taken before an upgrade is the
// database as the old build left it, and a file that is not a Deputy
// database is refused as it is. It fails with an *InUseError when another
// process holds the file.
func BackupFile(ctx context.Context, path string, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if info.Size() == 0 { // bbolt would try to write a new database's pages
		return 0, fmt.Errorf("%s: not a Deputy database: an empty file", path)
	}
	var n int64
	err = inspect(path, info.Size(), DefaultLockTimeout, func(tx *bolt.Tx) error {
		if err := checkSchema(tx); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Check opens the database file at path read-only and verifies it: bbolt's
// page-level consistency check, and a schema this binary knows. It is how a
// backup proves it can be restored, and a source proves it can be copied.
// It fails with an *InUseError when another process holds the file.
func Check(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return inspect(path, info.Size(), DefaultLockTimeout, func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("%s is damaged: %w", path, err)
		}
		return checkSchema(tx)
	})
}

// checkWhole refuses a database file shorter than its meta pages say (a copy
// cut short, a disk that filled up): opening it read-write, bbolt reads its
// free list past the end, which faults the whole process. Read-only, it
// reads the meta pages alone (inspect); a missing or empty file is new.
func checkWhole(path string, timeout time.Duration) error {
	info, err := os.Stat(path)
	if err != nil || info.Size() == 0 {
		return nil // bolt.Open creates it, or says why it cannot
	}
	return inspect(path, info.Size(), timeout, func(*bolt.Tx) error { return nil })
}

// inspect opens the database file at path, of size bytes, read-only and runs
// fn in a read transaction, after refusing a file that ends before its pages
// do (pages past its end fault when read). It fails with an *InUseError when
// another process holds the file.
func inspect(path string, size int64, timeout time.Duration, fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return &InUseError{Path: path}
	}
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer db.Close()
	return guard("read", func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > size {
				return fmt.Errorf("%s is cut short: %d of %d bytes", path, size, tx.Size())
			}
			return fn(tx)
		})
	})
}
