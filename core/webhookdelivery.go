package core

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Delivery of webhook events (webhooks.go), at least once and, per endpoint
// and user, in order: only the head of each queue is ever due, and the next
// one becomes due when the head is delivered or given up. A worker claims
// due heads in a store Update by moving their NextAt past a lease, so that
// replicas sharing the store never attempt the same delivery at once, and a
// worker that dies mid-delivery leaves it due again when the lease ends: the
// event is sent again, never dropped. With a head the worker holds its
// queue: having delivered the head, it sends the deliveries behind it, one
// after the other, in the same round (a chain), and records them all in one
// Update, so that a user's backlog drains at the receiver's pace rather than
// one event per round. Receivers deduplicate by webhook-id (or call-ref),
// which stays the same on every attempt.

// WebhookRequest is one signed POST of an event.
type WebhookRequest struct {
	URL    string
	Header map[string]string
	Body   []byte
	// AllowPrivate lets the request reach loopback and private addresses.
	AllowPrivate bool
}

// WebhookResult is how an attempt went: the response's status (0 when there
// was none) and its Retry-After, or the error that stopped it.
type WebhookResult struct {
	Status     int
	RetryAfter time.Duration
	Err        error
}

// WebhookSender sends webhook requests (package webhook, over HTTP).
// Implementations time out slow receivers, never follow redirects, and
// refuse private addresses at connection time unless the request allows them.
type WebhookSender interface {
	Send(ctx context.Context, r *WebhookRequest) WebhookResult
}

// WebhookRetrySchedule is the wait before each attempt after the first:
// Standard Webhooks' schedule (immediately, 5s, 5m, 30m, 2h, 5h, 10h, 10h),
// then two daily attempts, so that a delivery is given up after about three
// days and ten attempts. Each wait varies by up to a tenth (jitter).
var WebhookRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	24 * time.Hour, 24 * time.Hour,
}

// Delivery tunables.
const (
	// WebhookTick is how often a server's worker (RunWebhookDelivery) looks
	// for webhook deliveries that are due.
	WebhookTick = time.Second
	// WebhookLease is how long a claimed delivery stays with its worker: more
	// than the sender's timeout, so that a live worker never loses it.
	WebhookLease = time.Minute
	// webhookBatch is how many queues (their heads) a worker claims at a time.
	webhookBatch = 200
	// webhookRound is how many deliveries, heads and chains, a round sends
	// at most: a queue's chain is its share.
	webhookRound = 1000
	// webhookChainTime is how long a chain goes on: after it, a slow
	// receiver's queue leaves its sender to other queues until the next round.
	webhookChainTime = time.Second
	// webhookSenders is how many requests a round has in flight at a time.
	webhookSenders = 32
	// webhookEndpointSenders is how many of them one endpoint's queues
	// take at most.
	webhookEndpointSenders = webhookSenders / 4
	// webhookFairShare is how many queues of one endpoint a round claims
	// before those of every other endpoint due; what is left of the batch
	// then goes to the oldest heads, whichever their endpoint.
	webhookFairShare = webhookBatch / 4
	// webhookRoundWait is how long a worker's round waits for its chains
	// before recording those that ended and leaving the others late.
	webhookRoundWait = 2 * webhookChainTime
	// webhookStartBy is how long after its claim a chain may start: well
	// within the lease, with time for the receiver's answer.
	webhookStartBy = WebhookLease / 2
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = 24 * time.Hour
	// webhookDeliveryLife bounds how long a queue's head stays pending: the
	// retry schedule with its jitter, and a lease. A delivery behind others
	// in its queue waits for them first, so it may end far later than that
	// after it was queued.
	webhookDeliveryLife = 4 * 24 * time.Hour
	// webhookLogSize is how many attempts a delivery's log keeps (the last ones).
	webhookLogSize = 10
)

// claimed is a queue a worker holds: its endpoint, its head (ds[0],
// leased) and the deliveries behind it, with their signed requests, or why
// its head cannot be signed; whole says it holds every delivery pending in
// its queue. A direct chain (webhookdirect.go) is one of a batch, the
// link-th, whose deliveries are not stored yet, after those of the queue
// that were (none, or a whole queue's): it carries their events.
type claimed struct {
	endpoint   *WebhookEndpoint
	ds         []*WebhookDelivery
	reqs       []*WebhookRequest
	unsignable error
	whole      bool
	batch      *directBatch
	link       int
	events     []*WebhookEvent // by place in ds; nil for a stored delivery
}

// stored returns how many of the chain's deliveries are stored: the first ones.
func (c *claimed) stored() int {
	if i := slices.IndexFunc(c.events, func(ev *WebhookEvent) bool { return ev != nil }); i >= 0 {
		return min(i, len(c.ds))
	}
	return len(c.ds)
}

// sent is how a chain went: the outcome and duration of each attempt, in
// order; the chain stops at the first delivery not delivered.
type sent struct {
	results   []WebhookResult
	durations []time.Duration
}

// DeliverWebhooks makes one round of deliveries: in one Update it queues
// the events of the audit log's new entries and claims the queues whose head
// is due (startRound), then sends their chains in parallel and records the
// outcomes, waiting for every chain. It returns how many attempts it made
// (0: nothing was due) and whether work remains (deliverRound), after which
// RunWebhookDelivery would go on without waiting for its tick.
func (s *Service) DeliverWebhooks(ctx context.Context) (attempts int, more bool, err error) {
	return s.deliverRound(ctx, nil)
}

// lateChains are the chains a worker's rounds left in flight when they
// moved on (a slow or hanging receiver's): they record their own outcome
// when they end, and until then their endpoints are given nothing new.
type lateChains struct {
	mu        sync.Mutex
	endpoints map[string]int
	wg        sync.WaitGroup
}

func newLateChains() *lateChains { return &lateChains{endpoints: map[string]int{}} }

// busy lists the endpoints with a chain still in flight (none, without l).
func (l *lateChains) busy() []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Collect(maps.Keys(l.endpoints))
}

// any reports whether a chain is still in flight (never, without l).
func (l *lateChains) any() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.endpoints) > 0
}

// add counts the chains to the endpoints of cs in flight.
func (l *lateChains) add(cs []claimed) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		l.endpoints[c.ds[0].EndpointID]++
	}
}

// done ends the late chains cs.
func (l *lateChains) done(cs []claimed) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		id := c.ds[0].EndpointID
		if l.endpoints[id]--; l.endpoints[id] == 0 {
			delete(l.endpoints, id)
		}
	}
}

// roundSenders hands out a round's senders: webhookSenders in all, and
// webhookEndpointSenders to any one endpoint, so that a slow receiver's
// queues wait behind each other rather than in front of other endpoints'.
// Once a chain to an endpoint has found it failing (receiverFailing), or
// webhookStartBy after the claim, a chain does not start: its queue is
// given back unsent, so that a failing receiver is not hammered and no lease
// ends mid-request.
type roundSenders struct {
	claimedAt time.Time
	all       chan struct{}
	mu        sync.Mutex
	endpoints map[string]chan struct{}
	failed    map[string]bool
}

func newRoundSenders(claimedAt time.Time) *roundSenders {
	return &roundSenders{claimedAt: claimedAt, all: make(chan struct{}, webhookSenders),
		endpoints: map[string]chan struct{}{}, failed: map[string]bool{}}
}

// start waits for a sender for a chain to endpointID and reports whether
// the chain may go; when it may, end must follow.
func (r *roundSenders) start(endpointID string) bool {
	r.mu.Lock()
	mine, ok := r.endpoints[endpointID]
	if !ok {
		mine = make(chan struct{}, webhookEndpointSenders)
		r.endpoints[endpointID] = mine
	}
	r.mu.Unlock()
	mine <- struct{}{}
	r.all <- struct{}{}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed[endpointID] || time.Since(r.claimedAt) >= webhookStartBy {
		<-r.all
		<-mine
		return false
	}
	return true
}

// end frees a chain's sender, noting whether it found the receiver failing.
func (r *roundSenders) end(endpointID string, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[endpointID] = r.failed[endpointID] || failed
	<-r.all
	<-r.endpoints[endpointID]
}

// deliverRound is a round of deliveries, and reports whether work remains:
// audit events beyond a full fan-out batch, or deliveries due. With late
// (RunWebhookDelivery), the round waits webhookRoundWait for its chains,
// records those that ended, and leaves the others to late, so that a
// receiver slower than that holds back no other endpoint's deliveries;
// without it, the round waits for every chain.
func (s *Service) deliverRound(ctx context.Context, late *lateChains) (int, bool, error) {
	if s.send.Webhooks == nil {
		return 0, false, nil
	}
	cs, more, err := s.startRound(ctx, true, late)
	if err != nil {
		return 0, false, err
	}
	if err := s.signChains(ctx, cs); err != nil { // give every claim back, unsent
		return 0, false, errors.Join(err, s.recordWebhooks(context.WithoutCancel(ctx), cs, make([]sent, len(cs))))
	}
	n := 0
	if len(cs) > 0 {
		senders := newRoundSenders(time.Now())
		out := make([]sent, len(cs))
		ended := make(chan int, len(cs))
		for i, c := range cs {
			go func() {
				out[i] = s.sendChain(ctx, c, senders)
				ended <- i
			}()
		}
		wait := time.Duration(0)
		if late != nil {
			wait = webhookRoundWait
		}
		finished := awaitChains(ended, len(cs), wait)
		if waiting := unfinished(len(cs), finished); len(waiting) > 0 {
			var held []int // ended, but of a direct batch with a chain still in flight
			finished, held = splitBatches(cs, finished, waiting)
			late.add(pick(cs, append(held, waiting...)))
			late.wg.Go(func() { s.recordLate(ctx, late, cs, out, ended, waiting, held) })
		}
		for _, i := range finished {
			n += len(out[i].results)
		}
		if err := s.recordWebhooks(context.WithoutCancel(ctx), pick(cs, finished), pick(out, finished)); err != nil {
			return n, false, err
		}
	}
	// A round that claimed nothing while chains are late may have found only
	// their endpoints' heads due: the next waits for the tick, not spinning.
	if !more && (len(cs) > 0 || !late.any()) {
		more, err = s.webhooksDue(ctx)
	}
	return n, more, err
}

// awaitChains reads the indexes of chains from ended as they end, until n
// have or, when wait is not 0, wait has passed, and returns them.
func awaitChains(ended <-chan int, n int, wait time.Duration) []int {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	var finished []int
	for len(finished) < n {
		select {
		case i := <-ended:
			finished = append(finished, i)
		case <-timeout:
			return finished
		}
	}
	return finished
}

// unfinished lists the indexes below n that are not in finished.
func unfinished(n int, finished []int) []int {
	var rest []int
	for i := range n {
		if !slices.Contains(finished, i) {
			rest = append(rest, i)
		}
	}
	return rest
}

// pick returns the elements of xs at the indexes.
func pick[T any](xs []T, indexes []int) []T {
	picked := make([]T, len(indexes))
	for j, i := range indexes {
		picked[j] = xs[i]
	}
	return picked
}

// splitBatches takes out of finished the chains of a direct batch with a
// chain still waiting: a batch's deliveries are written together.
func splitBatches(cs []claimed, finished, waiting []int) (whole, held []int) {
	for _, i := range finished {
		b := cs[i].batch
		if b != nil && slices.ContainsFunc(waiting, func(j int) bool { return cs[j].batch == b }) {
			held = append(held, i)
		} else {
			whole = append(whole, i)
		}
	}
	return whole, held
}

// recordLate records the outcome of a round's late chains (waiting) as they
// end, reading their indexes from ended: those that ended together in one
// Update, and a direct batch's once all its chains have (held: those that
// had already).
func (s *Service) recordLate(ctx context.Context, late *lateChains, cs []claimed, out []sent, ended <-chan int, waiting, held []int) {
	inFlight := map[*directBatch]int{}
	for _, i := range waiting {
		if b := cs[i].batch; b != nil {
			inFlight[b]++
		}
	}
	for n := len(waiting); n > 0; {
		together := []int{<-ended}
		for len(together) < n && len(ended) > 0 {
			together = append(together, <-ended)
		}
		n -= len(together)
		var ready []int
		for _, i := range together {
			b := cs[i].batch
			if b == nil {
				ready = append(ready, i)
				continue
			}
			held = append(held, i)
			if inFlight[b]--; inFlight[b] == 0 {
				ready = append(ready, slices.DeleteFunc(slices.Clone(held), func(j int) bool { return cs[j].batch != b })...)
			}
		}
		if len(ready) == 0 {
			continue
		}
		if err := s.recordWebhooks(context.WithoutCancel(ctx), pick(cs, ready), pick(out, ready)); err != nil {
			s.log.Error("webhook delivery", "err", err)
		}
		late.done(pick(cs, ready))
	}
}

// sendChain sends a claimed queue's deliveries in order, when it was signed
// and senders let it start, until one is not delivered, ctx ends or the chain has taken
// webhookChainTime. When it starts, the head is always attempted.
func (s *Service) sendChain(ctx context.Context, c claimed, senders *roundSenders) sent {
	var o sent
	endpointID := c.ds[0].EndpointID
	if len(c.reqs) == 0 || ctx.Err() != nil || !senders.start(endpointID) {
		return o
	}
	if ctx.Err() != nil { // stopped while waiting for a sender: given back unsent
		senders.end(endpointID, false)
		return o
	}
	start := time.Now()
	for i, req := range c.reqs {
		if i > 0 && (ctx.Err() != nil || time.Since(start) >= webhookChainTime) {
			break
		}
		t := time.Now()
		r := s.send.Webhooks.Send(ctx, req)
		took := time.Since(t)
		o.results, o.durations = append(o.results, r), append(o.durations, took)
		s.obs.WebhookAttempt(ctx, webhookOutcome(r), took)
		if !delivered(r) {
			break
		}
	}
	senders.end(endpointID, receiverFailing(o.results[len(o.results)-1]))
	return o
}

func delivered(r WebhookResult) bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// webhookOutcome is how an attempt went, as the observer counts it.
func webhookOutcome(r WebhookResult) WebhookOutcome {
	switch {
	case delivered(r):
		return WebhookDelivered
	case r.Status == 0:
		return WebhookUnreachable
	case r.Status == http.StatusGone:
		return WebhookGone
	case r.Status == http.StatusTooManyRequests:
		return WebhookThrottled
	}
	return WebhookRefused
}

// receiverFailing reports whether r says the receiver, rather than one
// event, is in trouble: no answer, a 5xx or a 429.
func receiverFailing(r WebhookResult) bool {
	return r.Err != nil || r.Status >= 500 || r.Status == http.StatusTooManyRequests
}

// webhooksDue reports whether a delivery is due now.
func (s *Service) webhooksDue(ctx context.Context) (bool, error) {
	var due bool
	err := s.store.View(ctx, func(tx ReadTx) error {
		ds, err := tx.DueWebhookDeliveries(s.clock.Now(), 1, 1, nil)
		due = len(ds) > 0
		return err
	})
	return due, internal("webhooks due", err)
}

// startRound runs a delivery round's Update: for each programme behind, it
// fans out a batch of the audit log's new entries (derived beforehand in a
// read transaction: fanOutPlan), and then, when claim is
// set, it claims the queues whose head is due (claimWebhooks), in the same
// commit, and returns them with the chains to send direct (webhookdirect.go). A programme whose batch fails is left out of the round and its
// error logged, so that it holds back only itself. full reports a full
// fan-out batch: more audit events wait. When nothing is behind or due, the
// round commits nothing.
func (s *Service) startRound(ctx context.Context, claim bool, late *lateChains) (cs []claimed, full bool, err error) {
	var behind []string
	var due bool
	err = s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if behind, err = webhooksBehind(tx, s.clock.Now()); err != nil || !claim {
			return err
		}
		ds, err := tx.DueWebhookDeliveries(s.clock.Now(), 1, 1, nil)
		due = len(ds) > 0
		return err
	})
	var plans map[string]*fanOutPlan
	if err == nil && len(behind) > 0 {
		plans = s.planFanOuts(ctx, behind)
	}
	for err == nil && (len(behind) > 0 || due) {
		failed := -1
		err = s.store.Update(ctx, func(tx Tx) error {
			cs, full, failed = cs[:0], false, -1
			var direct *directRound
			if claim {
				direct = newDirectRound(late)
			}
			for i, p := range behind {
				n, err := s.fanOutBatch(tx, p, plans[p], direct)
				if err != nil {
					failed = i
					return fmt.Errorf("fan out webhooks of programme %s: %w", p, err)
				}
				full = full || n == webhookFanOutBatch
			}
			if !claim {
				return nil
			}
			var err error
			if cs, err = s.claimWebhooks(tx, late); err != nil {
				return err
			}
			direct.adopt(cs)
			if err := direct.settle(tx, s.clock.Now()); err != nil {
				return err
			}
			cs = append(cs, direct.chains...)
			return nil
		})
		if err == nil || failed < 0 || ctx.Err() != nil {
			break
		}
		s.log.Error("webhook fan-out", "err", err) // the programme's deliveries already queued still go
		behind, err = slices.Delete(behind, failed, failed+1), nil
	}
	if err != nil {
		return nil, false, internal("webhook round", err)
	}
	return cs, full, nil
}

// claimWebhooks leases the due heads (dueHeads), none of an endpoint with a
// late chain, with their chains: each queue's share of webhookRound
// deliveries, up to the first that is due itself (a redelivery, which the
// round claims as a head). A delivery whose endpoint is gone or disabled
// fails at once.
func (s *Service) claimWebhooks(tx Tx, late *lateChains) ([]claimed, error) {
	var cs []claimed
	now := s.clock.Now()
	due, err := dueHeads(tx, now, late.busy())
	if err != nil {
		return nil, err
	}
	chain := max(1, webhookRound/max(1, len(due)))
	for _, d := range due {
		e, err := tx.WebhookEndpoint(d.EndpointID)
		if err != nil && !errors.Is(err, ErrRecordNotFound) {
			return nil, err
		}
		if e == nil || e.Disabled {
			if err := s.finishDelivery(tx, d, DeliveryFailed, now); err != nil {
				return nil, err
			}
			continue
		}
		d.Attempts++
		d.NextAt = now.Add(WebhookLease)
		if err := tx.UpdateWebhookDelivery(d); err != nil {
			return nil, err
		}
		c := claimed{ds: []*WebhookDelivery{d}}
		if chain > 1 {
			q, err := tx.WebhookQueue(d.EndpointID, d.Subject, chain)
			if err != nil {
				return nil, err
			}
			if len(q) > 0 && q[0].Seq == d.Seq {
				c.whole = len(q) < chain
				for _, next := range q[1:] {
					if !next.NextAt.IsZero() {
						c.whole = false
						break
					}
					c.ds = append(c.ds, next)
				}
			}
		}
		c.endpoint = e
		cs = append(cs, c)
	}
	return cs, nil
}

// signChains builds the signed requests of claimed chains, in a View after
// their claim has committed, so that the signing holds up no write. Any
// error but errUnsignable ends the View: the round gives every claim back.
func (s *Service) signChains(ctx context.Context, cs []claimed) error {
	if len(cs) == 0 {
		return nil // a round that claimed nothing opens no transaction for it
	}
	err := s.store.View(ctx, func(tx ReadTx) error {
		now, sent := s.clock.Now(), s.sendingTime()
		for i := range cs {
			if err := s.signChain(tx, &cs[i], now, sent); err != nil {
				return err
			}
		}
		return nil
	})
	return internal("sign webhooks", err)
}

// wallClock is a Clock that can be moved forward (the sandbox's): Wall is
// the real time it runs from.
type wallClock interface {
	Wall() time.Time
}

// sendingTime is when deliveries are signed as sent: the wall clock's time
// even when the sandbox's clock has been moved forward, because receivers
// check the signed timestamps against their own clocks.
func (s *Service) sendingTime() time.Time {
	if w, ok := s.clock.(wallClock); ok {
		return w.Wall()
	}
	return s.clock.Now()
}

// signChain builds the signed requests of one claimed chain, with the keys
// in force at now and the timestamp sent, up to its first delivery that
// cannot be signed (cut).
func (s *Service) signChain(tx ReadTx, c *claimed, now, sent time.Time) error {
	k, err := s.endpointKeys(tx, c.endpoint, now)
	if err != nil {
		return c.cut(0, err)
	}
	for i := range c.ds {
		ev, err := c.event(tx, i)
		if err != nil {
			return c.cut(i, err)
		}
		c.reqs = append(c.reqs, webhookRequest(c.endpoint, k, ev, sent))
	}
	return nil
}

// event returns the event of the chain's i-th delivery: carried by a direct
// chain, read from the store for a claimed one.
func (c *claimed) event(tx ReadTx, i int) (*WebhookEvent, error) {
	if i < len(c.events) && c.events[i] != nil {
		return c.events[i], nil
	}
	ev, err := tx.WebhookEvent(c.ds[i].EventID)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, cannotSign(err)
	}
	return ev, err
}

// cut ends the chain before its i-th delivery when err is errUnsignable:
// the ones before it go, and it waits to be the head; a head that cannot be
// signed is not sent, and the chain keeps why. Any other error is returned.
func (c *claimed) cut(i int, err error) error {
	if !errors.Is(err, errUnsignable) {
		return err
	}
	if i == 0 {
		c.unsignable = err
	}
	c.ds = c.ds[:max(i, 1)]
	return nil
}

// errUnsignable is why a delivery cannot be signed however often it is
// tried: its event or programme is gone, or a key no longer opens.
var errUnsignable = errors.New("cannot be signed")

func cannotSign(err error) error { return fmt.Errorf("%w: %w", errUnsignable, err) }

// dueHeads returns up to webhookBatch due heads, oldest first, none of the
// busy endpoints: first webhookFairShare at most of each endpoint, so that
// an endpoint with a backlog leaves room for every other, then the oldest of
// the rest.
func dueHeads(tx ReadTx, now time.Time, busy []string) ([]*WebhookDelivery, error) {
	due, err := tx.DueWebhookDeliveries(now, webhookBatch, webhookFairShare, busy)
	if err != nil || len(due) == webhookBatch || !anyFullShare(due) {
		return due, err
	}
	oldest, err := tx.DueWebhookDeliveries(now, webhookBatch, webhookBatch, busy)
	if err != nil {
		return nil, err
	}
	for _, d := range oldest {
		if len(due) == webhookBatch {
			break
		}
		if !slices.ContainsFunc(due, func(x *WebhookDelivery) bool { return x.Seq == d.Seq }) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b *WebhookDelivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.Seq, b.Seq))
	})
	return due, nil
}

// anyFullShare reports whether an endpoint has webhookFairShare heads in due.
func anyFullShare(due []*WebhookDelivery) bool {
	per := map[string]int{}
	for _, d := range due {
		if per[d.EndpointID]++; per[d.EndpointID] == webhookFairShare {
			return true
		}
	}
	return false
}

// webhookKeys sign an endpoint's deliveries: its programme's api key and
// its secrets in force.
type webhookKeys struct {
	apiKey  []byte
	secrets [][]byte
}

// endpointKeys opens the keys that sign e's deliveries at now, once for a
// whole chain.
func (s *Service) endpointKeys(tx ReadTx, e *WebhookEndpoint, now time.Time) (webhookKeys, error) {
	var k webhookKeys
	p, err := tx.Programme(e.ProgrammeID)
	if errors.Is(err, ErrRecordNotFound) {
		return k, cannotSign(err)
	}
	if err != nil {
		return k, err
	}
	if p.APIKeySealed != nil {
		if k.apiKey, err = s.open(sealAPIKey, p.APIKeySealed); err != nil {
			return k, cannotSign(err)
		}
	}
	for _, sec := range e.Secrets {
		if sec.Until.IsZero() || now.Before(sec.Until) {
			key, err := s.open(sealWebhookSecret, sec.Sealed)
			if err != nil {
				return k, cannotSign(err)
			}
			k.secrets = append(k.secrets, key)
		}
	}
	return k, nil
}

// webhookRequest signs an event to e with k for its attempt sent at sent.
func webhookRequest(e *WebhookEndpoint, k webhookKeys, ev *WebhookEvent, sent time.Time) *WebhookRequest {
	return &WebhookRequest{
		URL:          strings.TrimSuffix(e.URL, "/") + webhookEventPath(ev.Type),
		Header:       SignWebhook(ev.ID, ev.Body, sent, k.apiKey, k.secrets),
		Body:         ev.Body,
		AllowPrivate: e.AllowPrivate,
	}
}

// SignWebhook returns the headers that sign a webhook body sent at t:
// Weavr's (call-ref, published-timestamp, signature-v2 =
// base64(HMAC-SHA256(api key, call-ref + body + published-timestamp)), and
// the deprecated signature over the timestamp alone) when apiKey is set, and
// Standard Webhooks' (webhook-id, webhook-timestamp, webhook-signature with a
// "v1,"+base64(HMAC-SHA256(secret, id.timestamp.body)) per secret).
func SignWebhook(id string, body []byte, t time.Time, apiKey []byte, secrets [][]byte) map[string]string {
	ms := strconv.FormatInt(t.UnixMilli(), 10)
	secs := strconv.FormatInt(t.Unix(), 10)
	h := map[string]string{
		"content-type":        "application/json",
		"call-ref":            id,
		"request-ref":         id, // Weavr's name for it on bulk_process_end
		"published-timestamp": ms,
		"webhook-id":          id,
		"webhook-timestamp":   secs,
	}
	if apiKey != nil {
		h["signature-v2"] = macBase64(apiKey, id, string(body), ms)
		h["signature"] = macBase64(apiKey, ms)
	}
	sigs := make([]string, len(secrets))
	for i, k := range secrets {
		sigs[i] = "v1," + macBase64(k, id, ".", secs, ".", string(body))
	}
	h["webhook-signature"] = strings.Join(sigs, " ")
	return h
}

func macBase64(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// recordWebhooks records the outcome of each claimed chain's attempts, in
// order, in one Update, and gives back the lease of a chain that never
// started. A chain whose head's lease another worker has taken over since
// (its Attempts moved on) is not recorded: that worker's attempts count.
// The chains of a direct batch, all of them, are written as the batch
// (recordDirect), after the deliveries of theirs that were stored.
func (s *Service) recordWebhooks(ctx context.Context, cs []claimed, out []sent) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.clock.Now()
		var batches []*directBatch
		chains, outs := map[*directBatch][]claimed{}, map[*directBatch][]sent{}
		for i, c := range cs {
			if b := c.batch; b != nil {
				if chains[b] == nil {
					batches = append(batches, b)
					chains[b], outs[b] = make([]claimed, b.chains), make([]sent, b.chains)
				}
				chains[b][c.link], outs[b][c.link] = c, out[i]
			}
			stored := c.stored()
			if stored == 0 {
				continue
			}
			if len(out[i].results) == 0 {
				if err := s.giveBack(tx, c, now); err != nil {
					return err
				}
				continue
			}
			// Chained only into a stored delivery: the last stored one that
			// ends makes its queue's next due even when the chain went on
			// into direct events, whose batch may not be written (its claim
			// taken over) while something was queued behind the head since.
			recorded := out[i].results[:min(stored, len(out[i].results))]
			for j, r := range recorded {
				d, err := tx.WebhookDelivery(c.ds[j].Seq)
				if err != nil {
					return err
				}
				if d.State != DeliveryPending || (j == 0 && d.Attempts != c.ds[0].Attempts) {
					if j > 0 { // the delivery before it left the queue's turn to it
						if err := queueNext(tx, d.EndpointID, d.Subject, now); err != nil {
							return err
						}
					}
					break
				}
				if j > 0 { // its turn came with the delivery before it, in this Update
					d.Attempts++
				}
				if err := s.recordAttempt(tx, d, r, out[i].durations[j], now, j+1 < len(recorded)); err != nil {
					return err
				}
			}
		}
		for _, b := range batches {
			if err := s.recordDirect(tx, b, chains[b], outs[b], now); err != nil {
				return err
			}
		}
		return nil
	})
	return internal("record webhooks", err)
}

// giveBack makes the head of a claimed chain that was never sent due again
// after the schedule's first wait, its claim not counted as an attempt,
// unless another worker holds it since. The wait keeps a failing receiver's
// backlog from being claimed and given back round after round. A head that
// cannot be signed notes since when, and once that is webhookDeliveryLife
// ago it is given up, so that its queue moves on.
func (s *Service) giveBack(tx Tx, c claimed, now time.Time) error {
	d, err := tx.WebhookDelivery(c.ds[0].Seq)
	if err != nil || d.State != DeliveryPending || d.Attempts != c.ds[0].Attempts {
		return err
	}
	d.Attempts--
	if c.unsignable != nil {
		if d.UnsignableSince.IsZero() {
			d.UnsignableSince = now
			s.log.Error("webhook delivery cannot be signed", "endpoint", d.EndpointID, "event", d.EventID, "err", c.unsignable)
		}
		if now.Sub(d.UnsignableSince) >= webhookDeliveryLife {
			logAttempt(d, WebhookAttempt{At: now, Error: c.unsignable.Error()})
			s.log.Warn("webhook delivery given up", "endpoint", d.EndpointID, "event", d.EventID, "err", c.unsignable)
			return s.finishDelivery(tx, d, DeliveryFailed, now)
		}
	}
	d.NextAt = now.Add(jitter(WebhookRetrySchedule[0]))
	return tx.UpdateWebhookDelivery(d)
}

// recordAttempt writes one attempt's outcome (applyAttempt), disabling the
// endpoint on a 410, and makes the queue's next delivery due when d has
// ended, unless chained: the caller records that one in this Update, so
// that a delivered one need not make it due first.
func (s *Service) recordAttempt(tx Tx, d *WebhookDelivery, r WebhookResult, took time.Duration, now time.Time, chained bool) error {
	if s.applyAttempt(d, r, took, now) {
		if err := s.disableWebhook(tx, d.EndpointID, receiverGone); err != nil {
			return err
		}
	}
	if err := tx.UpdateWebhookDelivery(d); err != nil {
		return err
	}
	if d.State == DeliveryPending || (d.State == DeliveryDelivered && chained) {
		return nil
	}
	return queueNext(tx, d.EndpointID, d.Subject, now)
}

// receiverGone is why a 410 disables an endpoint.
const receiverGone = "the receiver answered 410 Gone"

// applyAttempt applies one attempt's outcome to d, its log included:
// delivered on 2xx; failed on a 410, reporting gone (the endpoint is to be
// disabled); otherwise a retry on the schedule, or after the receiver's
// Retry-After when it is later, until the schedule runs out.
func (s *Service) applyAttempt(d *WebhookDelivery, r WebhookResult, took time.Duration, now time.Time) (gone bool) {
	a := WebhookAttempt{At: now, Status: r.Status, Duration: took}
	if r.Err != nil {
		a.Error = r.Err.Error()
	}
	logAttempt(d, a)
	d.LastStatus, d.UnsignableSince = r.Status, time.Time{}
	switch {
	case delivered(r):
		d.end(DeliveryDelivered, now)
	case r.Status == http.StatusGone:
		d.end(DeliveryFailed, now)
		return true
	case d.Attempts > len(WebhookRetrySchedule):
		s.log.Warn("webhook delivery given up", "endpoint", d.EndpointID, "event", d.EventID, "attempts", d.Attempts)
		d.end(DeliveryFailed, now)
	default:
		wait := jitter(WebhookRetrySchedule[d.Attempts-1])
		if r.RetryAfter > wait {
			wait = min(r.RetryAfter, maxRetryAfter)
		}
		d.NextAt = now.Add(wait)
	}
	return false
}

// logAttempt adds a to d's log, which keeps the last webhookLogSize.
func logAttempt(d *WebhookDelivery, a WebhookAttempt) {
	d.Log = append(d.Log, a)
	if len(d.Log) > webhookLogSize {
		d.Log = d.Log[len(d.Log)-webhookLogSize:]
	}
}

// jitter varies d by up to a tenth either way, so that retries of many
// deliveries failed together spread out.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*2-1)*float64(d)/10)
}

// finishDelivery ends a delivery (delivered or failed) and makes the next
// one of its queue due.
func (s *Service) finishDelivery(tx Tx, d *WebhookDelivery, state WebhookDeliveryState, now time.Time) error {
	d.end(state, now)
	if err := tx.UpdateWebhookDelivery(d); err != nil {
		return err
	}
	return queueNext(tx, d.EndpointID, d.Subject, now)
}

// end ends d (delivered or failed) at now.
func (d *WebhookDelivery) end(state WebhookDeliveryState, now time.Time) {
	d.State, d.NextAt, d.DoneAt = state, time.Time{}, now
}

// queueNext makes the first pending delivery of a queue due, unless it is.
func queueNext(tx Tx, endpointID, subject string, now time.Time) error {
	next, err := tx.WebhookQueue(endpointID, subject, 1)
	if err != nil || len(next) == 0 {
		return err
	}
	if !next[0].NextAt.IsZero() {
		return nil // already due: a redelivery queued while the head was away
	}
	next[0].NextAt = now
	return tx.UpdateWebhookDelivery(next[0])
}

func (s *Service) disableWebhook(tx Tx, id, reason string) error {
	e, err := tx.WebhookEndpoint(id)
	if errors.Is(err, ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.disable(e, reason)
	return tx.PutWebhookEndpoint(e)
}

// disable stops deliveries to e, saying why; the caller writes e.
func (s *Service) disable(e *WebhookEndpoint, reason string) {
	e.Disabled, e.DisabledReason = true, reason
	s.log.Warn("webhook endpoint disabled", "endpoint", e.ID, "reason", reason)
}

// RunWebhookDelivery delivers webhooks until ctx ends: a round every tick,
// and while a round leaves work (deliveries due: more queues than a round
// claims, or chains longer than their share; or audit events beyond a
// fan-out batch), the next one after a rest as long as the round took. So a
// trickle of changes costs the store one round (two commits) per tick, and
// a backlog drains at half the worker's full speed, leaving the API at
// least half of the time while writes keep it busy.
func (s *Service) RunWebhookDelivery(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	late := newLateChains()
	defer late.wg.Wait()
	for {
		start := time.Now()
		_, more, err := s.deliverRound(ctx, late)
		if err != nil && ctx.Err() == nil {
			s.log.Error("webhook delivery", "err", err)
		}
		wait := t.C
		if more {
			wait = time.After(time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		}
	}
}

// WebhookDeliveryView is a delivery as operators see it.
type WebhookDeliveryView struct {
	*WebhookDelivery
	EventType string
}

// MaxWebhookDeliveriesPage is the most deliveries one WebhookDeliveries call returns.
const MaxWebhookDeliveriesPage = 1000

// WebhookDeliveries lists, newest first, up to limit deliveries to an
// endpoint with Seq below before (0: from the newest), with their logs.
func (s *Service) WebhookDeliveries(ctx context.Context, programmeID, endpointID string, before uint64, limit int) ([]*WebhookDeliveryView, error) {
	if limit < 1 || limit > MaxWebhookDeliveriesPage {
		return nil, Invalid("limit", ReasonRange, "1", strconv.Itoa(MaxWebhookDeliveriesPage))
	}
	var out []*WebhookDeliveryView
	err := s.store.View(ctx, func(tx ReadTx) error {
		out = out[:0]
		if _, err := programmeWebhook(tx, programmeID, endpointID); err != nil {
			return err
		}
		ds, err := tx.WebhookDeliveries(endpointID, before, limit)
		if err != nil {
			return err
		}
		for _, d := range ds {
			ev, err := tx.WebhookEvent(d.EventID)
			if err != nil {
				return err
			}
			out = append(out, &WebhookDeliveryView{WebhookDelivery: d, EventType: ev.Type})
		}
		return nil
	})
	return out, internal("webhook deliveries", err)
}

// Redeliver selects what RedeliverWebhooks sends again: one event, or every
// delivery of the endpoint that failed at or after Since.
type Redeliver struct {
	EventID string
	Since   time.Time
}

// RedeliverWebhooks queues again, at the end of their queues, deliveries to
// an endpoint: of one event (delivered or not) of a type the endpoint takes,
// or of every event whose delivery failed since a time. It returns how many
// it queued.
func (s *Service) RedeliverWebhooks(ctx context.Context, programmeID, endpointID string, r Redeliver) (int, error) {
	if (r.EventID == "") == r.Since.IsZero() {
		return 0, Invalid("event", ReasonRequired)
	}
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		n = 0
		ep, err := programmeWebhook(tx, programmeID, endpointID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		var events []*WebhookEvent
		if r.EventID != "" {
			ev, err := tx.WebhookEvent(r.EventID)
			if errors.Is(err, ErrRecordNotFound) || (err == nil && ev.ProgrammeID != programmeID) {
				return NotFound("event")
			}
			if err != nil {
				return err
			}
			// Only a type the endpoint takes: an endpoint given fewer
			// events is a receiver trusted with less.
			if len(ep.Events) > 0 && !slices.Contains(ep.Events, ev.Type) {
				return Invalid("event", ReasonIn, ep.Events...)
			}
			events = append(events, ev)
		} else {
			var err error
			if events, err = failedSince(tx, endpointID, r.Since); err != nil {
				return err
			}
		}
		for _, ev := range events {
			if err := queueDelivery(tx, pendingDelivery(endpointID, ev, now), false); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, internal("redeliver webhooks", err)
}

// failedSince returns the events of an endpoint's deliveries that failed at
// or after since, oldest delivery first, so that each subject's events are
// queued again in their order.
func failedSince(tx ReadTx, endpointID string, since time.Time) ([]*WebhookEvent, error) {
	var failed []*WebhookDelivery
	for after := uint64(0); ; {
		ds, err := tx.FailedWebhookDeliveries(endpointID, since, after, MaxWebhookDeliveriesPage)
		if err != nil {
			return nil, err
		}
		if len(ds) == 0 {
			break
		}
		failed = append(failed, ds...)
		since, after = ds[len(ds)-1].DoneAt, ds[len(ds)-1].Seq
	}
	slices.SortFunc(failed, func(a, b *WebhookDelivery) int { return cmp.Compare(a.Seq, b.Seq) })
	events := make([]*WebhookEvent, 0, len(failed))
	for _, d := range failed {
		ev, err := tx.WebhookEvent(d.EventID)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}
