// Package slots admits work under two bounds: at most so many at once in
// all, and at most so many of one key (an identity, a programme), so that
// one key's flood leaves the others most of the slots (total/perKey keys
// flooding at once still take them all). Whoever waits for a slot waits a
// bounded time; while it waits for one of all's, it holds one of its key's,
// which keeps only its own key's next callers waiting.
package slots

import (
	"context"
	"sync"
	"time"
)

// Slots are the slots of one kind of work.
type Slots struct {
	all    chan struct{}
	perKey int
	wait   time.Duration
	mu     sync.Mutex
	keys   map[string]*keySlots
}

// keySlots are a key's slots, kept while work holds or waits for them.
type keySlots struct {
	held  chan struct{}
	users int
}

// New returns total slots, at most perKey of them a key's, for which work
// waits at most wait. Both counts must be positive.
func New(total, perKey int, wait time.Duration) *Slots {
	if total < 1 || perKey < 1 {
		panic("slots: total and perKey must be positive")
	}
	return &Slots{all: make(chan struct{}, total), perKey: perKey, wait: wait, keys: map[string]*keySlots{}}
}

// Take takes one of key's slots, then one of all, waiting up to the wait in
// all or until ctx ends (the caller left; one that has already left gets
// none), and returns the function that gives both back, once however often
// it is called; ok is false when it got none.
func (s *Slots) Take(ctx context.Context, key string) (release func(), ok bool) {
	if ctx.Err() != nil {
		return nil, false
	}
	mine := s.join(key)
	leave := func() { s.leave(key, mine) }
	wait := time.NewTimer(s.wait)
	defer wait.Stop()
	select {
	case mine.held <- struct{}{}:
	case <-wait.C:
		leave()
		return nil, false
	case <-ctx.Done():
		leave()
		return nil, false
	}
	select {
	case s.all <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-s.all; <-mine.held; leave() }) }, true
	case <-wait.C:
	case <-ctx.Done():
	}
	<-mine.held
	leave()
	return nil, false
}

// join counts one more user of key's slots, making them if needed.
func (s *Slots) join(key string) *keySlots {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.keys[key]
	if mine == nil {
		mine = &keySlots{held: make(chan struct{}, s.perKey)}
		s.keys[key] = mine
	}
	mine.users++
	return mine
}

// leave counts one user fewer of key's slots, forgetting them with the last.
func (s *Slots) leave(key string, mine *keySlots) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mine.users--; mine.users == 0 {
		delete(s.keys, key)
	}
}
