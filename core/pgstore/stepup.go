package pgstore

import (
	"time"

	"github.com/deputyhq/deputy/core"
)

// Step-up grants (core.StepUpGrantWriter).

func (t *tx) PutStepUpGrant(g *core.StepUpGrant) error {
	data, err := encode(g)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO stepup_grants (session_hash, operation, expires_at, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (session_hash) DO UPDATE SET operation = excluded.operation, expires_at = excluded.expires_at, data = excluded.data`,
		g.SessionHash, g.Operation, nanos(g.ExpiresAt), data)
	return err
}

// TakeStepUpGrant is one DELETE of the matching row: of two transactions
// taking it, the second waits for the first and, once it commits, fails to
// serialize (and is retried, to find nothing).
func (t *tx) TakeStepUpGrant(sessionHash, operation []byte, now time.Time) error {
	n, err := t.exec(`DELETE FROM stepup_grants WHERE session_hash = $1 AND operation = $2 AND expires_at > $3`,
		sessionHash, operation, nanos(now))
	if err == nil && n == 0 {
		return notFound("step-up grant for that operation")
	}
	return err
}

func (t *tx) DeleteStepUpGrantsExpired(at time.Time) (int, error) {
	n, err := t.exec(`DELETE FROM stepup_grants WHERE expires_at <= $1`, nanos(at))
	return int(n), err
}
