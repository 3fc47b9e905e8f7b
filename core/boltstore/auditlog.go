package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
)

// The audit log's Merkle tree: audit_hashes/<programme> maps tlog storage
// indexes (seqKey) to hashes, and audit_checkpoints/<programme> maps tree
// sizes (seqKey) to signed checkpoints. audit_subjects/<programme> indexes
// events by subject: [subject, 0, seqKey] -> nothing.

// auditSubjectKey is the index key of an event about subject.
func auditSubjectKey(subject string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(subject), 0), seq)
}

// indexAuditSubject adds e to its programme's subject index.
func (w *writeTx) indexAuditSubject(e *core.AuditEvent) error {
	if e.Subject == "" {
		return nil
	}
	b, err := w.bucket(bucketAuditSubjects).CreateBucketIfNotExists([]byte(e.ProgrammeID))
	if err != nil {
		return fmt.Errorf("programme %q: %w", e.ProgrammeID, err)
	}
	return b.Put(auditSubjectKey(e.Subject, e.Seq), nil)
}

func (r *readTx) AuditEventsAbout(programmeID, subject string, before uint64, limit int) ([]*core.AuditEvent, error) {
	idx := r.bucket(bucketAuditSubjects).Bucket([]byte(programmeID))
	events := r.bucket(bucketAudit).Bucket([]byte(programmeID))
	if idx == nil || events == nil || subject == "" {
		return nil, nil
	}
	if before == 0 {
		before = math.MaxUint64
	}
	prefix := append([]byte(subject), 0)
	var es []*core.AuditEvent
	c := idx.Cursor()
	k, _ := c.Seek(auditSubjectKey(subject, before))
	for k, _ = lastBefore(c, k); k != nil && bytes.HasPrefix(k, prefix) && len(es) < limit; k, _ = c.Prev() {
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		e, err := get[core.AuditEvent](events, seqKey(seq), "audit event")
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

func (r *readTx) AuditSize(programmeID string) (int64, error) {
	b := r.bucket(bucketAudit).Bucket([]byte(programmeID))
	if b == nil {
		return 0, nil
	}
	return int64(b.Sequence()), nil
}

func (r *readTx) AuditHashes(programmeID string, indexes []int64) ([]tlog.Hash, error) {
	b := r.bucket(bucketAuditHashes).Bucket([]byte(programmeID))
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		var v []byte
		if b != nil && x >= 0 {
			v = b.Get(seqKey(uint64(x)))
		}
		if len(v) != tlog.HashSize {
			return nil, notFound(fmt.Sprintf("audit tree hash %d", x))
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func (w *writeTx) PutAuditHashes(programmeID string, start int64, hashes []tlog.Hash) error {
	b, err := w.bucket(bucketAuditHashes).CreateBucketIfNotExists([]byte(programmeID))
	if err != nil {
		return fmt.Errorf("programme %q: %w", programmeID, err)
	}
	for i, h := range hashes {
		if err := b.Put(seqKey(uint64(start)+uint64(i)), h[:]); err != nil {
			return err
		}
	}
	return nil
}

func (r *readTx) AuditCheckpoints(programmeID string, afterSize int64, limit int) ([]*core.AuditCheckpoint, error) {
	b := r.bucket(bucketAuditCheckpoints).Bucket([]byte(programmeID))
	if b == nil || afterSize == math.MaxInt64 {
		return nil, nil
	}
	var cs []*core.AuditCheckpoint
	c := b.Cursor()
	for k, data := c.Seek(seqKey(uint64(afterSize) + 1)); k != nil && (limit <= 0 || len(cs) < limit); k, data = c.Next() {
		cp, err := decode[core.AuditCheckpoint](data, "audit checkpoint")
		if err != nil {
			return nil, err
		}
		cs = append(cs, cp)
	}
	return cs, nil
}

func (r *readTx) LastAuditCheckpoint(programmeID string) (*core.AuditCheckpoint, error) {
	b := r.bucket(bucketAuditCheckpoints).Bucket([]byte(programmeID))
	if b == nil {
		return nil, notFound("audit checkpoint")
	}
	_, data := b.Cursor().Last()
	if data == nil {
		return nil, notFound("audit checkpoint")
	}
	return decode[core.AuditCheckpoint](data, "audit checkpoint")
}

func (w *writeTx) InsertAuditCheckpoint(c *core.AuditCheckpoint) error {
	b, err := w.bucket(bucketAuditCheckpoints).CreateBucketIfNotExists([]byte(c.ProgrammeID))
	if err != nil {
		return fmt.Errorf("programme %q: %w", c.ProgrammeID, err)
	}
	key := seqKey(uint64(c.Size))
	if b.Get(key) != nil {
		return duplicate(core.UniqueAuditCheckpoint)
	}
	return put(b, key, c)
}

// addAuditTree is migration 6: it creates the buckets of the audit log's
// Merkle tree and subject index, and adds every event already logged to its
// programme's tree, in Seq order, with the code core uses for each new event,
// and to the index.
func addAuditTree(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{bucketAuditHashes, bucketAuditCheckpoints, bucketAuditSubjects} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
	return root.Bucket(bucketAudit).ForEachBucket(func(programmeID []byte) error {
		return root.Bucket(bucketAudit).Bucket(programmeID).ForEach(func(k, data []byte) error {
			e, err := decode[core.AuditEvent](data, "audit event")
			if err != nil {
				return err
			}
			return errors.Join(core.AddAuditLeaf(w, e), w.indexAuditSubject(e))
		})
	})
}
