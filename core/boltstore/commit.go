package boltstore

import (
	"context"
	"errors"
	"runtime"
	"sync"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultMaxBatchSize is the most writes one commit takes.
const DefaultMaxBatchSize = 1000

// committer is the store's group commit: one goroutine runs every write, and
// each commit takes all the writes that queued while the previous one was on
// its way to the disk. A lone write commits at once; under load, commits
// grow with the queue instead of waiting on a timer, and never queue behind
// one another with a few writes each (bbolt's db.Batch forms a new small
// batch for every timer tick while a commit holds the lock).
type committer struct {
	db       *bolt.DB
	max      int
	queue    chan *write
	stopping chan struct{} // closed by stop
	stopOnce sync.Once
	done     chan struct{} // closed when run returns
}

// write is one Update waiting for its commit.
type write struct {
	ctx    context.Context
	fn     func(*bolt.Tx) error
	result chan error
}

func newCommitter(db *bolt.DB, max int) *committer {
	c := &committer{db: db, max: max, queue: make(chan *write, max), stopping: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// do runs fn in the next commit and returns its error, or the commit's; once
// the committer has stopped, bbolt's ErrDatabaseNotOpen.
func (c *committer) do(ctx context.Context, fn func(*bolt.Tx) error) error {
	w := &write{ctx: ctx, fn: fn, result: make(chan error, 1)}
	select {
	case c.queue <- w:
	case <-c.stopping:
		return bolterrors.ErrDatabaseNotOpen
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.result:
		return err
	case <-c.done:
		select {
		case err := <-w.result:
			return err
		default:
			return bolterrors.ErrDatabaseNotOpen // queued as the store closed
		}
	}
}

// stop commits what is queued and ends the committer; it may be called again.
func (c *committer) stop() {
	c.stopOnce.Do(func() { close(c.stopping) })
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*write, 0, c.max)
	for {
		var first *write
		select {
		case first = <-c.queue:
		case <-c.stopping:
			select {
			case first = <-c.queue: // what queued before stop still commits
			default:
				return
			}
		}
		batch = append(batch[:0], first)
		// Let the goroutines that are ready run first: those on their way
		// to an Update join this commit instead of waking the committer for
		// the next one. Under load that halves the server's context
		// switches per request and cuts about a tenth of its CPU per
		// create and per step-up (deputy serve under deputyload); alone,
		// a write waits for nothing.
		runtime.Gosched()
	gather:
		for len(batch) < c.max {
			select {
			case w := <-c.queue:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		c.commit(batch)
	}
}

// failed marks the write whose fn failed, so that the batch can run again
// without it.
type failed struct {
	index int
	err   error
}

func (f *failed) Error() string { return f.err.Error() }

// commit runs the batch's writes in one transaction, in order. When one of
// them fails, the transaction is rolled back, that write gets its error (it
// saw exactly the state the writes before it left, as if run alone after
// them) and the others run again without it, so an fn may run more than once.
func (c *committer) commit(batch []*write) {
	for len(batch) > 0 {
		live := batch[:0]
		for _, w := range batch {
			if err := w.ctx.Err(); err != nil {
				w.result <- err
				continue
			}
			live = append(live, w)
		}
		batch = live
		err := update("commit", c.db, func(tx *bolt.Tx) error {
			for i, w := range batch {
				if err := call(w.fn, tx); err != nil {
					return &failed{index: i, err: err}
				}
			}
			return nil
		})
		var f *failed
		if !errors.As(err, &f) {
			for _, w := range batch {
				w.result <- err // nil, or the commit's own error for every write
			}
			return
		}
		batch[f.index].result <- f.err
		batch = append(batch[:f.index:f.index], batch[f.index+1:]...)
	}
}

// call runs fn, turning a panic into its error (guard): the committer runs
// every write, so one write's panic must not take the others down.
func call(fn func(*bolt.Tx) error, tx *bolt.Tx) error {
	return guard("write", func() error { return fn(tx) })
}
