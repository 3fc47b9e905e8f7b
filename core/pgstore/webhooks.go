package pgstore

import (
	"time"

	"github.com/deputyhq/deputy/core"
)

// Webhook deliveries keep, beside their record, what the worker's queries
// need: pending, and next_at for a pending delivery with a NextAt (NULL
// otherwise), so that the due deliveries and each queue are index scans;
// and failed_at, a failed delivery's DoneAt (NULL otherwise), for
// redelivering what failed since a time.

func (t *tx) WebhookEndpoint(id string) (*core.WebhookEndpoint, error) {
	return get[core.WebhookEndpoint](t, "webhook endpoint", `SELECT data FROM webhook_endpoints WHERE id = $1`, id)
}

func (t *tx) WebhookEndpoints(programmeID string) ([]*core.WebhookEndpoint, error) {
	return list[core.WebhookEndpoint](t, "webhook endpoint",
		`SELECT data FROM webhook_endpoints WHERE programme_id = $1 ORDER BY id`, programmeID)
}

func (t *tx) PutWebhookEndpoint(e *core.WebhookEndpoint) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO webhook_endpoints (id, programme_id, data) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET programme_id = excluded.programme_id, data = excluded.data`, e.ID, e.ProgrammeID, data)
	return err
}

func (t *tx) DeleteWebhookEndpoint(id string) error {
	return t.delete("webhook endpoint", `DELETE FROM webhook_endpoints WHERE id = $1`, id)
}

func (t *tx) WebhookEvent(id string) (*core.WebhookEvent, error) {
	return get[core.WebhookEvent](t, "webhook event", `SELECT data FROM webhook_events WHERE id = $1`, id)
}

func (t *tx) InsertWebhookEvent(e *core.WebhookEvent) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO webhook_events (id, data) VALUES ($1, $2) ON CONFLICT DO NOTHING`, e.ID, data)
	if err == nil && n == 0 {
		return idTaken("webhook event " + e.ID)
	}
	return err
}

func (t *tx) WebhookDelivery(seq uint64) (*core.WebhookDelivery, error) {
	return get[core.WebhookDelivery](t, "webhook delivery", `SELECT data FROM webhook_deliveries WHERE seq = $1`, seqParam(seq))
}

func (t *tx) DueWebhookDeliveries(now time.Time, limit, perEndpoint int, except []string) ([]*core.WebhookDelivery, error) {
	if limit <= 0 || perEndpoint <= 0 {
		return nil, nil
	}
	sql, args := dueQuery(now, limit, perEndpoint, except)
	return list[core.WebhookDelivery](t, "webhook delivery", sql, args...)
}

// dueQuery is DueWebhookDeliveries' statement and its arguments. The cap
// per endpoint numbers every due row in a window; when it cannot bind
// (perEndpoint >= limit, as in the "anything due?" checks), the statement
// reads no more than limit rows of the due index instead.
func dueQuery(now time.Time, limit, perEndpoint int, except []string) (string, []any) {
	args := []any{nanos(now), limit, append([]string{}, except...)} // nil would be NULL, which no endpoint_id passes
	const due = `FROM webhook_deliveries WHERE next_at <= $1 AND endpoint_id <> ALL($3::text[])`
	if perEndpoint >= limit {
		return `SELECT data ` + due + ` ORDER BY next_at, seq LIMIT $2`, args
	}
	return `SELECT data FROM (
			SELECT data, next_at, seq, row_number() OVER (PARTITION BY endpoint_id ORDER BY next_at, seq) AS n ` + due + `) due
		WHERE n <= $4 ORDER BY next_at, seq LIMIT $2`, append(args, perEndpoint)
}

func (t *tx) WebhookQueue(endpointID, subject string, limit int) ([]*core.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list[core.WebhookDelivery](t, "webhook delivery", `SELECT data FROM webhook_deliveries
		WHERE endpoint_id = $1 AND subject = $2 AND pending ORDER BY seq LIMIT $3`, endpointID, subject, limit)
}

func (t *tx) WebhookDeliveries(endpointID string, before uint64, limit int) ([]*core.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before == 0 {
		before = ^uint64(0)
	}
	return list[core.WebhookDelivery](t, "webhook delivery", `SELECT data FROM webhook_deliveries
		WHERE endpoint_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, endpointID, seqParam(before), limit)
}

func (t *tx) FailedWebhookDeliveries(endpointID string, since time.Time, after uint64, limit int) ([]*core.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list[core.WebhookDelivery](t, "webhook delivery", `SELECT data FROM webhook_deliveries
		WHERE endpoint_id = $1 AND failed_at IS NOT NULL AND (failed_at, seq) > ($2, $3)
		ORDER BY failed_at, seq LIMIT $4`, endpointID, max(nanos(since), 0), seqParam(after), limit)
}

// deliverySeqBlock is how many seqs an Update takes from
// webhook_delivery_seq when it needs one: a delivery round appends hundreds
// of deliveries, which then go ahead of its next statement instead of
// waiting a round trip each for a seq. The rest of a block the Update does
// not use is a gap in the seqs, as a rolled-back transaction leaves.
const deliverySeqBlock = 64

// AppendWebhookDelivery queues the insert (tx.queue): its seq comes from the
// sequence, which no row holds, and no other constraint can refuse it.
func (t *tx) AppendWebhookDelivery(d *core.WebhookDelivery) error {
	if len(t.deliverySeqs) == 0 {
		seqs, err := column[int64](t, `SELECT s FROM (SELECT nextval('webhook_delivery_seq') AS s FROM generate_series(1, $1)) AS b ORDER BY s`, deliverySeqBlock)
		if err != nil {
			return err
		}
		t.deliverySeqs = seqs
	}
	d.Seq, t.deliverySeqs = uint64(t.deliverySeqs[0]), t.deliverySeqs[1:]
	args, err := deliveryColumns(d)
	if err != nil {
		return err
	}
	t.queue(insertDelivery, args...)
	return nil
}

// insertDelivery stores a delivery under its seq (deliveryColumns).
const insertDelivery = `INSERT INTO webhook_deliveries (seq, endpoint_id, subject, pending, next_at, data, failed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

// insertWebhookDelivery stores d under its Seq.
func (t *tx) insertWebhookDelivery(d *core.WebhookDelivery) error {
	return t.putDelivery(d, insertDelivery)
}

func (t *tx) UpdateWebhookDelivery(d *core.WebhookDelivery) error {
	return t.putDelivery(d, `UPDATE webhook_deliveries SET endpoint_id = $2, subject = $3, pending = $4, next_at = $5, data = $6,
		failed_at = $7 WHERE seq = $1`)
}

// putDelivery writes d with sql, whose parameters are its columns
// (deliveryColumns); writing no row is ErrRecordNotFound.
func (t *tx) putDelivery(d *core.WebhookDelivery, sql string) error {
	args, err := deliveryColumns(d)
	if err != nil {
		return err
	}
	n, err := t.exec(sql, args...)
	if err == nil && n == 0 {
		return notFound("webhook delivery")
	}
	return err
}

// deliveryColumns returns d's columns in table order: seq, endpoint_id,
// subject, pending, next_at, data, failed_at.
func deliveryColumns(d *core.WebhookDelivery) ([]any, error) {
	data, err := encode(d)
	if err != nil {
		return nil, err
	}
	pending := d.State == core.DeliveryPending
	var nextAt *int64
	if pending && !d.NextAt.IsZero() {
		n := max(nanos(d.NextAt), 0)
		nextAt = &n
	}
	var failedAt *int64
	if d.State == core.DeliveryFailed {
		n := max(nanos(d.DoneAt), 0)
		failedAt = &n
	}
	return []any{seqParam(d.Seq), d.EndpointID, d.Subject, pending, nextAt, data, failedAt}, nil
}
