package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deputyhq/deputy/core"
)

// Appends to one programme's log serialize on its head (logs.go): each must
// see the one before committed, so they commit one at a time, each with its
// own WAL flush, whatever the cores and connections. A SERIALIZABLE
// transaction that meets a head another committed since its snapshot fails,
// and under load nearly every concurrent append would, over and over.
//
// So an Update whose transaction failed after appending to a log takes its
// turn instead: it joins this replica's line of such Updates, and one
// goroutine at a time runs the whole line (up to maxTurnBatch) in one
// transaction, each Update's function under a savepoint so that one that
// fails leaves the others' changes standing, while the connection holds the
// session advisory locks of every log they appended to, taken before the
// snapshot and released with the commit. The appenders of a log then take
// turns across replicas instead of failing each other, and one commit (one
// WAL flush) carries the changes of a whole line. When the shared
// transaction fails for another reason, each function runs again alone, in
// a transaction of its own under the same locks.

// maxTurnBatch bounds the functions that share one transaction, below the 64
// subtransactions PostgreSQL keeps track of in shared memory.
const maxTurnBatch = 50

// appender is what Update remembers of a function (the code of a closure's
// literal) whose last run appended to logs.
type appender struct {
	logs []int32
	// failed is when a run of it outside a turn last failed to serialize.
	failed time.Time
}

// contendedFor is how long after a run of a function failed outside its turn
// the next runs go straight to their turn.
const contendedFor = time.Second

// straightToTurn returns the logs fn (its code) appended to the last time it
// ran when its next run should go straight to its turn, where it would most
// likely end up after failing first: while this replica's line runs, or
// shortly after a run of it failed outside its turn (the line of another
// replica may hold the log). Once a second has passed, one run tries again
// outside.
func (s *Store) straightToTurn(code uintptr) ([]int32, bool) {
	v, ok := s.appenders.Load(code)
	if !ok {
		return nil, false
	}
	a := v.(appender)
	return a.logs, s.line.busy() || time.Since(a.failed) < contendedFor
}

// noteRun records the logs a first run of fn (its code) outside its turn
// appended to, and whether it failed to serialize.
func (s *Store) noteRun(code uintptr, logs []int32, failed bool) {
	if len(logs) == 0 {
		s.appenders.Delete(code)
		return
	}
	a := appender{logs: logs}
	if failed {
		a.failed = time.Now()
	}
	s.appenders.Store(code, a)
}

// turn is an Update waiting in line.
type turn struct {
	ctx  context.Context
	fn   func(core.Tx) error
	logs []int32
	done chan error
}

// line is a replica's Updates waiting for their turn, and whether a
// goroutine is running them.
type line struct {
	mu      sync.Mutex
	waiting []*turn
	running bool
}

// busy reports whether a goroutine is running the line.
func (l *line) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

// takeTurn runs fn when the line reaches it and returns its outcome.
func (s *Store) takeTurn(ctx context.Context, fn func(core.Tx) error, logs []int32) error {
	tn := &turn{ctx: ctx, fn: fn, logs: logs, done: make(chan error, 1)}
	s.line.mu.Lock()
	s.line.waiting = append(s.line.waiting, tn)
	start := !s.line.running
	s.line.running = true
	s.line.mu.Unlock()
	if start {
		go s.runLine(context.WithoutCancel(ctx))
	}
	// A waiting Update is not abandoned when its context ends: its function
	// may already be running in the line's transaction.
	err := <-tn.done
	if p, ok := err.(turnPanic); ok {
		panic(p.v)
	}
	return err
}

// turnPanic carries a panic of a function the line ran back to its Update.
type turnPanic struct{ v any }

func (p turnPanic) Error() string { return fmt.Sprint("panic: ", p.v) }

// call runs a turn's function in t, turning a panic into a turnPanic.
func (tn *turn) call(t *tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = turnPanic{v}
		}
	}()
	return tn.fn(t)
}

// runLine runs the line, batch by batch, until it is empty. Each batch is
// cut once the locks of its first Update's logs are held: the Updates that
// queued while another replica's line held them join it, so that the
// replicas' lines take turns with full batches rather than handing the locks
// back and forth with a few Updates each.
func (s *Store) runLine(ctx context.Context) {
	for {
		s.line.mu.Lock()
		if len(s.line.waiting) == 0 {
			s.line.running = false
			s.line.mu.Unlock()
			return
		}
		logs := lockSet(nil, s.line.waiting[0].logs)
		s.line.mu.Unlock()
		s.runTurns(ctx, logs)
	}
}

// take removes from the line, in order, up to maxTurnBatch Updates that
// append only to logs, and returns them: at least the first.
func (l *line) take(logs []int32) []*turn {
	l.mu.Lock()
	defer l.mu.Unlock()
	var batch []*turn
	l.waiting = slices.DeleteFunc(l.waiting, func(tn *turn) bool {
		if len(batch) == maxTurnBatch || len(lockSet(logs, tn.logs)) > len(logs) {
			return false
		}
		batch = append(batch, tn)
		return true
	})
	return batch
}

// runTurns takes the locks of logs, then runs a batch of the line's turns
// that append to them in one transaction, or else each alone.
func (s *Store) runTurns(ctx context.Context, logs []int32) {
	pc, err := s.acquireEnded(ctx)
	if err != nil {
		for _, tn := range s.line.take(logs) {
			tn.done <- err
		}
		return
	}
	locked, err := lockLogs(ctx, pc.Conn(), nil, logs)
	batch := s.line.take(logs)
	if err == nil {
		var outcomes []error
		if outcomes, locked, err = shareTurns(ctx, pc.Conn(), locked, batch); err == nil {
			for i, tn := range batch {
				tn.done <- outcomes[i]
			}
			release(ctx, pc, locked)
			return
		}
	}
	for _, tn := range batch {
		if err := tn.ctx.Err(); err != nil {
			tn.done <- err
			continue
		}
		tn.done <- alone(ctx, pc.Conn(), &locked, tn)
	}
	release(ctx, pc, locked)
}

// shareTurns runs the functions of a batch one after another in one
// transaction on conn, which holds the locks of the logs they appended to,
// each under a savepoint, and commits: it returns each one's outcome (nil,
// or its error, its changes rolled back) and the locks still held, or an
// error when the transaction as a whole failed, which changed nothing.
func shareTurns(ctx context.Context, conn *pgx.Conn, locked []int32, batch []*turn) ([]error, []int32, error) {
	t := updateTx(ctx, conn, locked)
	outcomes := make([]error, len(batch))
	err := t.run(func() error {
		for i, tn := range batch {
			if err := tn.ctx.Err(); err != nil {
				outcomes[i] = err
				continue
			}
			// What the functions before queued goes out with this one's
			// first statement, and may fail there (a full disk, a value
			// PostgreSQL refuses): then it is not this one's failure, and
			// rolling back to this one's savepoint would undo theirs too,
			// told they committed. The transaction fails instead.
			t.carried = len(t.queued)
			t.queue("SAVEPOINT turn")
			t.known = readAhead{}
			outcomes[i] = tn.call(t)
			if t.retry != nil {
				return t.retry
			}
			if t.carriedErr != nil {
				return t.carriedErr
			}
			if outcomes[i] != nil {
				if _, err := t.exec("ROLLBACK TO SAVEPOINT turn"); err != nil {
					return err
				}
			}
			t.queue("RELEASE SAVEPOINT turn")
		}
		return nil
	})
	return outcomes, t.locked, err
}

// alone runs a turn's function in transactions of its own on conn until one
// commits, fails for good, or maxAttempts is reached, holding the locks of
// the logs it appended to (which *locked, the locks conn holds, grows to).
func alone(ctx context.Context, conn *pgx.Conn, locked *[]int32, tn *turn) error {
	logs := tn.logs
	for attempt := 1; ; attempt++ {
		if want := lockSet(*locked, logs); len(want) > len(*locked) {
			var err error
			if *locked, err = lockLogs(ctx, conn, *locked, want); err != nil && !retryable(err) {
				return err
			}
		}
		t := updateTx(ctx, conn, *locked)
		err := t.run(func() error { return tn.call(t) })
		*locked, logs = t.locked, lockSet(logs, t.logs)
		if !retryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return contended(err)
		}
	}
}

// lockSet is the sorted union of the log locks held and those wanted.
func lockSet(held, want []int32) []int32 {
	return slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(held), want...))))
}

// lockLogs makes conn, outside any transaction, hold the session advisory
// locks of keys (sorted, so that two connections never take them in opposite
// orders) and returns them; on failure it holds none.
func lockLogs(ctx context.Context, conn *pgx.Conn, held, keys []int32) ([]int32, error) {
	if len(held) > 0 {
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
			return nil, unreachable(ctx, err)
		}
	}
	for _, k := range keys {
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, int32(logClass), k); err != nil {
			_, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock_all()`)
			return nil, errors.Join(unreachable(ctx, storeError(err)), uerr)
		}
	}
	return keys, nil
}
