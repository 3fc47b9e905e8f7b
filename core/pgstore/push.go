package pgstore

import (
	"time"

	"github.com/deputyhq/deputy/core"
)

// Push challenges are listed per user in id order (ord), which is creation
// order; a decoy without a user has a NULL user_id and is in no list.

func pushName(id string) string { return "push challenge " + id }

func (t *tx) PushChallenge(id string) (*core.PushChallenge, error) {
	return get[core.PushChallenge](t, pushName(id), `SELECT data FROM push_challenges WHERE id = $1`, id)
}

func (t *tx) PendingPushChallenges(userID string) ([]*core.PushChallenge, error) {
	return list[core.PushChallenge](t, "push challenge",
		`SELECT data FROM push_challenges WHERE user_id = $1 AND pending ORDER BY ord`, userID)
}

func (t *tx) PushChallengesAfter(userID, afterID string, limit int) ([]*core.PushChallenge, error) {
	after := []byte{}
	if afterID != "" {
		after = ord(afterID)
	}
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	return list[core.PushChallenge](t, "push challenge",
		`SELECT data FROM push_challenges WHERE user_id = $1 AND ord > $2 ORDER BY ord LIMIT $3`, userID, after, lim)
}

func (t *tx) LastPushChallengeID(userID string) (string, error) {
	ids, err := column[string](t, `SELECT id FROM push_challenges WHERE user_id = $1 ORDER BY ord DESC LIMIT 1`, userID)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

func (t *tx) PushChallengesExpiredPending(at time.Time, limit int) ([]*core.PushChallenge, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list[core.PushChallenge](t, "push challenge", `SELECT data FROM push_challenges
		WHERE pending AND user_id IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, nanos(at), limit)
}

func (t *tx) InsertPushChallenge(c *core.PushChallenge) error {
	data, err := encode(c)
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO push_challenges (id, user_id, ord, pending, created_at, expires_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		c.ID, nullString(c.UserID), ord(c.ID), c.State == core.PushPending, nanos(c.CreatedAt), nanos(c.ExpiresAt), data)
	if err == nil && n == 0 {
		return idTaken(pushName(c.ID))
	}
	return err
}

func (t *tx) UpdatePushChallenge(c *core.PushChallenge) error {
	data, err := encode(c)
	if err != nil {
		return err
	}
	n, err := t.exec(`UPDATE push_challenges SET user_id = $2, pending = $3, created_at = $4, expires_at = $5, data = $6 WHERE id = $1`,
		c.ID, nullString(c.UserID), c.State == core.PushPending, nanos(c.CreatedAt), nanos(c.ExpiresAt), data)
	if err == nil && n == 0 {
		return notFound(pushName(c.ID))
	}
	return err
}

func (t *tx) DeletePushChallengesCreatedBefore(before time.Time) (int, error) {
	n, err := t.exec(`DELETE FROM push_challenges WHERE created_at < $1`, nanos(before))
	return int(n), err
}
