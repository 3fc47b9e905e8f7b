package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// readTx is a core.ReadTx over a bbolt transaction.
type readTx struct{ tx *bolt.Tx }

// writeTx is a core.Tx over a writable bbolt transaction. Every write checks
// its constraints before it changes anything, so a write that fails leaves the
// transaction as it was.
type writeTx struct{ readTx }

var (
	_ core.ReadTx          = (*readTx)(nil)
	_ core.Tx              = (*writeTx)(nil)
	_ core.FactorReader    = (*readTx)(nil)
	_ core.FactorWriter    = (*writeTx)(nil)
	_ core.ChallengeReader = (*readTx)(nil)
	_ core.ChallengeWriter = (*writeTx)(nil)
)

// idBase makes NextID's ids nine digits or more, like real ids.
const idBase = 100_000_000

func (r *readTx) bucket(name []byte) *bolt.Bucket {
	return r.tx.Bucket(bucketRoot).Bucket(name)
}

// getJSON decodes the record under key into v and reports whether there was one.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode record: %w", err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// compositeKey builds the key [parts...] of the package comment: each part
// preceded by its length as a uvarint.
func compositeKey(parts ...string) []byte {
	var k []byte
	for _, p := range parts {
		k = binary.AppendUvarint(k, uint64(len(p)))
		k = append(k, p...)
	}
	return k
}

// prefixValues returns copies of the values of the keys of b that start with prefix.
func prefixValues(b *bolt.Bucket, prefix []byte) [][]byte {
	var vs [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		vs = append(vs, bytes.Clone(v))
	}
	return vs
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func notFound(what string) error { return fmt.Errorf("%s: %w", what, core.ErrRecordNotFound) }

// idTaken is the error of an insert whose primary key is already used.
func idTaken(what string) error { return fmt.Errorf("%s already exists: %w", what, core.ErrDuplicate) }

func duplicate(constraint string) error { return &core.DuplicateError{Constraint: constraint} }

// Programmes.

func (r *readTx) Programme(id string) (*core.Programme, error) {
	p := new(core.Programme)
	found, err := getJSON(r.bucket(bucketProgrammes), []byte(id), p)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("programme " + id)
	}
	return p, nil
}

func (r *readTx) ProgrammeByAPIKeyHash(hash []byte) (*core.Programme, error) {
	if len(hash) == 0 {
		return nil, notFound("programme by api key")
	}
	id := r.bucket(bucketProgrammeKeys).Get(hash)
	if id == nil {
		return nil, notFound("programme by api key")
	}
	return r.Programme(string(id))
}

func (r *readTx) Programmes() ([]*core.Programme, error) {
	var ps []*core.Programme
	err := r.bucket(bucketProgrammes).ForEach(func(_, v []byte) error {
		p := new(core.Programme)
		if err := json.Unmarshal(v, p); err != nil {
			return fmt.Errorf("decode programme: %w", err)
		}
		ps = append(ps, p)
		return nil
	})
	return ps, err
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
	if err := putJSON(w.bucket(bucketProgrammes), []byte(p.ID), p); err != nil {
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

// Identities.

// identityRecord is how an Identity is stored: Profile as bytes, which come
// back verbatim (a json.RawMessage would be compacted, and nil would become "null").
type identityRecord struct {
	*core.Identity
	Profile []byte
}

func (r *readTx) Identity(id string) (*core.Identity, error) {
	rec := identityRecord{Identity: new(core.Identity)}
	found, err := getJSON(r.bucket(bucketIdentities), []byte(id), &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("identity " + id)
	}
	rec.Identity.Profile = rec.Profile
	return rec.Identity, nil
}

func (w *writeTx) InsertIdentity(i *core.Identity) error {
	b := w.bucket(bucketIdentities)
	if b.Get([]byte(i.ID)) != nil {
		return idTaken("identity " + i.ID)
	}
	return putJSON(b, []byte(i.ID), identityRecord{Identity: i, Profile: i.Profile})
}

// Users.

func (r *readTx) User(id string) (*core.User, error) {
	u := new(core.User)
	found, err := getJSON(r.bucket(bucketUsers), []byte(id), u)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("user " + id)
	}
	return u, nil
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
	return w.putUser(u)
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
	return w.putUser(u)
}

// checkUserUnique fails if u's emails are taken by another user.
func (w *writeTx) checkUserUnique(u *core.User) error {
	if u.Root {
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
	if err := putJSON(w.bucket(bucketUsers), []byte(u.ID), u); err != nil {
		return err
	}
	if u.Root {
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
	if u.Root {
		if err := w.bucket(bucketRootEmail).Delete(compositeKey(u.ProgrammeID, u.Email)); err != nil {
			return err
		}
	}
	if err := w.bucket(bucketIdentityEmail).Delete(compositeKey(u.IdentityID, u.Email)); err != nil {
		return err
	}
	return w.bucket(bucketUserEmail).Delete(compositeKey(u.ProgrammeID, u.Email, u.ID))
}

// Passwords.

func (r *readTx) Password(userID string) (*core.PasswordRecord, error) {
	p := new(core.PasswordRecord)
	found, err := getJSON(r.bucket(bucketPasswords), []byte(userID), p)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("password of user " + userID)
	}
	return p, nil
}

func (w *writeTx) PutPassword(p *core.PasswordRecord) error {
	return putJSON(w.bucket(bucketPasswords), []byte(p.UserID), p)
}

// Sessions.

func (r *readTx) Session(tokenHash []byte) (*core.Session, error) {
	s := new(core.Session)
	found := false
	if len(tokenHash) > 0 {
		var err error
		if found, err = getJSON(r.bucket(bucketSessions), tokenHash, s); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, notFound("session")
	}
	return s, nil
}

func (w *writeTx) InsertSession(s *core.Session) error {
	if len(s.TokenHash) > 0 && w.bucket(bucketSessions).Get(s.TokenHash) != nil {
		return idTaken("session")
	}
	return w.putSession(s)
}

func (w *writeTx) UpdateSession(s *core.Session) error {
	old, err := w.Session(s.TokenHash)
	if err != nil {
		return err
	}
	if err := w.bucket(bucketUserSessions).Delete(compositeKey(old.UserID, string(old.TokenHash))); err != nil {
		return err
	}
	return w.putSession(s)
}

func (w *writeTx) DeleteSession(tokenHash []byte) error {
	s, err := w.Session(tokenHash)
	if err != nil {
		return err
	}
	return w.deleteSession(s.UserID, s.TokenHash)
}

func (w *writeTx) DeleteUserSessions(userID string) (int, error) {
	hashes := prefixValues(w.bucket(bucketUserSessions), compositeKey(userID))
	for _, h := range hashes {
		if err := w.deleteSession(userID, h); err != nil {
			return 0, err
		}
	}
	return len(hashes), nil
}

func (w *writeTx) DeleteSessionsIdleSince(t time.Time) (int, error) {
	var idle []*core.Session
	err := w.bucket(bucketSessions).ForEach(func(_, v []byte) error {
		s := new(core.Session)
		if err := json.Unmarshal(v, s); err != nil {
			return fmt.Errorf("decode session: %w", err)
		}
		if s.LastSeen.Before(t) {
			idle = append(idle, s)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, s := range idle {
		if err := w.deleteSession(s.UserID, s.TokenHash); err != nil {
			return 0, err
		}
	}
	return len(idle), nil
}

// putSession writes s and its index entry.
func (w *writeTx) putSession(s *core.Session) error {
	hash := bytes.Clone(s.TokenHash)
	if err := putJSON(w.bucket(bucketSessions), hash, s); err != nil {
		return err
	}
	return w.bucket(bucketUserSessions).Put(compositeKey(s.UserID, string(hash)), hash)
}

// deleteSession removes a session and its index entry.
func (w *writeTx) deleteSession(userID string, tokenHash []byte) error {
	if err := w.bucket(bucketSessions).Delete(tokenHash); err != nil {
		return err
	}
	return w.bucket(bucketUserSessions).Delete(compositeKey(userID, string(tokenHash)))
}

// Factors.

func (r *readTx) Factor(userID string, ch core.Channel) (*core.Factor, error) {
	f := new(core.Factor)
	found, err := getJSON(r.bucket(bucketFactors), compositeKey(userID, string(ch)), f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound(fmt.Sprintf("%s factor of user %s", ch, userID))
	}
	return f, nil
}

func (r *readTx) Factors(userID string) ([]*core.Factor, error) {
	var fs []*core.Factor
	prefix := compositeKey(userID)
	c := r.bucket(bucketFactors).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		f := new(core.Factor)
		if err := json.Unmarshal(v, f); err != nil {
			return nil, fmt.Errorf("decode factor: %w", err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func (w *writeTx) PutFactor(f *core.Factor) error {
	return putJSON(w.bucket(bucketFactors), compositeKey(f.UserID, string(f.Channel)), f)
}

func (w *writeTx) DeleteFactor(userID string, ch core.Channel) error {
	b := w.bucket(bucketFactors)
	k := compositeKey(userID, string(ch))
	if b.Get(k) == nil {
		return notFound(fmt.Sprintf("%s factor of user %s", ch, userID))
	}
	return b.Delete(k)
}

// Challenges.

func (r *readTx) Challenge(sessionHash []byte, p core.ChallengePurpose) (*core.Challenge, error) {
	c := new(core.Challenge)
	found, err := getJSON(r.bucket(bucketChallenges), compositeKey(string(sessionHash), string(p)), c)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound(fmt.Sprintf("%s challenge", p))
	}
	return c, nil
}

func (w *writeTx) PutChallenge(c *core.Challenge) error {
	return putJSON(w.bucket(bucketChallenges), compositeKey(string(c.SessionHash), string(c.Purpose)), c)
}

func (w *writeTx) DeleteChallengesIssuedBefore(t time.Time) (int, error) {
	var old [][]byte
	b := w.bucket(bucketChallenges)
	err := b.ForEach(func(k, v []byte) error {
		c := new(core.Challenge)
		if err := json.Unmarshal(v, c); err != nil {
			return fmt.Errorf("decode challenge: %w", err)
		}
		if c.IssuedAt.Before(t) {
			old = append(old, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

// Reset codes.

func (r *readTx) ResetCode(userID string) (*core.ResetCode, error) {
	c := new(core.ResetCode)
	found, err := getJSON(r.bucket(bucketResetCodes), []byte(userID), c)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("reset code of user " + userID)
	}
	return c, nil
}

func (w *writeTx) PutResetCode(c *core.ResetCode) error {
	return putJSON(w.bucket(bucketResetCodes), []byte(c.UserID), c)
}

func (w *writeTx) DeleteResetCode(userID string) error {
	b := w.bucket(bucketResetCodes)
	if b.Get([]byte(userID)) == nil {
		return notFound("reset code of user " + userID)
	}
	return b.Delete([]byte(userID))
}

// Audit log.

func (r *readTx) AuditEvents(programmeID string, after uint64, limit int) ([]*core.AuditEvent, error) {
	b := r.bucket(bucketAudit).Bucket([]byte(programmeID))
	if b == nil || after == math.MaxUint64 {
		return nil, nil
	}
	var es []*core.AuditEvent
	c := b.Cursor()
	for k, v := c.Seek(seqKey(after + 1)); k != nil && len(es) < limit; k, v = c.Next() {
		e := new(core.AuditEvent)
		if err := json.Unmarshal(v, e); err != nil {
			return nil, fmt.Errorf("decode audit event: %w", err)
		}
		es = append(es, e)
	}
	return es, nil
}

func (w *writeTx) AppendAudit(e *core.AuditEvent) error {
	seq, err := appendSeq(w.bucket(bucketAudit), e.ProgrammeID)
	if err != nil {
		return err
	}
	e.Seq = seq
	return putJSON(w.bucket(bucketAudit).Bucket([]byte(e.ProgrammeID)), seqKey(seq), e)
}

// appendSeq returns the next sequence number of the per-programme bucket of parent.
func appendSeq(parent *bolt.Bucket, programmeID string) (uint64, error) {
	b, err := parent.CreateBucketIfNotExists([]byte(programmeID))
	if err != nil {
		return 0, fmt.Errorf("programme %q: %w", programmeID, err)
	}
	return b.NextSequence()
}

// Idempotency records.

func (r *readTx) Idempotency(key string) (*core.IdempotencyRecord, error) {
	rec := new(core.IdempotencyRecord)
	found, err := getJSON(r.bucket(bucketIdempotency), []byte(key), rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound("idempotency record")
	}
	return rec, nil
}

func (w *writeTx) InsertIdempotency(rec *core.IdempotencyRecord) error {
	b := w.bucket(bucketIdempotency)
	if b.Get([]byte(rec.Key)) != nil {
		return duplicate(core.UniqueIdempotency)
	}
	return putJSON(b, []byte(rec.Key), rec)
}

func (w *writeTx) UpdateIdempotency(rec *core.IdempotencyRecord) error {
	b := w.bucket(bucketIdempotency)
	if b.Get([]byte(rec.Key)) == nil {
		return notFound("idempotency record")
	}
	return putJSON(b, []byte(rec.Key), rec)
}

func (w *writeTx) DeleteIdempotency(key string) error {
	b := w.bucket(bucketIdempotency)
	if b.Get([]byte(key)) == nil {
		return notFound("idempotency record")
	}
	return b.Delete([]byte(key))
}

func (w *writeTx) DeleteIdempotencyExpired(t time.Time) (int, error) {
	var expired [][]byte
	b := w.bucket(bucketIdempotency)
	err := b.ForEach(func(k, v []byte) error {
		rec := new(core.IdempotencyRecord)
		if err := json.Unmarshal(v, rec); err != nil {
			return fmt.Errorf("decode idempotency record: %w", err)
		}
		if rec.ExpiresAt.Before(t) {
			expired = append(expired, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(expired), nil
}

// Sandbox outbox.

func (r *readTx) Outbox(programmeID string, limit int) ([]*core.Message, error) {
	b := r.bucket(bucketOutbox).Bucket([]byte(programmeID))
	if b == nil {
		return nil, nil
	}
	var ms []*core.Message
	c := b.Cursor()
	for k, v := c.Last(); k != nil && len(ms) < limit; k, v = c.Prev() {
		m := new(core.Message)
		if err := json.Unmarshal(v, m); err != nil {
			return nil, fmt.Errorf("decode outbox message: %w", err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func (w *writeTx) AppendOutbox(m *core.Message) error {
	seq, err := appendSeq(w.bucket(bucketOutbox), m.ProgrammeID)
	if err != nil {
		return err
	}
	m.Seq = seq
	return putJSON(w.bucket(bucketOutbox).Bucket([]byte(m.ProgrammeID)), seqKey(seq), m)
}

// Ids and meta.

func (w *writeTx) NextID() (string, error) {
	seq, err := w.tx.Bucket(bucketRoot).NextSequence()
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(idBase+seq, 10), nil
}

func (r *readTx) Meta(key string) ([]byte, error) {
	k, v := r.bucket(bucketMeta).Cursor().Seek([]byte(key))
	if k == nil || string(k) != key {
		return nil, notFound("meta " + key)
	}
	return append([]byte{}, v...), nil
}

func (w *writeTx) PutMeta(key string, value []byte) error {
	return w.bucket(bucketMeta).Put([]byte(key), bytes.Clone(value))
}
