package pgstore

import (
	"slices"

	"github.com/deputyhq/deputy/core"
)

func (t *tx) Programme(id string) (*core.Programme, error) {
	return get[core.Programme](t, "programme "+id, `SELECT data FROM programmes WHERE id = $1`, id)
}

// ProgrammeByKeyHash brings along the session PrefetchSession named, if
// any, and its user (readahead.go).
func (t *tx) ProgrammeByKeyHash(hash []byte) (*core.Programme, error) {
	session := t.known.prefetch
	if session == nil {
		return get[core.Programme](t, "programme by key hash",
			`SELECT p.data FROM programme_keys k JOIN programmes p ON p.id = k.programme_id WHERE k.hash = $1`, nullBytes(hash))
	}
	t.known.prefetch = nil
	var data, sess, user []byte
	if err := t.scan("programme by key hash", `SELECT p.data, s.data, u.data
		FROM programme_keys k JOIN programmes p ON p.id = k.programme_id
			LEFT JOIN sessions s ON s.token_hash = $2 LEFT JOIN users u ON u.id = s.user_id
		WHERE k.hash = $1`, []any{nullBytes(hash), session}, &data, &sess, &user); err != nil {
		return nil, err
	}
	t.known.keepSession(session, sess)
	if sess != nil {
		s, err := decode[core.Session](sess, "session")
		if err != nil {
			return nil, err
		}
		t.known.keepUser(s.UserID, user)
	}
	return decode[core.Programme](data, "programme by key hash")
}

// PrefetchSession implements core.SessionPrefetcher: the next
// ProgrammeByKeyHash brings the session along.
func (t *tx) PrefetchSession(tokenHash []byte) { t.known.prefetch = tokenHash }

func (t *tx) Programmes() ([]*core.Programme, error) {
	return list[core.Programme](t, "programme", `SELECT data FROM programmes ORDER BY id`)
}

func (t *tx) InsertProgramme(p *core.Programme) error {
	if err := t.checkProgramme(p, true); err != nil {
		return err
	}
	data, err := encode(p)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO programmes (id, name, data) VALUES ($1, $2, $3)`, p.ID, p.Name, data); err != nil {
		return err
	}
	return t.putKeyHashes(p)
}

// UpdateProgramme replaces the stored programme and its key hashes: the ones
// p no longer has are freed.
func (t *tx) UpdateProgramme(p *core.Programme) error {
	if err := t.checkProgramme(p, false); err != nil {
		return err
	}
	data, err := encode(p)
	if err != nil {
		return err
	}
	if _, err := t.exec(`UPDATE programmes SET name = $2, data = $3 WHERE id = $1`, p.ID, p.Name, data); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM programme_keys WHERE programme_id = $1`, p.ID); err != nil {
		return err
	}
	return t.putKeyHashes(p)
}

// checkProgramme fails when inserting p (insert) would take a used id, or
// when updating it would find none, and when another programme holds p's
// name or one of its key hashes.
func (t *tx) checkProgramme(p *core.Programme, insert bool) error {
	var exists, nameTaken, keyTaken bool
	err := t.scan("programme", `SELECT
		EXISTS (SELECT 1 FROM programmes WHERE id = $1),
		EXISTS (SELECT 1 FROM programmes WHERE name = $2 AND id <> $1),
		EXISTS (SELECT 1 FROM programme_keys WHERE hash = ANY($3) AND programme_id <> $1)`,
		[]any{p.ID, p.Name, keyHashes(p)}, &exists, &nameTaken, &keyTaken)
	switch {
	case err != nil:
		return err
	case insert && exists:
		return idTaken("programme " + p.ID)
	case !insert && !exists:
		return notFound("programme " + p.ID)
	case nameTaken:
		return duplicate(core.UniqueProgrammeName)
	case keyTaken:
		return duplicate(core.UniqueKeyHash)
	}
	return nil
}

// keyHashes returns the hashes of p's keys that lead to p: the api key's, the
// ui key's and every retired key's. Empty hashes are left out.
func keyHashes(p *core.Programme) [][]byte {
	hs := [][]byte{p.APIKeyHash, p.UIKeyHash}
	for _, k := range p.RetiredKeys {
		hs = append(hs, k.Hash)
	}
	return slices.DeleteFunc(hs, func(h []byte) bool { return len(h) == 0 })
}

func (t *tx) putKeyHashes(p *core.Programme) error {
	_, err := t.exec(`INSERT INTO programme_keys (hash, programme_id) SELECT DISTINCT unnest($2::bytea[]), $1`, p.ID, keyHashes(p))
	return err
}

// identityRecord is how an Identity is stored: Profile as bytes, which come
// back verbatim (a json.RawMessage would be compacted, and nil would become
// "null"), as in the bbolt store.
type identityRecord struct {
	*core.Identity
	Profile []byte
}

// Identity brings its root user (whose id is the identity's) and that
// user's factors along in a View (readahead.go): in an Update they would
// more often be changed than read.
func (t *tx) Identity(id string) (*core.Identity, error) {
	var (
		data []byte
		err  error
	)
	if t.update {
		err = t.scan("identity "+id, `SELECT data FROM identities WHERE id = $1`, []any{id}, &data)
	} else {
		var (
			root []byte
			fs   keyedDatas
		)
		err = t.scan("identity "+id, `SELECT i.data, u.data,
				ARRAY(SELECT f.channel FROM factors f WHERE f.user_id = i.id ORDER BY f.channel),
				ARRAY(SELECT f.data FROM factors f WHERE f.user_id = i.id ORDER BY f.channel)
			FROM identities i LEFT JOIN users u ON u.id = i.id WHERE i.id = $1`, []any{id}, &data, &root, &fs.keys, &fs.datas)
		if err == nil {
			t.known.keepUser(id, root)
			t.known.keepFactors(id, fs)
		}
	}
	if err != nil {
		return nil, err
	}
	rec, err := decode[identityRecord](data, "identity "+id)
	if err != nil {
		return nil, err
	}
	rec.Identity.Profile = rec.Profile
	return rec.Identity, nil
}

func (t *tx) InsertIdentity(i *core.Identity) error {
	data, err := encode(identityRecord{Identity: i, Profile: i.Profile})
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO identities (id, data) VALUES ($1, $2) ON CONFLICT DO NOTHING`, i.ID, data)
	if err == nil && n == 0 {
		return idTaken("identity " + i.ID)
	}
	return err
}

func (t *tx) UpdateIdentity(i *core.Identity) error {
	data, err := encode(identityRecord{Identity: i, Profile: i.Profile})
	if err != nil {
		return err
	}
	n, err := t.exec(`UPDATE identities SET data = $2 WHERE id = $1`, i.ID, data)
	if err == nil && n == 0 {
		return notFound("identity " + i.ID)
	}
	return err
}
