package server

import (
	"context"
	"sync"
	"time"

	"github.com/deputyhq/deputy/core"
)

// maxBulkBodiesAtOnce bounds the bulk submissions one server reads and
// decodes at once, one of them an identity's. Each may hold maxBulkBodyBytes
// and its decoded rows, and the identity's submission budget counts a
// submission only once its body is read, so parallel submissions could
// otherwise hold hundreds of MiB; and one identity's slow uploads hold no
// more than one slot. One more waits up to bulkBodyWait for its turn,
// holding no body meanwhile.
const (
	maxBulkBodiesAtOnce = 4
	bulkBodyWait        = 2 * time.Second
)

// errBulkBodiesBusy answers a bulk submission that waited bulkBodyWait.
var errBulkBodiesBusy = &core.Error{Class: core.ErrUnavailable, RetryAfter: time.Second,
	Message: "Other bulk submissions are being received: retry in a second."}

// bulkSlots admits the bulk submissions a server reads at once
// (maxBulkBodiesAtOnce).
type bulkSlots struct {
	all        chan struct{}
	mu         sync.Mutex
	identities map[string]*identitySlot
}

// identitySlot is an identity's one slot, kept while requests hold or wait for it.
type identitySlot struct {
	held  chan struct{}
	users int
}

func newBulkSlots() *bulkSlots {
	return &bulkSlots{all: make(chan struct{}, maxBulkBodiesAtOnce), identities: map[string]*identitySlot{}}
}

// admit takes identity's slot, then one of all, waiting up to bulkBodyWait
// in all or until ctx ends (the client left, and reads no answer), and
// returns the function that gives both back.
func (b *bulkSlots) admit(ctx context.Context, identity string) (release func(), err error) {
	b.mu.Lock()
	slot := b.identities[identity]
	if slot == nil {
		slot = &identitySlot{held: make(chan struct{}, 1)}
		b.identities[identity] = slot
	}
	slot.users++
	b.mu.Unlock()
	leave := func() {
		b.mu.Lock()
		if slot.users--; slot.users == 0 {
			delete(b.identities, identity)
		}
		b.mu.Unlock()
	}
	wait := time.NewTimer(bulkBodyWait)
	defer wait.Stop()
	select {
	case slot.held <- struct{}{}:
	case <-wait.C:
		leave()
		return nil, errBulkBodiesBusy
	case <-ctx.Done():
		leave()
		return nil, errBulkBodiesBusy
	}
	select {
	case b.all <- struct{}{}:
		return func() { <-b.all; <-slot.held; leave() }, nil
	case <-wait.C:
	case <-ctx.Done():
	}
	<-slot.held
	leave()
	return nil, errBulkBodiesBusy
}
