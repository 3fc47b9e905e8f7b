package pgstore

import (
	"context"

	"github.com/deputyhq/deputy/core"
)

// pushChannel is the NOTIFY channel of push wake-ups.
const pushChannel = "deputy_push"

var _ core.PushBus = (*Store)(nil)

// Publish implements core.PushBus: a NOTIFY every replica's Listen hears.
// The payload is the user's id only.
func (s *Store) Publish(ctx context.Context, userID string) error {
	pc, err := s.acquireEnded(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	_, err = pc.Exec(ctx, `SELECT pg_notify($1, $2)`, pushChannel, userID)
	return err
}

// Listen implements core.PushBus on a connection of its own, taken out of
// the pool (a connection that listens must not serve transactions) and
// closed when Listen returns.
func (s *Store) Listen(ctx context.Context, ready func(), wake func(userID string)) error {
	pooled, err := s.acquireEnded(ctx)
	if err != nil {
		return err
	}
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pushChannel); err != nil {
		return err
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}
