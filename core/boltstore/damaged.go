package boltstore

import (
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// guard runs fn, which reads or writes the file through bbolt, turning what a
// damaged page does into an error of what (say "read"): bbolt panics on a page
// that is not what it expected, and a page number past the mapped file faults,
// which SetPanicOnFault makes a panic too. bbolt's own deferred rollback has
// ended the transaction by then, so the process goes on serving what is not
// damaged instead of crashing with every request in flight. The error
// carries the panic's stack, for the log, as an unguarded panic's would.
func guard(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store %s panicked (a damaged database file, or a bug): %v\n%s", what, p, debug.Stack())
		}
	}()
	return fn()
}

// update runs fn in db.Update under guard. When a panic leaves the
// transaction open, bbolt's deferred rollback panicked too (it re-reads the
// free list, which may be the damaged page): the writer lock is still held,
// and every later write, and Close, would wait for it forever while reads
// went on and the server looked healthy. update then panics on, ending the
// process as an unguarded panic would.
func update(what string, db *bolt.DB, fn func(*bolt.Tx) error) error {
	var open *bolt.Tx
	err := guard(what, func() error {
		return db.Update(func(tx *bolt.Tx) error {
			open = tx
			return fn(tx)
		})
	})
	if open != nil && open.DB() != nil {
		panic(fmt.Sprintf("%v; its rollback failed too, so bbolt's writer lock is still held: restore the last backup", err))
	}
	return err
}
