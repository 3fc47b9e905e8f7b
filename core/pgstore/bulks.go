package pgstore

import (
	"fmt"

	"github.com/deputyhq/deputy/core"
)

// Bulk processes and their operations (core.BulkReader and Writer).

func (t *tx) Bulk(id string) (*core.Bulk, error) {
	return get[core.Bulk](t, "bulk "+id, `SELECT data FROM bulks WHERE id = $1`, id)
}

func (t *tx) Bulks(identityID string, state core.BulkState, offset, limit int) ([]*core.Bulk, int, error) {
	var count int
	if err := t.scan("bulk count", `SELECT count(*) FROM bulks WHERE identity_id = $1 AND ($2 = '' OR state = $2)`,
		[]any{identityID, string(state)}, &count); err != nil {
		return nil, 0, err
	}
	if limit <= 0 || offset >= count {
		return nil, count, nil
	}
	bs, err := list[core.Bulk](t, "bulk", `SELECT data FROM bulks WHERE identity_id = $1 AND ($2 = '' OR state = $2)
		ORDER BY ord OFFSET $3 LIMIT $4`, identityID, string(state), offset, limit)
	return bs, count, err
}

func (t *tx) BulkOperations(bulkID string, from, limit int) ([]*core.BulkOperation, error) {
	if limit <= 0 {
		return list[core.BulkOperation](t, "bulk operation",
			`SELECT data FROM bulk_operations WHERE bulk_id = $1 AND seq >= $2 ORDER BY seq`, bulkID, from)
	}
	return list[core.BulkOperation](t, "bulk operation",
		`SELECT data FROM bulk_operations WHERE bulk_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`, bulkID, from, limit)
}

func (t *tx) RunningBulks(limit int) ([]*core.Bulk, error) {
	if limit <= 0 {
		return list[core.Bulk](t, "bulk", `SELECT data FROM bulks WHERE state = 'RUNNING' ORDER BY ord`)
	}
	return list[core.Bulk](t, "bulk", `SELECT data FROM bulks WHERE state = 'RUNNING' ORDER BY ord LIMIT $1`, limit)
}

func (t *tx) InsertBulk(b *core.Bulk, ops []*core.BulkOperation) error {
	if len(ops) != b.Count {
		return fmt.Errorf("bulk %s: %d operations for a count of %d", b.ID, len(ops), b.Count)
	}
	seqs, datas := make([]int32, len(ops)), make([][]byte, len(ops))
	for i, op := range ops {
		if op.BulkID != b.ID || op.Seq != i+1 {
			return fmt.Errorf("bulk %s: operation %d is numbered %s/%d", b.ID, i+1, op.BulkID, op.Seq)
		}
		data, err := encode(op)
		if err != nil {
			return err
		}
		seqs[i], datas[i] = int32(op.Seq), data
	}
	if err := t.insertBulk(b); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO bulk_operations (bulk_id, seq, data)
		SELECT $1, s, d FROM unnest($2::integer[], $3::bytea[]) AS u(s, d)`, b.ID, seqs, datas)
	return err
}

// insertBulk stores a bulk without its operations (InsertBulk, and a store copy).
func (t *tx) insertBulk(b *core.Bulk) error {
	data, err := encode(b)
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO bulks (id, identity_id, ord, state, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO NOTHING`, b.ID, b.IdentityID, ord(b.ID), string(b.State), data)
	if err == nil && n == 0 {
		err = fmt.Errorf("bulk %s already exists: %w", b.ID, core.ErrDuplicate)
	}
	return err
}

// insertBulkOperation stores one operation of a bulk (a store copy).
func (t *tx) insertBulkOperation(op *core.BulkOperation) error {
	data, err := encode(op)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO bulk_operations (bulk_id, seq, data) VALUES ($1, $2, $3)`, op.BulkID, op.Seq, data)
	return err
}

func (t *tx) UpdateBulk(b *core.Bulk) error {
	data, err := encode(b)
	if err != nil {
		return err
	}
	n, err := t.exec(`UPDATE bulks SET state = $2, data = $3 WHERE id = $1`, b.ID, string(b.State), data)
	if err == nil && n == 0 {
		err = notFound("bulk " + b.ID)
	}
	return err
}

func (t *tx) UpdateBulkOperation(op *core.BulkOperation) error {
	data, err := encode(op)
	if err != nil {
		return err
	}
	n, err := t.exec(`UPDATE bulk_operations SET data = $3 WHERE bulk_id = $1 AND seq = $2`, op.BulkID, op.Seq, data)
	if err == nil && n == 0 {
		err = notFound(fmt.Sprintf("operation %d of bulk %s", op.Seq, op.BulkID))
	}
	return err
}

func (t *tx) DeleteBulk(id string) error {
	n, err := t.exec(`DELETE FROM bulks WHERE id = $1`, id)
	if err == nil && n == 0 {
		return notFound("bulk " + id)
	}
	if err != nil {
		return err
	}
	_, err = t.exec(`DELETE FROM bulk_operations WHERE bulk_id = $1`, id)
	return err
}
