package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// Fan-out: the audit log is the webhooks' outbox. A change writes only its
// audit event, in its own transaction (Service.audit); fanOutWebhooks later
// derives the webhook events of a batch of audit events and queues a
// delivery of each to every endpoint that wants it, and in the same
// transaction moves each endpoint's cursor (WebhookEndpoint.Fanned) past the
// batch. So no event is lost or queued twice, none is sent for a change that
// rolled back (its audit event rolled back with it), events stay in the
// order of the log, and a change pays nothing for the webhooks.

// webhookFanOutBatch is how many audit events one fan-out transaction reads.
const webhookFanOutBatch = 500

// fanOutWebhooks queues the webhook events of every audit event that an
// endpoint has not yet considered.
// Replicas may run it at once: their transactions conflict on the cursors,
// and the store's retry finds the work done.
func (s *Service) fanOutWebhooks(ctx context.Context) error {
	var behind []string
	err := s.store.View(ctx, func(tx ReadTx) error {
		behind = behind[:0]
		ps, err := tx.Programmes()
		if err != nil {
			return err
		}
		for _, p := range ps {
			eps, err := tx.WebhookEndpoints(p.ID)
			if err != nil || len(eps) == 0 {
				if err != nil {
					return err
				}
				continue
			}
			size, err := tx.AuditSize(p.ID)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(eps, func(e *WebhookEndpoint) bool { return int64(e.Fanned) < size }) {
				behind = append(behind, p.ID)
			}
		}
		return nil
	})
	if err != nil {
		return internal("fan out webhooks", err)
	}
	var errs []error // one programme's failure holds back that programme only
	for _, p := range behind {
		for {
			n, err := s.fanOutBatch(ctx, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("fan out webhooks of programme %s: %w", p, err))
			}
			if err != nil || n < webhookFanOutBatch {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// fanOutBatch queues the webhook events of the next batch of a programme's
// audit events that some endpoint has not considered.
func (s *Service) fanOutBatch(ctx context.Context, programmeID string) (int, error) {
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		eps, err := tx.WebhookEndpoints(programmeID)
		if err != nil || len(eps) == 0 {
			return err
		}
		from := slices.MinFunc(eps, func(a, b *WebhookEndpoint) int { return cmp.Compare(a.Fanned, b.Fanned) }).Fanned
		as, err := tx.AuditEvents(programmeID, from, webhookFanOutBatch)
		if err != nil {
			return err
		}
		n = len(as)
		queued := map[string]bool{} // endpoint and subject: a queue known not to be empty
		for _, a := range as {
			evs, err := webhookEventsOf(tx, a)
			if err != nil {
				return fmt.Errorf("audit event %d: %w", a.Seq, err)
			}
			for _, ev := range evs {
				if err := s.queueEvent(tx, a, ev, eps, queued); err != nil {
					return err
				}
			}
		}
		if n == 0 {
			return nil
		}
		last := as[n-1].Seq
		for _, e := range eps {
			if e.Fanned < last {
				e.Fanned = last
				if err := tx.PutWebhookEndpoint(e); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
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
