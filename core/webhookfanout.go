package core

import (
	"cmp"
	"fmt"
	"slices"
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
// a round costs the store one commit fewer.

// webhookFanOutBatch is how many audit events of a programme one delivery
// round's Update (startRound) fans out.
const webhookFanOutBatch = 500

// webhooksBehind returns the programmes with an endpoint that has not
// considered every audit event.
func webhooksBehind(tx ReadTx) ([]string, error) {
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
		if slices.ContainsFunc(eps, func(e *WebhookEndpoint) bool { return int64(e.Fanned) < size }) {
			behind = append(behind, p.ID)
		}
	}
	return behind, nil
}

// fanOutBatch queues the webhook events of the next batch of a programme's
// audit events that some endpoint has not considered, and returns how many
// audit events it read. Replicas may run it at once: their transactions
// conflict on the cursors, and the store's retry finds the work done.
func (s *Service) fanOutBatch(tx Tx, programmeID string) (int, error) {
	eps, err := tx.WebhookEndpoints(programmeID)
	if err != nil || len(eps) == 0 {
		return 0, err
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
		for _, ev := range evs {
			if err := s.queueEvent(tx, a, ev, eps, queued); err != nil {
				return 0, err
			}
		}
	}
	last := as[len(as)-1].Seq
	for _, e := range eps {
		if e.Fanned < last {
			e.Fanned = last
			if err := tx.PutWebhookEndpoint(e); err != nil {
				return 0, err
			}
		}
	}
	return len(as), nil
}

// queueEvent writes a webhook event of audit event a and queues a delivery
// of it to each endpoint that has not considered a and wants it.
func (s *Service) queueEvent(tx Tx, a *AuditEvent, ev outEvent, eps []*WebhookEndpoint, queued map[string]bool) error {
	var targets []*WebhookEndpoint
	for _, e := range eps {
		if e.Fanned < a.Seq && e.wants(ev.Type) {
			targets = append(targets, e)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	// The time first: ids sort by creation, so the store appends each event
	// at the end of its index instead of rewriting pages all over it.
	id, err := randomToken(fmt.Sprintf("evt_%016x", a.At.UnixNano()))
	if err != nil {
		return err
	}
	body, err := jsonBody(ev.Body)
	if err != nil {
		return err
	}
	if err := tx.InsertWebhookEvent(&WebhookEvent{ID: id, ProgrammeID: a.ProgrammeID, Type: ev.Type, Subject: ev.Subject, Body: body, At: a.At}); err != nil {
		return err
	}
	for _, e := range targets {
		queue := e.ID + "\x00" + ev.Subject
		if err := s.queueDelivery(tx, e.ID, a.ProgrammeID, id, ev.Subject, a.At, queued[queue]); err != nil {
			return err
		}
		queued[queue] = true
	}
	return nil
}
