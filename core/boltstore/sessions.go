package boltstore

import (
	"bytes"
	"fmt"
	"time"

	"github.com/deputyhq/deputy/core"
)

func (r *readTx) Session(tokenHash []byte) (*core.Session, error) {
	return getCached(r.cache.sessions, r.bucket(bucketSessions), tokenHash, "session")
}

func (r *readTx) UserSessions(userID string) ([]*core.Session, error) {
	var out []*core.Session
	for _, h := range prefixValues(r.bucket(bucketUserSessions), compositeKey(userID)) {
		s, err := r.Session(h)
		if err != nil {
			return nil, fmt.Errorf("user_sessions index: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (w *writeTx) InsertSession(s *core.Session) error {
	if w.bucket(bucketSessions).Get(s.TokenHash) != nil {
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
	return w.deleteSession(s)
}

func (w *writeTx) DeleteUserSessions(userID string) (int, error) {
	hashes := prefixValues(w.bucket(bucketUserSessions), compositeKey(userID))
	for _, h := range hashes {
		if err := w.deleteSession(&core.Session{TokenHash: h, UserID: userID}); err != nil {
			return 0, err
		}
	}
	return len(hashes), nil
}

func (w *writeTx) DeleteSessionsIdleSince(t time.Time) (int, error) {
	_, idle, err := match(w.bucket(bucketSessions), "session", func(s *core.Session) bool { return s.LastSeen.Before(t) })
	if err != nil {
		return 0, err
	}
	for _, s := range idle {
		if err := w.deleteSession(s); err != nil {
			return 0, err
		}
	}
	return len(idle), nil
}

// putSession writes s and its index entry.
func (w *writeTx) putSession(s *core.Session) error {
	hash := bytes.Clone(s.TokenHash)
	if err := put(w.bucket(bucketSessions), hash, s); err != nil {
		return err
	}
	return w.bucket(bucketUserSessions).Put(compositeKey(s.UserID, string(hash)), hash)
}

// deleteSession removes the stored session s and its index entry.
func (w *writeTx) deleteSession(s *core.Session) error {
	if err := w.bucket(bucketSessions).Delete(s.TokenHash); err != nil {
		return err
	}
	return w.bucket(bucketUserSessions).Delete(compositeKey(s.UserID, string(s.TokenHash)))
}

func factorKey(userID string, ch core.Channel) []byte { return compositeKey(userID, string(ch)) }

func factorName(userID string, ch core.Channel) string {
	return fmt.Sprintf("%s factor of user %s", ch, userID)
}

func (r *readTx) Factor(userID string, ch core.Channel) (*core.Factor, error) {
	return getCached(r.cache.factors, r.bucket(bucketFactors), factorKey(userID, ch), factorName(userID, ch))
}

func (r *readTx) Factors(userID string) ([]*core.Factor, error) {
	return withPrefix[core.Factor](r.bucket(bucketFactors), compositeKey(userID), "factor")
}

func (r *readTx) FactorByCredentialID(credentialID []byte) (*core.Factor, error) {
	if len(credentialID) == 0 {
		return nil, notFound("factor of an empty credential id")
	}
	key := r.bucket(bucketFactorCredentials).Get(credentialID)
	if key == nil {
		return nil, notFound("factor of that credential id")
	}
	return getCached(r.cache.factors, r.bucket(bucketFactors), key, "factor of that credential id")
}

func (w *writeTx) PutFactor(f *core.Factor) error {
	key := factorKey(f.UserID, f.Channel)
	if err := w.unindexCredential(key); err != nil {
		return err
	}
	if err := w.indexCredential(key, f.CredentialID); err != nil {
		return err
	}
	return put(w.bucket(bucketFactors), key, f)
}

func (w *writeTx) DeleteFactor(userID string, ch core.Channel) error {
	key := factorKey(userID, ch)
	if err := w.unindexCredential(key); err != nil {
		return err
	}
	return deleteRecord(w.bucket(bucketFactors), key, factorName(userID, ch))
}

// indexCredential maps a non-empty credential id to the factor key that holds
// it, failing with core.UniqueCredentialID when another factor holds it.
func (w *writeTx) indexCredential(key, credentialID []byte) error {
	if len(credentialID) == 0 {
		return nil
	}
	b := w.bucket(bucketFactorCredentials)
	if owner := b.Get(credentialID); owner != nil && !bytes.Equal(owner, key) {
		return duplicate(core.UniqueCredentialID)
	}
	return b.Put(bytes.Clone(credentialID), bytes.Clone(key))
}

// unindexCredential frees the credential id of the factor stored under key, if any.
func (w *writeTx) unindexCredential(key []byte) error {
	data := w.bucket(bucketFactors).Get(key)
	if data == nil {
		return nil
	}
	old, err := decode[core.Factor](data, "factor")
	if err != nil || len(old.CredentialID) == 0 {
		return err
	}
	return w.bucket(bucketFactorCredentials).Delete(old.CredentialID)
}

func challengeKey(sessionHash []byte, p core.ChallengePurpose) []byte {
	return compositeKey(string(sessionHash), string(p))
}

func (r *readTx) Challenge(sessionHash []byte, p core.ChallengePurpose) (*core.Challenge, error) {
	return get[core.Challenge](r.bucket(bucketChallenges), challengeKey(sessionHash, p), string(p)+" challenge")
}

func (w *writeTx) PutChallenge(c *core.Challenge) error {
	return put(w.bucket(bucketChallenges), challengeKey(c.SessionHash, c.Purpose), c)
}

func (r *readTx) ChallengesExpiredUnreported(t time.Time, limit int) ([]*core.Challenge, error) {
	return firstMatches(r.bucket(bucketChallenges), "challenge", limit, func(c *core.Challenge) bool {
		return c.State == core.ChallengePending && !c.ExpiryReported && !c.ExpiresAt.After(t)
	})
}

func (w *writeTx) DeleteChallengesIssuedBefore(t time.Time) (int, error) {
	b := w.bucket(bucketChallenges)
	keys, _, err := match(b, "challenge", func(c *core.Challenge) bool { return c.IssuedAt.Before(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}
