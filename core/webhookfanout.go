package core

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Fan-out: the audit log is the webhooks' outbox. A change writes only its
// audit event, in its own transaction (Service.audit); fanOutBatch later
// derives the webhook events of a batch of audit events and queues a
// delivery of each to every endpoint that wants it, and in the same
// transaction moves each endpoint's cursor (WebhookEndpoint.Fanned) past the
// batch. So no event is lost or queued twice, none is sent for a change that
// rolled back (its audit event rolled back with it), events stay in the
// order of the log, and a change pays nothing for the webhooks. A delivery
// round fans out in the Update that claims deliveries (startRound), so that
// a round costs the store one commit fewer, and sends what it can at once,
// writing each delivery only when it has ended (webhookdirect.go).

// webhookFanOutBatch is how many audit events of a programme one delivery
// round's Update (startRound) fans out. The changes wait for that Update on
// bbolt's one writer: 500 held it 3-7 ms, which a change made meanwhile
// waits out; 100 keeps that wait short, for about a third less delivery
// speed at full tilt (BenchmarkWebhookDelivery).
const webhookFanOutBatch = 100

// webhooksBehind returns the programmes with an endpoint that has not
// considered every audit event, and is not claimed by a worker sending them
// at now (webhookdirect.go).
func webhooksBehind(tx ReadTx, now time.Time) ([]string, error) {
	var behind []string
	ps, err := tx.Programmes()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		eps, err := tx.WebhookEndpoints(p.ID)
		if err != nil || len(eps) == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		size, err := tx.AuditSize(p.ID)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(eps, func(e *WebhookEndpoint) bool { return int64(e.Fanned) < size && !e.sending(now) }) {
			behind = append(behind, p.ID)
		}
	}
	return behind, nil
}

// fanOutPlan is the batch of a programme's audit events after an endpoint
// cursor (from) and the webhook events each causes, their bodies encoded.
// A delivery round derives it in a read transaction (planFanOuts), beside
// the API's writes, so that the Update that queues it (fanOutBatch) holds
// the store's one writer, which those writes wait for, only to insert; an
// Update that finds the cursor moved meanwhile derives its batch itself.
// Audit events do not change once written, so a plan of the cursor's batch
// is the Update's, but for events appended since, which the next batch takes.
type fanOutPlan struct {
	from   uint64
	as     []*AuditEvent
	events [][]plannedEvent // of each of as
}

// plannedEvent is a webhook event and, when an endpoint wanted it as it
// was planned, its encoded body.
type plannedEvent struct {
	outEvent
	body []byte
}

// encoded returns ev's body encoded: as planned, or encoded now for an
// event no endpoint wanted then.
func (ev plannedEvent) encoded() ([]byte, error) {
	if ev.body != nil {
		return ev.body, nil
	}
	return jsonBody(ev.Body)
}

// maxFanOutPlans is how many programmes' batches a round plans at most,
// which bounds the memory plans hold: each up to webhookFanOutBatch audit
// events and their events' bodies. The Update derives the others' batches.
const maxFanOutPlans = 16

// planFanOuts derives, in a read transaction of its own, the next batch of
// the first maxFanOutPlans programmes behind. A batch that cannot be
// derived is left to the Update, which derives it again, reports it and
// goes on with the other programmes; so is every batch when the
// transaction fails (on PostgreSQL a failed read ends it): its error is
// the Update's to meet.
func (s *Service) planFanOuts(ctx context.Context, behind []string) map[string]*fanOutPlan {
	plans := map[string]*fanOutPlan{}
	_ = s.store.View(ctx, func(tx ReadTx) error {
		for _, p := range behind[:min(len(behind), maxFanOutPlans)] {
			eps, from, err := fanOutCursor(tx, p, s.clock.Now())
			if err != nil {
				return err
			}
			if len(eps) > 0 {
				plans[p], _ = planFanOut(tx, p, from, eps)
			}
		}
		return nil
	})
	return plans
}

// fanOutCursor returns a programme's endpoints that a worker is not
// sending at now, and the lowest of their cursors, from which their next
// batch begins.
func fanOutCursor(tx ReadTx, programmeID string, now time.Time) ([]*WebhookEndpoint, uint64, error) {
	eps, err := tx.WebhookEndpoints(programmeID)
	if err != nil {
		return nil, 0, err
	}
	eps = slices.DeleteFunc(eps, func(e *WebhookEndpoint) bool { return e.sending(now) })
	if len(eps) == 0 {
		return nil, 0, nil
	}
	return eps, slices.MinFunc(eps, func(a, b *WebhookEndpoint) int { return cmp.Compare(a.Fanned, b.Fanned) }).Fanned, nil
}

// planFanOut derives the batch of a programme's audit events after from,
// encoding the bodies of the events one of eps wants (the others are
// encoded only if an endpoint wants them by the Update: storeEvent).
func planFanOut(tx ReadTx, programmeID string, from uint64, eps []*WebhookEndpoint) (*fanOutPlan, error) {
	as, err := tx.AuditEvents(programmeID, from, webhookFanOutBatch)
	if err != nil {
		return nil, err
	}
	p := &fanOutPlan{from: from, as: as, events: make([][]plannedEvent, len(as))}
	for i, a := range as {
		evs, err := webhookEventsOf(tx, a)
		if err != nil {
			return nil, fmt.Errorf("audit event %d: %w", a.Seq, err)
		}
		for _, ev := range evs {
			planned := plannedEvent{outEvent: ev}
			if slices.ContainsFunc(eps, func(e *WebhookEndpoint) bool { return e.wants(ev.Type) }) {
				if planned.body, err = jsonBody(ev.Body); err != nil {
					return nil, fmt.Errorf("audit event %d: %w", a.Seq, err)
				}
			}
			p.events[i] = append(p.events[i], planned)
		}
	}
	return p, nil
}

// fanOutBatch queues the webhook events of the next batch of a programme's
// audit events that some endpoint has not considered, from plan when it is
// that batch's (else it derives the batch), and returns how many
// audit events it read. With direct (a delivery round), the events of each
// endpoint it takes go to the round, to be sent before their deliveries are
// written; an endpoint claimed by a worker is left to it. Replicas may run it at once: their
// transactions conflict on the endpoints, and the store's retry finds the
// work done or claimed.
func (s *Service) fanOutBatch(tx Tx, programmeID string, plan *fanOutPlan, direct *directRound) (int, error) {
	eps, from, err := fanOutCursor(tx, programmeID, s.clock.Now())
	if err != nil || len(eps) == 0 {
		return 0, err
	}
	if plan == nil || plan.from != from {
		if plan, err = planFanOut(tx, programmeID, from, eps); err != nil {
			return 0, err
		}
	}
	if len(plan.as) == 0 {
		return 0, nil
	}
	queued := map[string]bool{} // endpoint and subject: a queue known not to be empty
	for i, a := range plan.as {
		for j, ev := range plan.events[i] {
			if err := s.queueEvent(tx, a, j, ev, eps, queued, direct); err != nil {
				return 0, err
			}
		}
	}
	last := plan.as[len(plan.as)-1].Seq
	for _, e := range eps {
		if e.Fanned >= last {
			continue
		}
		if b := direct.batch(e.ID); b != nil {
			b.through = last // the round settles it (directRound.settle)
			continue
		}
		e.Fanned, e.Sending = last, nil
		if err := tx.PutWebhookEndpoint(e); err != nil {
			return 0, err
		}
	}
	return len(plan.as), nil
}

// queueEvent writes the i-th webhook event of audit event a and queues a
// delivery of it to each endpoint that has not considered a and wants it,
// or hands it to direct for the endpoints it takes.
func (s *Service) queueEvent(tx Tx, a *AuditEvent, i int, ev plannedEvent, eps []*WebhookEndpoint, queued map[string]bool, direct *directRound) error {
	var targets []*WebhookEndpoint
	for _, e := range eps {
		if e.Fanned < a.Seq && e.wants(ev.Type) {
			targets = append(targets, e)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	stored, err := storeEvent(tx, a, i, ev)
	if err != nil {
		return err
	}
	for _, e := range targets {
		if direct.takes(e) {
			if err := direct.add(tx, e, stored); err != nil {
				return err
			}
			continue
		}
		queue := e.ID + "\x00" + ev.Subject
		if err := queueDelivery(tx, pendingDelivery(e.ID, stored, a.At), queued[queue]); err != nil {
			return err
		}
		queued[queue] = true
	}
	return nil
}

// storeEvent writes the i-th webhook event of audit event a, or returns the
// one written before: a fan-out made again, after a worker died holding a
// claim, finds the events it wrote by their ids, which depend only on the
// events' place in the log, so that their receivers see the same ids again.
func storeEvent(tx Tx, a *AuditEvent, i int, ev plannedEvent) (*WebhookEvent, error) {
	body, err := ev.encoded()
	if err != nil {
		return nil, err
	}
	w := &WebhookEvent{ID: webhookEventID(a, i), ProgrammeID: a.ProgrammeID, Type: ev.Type, Subject: ev.Subject, Body: body, At: a.At}
	err = tx.InsertWebhookEvent(w)
	if errors.Is(err, ErrDuplicate) {
		return tx.WebhookEvent(w.ID)
	}
	return w, err
}

// webhookEventID is the id of the i-th webhook event of audit event a: the
// time first, so that the store appends each event at the end of its index
// instead of rewriting pages all over it, then a digest of the programme,
// a's place in its log and i.
func webhookEventID(a *AuditEvent, i int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", a.ProgrammeID, a.Seq, i))
	return fmt.Sprintf("evt_%016x", a.At.UnixNano()) + base64.RawURLEncoding.EncodeToString(h[:])
}
