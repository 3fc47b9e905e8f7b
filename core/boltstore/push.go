package boltstore

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

var (
	_ core.PushChallengeReader        = (*readTx)(nil)
	_ core.PushChallengeWriter        = (*writeTx)(nil)
	_ core.WebAuthnRegistrationReader = (*readTx)(nil)
	_ core.WebAuthnRegistrationWriter = (*writeTx)(nil)
)

// pushIndexKey is the user_push_challenges key of a challenge: [userID] then
// the id in the fixed-width form of listID, so a user's keys sort by id.
func pushIndexKey(userID, id string) []byte {
	return append(compositeKey(userID), listID(id)...)
}

func pushName(id string) string { return "push challenge " + id }

func (r *readTx) PushChallenge(id string) (*core.PushChallenge, error) {
	return get[core.PushChallenge](r.bucket(bucketPushChallenges), []byte(id), pushName(id))
}

func (r *readTx) UserPushChallenges(userID string, since time.Time) ([]*core.PushChallenge, error) {
	b := r.bucket(bucketPushChallenges)
	var out []*core.PushChallenge
	prefix := compositeKey(userID)
	c := r.bucket(bucketUserPushChallenges).Cursor()
	for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
		ch, err := get[core.PushChallenge](b, id, pushName(string(id)))
		if err != nil {
			return nil, fmt.Errorf("user_push_challenges index: %w", err)
		}
		if !ch.CreatedAt.Before(since) {
			out = append(out, ch)
		}
	}
	return out, nil
}

// InsertPushChallenge stores c under its id and indexes it under its user; a
// decoy without a user is not indexed.
func (w *writeTx) InsertPushChallenge(c *core.PushChallenge) error {
	b := w.bucket(bucketPushChallenges)
	if b.Get([]byte(c.ID)) != nil {
		return idTaken(pushName(c.ID))
	}
	if err := put(b, []byte(c.ID), c); err != nil {
		return err
	}
	return w.indexPush(c)
}

func (w *writeTx) indexPush(c *core.PushChallenge) error {
	if c.UserID == "" {
		return nil
	}
	return w.bucket(bucketUserPushChallenges).Put(pushIndexKey(c.UserID, c.ID), []byte(c.ID))
}

func (w *writeTx) unindexPush(c *core.PushChallenge) error {
	if c.UserID == "" {
		return nil
	}
	return w.bucket(bucketUserPushChallenges).Delete(pushIndexKey(c.UserID, c.ID))
}

func (w *writeTx) UpdatePushChallenge(c *core.PushChallenge) error {
	b := w.bucket(bucketPushChallenges)
	old, err := get[core.PushChallenge](b, []byte(c.ID), pushName(c.ID))
	if err != nil {
		return err
	}
	if old.UserID != c.UserID { // not expected, but keep the index exact
		if err := w.unindexPush(old); err != nil {
			return err
		}
		if err := w.indexPush(c); err != nil {
			return err
		}
	}
	return put(b, []byte(c.ID), c)
}

func (w *writeTx) DeletePushChallengesCreatedBefore(t time.Time) (int, error) {
	b := w.bucket(bucketPushChallenges)
	keys, old, err := match(b, "push challenge", func(c *core.PushChallenge) bool { return c.CreatedAt.Before(t) })
	if err != nil {
		return 0, err
	}
	for _, c := range old {
		if err := w.unindexPush(c); err != nil {
			return 0, err
		}
	}
	return deleteKeys(b, keys)
}

func (r *readTx) WebAuthnRegistration(sessionHash []byte) (*core.WebAuthnRegistration, error) {
	return get[core.WebAuthnRegistration](r.bucket(bucketWebAuthnRegistrations), sessionHash, "WebAuthn registration")
}

func (w *writeTx) PutWebAuthnRegistration(reg *core.WebAuthnRegistration) error {
	return put(w.bucket(bucketWebAuthnRegistrations), bytes.Clone(reg.SessionHash), reg)
}

func (w *writeTx) DeleteWebAuthnRegistration(sessionHash []byte) error {
	return deleteRecord(w.bucket(bucketWebAuthnRegistrations), sessionHash, "WebAuthn registration")
}

func (w *writeTx) DeleteWebAuthnRegistrationsExpired(t time.Time) (int, error) {
	b := w.bucket(bucketWebAuthnRegistrations)
	keys, _, err := match(b, "WebAuthn registration", func(reg *core.WebAuthnRegistration) bool { return reg.ExpiresAt.Before(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}

// addPushAndWebAuthn is migration 4: it creates the buckets of push
// challenges, their per-user index and pending WebAuthn registrations.
func addPushAndWebAuthn(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{bucketPushChallenges, bucketUserPushChallenges, bucketWebAuthnRegistrations} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}
