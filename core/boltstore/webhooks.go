package boltstore

import (
	"bytes"
	"encoding/binary"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// Webhook endpoints, events and deliveries (core.WebhookReader, core.WebhookWriter).
// The indexes hold keys only: webhook_due a pending delivery's NextAt and Seq,
// webhook_queue its endpoint, subject and Seq, so that both are range scans.

func (r *readTx) WebhookEndpoint(id string) (*core.WebhookEndpoint, error) {
	return get[core.WebhookEndpoint](r.bucket(bucketWebhookEndpoints), []byte(id), "webhook endpoint")
}

func (r *readTx) WebhookEndpoints(programmeID string) ([]*core.WebhookEndpoint, error) {
	var es []*core.WebhookEndpoint
	prefix := compositeKey(programmeID)
	c := r.bucket(bucketProgrammeWebhooks).Cursor()
	for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
		e, err := r.WebhookEndpoint(string(id))
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

func (w *writeTx) PutWebhookEndpoint(e *core.WebhookEndpoint) error {
	if err := w.bucket(bucketProgrammeWebhooks).Put(compositeKey(e.ProgrammeID, e.ID), []byte(e.ID)); err != nil {
		return err
	}
	return put(w.bucket(bucketWebhookEndpoints), []byte(e.ID), e)
}

func (w *writeTx) DeleteWebhookEndpoint(id string) error {
	e, err := w.WebhookEndpoint(id)
	if err != nil {
		return err
	}
	if err := w.bucket(bucketProgrammeWebhooks).Delete(compositeKey(e.ProgrammeID, e.ID)); err != nil {
		return err
	}
	return w.bucket(bucketWebhookEndpoints).Delete([]byte(id))
}

func (r *readTx) WebhookEvent(id string) (*core.WebhookEvent, error) {
	return get[core.WebhookEvent](r.bucket(bucketWebhookEvents), []byte(id), "webhook event")
}

func (w *writeTx) InsertWebhookEvent(e *core.WebhookEvent) error {
	b := w.bucket(bucketWebhookEvents)
	if b.Get([]byte(e.ID)) != nil {
		return idTaken("webhook event " + e.ID)
	}
	return put(b, []byte(e.ID), e)
}

func (r *readTx) WebhookDelivery(seq uint64) (*core.WebhookDelivery, error) {
	return get[core.WebhookDelivery](r.bucket(bucketWebhookDeliveries), seqKey(seq), "webhook delivery")
}

func (r *readTx) DueWebhookDeliveries(now time.Time, limit, perEndpoint int, except []string) ([]*core.WebhookDelivery, error) {
	var ds []*core.WebhookDelivery
	perEndpointSeen := map[string]int{}
	end := timeKey(now)
	c := r.bucket(bucketWebhookDue).Cursor()
	for k, _ := c.First(); k != nil && len(ds) < limit && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
		d, err := r.WebhookDelivery(binary.BigEndian.Uint64(k[8:]))
		if err != nil {
			return nil, err
		}
		if slices.Contains(except, d.EndpointID) {
			continue
		}
		if perEndpointSeen[d.EndpointID]++; perEndpointSeen[d.EndpointID] <= perEndpoint {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

func (r *readTx) WebhookQueue(endpointID, subject string, limit int) ([]*core.WebhookDelivery, error) {
	return r.deliveriesUnder(bucketWebhookQueue, compositeKey(endpointID, subject), 0, limit, false)
}

func (r *readTx) WebhookDeliveries(endpointID string, before uint64, limit int) ([]*core.WebhookDelivery, error) {
	return r.deliveriesUnder(bucketEndpointDeliveries, compositeKey(endpointID), before, limit, true)
}

func (r *readTx) FailedWebhookDeliveries(endpointID string, since time.Time, after uint64, limit int) ([]*core.WebhookDelivery, error) {
	prefix := compositeKey(endpointID)
	start := append(append(bytes.Clone(prefix), timeKey(since)...), seqKey(after)...)
	var ds []*core.WebhookDelivery
	c := r.bucket(bucketWebhookFailed).Cursor()
	k, _ := c.Seek(start)
	if bytes.Equal(k, start) { // (since, after) itself: seqs start at 1
		k, _ = c.Next()
	}
	for ; k != nil && len(ds) < limit && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+16; k, _ = c.Next() {
		d, err := r.WebhookDelivery(binary.BigEndian.Uint64(k[len(prefix)+8:]))
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// failedKey is a failed delivery's key in webhook_failed.
func failedKey(d *core.WebhookDelivery) []byte {
	return append(append(compositeKey(d.EndpointID), timeKey(d.DoneAt)...), seqKey(d.Seq)...)
}

// deliveriesUnder reads up to limit deliveries whose index keys in bucket
// are prefix and a Seq: oldest first, or newest first below before (0: all).
func (r *readTx) deliveriesUnder(bucket, prefix []byte, before uint64, limit int, newest bool) ([]*core.WebhookDelivery, error) {
	var ds []*core.WebhookDelivery
	c := r.bucket(bucket).Cursor()
	var k []byte
	switch {
	case !newest:
		k, _ = c.Seek(prefix)
	case before == 0:
		k, _ = c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		k, _ = lastBefore(c, k)
	default:
		k, _ = c.Seek(append(bytes.Clone(prefix), seqKey(before)...))
		k, _ = lastBefore(c, k)
	}
	for ; k != nil && len(ds) < limit && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k = step(c, newest) {
		d, err := r.WebhookDelivery(binary.BigEndian.Uint64(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

func step(c *bolt.Cursor, back bool) []byte {
	if back {
		k, _ := c.Prev()
		return k
	}
	k, _ := c.Next()
	return k
}

func (w *writeTx) AppendWebhookDelivery(d *core.WebhookDelivery) error {
	seq, err := w.bucket(bucketWebhookDeliveries).NextSequence()
	if err != nil {
		return err
	}
	d.Seq = seq
	key := append(compositeKey(d.EndpointID), seqKey(seq)...)
	if err := w.bucket(bucketEndpointDeliveries).Put(key, nil); err != nil {
		return err
	}
	return w.putDelivery(nil, d)
}

func (w *writeTx) UpdateWebhookDelivery(d *core.WebhookDelivery) error {
	old, err := w.WebhookDelivery(d.Seq)
	if err != nil {
		return err
	}
	return w.putDelivery(old, d)
}

// putDelivery writes d over old (nil for a new one), moving its index keys.
func (w *writeTx) putDelivery(old, d *core.WebhookDelivery) error {
	if old != nil {
		if err := w.indexDelivery(old, false); err != nil {
			return err
		}
	}
	if err := w.indexDelivery(d, true); err != nil {
		return err
	}
	return put(w.bucket(bucketWebhookDeliveries), seqKey(d.Seq), d)
}

// indexDelivery adds (or removes) a pending delivery's keys in webhook_queue
// and, when it has a NextAt, webhook_due; a failed delivery's in webhook_failed.
func (w *writeTx) indexDelivery(d *core.WebhookDelivery, add bool) error {
	type indexKey struct{ bucket, key []byte }
	var keys []indexKey
	switch d.State {
	case core.DeliveryFailed:
		keys = append(keys, indexKey{bucketWebhookFailed, failedKey(d)})
	case core.DeliveryPending:
		keys = append(keys, indexKey{bucketWebhookQueue, append(compositeKey(d.EndpointID, d.Subject), seqKey(d.Seq)...)})
		if !d.NextAt.IsZero() {
			keys = append(keys, indexKey{bucketWebhookDue, append(timeKey(d.NextAt), seqKey(d.Seq)...)})
		}
	}
	for _, k := range keys {
		b := w.bucket(k.bucket)
		var err error
		if add {
			err = b.Put(k.key, nil)
		} else {
			err = b.Delete(k.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// timeKey is t as 8 bytes that sort in time order (Unix nanoseconds, big-endian; before 1970 as 0).
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(max(t.UnixNano(), 0)))
}
