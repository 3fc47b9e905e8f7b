package core

import (
	"cmp"
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

// fanOutBatch queues the webhook events of the next batch of a programme's
// audit events that some endpoint has not considered, and returns how many
// audit events it read. With direct (a delivery round), the events of each
// endpoint it takes go to the round, to be sent before their deliveries are
// written; an endpoint claimed by a worker is left to it. Replicas may run it at once: their
// transactions conflict on the endpoints, and the store's retry finds the
// work done or claimed.
func (s *Service) fanOutBatch(tx Tx, programmeID string, direct *directRound) (int, error) {
	eps, err := tx.WebhookEndpoints(programmeID)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	eps = slices.DeleteFunc(eps, func(e *WebhookEndpoint) bool { return e.sending(now) })
	if len(eps) == 0 {
		return 0, nil
	}
	from := slices.MinFunc(eps, func(a, b *WebhookEndpoint) int { return cmp.Compare(a.Fanned, b.Fanned) }).Fanned
	as, err := tx.AuditEvents(programmeID, from, webhookFanOutBatch)
	if err != nil || len(as) == 0 {
		return 0, err
	}
	queued := map[string]bool{} // endpoint and subject: a queue known not to be empty
	for _, a := range as {
		evs, err := webhookEventsOf(tx, a)
		if err != nil {
			return 0, fmt.Errorf("audit event %d: %w", a.Seq, err)
		}
		for i, ev := range evs {
			if err := s.queueEvent(tx, a, i, ev, eps, queued, direct); err != nil {
				return 0, err
			}
		}
	}
	last := as[len(as)-1].Seq
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
	return len(as), nil
}

// queueEvent writes the i-th webhook event of audit event a and queues a
// delivery of it to each endpoint that has not considered a and wants it,
// or hands it to direct for the endpoints it takes.
func (s *Service) queueEvent(tx Tx, a *AuditEvent, i int, ev outEvent, eps []*WebhookEndpoint, queued map[string]bool, direct *directRound) error {
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
func storeEvent(tx Tx, a *AuditEvent, i int, ev outEvent) (*WebhookEvent, error) {
	body, err := jsonBody(ev.Body)
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
