package boltstore

import (
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

func (r *readTx) AuditEvents(programmeID string, after uint64, limit int) ([]*core.AuditEvent, error) {
	b := r.bucket(bucketAudit).Bucket([]byte(programmeID))
	if b == nil || after == math.MaxUint64 {
		return nil, nil
	}
	var es []*core.AuditEvent
	c := b.Cursor()
	for k, data := c.Seek(seqKey(after + 1)); k != nil && len(es) < limit; k, data = c.Next() {
		e, err := decode[core.AuditEvent](data, "audit event")
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

func (w *writeTx) AppendAudit(e *core.AuditEvent) error {
	b, seq, err := nextInProgramme(w.bucket(bucketAudit), e.ProgrammeID)
	if err != nil {
		return err
	}
	e.Seq = seq
	if err := put(b, seqKey(seq), e); err != nil {
		return err
	}
	return w.indexAuditSubject(e)
}

func (r *readTx) Outbox(programmeID string, userIDs []string, before uint64, limit int) ([]*core.Message, error) {
	b := r.bucket(bucketOutbox).Bucket([]byte(programmeID))
	if b == nil {
		return nil, nil
	}
	var ms []*core.Message
	c := b.Cursor()
	if before == 0 {
		before = math.MaxUint64
	}
	k, _ := c.Seek(seqKey(before))
	for k, data := lastBefore(c, k); k != nil && len(ms) < limit; k, data = c.Prev() {
		m, err := decode[core.Message](data, "outbox message")
		if err != nil {
			return nil, err
		}
		if userIDs == nil || slices.Contains(userIDs, m.UserID) {
			ms = append(ms, m)
		}
	}
	return ms, nil
}

func (w *writeTx) AppendOutbox(m *core.Message) error {
	b, seq, err := nextInProgramme(w.bucket(bucketOutbox), m.ProgrammeID)
	if err != nil {
		return err
	}
	m.Seq = seq
	return put(b, seqKey(seq), m)
}

// nextInProgramme returns the programme's bucket under parent, creating it if
// needed, and the next number of its sequence.
func nextInProgramme(parent *bolt.Bucket, programmeID string) (*bolt.Bucket, uint64, error) {
	b, err := parent.CreateBucketIfNotExists([]byte(programmeID))
	if err != nil {
		return nil, 0, fmt.Errorf("programme %q: %w", programmeID, err)
	}
	seq, err := b.NextSequence()
	return b, seq, err
}

func (r *readTx) Idempotency(key string) (*core.IdempotencyRecord, error) {
	return get[core.IdempotencyRecord](r.bucket(bucketIdempotency), []byte(key), "idempotency record")
}

func (w *writeTx) InsertIdempotency(rec *core.IdempotencyRecord) error {
	b := w.bucket(bucketIdempotency)
	if b.Get([]byte(rec.Key)) != nil {
		return duplicate(core.UniqueIdempotency)
	}
	return put(b, []byte(rec.Key), rec)
}

func (w *writeTx) UpdateIdempotency(rec *core.IdempotencyRecord) error {
	b := w.bucket(bucketIdempotency)
	if b.Get([]byte(rec.Key)) == nil {
		return notFound("idempotency record")
	}
	return put(b, []byte(rec.Key), rec)
}

func (w *writeTx) DeleteIdempotency(key string) error {
	return deleteRecord(w.bucket(bucketIdempotency), []byte(key), "idempotency record")
}

func (w *writeTx) DeleteIdempotencyExpired(t time.Time) (int, error) {
	b := w.bucket(bucketIdempotency)
	keys, _, err := match(b, "idempotency record", func(rec *core.IdempotencyRecord) bool { return rec.ExpiresAt.Before(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}
