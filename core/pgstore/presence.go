package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deputyhq/deputy/core"
)

var _ core.DevicePresence = (*Store)(nil)

// DeviceSeen implements core.DevicePresence: one statement, outside any
// transaction, in which the latest time wins.
func (s *Store) DeviceSeen(ctx context.Context, userID string, t time.Time) error {
	pc, err := s.acquireEnded(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	_, err = pc.Exec(ctx, `INSERT INTO device_presence (user_id, seen_at) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET seen_at = GREATEST(device_presence.seen_at, excluded.seen_at)`, userID, nanos(t))
	return storeError(err)
}

// DeviceLastSeen implements core.DevicePresence.
func (s *Store) DeviceLastSeen(ctx context.Context, userID string) (time.Time, error) {
	pc, err := s.acquireEnded(ctx)
	if err != nil {
		return time.Time{}, err
	}
	defer pc.Release()
	var seen int64
	err = pc.QueryRow(ctx, `SELECT seen_at FROM device_presence WHERE user_id = $1`, userID).Scan(&seen)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, storeError(err)
	}
	return time.Unix(0, seen).UTC(), nil
}

// ForgetDevicesSeenBefore implements core.DevicePresence.
func (s *Store) ForgetDevicesSeenBefore(ctx context.Context, t time.Time) error {
	pc, err := s.acquireEnded(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	_, err = pc.Exec(ctx, `DELETE FROM device_presence WHERE seen_at < $1`, nanos(t))
	return storeError(err)
}
