package boltstore

import (
	"bytes"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

var (
	_ core.BulkReader = (*readTx)(nil)
	_ core.BulkWriter = (*writeTx)(nil)
)

func bulkName(id string) string { return "bulk " + id }

// bulkOpKey is the key of an operation in bulk_operations: [bulkID] then its
// Seq, big-endian, so that a bulk's operations sort in order.
func bulkOpKey(bulkID string, seq int) []byte {
	return append(compositeKey(bulkID), seqKey(uint64(seq))...)
}

func (r *readTx) Bulk(id string) (*core.Bulk, error) {
	return get[core.Bulk](r.bucket(bucketBulks), []byte(id), bulkName(id))
}

func (r *readTx) Bulks(identityID string, state core.BulkState, offset, limit int) ([]*core.Bulk, int, error) {
	prefix := compositeKey(identityID)
	var out []*core.Bulk
	count := 0
	c := r.bucket(bucketIdentityBulks).Cursor()
	for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
		b, err := r.Bulk(string(id))
		if err != nil {
			return nil, 0, fmt.Errorf("identity_bulks index: %w", err)
		}
		if state != "" && b.State != state {
			continue
		}
		if count >= offset && len(out) < limit {
			out = append(out, b)
		}
		count++
	}
	return out, count, nil
}

func (r *readTx) BulkOperations(bulkID string, from, limit int) ([]*core.BulkOperation, error) {
	prefix := compositeKey(bulkID)
	var out []*core.BulkOperation
	c := r.bucket(bucketBulkOperations).Cursor()
	for k, data := c.Seek(bulkOpKey(bulkID, max(from, 0))); k != nil && bytes.HasPrefix(k, prefix); k, data = c.Next() {
		if limit > 0 && len(out) == limit {
			break
		}
		op, err := decode[core.BulkOperation](data, "operation of "+bulkName(bulkID))
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, nil
}

func (r *readTx) RunningBulks(limit int) ([]*core.Bulk, error) {
	var out []*core.Bulk
	c := r.bucket(bucketRunningBulks).Cursor()
	for k, id := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, id = c.Next() {
		b, err := r.Bulk(string(id))
		if err != nil {
			return nil, fmt.Errorf("running_bulks index: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

func (w *writeTx) InsertBulk(b *core.Bulk, ops []*core.BulkOperation) error {
	bulks := w.bucket(bucketBulks)
	if bulks.Get([]byte(b.ID)) != nil {
		return idTaken(bulkName(b.ID))
	}
	for i, op := range ops {
		if op.BulkID != b.ID || op.Seq != i+1 {
			return fmt.Errorf("%s: operation %d is numbered %s/%d", bulkName(b.ID), i+1, op.BulkID, op.Seq)
		}
	}
	if len(ops) != b.Count {
		return fmt.Errorf("%s: %d operations for a count of %d", bulkName(b.ID), len(ops), b.Count)
	}
	opsBucket := w.bucket(bucketBulkOperations)
	for _, op := range ops {
		if err := put(opsBucket, bulkOpKey(b.ID, op.Seq), op); err != nil {
			return err
		}
	}
	if err := w.bucket(bucketIdentityBulks).Put(append(compositeKey(b.IdentityID), listID(b.ID)...), []byte(b.ID)); err != nil {
		return err
	}
	return w.putBulk(b)
}

// putBulk writes a bulk and keeps running_bulks exact.
func (w *writeTx) putBulk(b *core.Bulk) error {
	running := w.bucket(bucketRunningBulks)
	var err error
	if b.State == core.BulkRunning {
		err = running.Put(listID(b.ID), []byte(b.ID))
	} else {
		err = running.Delete(listID(b.ID))
	}
	if err != nil {
		return err
	}
	return put(w.bucket(bucketBulks), []byte(b.ID), b)
}

func (w *writeTx) UpdateBulk(b *core.Bulk) error {
	if w.bucket(bucketBulks).Get([]byte(b.ID)) == nil {
		return notFound(bulkName(b.ID))
	}
	return w.putBulk(b)
}

func (w *writeTx) UpdateBulkOperation(op *core.BulkOperation) error {
	b, key := w.bucket(bucketBulkOperations), bulkOpKey(op.BulkID, op.Seq)
	if b.Get(key) == nil {
		return notFound("operation " + strconv.Itoa(op.Seq) + " of " + bulkName(op.BulkID))
	}
	return put(b, key, op)
}

func (w *writeTx) DeleteBulk(id string) error {
	b, err := get[core.Bulk](w.bucket(bucketBulks), []byte(id), bulkName(id))
	if err != nil {
		return err
	}
	ops, prefix := w.bucket(bucketBulkOperations), compositeKey(id)
	c := ops.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	if err := w.bucket(bucketIdentityBulks).Delete(append(compositeKey(b.IdentityID), listID(id)...)); err != nil {
		return err
	}
	if err := w.bucket(bucketRunningBulks).Delete(listID(id)); err != nil {
		return err
	}
	return w.bucket(bucketBulks).Delete([]byte(id))
}

// addBulks is migration 11: the buckets of bulk processes, their operations
// and their indexes; there is nothing to fill them with.
func addBulks(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{bucketBulks, bucketBulkOperations, bucketIdentityBulks, bucketRunningBulks} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}
