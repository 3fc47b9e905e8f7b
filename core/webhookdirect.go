package core

import (
	"errors"
	"slices"
	"time"
)

// Direct delivery: a round sends the webhook events of new audit events
// before it writes their deliveries, and then writes each delivery once, as
// it ended: delivered, or pending, to be tried again on the schedule with
// the events of its subject behind it. Queueing each delivery, claiming it
// and then recording its outcome wrote it three times, on the store's
// single writer that the changes themselves wait for.
//
// What keeps it durable is a claim on the endpoint (WebhookEndpoint.Sending,
// a lease), written with the events in the round's first Update: the
// endpoint's cursor (Fanned) moves past the batch only in the Update that
// writes its deliveries. So a worker that dies mid-round leaves the batch to
// the next once the lease ends, which sends it again (at least once, with
// the same event ids: storeEvent); and a worker whose lease another took
// over writes nothing. Only an empty queue goes direct: an event whose
// subject has a delivery pending at the endpoint waits behind it, so each
// user's events still arrive in order.

// directRound is what one delivery round sends straight from the log: a
// batch per endpoint it takes, and their new chains, one per subject.
type directRound struct {
	busy    []string // endpoints with a late chain: theirs are queued
	batches []*directBatch
	chains  []claimed
	queues  map[string]int // endpoint and subject: its chain in chains, or -1 when queued
}

// directBatch is one endpoint's part of a round, the audit events after
// its cursor through through: the deliveries of their events in the log's
// order, each in a chain of the round (link, its number in the batch, and
// place, its place in the chain) or queued (link -1).
type directBatch struct {
	endpoint *WebhookEndpoint
	through  uint64
	claim    string
	items    []directItem
	chains   int
}

type directItem struct {
	event       *WebhookEvent
	link, place int
}

// sending reports whether a worker holds a claim on e's events at now.
func (e *WebhookEndpoint) sending(now time.Time) bool {
	return e.Sending != nil && now.Before(e.Sending.Until)
}

func newDirectRound(late *lateChains) *directRound {
	return &directRound{busy: late.busy(), queues: map[string]int{}}
}

// takes reports whether the round sends e's events itself (never without a round).
func (r *directRound) takes(e *WebhookEndpoint) bool {
	return r != nil && !e.Disabled && !slices.Contains(r.busy, e.ID)
}

// batch returns the endpoint's batch in the round, or nil.
func (r *directRound) batch(endpointID string) *directBatch {
	if r == nil {
		return nil
	}
	i := slices.IndexFunc(r.batches, func(b *directBatch) bool { return b.endpoint.ID == endpointID })
	if i < 0 {
		return nil
	}
	return r.batches[i]
}

// add gives the round a delivery of ev to e: in the chain of its subject
// when that queue has nothing pending, else queued behind what it has.
func (r *directRound) add(tx ReadTx, e *WebhookEndpoint, ev *WebhookEvent) error {
	b := r.batch(e.ID)
	if b == nil {
		claim, err := randomToken("")
		if err != nil {
			return err
		}
		b = &directBatch{endpoint: e, claim: claim}
		r.batches = append(r.batches, b)
	}
	key := e.ID + "\x00" + ev.Subject
	chain, seen := r.queues[key]
	if !seen {
		pending, err := tx.WebhookQueue(e.ID, ev.Subject, 1)
		if err != nil {
			return err
		}
		chain = -1
		if len(pending) == 0 {
			chain = len(r.chains)
			r.chains = append(r.chains, claimed{endpoint: e, batch: b, link: b.chains})
			b.chains++
		}
		r.queues[key] = chain
	}
	b.items = append(b.items, directItem{event: ev, link: -1})
	if chain >= 0 {
		r.chains[chain].take(&b.items[len(b.items)-1])
	}
	return nil
}

// take puts a batch's item at the end of the chain.
func (c *claimed) take(it *directItem) {
	ev := it.event
	it.link, it.place = c.link, len(c.ds)
	c.ds = append(c.ds, pendingDelivery(c.endpoint.ID, ev, ev.At))
	for len(c.events) < len(c.ds)-1 { // the stored deliveries before it
		c.events = append(c.events, nil)
	}
	c.events = append(c.events, ev)
}

// adopt has each claimed chain that holds the whole of its queue (cs, from
// the same Update) take the round's events of that queue, which were
// queued behind it: they are sent after it, and a queue that a backlog had
// filled goes direct again once the round has caught up with it.
func (r *directRound) adopt(cs []claimed) {
	if r == nil {
		return
	}
	for i := range cs {
		c := &cs[i]
		b := r.batch(c.endpoint.ID)
		if !c.whole || b == nil || r.queues[c.endpoint.ID+"\x00"+c.ds[0].Subject] != -1 {
			continue
		}
		c.batch, c.link = b, b.chains
		b.chains++
		for j := range b.items {
			if it := &b.items[j]; it.link == -1 && it.event.Subject == c.ds[0].Subject {
				c.take(it)
			}
		}
	}
}

// settle ends the round's fan-out for each endpoint it takes: one with a
// chain to send is claimed until the round writes its deliveries; one with
// nothing to send, every subject of it having deliveries pending, has them
// queued now and its cursor moved past the batch.
func (r *directRound) settle(tx Tx, now time.Time) error {
	if r == nil {
		return nil
	}
	for _, b := range r.batches {
		e := b.endpoint
		if b.chains > 0 {
			e.Sending = &WebhookSending{Through: b.through, Until: now.Add(WebhookLease), Claim: b.claim}
			if err := tx.PutWebhookEndpoint(e); err != nil {
				return err
			}
			continue
		}
		for _, it := range b.items {
			if err := queueDelivery(tx, pendingDelivery(e.ID, it.event, it.event.At), true); err != nil {
				return err
			}
		}
		e.Fanned, e.Sending = b.through, nil
		if err := tx.PutWebhookEndpoint(e); err != nil {
			return err
		}
	}
	return nil
}

// recordDirect writes the deliveries of a direct batch, given its chains
// and how each went (by link), and moves the endpoint's cursor past the
// batch, unless the endpoint is gone or its claim is no longer the batch's.
func (s *Service) recordDirect(tx Tx, b *directBatch, cs []claimed, out []sent, now time.Time) error {
	e, err := tx.WebhookEndpoint(b.endpoint.ID)
	if errors.Is(err, ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.Sending == nil || e.Sending.Claim != b.claim {
		return nil // the lease ended and another worker took the batch over: its deliveries count
	}
	pending := map[string]bool{} // subjects whose queue is known not to be empty
	for _, it := range b.items {
		ev := it.event
		d := pendingDelivery(e.ID, ev, ev.At)
		if it.link >= 0 {
			o := out[it.link]
			switch {
			case it.place < len(o.results):
				d.Attempts = 1
				if s.applyAttempt(d, o.results[it.place], o.durations[it.place], now) {
					s.disable(e, receiverGone)
				}
			case it.place == 0: // its chain never started: given back, as a claim is
				d.NextAt = now.Add(jitter(WebhookRetrySchedule[0]))
				if u := cs[it.link].unsignable; u != nil {
					d.UnsignableSince = now
					s.log.Error("webhook delivery cannot be signed", "endpoint", e.ID, "event", ev.ID, "err", u)
				}
			}
		}
		var err error
		if d.State == DeliveryPending && d.NextAt.IsZero() { // not attempted: waits its turn, as fan-out queues it
			err = queueDelivery(tx, d, pending[d.Subject])
		} else {
			err = tx.AppendWebhookDelivery(d)
		}
		if err != nil {
			return err
		}
		pending[d.Subject] = pending[d.Subject] || d.State == DeliveryPending
	}
	e.Fanned, e.Sending = e.Sending.Through, nil
	return tx.PutWebhookEndpoint(e)
}
