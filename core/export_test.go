package core

import "context"

// PasswordHasher exports the service's hashing interface to the tests.
type PasswordHasher = passwordHasher

// WrapHasher replaces s's hasher with wrap(hasher), for tests that watch the checks.
func WrapHasher(s *Service, wrap func(PasswordHasher) PasswordHasher) { s.hasher = wrap(s.hasher) }

// NopObserver observes nothing, for tests that observe one thing.
type NopObserver = nopObserver

// FanOutWebhooks queues the webhook events of the audit log's new entries, as a delivery round does first.
func (s *Service) FanOutWebhooks(ctx context.Context) error {
	for {
		if _, full, err := s.startRound(ctx, false, nil); err != nil || !full {
			return err
		}
	}
}

// WebhookEndpointSenders is how many of a round's senders one endpoint takes at most.
const WebhookEndpointSenders = webhookEndpointSenders

// WebhookDeliveryLife is how long a queue's head stays pending at most.
const WebhookDeliveryLife = webhookDeliveryLife

// ClaimWebhooksWhileBusy runs a round's claim while chains to the busy
// endpoints are still in flight, and returns the endpoint of each queue claimed.
func (s *Service) ClaimWebhooksWhileBusy(ctx context.Context, busy ...string) ([]string, error) {
	late := newLateChains()
	for _, id := range busy {
		late.endpoints[id]++
	}
	cs, _, err := s.startRound(ctx, true, late)
	endpoints := make([]string, len(cs))
	for i, c := range cs {
		endpoints[i] = c.endpoint.ID
	}
	return endpoints, err
}

// MaxResetsStoring and MaxProgrammeResetsStoring are how many password
// resets may be started and not yet stored at once, in all and of one programme.
const (
	MaxResetsStoring          = maxResetsStoring
	MaxProgrammeResetsStoring = maxProgrammeResetsStoring
)

// FanOutPlan is a fan-out batch derived ahead of its Update.
type FanOutPlan = fanOutPlan

// PlanFanOut derives a programme's next fan-out batch in a read
// transaction, as a delivery round does before its Update.
func (s *Service) PlanFanOut(ctx context.Context, programmeID string) (plan *FanOutPlan, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		eps, from, err := fanOutCursor(tx, programmeID, s.clock.Now())
		if err == nil {
			plan, err = planFanOut(tx, programmeID, from, eps)
		}
		return err
	})
	return plan, err
}

// FanOutPlanned runs one fan-out Update of a programme with plan (nil:
// derived in the Update) and returns how many audit events it read.
func (s *Service) FanOutPlanned(ctx context.Context, programmeID string, plan *FanOutPlan) (n int, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		n, err = s.fanOutBatch(tx, programmeID, plan, nil)
		return err
	})
	return n, err
}
