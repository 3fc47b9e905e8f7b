package boltstore

import "github.com/deputyhq/deputy/core"

var (
	_ core.InviteReader    = (*readTx)(nil)
	_ core.InviteWriter    = (*writeTx)(nil)
	_ core.EmailCodeReader = (*readTx)(nil)
	_ core.EmailCodeWriter = (*writeTx)(nil)
	_ core.KYCReader       = (*readTx)(nil)
	_ core.KYCWriter       = (*writeTx)(nil)
)

func (r *readTx) Invite(userID string) (*core.Invite, error) {
	return get[core.Invite](r.bucket(bucketInvites), []byte(userID), "invite of user "+userID)
}

func (w *writeTx) PutInvite(i *core.Invite) error {
	return put(w.bucket(bucketInvites), []byte(i.UserID), i)
}

func (r *readTx) EmailCode(userID string) (*core.EmailCode, error) {
	return get[core.EmailCode](r.bucket(bucketEmailCodes), []byte(userID), "email code of user "+userID)
}

func (w *writeTx) PutEmailCode(c *core.EmailCode) error {
	return put(w.bucket(bucketEmailCodes), []byte(c.UserID), c)
}

func (w *writeTx) DeleteEmailCode(userID string) error {
	return deleteRecord(w.bucket(bucketEmailCodes), []byte(userID), "email code of user "+userID)
}

func (r *readTx) KYC(userID string) (*core.KYC, error) {
	return get[core.KYC](r.bucket(bucketKYC), []byte(userID), "KYC of user "+userID)
}

// KYCByReference finds a case through kyc_refs. An empty reference is never
// indexed, so it finds nothing.
func (r *readTx) KYCByReference(ref string) (*core.KYC, error) {
	if ref == "" {
		return nil, notFound("KYC without a reference")
	}
	id := r.bucket(bucketKYCRefs).Get([]byte(ref))
	if id == nil {
		return nil, notFound("KYC reference " + ref)
	}
	return r.KYC(string(id))
}

func (w *writeTx) DeleteKYC(userID string) error {
	k, err := w.KYC(userID)
	if err != nil {
		return err
	}
	if k.Reference != "" {
		if err := w.bucket(bucketKYCRefs).Delete([]byte(k.Reference)); err != nil {
			return err
		}
	}
	return w.bucket(bucketKYC).Delete([]byte(userID))
}

// PutKYC writes the user's case and moves its kyc_refs entry. A reference
// another user's case holds fails with core.UniqueKYCReference; an empty
// reference is not indexed, so any number of cases may be without one.
func (w *writeTx) PutKYC(k *core.KYC) error {
	refs := w.bucket(bucketKYCRefs)
	if k.Reference != "" {
		if id := refs.Get([]byte(k.Reference)); id != nil && string(id) != k.UserID {
			return duplicate(core.UniqueKYCReference)
		}
	}
	b := w.bucket(bucketKYC)
	if data := b.Get([]byte(k.UserID)); data != nil {
		old, err := decode[core.KYC](data, "KYC of user "+k.UserID)
		if err != nil {
			return err
		}
		if old.Reference != "" && old.Reference != k.Reference {
			if err := refs.Delete([]byte(old.Reference)); err != nil {
				return err
			}
		}
	}
	if err := put(b, []byte(k.UserID), k); err != nil {
		return err
	}
	if k.Reference == "" {
		return nil
	}
	return refs.Put([]byte(k.Reference), []byte(k.UserID))
}
