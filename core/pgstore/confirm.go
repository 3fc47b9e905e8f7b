package pgstore

import (
	"time"

	"github.com/deputyhq/deputy/core"
)

// Resources and confirmation challenges (core.ConfirmationReader and Writer).

func (t *tx) Resource(programmeID string, typ core.ResourceType, id string) (*core.Resource, error) {
	return get[core.Resource](t, "resource "+string(typ)+"/"+id,
		`SELECT data FROM resources WHERE programme_id = $1 AND type = $2 AND id = $3`, programmeID, string(typ), id)
}

func (t *tx) PutResource(r *core.Resource) error {
	data, err := encode(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO resources (programme_id, type, id, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (programme_id, type, id) DO UPDATE SET data = excluded.data`, r.ProgrammeID, string(r.Type), r.ID, data)
	return err
}

func (t *tx) Confirmation(id string) (*core.Confirmation, error) {
	return get[core.Confirmation](t, "confirmation "+id, `SELECT data FROM confirmations WHERE id = $1`, id)
}

func (t *tx) PutConfirmation(c *core.Confirmation) error {
	data, err := encode(c)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO confirmations (id, issued_at, pending_until, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET issued_at = excluded.issued_at, pending_until = excluded.pending_until, data = excluded.data`,
		c.ID, nanos(c.IssuedAt), pendingUntil(c), data)
	return err
}

// pendingUntil is a confirmation's pending_until column: its ExpiresAt in
// Unix nanoseconds while it is PENDING, else NULL (ConfirmationsExpiredPending).
func pendingUntil(c *core.Confirmation) *int64 {
	if c.State != core.ChallengePending {
		return nil
	}
	n := nanos(c.ExpiresAt)
	return &n
}

func (t *tx) ConfirmationsExpiredPending(at time.Time, limit int) ([]*core.Confirmation, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list[core.Confirmation](t, "confirmation",
		`SELECT data FROM confirmations WHERE pending_until <= $1 ORDER BY pending_until LIMIT $2`, nanos(at), limit)
}

func (t *tx) DeleteConfirmationsIssuedBefore(before time.Time) (int, error) {
	n, err := t.exec(`DELETE FROM confirmations WHERE issued_at < $1`, nanos(before))
	return int(n), err
}
