package boltstore

import (
	"time"

	"github.com/deputyhq/deputy/core"
)

var (
	_ core.ConfirmationReader = (*readTx)(nil)
	_ core.ConfirmationWriter = (*writeTx)(nil)
)

func resourceKey(programmeID string, t core.ResourceType, id string) []byte {
	return compositeKey(programmeID, string(t), id)
}

func (r *readTx) Resource(programmeID string, t core.ResourceType, id string) (*core.Resource, error) {
	return get[core.Resource](r.bucket(bucketResources), resourceKey(programmeID, t, id), "resource "+string(t)+"/"+id)
}

func (r *readTx) Confirmation(id string) (*core.Confirmation, error) {
	return get[core.Confirmation](r.bucket(bucketConfirmations), []byte(id), "confirmation "+id)
}

func (r *readTx) ConfirmationsExpiredPending(t time.Time, limit int) ([]*core.Confirmation, error) {
	return firstMatches(r.bucket(bucketConfirmations), "confirmation", limit, func(c *core.Confirmation) bool {
		return c.State == core.ChallengePending && !c.ExpiresAt.After(t)
	})
}

func (w *writeTx) PutResource(res *core.Resource) error {
	return put(w.bucket(bucketResources), resourceKey(res.ProgrammeID, res.Type, res.ID), res)
}

func (w *writeTx) PutConfirmation(c *core.Confirmation) error {
	return put(w.bucket(bucketConfirmations), []byte(c.ID), c)
}

func (w *writeTx) DeleteConfirmationsIssuedBefore(t time.Time) (int, error) {
	b := w.bucket(bucketConfirmations)
	keys, _, err := match(b, "confirmation", func(c *core.Confirmation) bool { return c.IssuedAt.Before(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}
