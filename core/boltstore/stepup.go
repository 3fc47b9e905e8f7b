package boltstore

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

var _ core.StepUpGrantWriter = (*writeTx)(nil)

func (w *writeTx) PutStepUpGrant(g *core.StepUpGrant) error {
	return put(w.bucket(bucketStepUpGrants), bytes.Clone(g.SessionHash), g)
}

// TakeStepUpGrant reads and deletes in the one write transaction of the
// file, which bbolt runs alone: no other can take the grant meanwhile.
func (w *writeTx) TakeStepUpGrant(sessionHash, operation []byte, now time.Time) error {
	b := w.bucket(bucketStepUpGrants)
	g, err := get[core.StepUpGrant](b, sessionHash, "step-up grant")
	if err != nil {
		return err
	}
	if !bytes.Equal(g.Operation, operation) || !g.ExpiresAt.After(now) {
		return fmt.Errorf("step-up grant for that operation: %w", core.ErrRecordNotFound)
	}
	return b.Delete(sessionHash)
}

func (w *writeTx) DeleteStepUpGrantsExpired(t time.Time) (int, error) {
	b := w.bucket(bucketStepUpGrants)
	keys, _, err := match(b, "step-up grant", func(g *core.StepUpGrant) bool { return !g.ExpiresAt.After(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}

// addStepUpGrants is migration 10: the bucket of the sessions' step-up grants.
func addStepUpGrants(tx *bolt.Tx) error {
	if _, err := tx.Bucket(bucketRoot).CreateBucket(bucketStepUpGrants); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketStepUpGrants, err)
	}
	return nil
}
