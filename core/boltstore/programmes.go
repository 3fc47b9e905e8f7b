package boltstore

import (
	"bytes"
	"slices"

	"github.com/deputyhq/deputy/core"
)

func (r *readTx) Programme(id string) (*core.Programme, error) {
	return getCached(r.cache.programmes, r.bucket(bucketProgrammes), []byte(id), "programme "+id)
}

// ProgrammeByKeyHash finds a programme by the hash of any of its keys: the
// secret api key, the public ui key or a retired key.
func (r *readTx) ProgrammeByKeyHash(hash []byte) (*core.Programme, error) {
	if len(hash) == 0 {
		return nil, notFound("programme by key hash")
	}
	id := r.bucket(bucketProgrammeKeys).Get(hash)
	if id == nil {
		return nil, notFound("programme by key hash")
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
	if err := w.checkKeyHashes(p); err != nil {
		return err
	}
	return w.putProgramme(p)
}

// UpdateProgramme replaces the stored programme and moves its index entries:
// the old name and the key hashes p no longer has are freed.
func (w *writeTx) UpdateProgramme(p *core.Programme) error {
	old, err := w.Programme(p.ID)
	if err != nil {
		return err
	}
	names := w.bucket(bucketProgrammeNames)
	if id := names.Get([]byte(p.Name)); id != nil && string(id) != p.ID {
		return duplicate(core.UniqueProgrammeName)
	}
	if err := w.checkKeyHashes(p); err != nil {
		return err
	}
	if err := names.Delete([]byte(old.Name)); err != nil {
		return err
	}
	keys := w.bucket(bucketProgrammeKeys)
	for _, h := range keyHashes(old) {
		if err := keys.Delete(h); err != nil {
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
	return w.putKeyHashes(p)
}

// keyHashes returns the hashes of p's keys that programme_keys maps to p: the
// api key's, the ui key's and every retired key's. Empty hashes are left out.
func keyHashes(p *core.Programme) [][]byte {
	hs := [][]byte{p.APIKeyHash, p.UIKeyHash}
	for _, k := range p.RetiredKeys {
		hs = append(hs, k.Hash)
	}
	return slices.DeleteFunc(hs, func(h []byte) bool { return len(h) == 0 })
}

// checkKeyHashes fails with core.UniqueKeyHash if another programme holds one
// of p's key hashes.
func (w *writeTx) checkKeyHashes(p *core.Programme) error {
	keys := w.bucket(bucketProgrammeKeys)
	for _, h := range keyHashes(p) {
		if id := keys.Get(h); id != nil && string(id) != p.ID {
			return duplicate(core.UniqueKeyHash)
		}
	}
	return nil
}

// putKeyHashes maps each of p's key hashes to p's id in programme_keys.
func (w *writeTx) putKeyHashes(p *core.Programme) error {
	keys := w.bucket(bucketProgrammeKeys)
	for _, h := range keyHashes(p) {
		if err := keys.Put(bytes.Clone(h), []byte(p.ID)); err != nil {
			return err
		}
	}
	return nil
}

// identityRecord is how an Identity is stored: Profile as bytes, which come
// back verbatim (a json.RawMessage would be compacted, and nil would become "null").
type identityRecord struct {
	*core.Identity
	Profile []byte
}

func (r *readTx) Identity(id string) (*core.Identity, error) {
	rec, err := getCached(r.cache.identities, r.bucket(bucketIdentities), []byte(id), "identity "+id)
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

func (w *writeTx) UpdateIdentity(i *core.Identity) error {
	b := w.bucket(bucketIdentities)
	if b.Get([]byte(i.ID)) == nil {
		return notFound("identity " + i.ID)
	}
	return put(b, []byte(i.ID), identityRecord{Identity: i, Profile: i.Profile})
}
