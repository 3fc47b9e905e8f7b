package boltstore

import (
	"fmt"
	"runtime/debug"
)

// guard runs fn, which reads or writes the file through bbolt, turning what a
// damaged page does into an error of what (say "read"): bbolt panics on a page
// that is not what it expected, and a page number past the mapped file faults,
// which SetPanicOnFault makes a panic too. bbolt's own deferred rollback has
// ended the transaction by then, so the process goes on serving what is not
// damaged instead of crashing with every request in flight.
func guard(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store %s panicked (a damaged database file, or a bug): %v", what, p)
		}
	}()
	return fn()
}
