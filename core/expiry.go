package core

import (
	"context"
	"errors"
	"time"
)

// expiryBatch is how many expired challenges one transaction records, and
// expiryBatches how many transactions one sweep runs at most.
const (
	expiryBatch   = 200
	expiryBatches = 25
)

// expireChallenges records the expiry of SMS and push challenges that
// expired unanswered: an audit event each, which tells the embedder of an
// expired step-up (Weavr's StepupEvent EXPIRED) or confirmation (its
// confirmation event, outcome EXPIRED). The sweep runs it, so an
// expiry is told within a sweep's interval.
func (s *Service) expireChallenges(ctx context.Context) error {
	for range expiryBatches {
		n := 0
		err := s.store.Update(ctx, func(tx Tx) error {
			now := s.clock.Now()
			pushes, err := endExpired(tx.PushChallengesExpiredPending, now, func(c *PushChallenge) error { return s.expirePush(ctx, tx, c) })
			if err != nil {
				return err
			}
			codes, err := endExpired(tx.ChallengesExpiredUnreported, now, func(c *Challenge) error { return s.expireCode(ctx, tx, c) })
			if err != nil {
				return err
			}
			confs, err := endExpired(tx.ConfirmationsExpiredPending, now, func(c *Confirmation) error { return s.expireConfirmation(ctx, tx, c) })
			n = max(pushes, codes, confs)
			return err
		})
		if err != nil || n < expiryBatch {
			return err
		}
	}
	return nil
}

// endExpired ends, with end, each of up to expiryBatch records that read
// finds expired at now, and returns how many it found.
func endExpired[T any](read func(time.Time, int) ([]*T, error), now time.Time, end func(*T) error) (int, error) {
	xs, err := read(now, expiryBatch)
	if err != nil {
		return 0, err
	}
	for _, x := range xs {
		if err := end(x); err != nil {
			return 0, err
		}
	}
	return len(xs), nil
}

// expireConfirmation ends a confirmation that expired unanswered, with its
// confirmation.failed event (outcome EXPIRED): a push one with its push
// challenge (expirePush, which fails it), an SMS one alone, so that the
// embedder hears of every confirmation's end, not only of a push one's.
func (s *Service) expireConfirmation(ctx context.Context, tx Tx, c *Confirmation) error {
	if c.Channel == ChannelBiometric {
		p, err := tx.PushChallenge(c.ID)
		switch {
		case err == nil && p.State == PushPending:
			return s.expirePush(ctx, tx, p)
		case err != nil && !errors.Is(err, ErrRecordNotFound):
			return err
		}
	}
	return s.failConfirmation(ctx, tx, c, string(PushExpired))
}

// expireCode marks a one-time code challenge that expired unanswered as
// reported, with its audit event.
func (s *Service) expireCode(ctx context.Context, tx Tx, c *Challenge) error {
	c.ExpiryReported = true
	if err := tx.PutChallenge(c); err != nil {
		return err
	}
	u, err := tx.User(c.UserID)
	if errors.Is(err, ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, u.ProgrammeID, ActorSystem, "challenge.expire", u.ID, map[string]string{"purpose": string(c.Purpose), "channel": string(ChannelSMS)})
}
