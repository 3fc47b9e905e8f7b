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

// pushIndexKey is the key of a challenge in user_push_challenges and
// user_pending_push: [userID] then the id in the fixed-width form of listID,
// so that a user's keys sort by id, which is creation order.
func pushIndexKey(userID, id string) []byte {
	return append(compositeKey(userID), listID(id)...)
}

func pushName(id string) string { return "push challenge " + id }

func (r *readTx) PushChallenge(id string) (*core.PushChallenge, error) {
	return get[core.PushChallenge](r.bucket(bucketPushChallenges), []byte(id), pushName(id))
}

// indexed decodes the challenges an index lists from its cursor position
// first on, while their keys have prefix, up to limit (all when limit <= 0).
func (r *readTx) indexed(index []byte, prefix, first []byte, limit int) ([]*core.PushChallenge, error) {
	b := r.bucket(bucketPushChallenges)
	var out []*core.PushChallenge
	c := r.bucket(index).Cursor()
	for k, id := c.Seek(first); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
		if limit > 0 && len(out) == limit {
			break
		}
		ch, err := get[core.PushChallenge](b, id, pushName(string(id)))
		if err != nil {
			return nil, fmt.Errorf("%s index: %w", index, err)
		}
		out = append(out, ch)
	}
	return out, nil
}

func (r *readTx) PendingPushChallenges(userID string) ([]*core.PushChallenge, error) {
	prefix := compositeKey(userID)
	return r.indexed(bucketUserPendingPush, prefix, prefix, 0)
}

func (r *readTx) PushChallengesAfter(userID, afterID string, limit int) ([]*core.PushChallenge, error) {
	prefix := compositeKey(userID)
	first := prefix
	if afterID != "" {
		// The smallest key after afterID's: its key with a zero byte appended.
		first = append(pushIndexKey(userID, afterID), 0)
	}
	return r.indexed(bucketUserPushChallenges, prefix, first, limit)
}

func (r *readTx) LastPushChallengeID(userID string) (string, error) {
	prefix := compositeKey(userID)
	c := r.bucket(bucketUserPushChallenges).Cursor()
	// The user's last key is the one before the first key past the prefix.
	end := append(bytes.Clone(prefix), 0xff)
	k, _ := c.Seek(end)
	var id []byte
	if k == nil {
		k, id = c.Last()
	} else {
		k, id = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return "", nil
	}
	return string(id), nil
}

func (r *readTx) PushChallengesExpiredPending(t time.Time, limit int) ([]*core.PushChallenge, error) {
	b := r.bucket(bucketPushChallenges)
	var out []*core.PushChallenge
	c := r.bucket(bucketUserPendingPush).Cursor()
	for k, id := c.First(); k != nil && len(out) < limit; k, id = c.Next() {
		ch, err := get[core.PushChallenge](b, id, pushName(string(id)))
		if err != nil {
			return nil, fmt.Errorf("%s index: %w", bucketUserPendingPush, err)
		}
		if !ch.ExpiresAt.After(t) {
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

// indexPush adds c's index keys: every challenge of a user, and the pending ones.
func (w *writeTx) indexPush(c *core.PushChallenge) error {
	if c.UserID == "" {
		return nil
	}
	key := pushIndexKey(c.UserID, c.ID)
	if err := w.bucket(bucketUserPushChallenges).Put(key, []byte(c.ID)); err != nil {
		return err
	}
	if c.State == core.PushPending {
		return w.bucket(bucketUserPendingPush).Put(bytes.Clone(key), []byte(c.ID))
	}
	return nil
}

func (w *writeTx) unindexPush(c *core.PushChallenge) error {
	if c.UserID == "" {
		return nil
	}
	key := pushIndexKey(c.UserID, c.ID)
	if err := w.bucket(bucketUserPushChallenges).Delete(key); err != nil {
		return err
	}
	return w.bucket(bucketUserPendingPush).Delete(key)
}

func (w *writeTx) UpdatePushChallenge(c *core.PushChallenge) error {
	b := w.bucket(bucketPushChallenges)
	old, err := get[core.PushChallenge](b, []byte(c.ID), pushName(c.ID))
	if err != nil {
		return err
	}
	if old.UserID != c.UserID || (old.State == core.PushPending) != (c.State == core.PushPending) {
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
// challenges, their per-user indexes and pending WebAuthn registrations.
func addPushAndWebAuthn(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{bucketPushChallenges, bucketUserPushChallenges, bucketUserPendingPush, bucketWebAuthnRegistrations} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}
