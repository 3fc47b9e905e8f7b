package boltstore

import (
	"bytes"

	"github.com/deputyhq/deputy/core"
)

func (r *readTx) Programme(id string) (*core.Programme, error) {
	return get[core.Programme](r.bucket(bucketProgrammes), []byte(id), "programme "+id)
}

func (r *readTx) ProgrammeByAPIKeyHash(hash []byte) (*core.Programme, error) {
	id := r.bucket(bucketProgrammeKeys).Get(hash)
	if id == nil {
		return nil, notFound("programme by api key")
	}
	return r.Programme(string(id))
}

func (r *readTx) Programmes() ([]*core.Programme, error) {
	return withPrefix[core.Programme](r.bucket(bucketProgrammes), nil, "programme")
}

func (w *writeTx) InsertProgramme(p *core.Programme) error {
	if w.bucket(bucketProgrammes).Get([]byte(p.ID)) != nil {
		return idTaken("programme " + p.ID)
	}
	if w.bucket(bucketProgrammeNames).Get([]byte(p.Name)) != nil {
		return duplicate(core.UniqueProgrammeName)
	}
	return w.putProgramme(p)
}

func (w *writeTx) UpdateProgramme(p *core.Programme) error {
	old, err := w.Programme(p.ID)
	if err != nil {
		return err
	}
	names := w.bucket(bucketProgrammeNames)
	if id := names.Get([]byte(p.Name)); id != nil && string(id) != p.ID {
		return duplicate(core.UniqueProgrammeName)
	}
	if err := names.Delete([]byte(old.Name)); err != nil {
		return err
	}
	if len(old.APIKeyHash) > 0 {
		if err := w.bucket(bucketProgrammeKeys).Delete(old.APIKeyHash); err != nil {
			return err
		}
	}
	return w.putProgramme(p)
}

// putProgramme writes p and its index entries.
func (w *writeTx) putProgramme(p *core.Programme) error {
	if err := put(w.bucket(bucketProgrammes), []byte(p.ID), p); err != nil {
		return err
	}
	if err := w.bucket(bucketProgrammeNames).Put([]byte(p.Name), []byte(p.ID)); err != nil {
		return err
	}
	if len(p.APIKeyHash) == 0 {
		return nil
	}
	return w.bucket(bucketProgrammeKeys).Put(bytes.Clone(p.APIKeyHash), []byte(p.ID))
}

// identityRecord is how an Identity is stored: Profile as bytes, which come
// back verbatim (a json.RawMessage would be compacted, and nil would become "null").
type identityRecord struct {
	*core.Identity
	Profile []byte
}

func (r *readTx) Identity(id string) (*core.Identity, error) {
	rec, err := get[identityRecord](r.bucket(bucketIdentities), []byte(id), "identity "+id)
	if err != nil {
		return nil, err
	}
	rec.Identity.Profile = rec.Profile
	return rec.Identity, nil
}

func (w *writeTx) InsertIdentity(i *core.Identity) error {
	b := w.bucket(bucketIdentities)
	if b.Get([]byte(i.ID)) != nil {
		return idTaken("identity " + i.ID)
	}
	return put(b, []byte(i.ID), identityRecord{Identity: i, Profile: i.Profile})
}
