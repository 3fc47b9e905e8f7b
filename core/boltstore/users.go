package boltstore

import (
	"fmt"

	"github.com/deputyhq/deputy/core"
)

func (r *readTx) User(id string) (*core.User, error) {
	return getCached(r.cache.users, r.bucket(bucketUsers), []byte(id), "user "+id)
}

func (r *readTx) UsersByEmail(programmeID, email string) ([]*core.User, error) {
	var us []*core.User
	for _, id := range prefixValues(r.bucket(bucketUserEmail), compositeKey(programmeID, email)) {
		u, err := r.User(string(id))
		if err != nil {
			return nil, fmt.Errorf("user_email index: %w", err)
		}
		us = append(us, u)
	}
	return us, nil
}

func (w *writeTx) InsertUser(u *core.User) error {
	if w.bucket(bucketUsers).Get([]byte(u.ID)) != nil {
		return idTaken("user " + u.ID)
	}
	if err := w.checkUserUnique(u); err != nil {
		return err
	}
	if err := w.putUser(u); err != nil {
		return err
	}
	return w.reindexUserList(nil, u)
}

func (w *writeTx) UpdateUser(u *core.User) error {
	old, err := w.User(u.ID)
	if err != nil {
		return err
	}
	if err := w.checkUserUnique(u); err != nil {
		return err
	}
	if err := w.deleteUserIndexes(old); err != nil {
		return err
	}
	if err := w.putUser(u); err != nil {
		return err
	}
	return w.reindexUserList(old, u)
}

// checkUserUnique fails if u's emails are taken by another user.
func (w *writeTx) checkUserUnique(u *core.User) error {
	if u.HoldsRootEmail() {
		if id := w.bucket(bucketRootEmail).Get(compositeKey(u.ProgrammeID, u.Email)); id != nil && string(id) != u.ID {
			return duplicate(core.UniqueRootEmail)
		}
	}
	if id := w.bucket(bucketIdentityEmail).Get(compositeKey(u.IdentityID, u.Email)); id != nil && string(id) != u.ID {
		return duplicate(core.UniqueIdentityEmail)
	}
	return nil
}

// putUser writes u and its index entries.
func (w *writeTx) putUser(u *core.User) error {
	if err := put(w.bucket(bucketUsers), []byte(u.ID), u); err != nil {
		return err
	}
	if u.HoldsRootEmail() {
		if err := w.bucket(bucketRootEmail).Put(compositeKey(u.ProgrammeID, u.Email), []byte(u.ID)); err != nil {
			return err
		}
	}
	if err := w.bucket(bucketIdentityEmail).Put(compositeKey(u.IdentityID, u.Email), []byte(u.ID)); err != nil {
		return err
	}
	return w.bucket(bucketUserEmail).Put(compositeKey(u.ProgrammeID, u.Email, u.ID), []byte(u.ID))
}

// deleteUserIndexes removes the index entries of u as it was stored.
func (w *writeTx) deleteUserIndexes(u *core.User) error {
	if u.HoldsRootEmail() {
		if err := w.bucket(bucketRootEmail).Delete(compositeKey(u.ProgrammeID, u.Email)); err != nil {
			return err
		}
	}
	if err := w.bucket(bucketIdentityEmail).Delete(compositeKey(u.IdentityID, u.Email)); err != nil {
		return err
	}
	return w.bucket(bucketUserEmail).Delete(compositeKey(u.ProgrammeID, u.Email, u.ID))
}

func (r *readTx) Password(userID string) (*core.PasswordRecord, error) {
	return get[core.PasswordRecord](r.bucket(bucketPasswords), []byte(userID), "password of user "+userID)
}

func (w *writeTx) PutPassword(p *core.PasswordRecord) error {
	return put(w.bucket(bucketPasswords), []byte(p.UserID), p)
}

func (r *readTx) ResetCode(userID string) (*core.ResetCode, error) {
	return get[core.ResetCode](r.bucket(bucketResetCodes), []byte(userID), "reset code of user "+userID)
}

func (w *writeTx) PutResetCode(c *core.ResetCode) error {
	return put(w.bucket(bucketResetCodes), []byte(c.UserID), c)
}

func (w *writeTx) DeleteResetCode(userID string) error {
	return deleteRecord(w.bucket(bucketResetCodes), []byte(userID), "reset code of user "+userID)
}
