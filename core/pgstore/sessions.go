package pgstore

import (
	"fmt"
	"time"

	"github.com/deputyhq/deputy/core"
)

// Session brings the session's user along, and in an Update, which goes on to
// check and change them, that user's factors and the session's challenges
// (readahead.go).
func (t *tx) Session(tokenHash []byte) (*core.Session, error) {
	if data, ok := t.known.session(tokenHash); ok {
		if data == nil {
			return nil, notFound("session")
		}
		return decode[core.Session](data, "session")
	}
	var (
		data, user []byte
		fs, cs     keyedDatas
		err        error
	)
	if t.update {
		err = t.scan("session", `SELECT s.data, u.data,
				ARRAY(SELECT f.channel FROM factors f WHERE f.user_id = s.user_id ORDER BY f.channel),
				ARRAY(SELECT f.data FROM factors f WHERE f.user_id = s.user_id ORDER BY f.channel),
				ARRAY(SELECT c.purpose FROM challenges c WHERE c.session_hash = s.token_hash ORDER BY c.purpose),
				ARRAY(SELECT c.data FROM challenges c WHERE c.session_hash = s.token_hash ORDER BY c.purpose)
			FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
			[]any{tokenHash}, &data, &user, &fs.keys, &fs.datas, &cs.keys, &cs.datas)
	} else {
		err = t.scan("session", `SELECT s.data, u.data FROM sessions s LEFT JOIN users u ON u.id = s.user_id
			WHERE s.token_hash = $1`, []any{tokenHash}, &data, &user)
	}
	if err != nil {
		return nil, err
	}
	s, err := decode[core.Session](data, "session")
	if err != nil {
		return nil, err
	}
	t.known.keepSession(tokenHash, data)
	t.known.keepUser(s.UserID, user)
	if t.update {
		t.known.keepFactors(s.UserID, fs)
		t.known.keepChallenges(tokenHash, cs)
	}
	return s, nil
}

func (t *tx) UserSessions(userID string) ([]*core.Session, error) {
	return list[core.Session](t, "session", `SELECT data FROM sessions WHERE user_id = $1`, userID)
}

func (t *tx) InsertSession(s *core.Session) error {
	data, err := encode(s)
	if err != nil {
		return err
	}
	t.known.forgetSession(s.TokenHash)
	n, err := t.exec(`INSERT INTO sessions (token_hash, user_id, last_seen, data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		s.TokenHash, s.UserID, nanos(s.LastSeen), data)
	if err == nil && n == 0 {
		return idTaken("session")
	}
	return err
}

// UpdateSession is queued (tx.queue) when the transaction has read the
// session: then it cannot miss (readahead.go).
func (t *tx) UpdateSession(s *core.Session) error {
	data, err := encode(s)
	if err != nil {
		return err
	}
	const update = `UPDATE sessions SET user_id = $2, last_seen = $3, data = $4 WHERE token_hash = $1`
	if known, _ := t.known.session(s.TokenHash); known != nil {
		t.queue(update, s.TokenHash, s.UserID, nanos(s.LastSeen), data)
		t.known.keepSession(s.TokenHash, data)
		return nil
	}
	n, err := t.exec(update, s.TokenHash, s.UserID, nanos(s.LastSeen), data)
	if err == nil && n == 0 {
		return notFound("session")
	}
	return err
}

func (t *tx) DeleteSession(tokenHash []byte) error {
	t.known.forgetSession(tokenHash)
	return t.delete("session", `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
}

func (t *tx) DeleteUserSessions(userID string) (int, error) {
	t.known.forgetSessions()
	n, err := t.exec(`DELETE FROM sessions WHERE user_id = $1`, userID)
	return int(n), err
}

func (t *tx) DeleteSessionsIdleSince(before time.Time) (int, error) {
	t.known.forgetSessions()
	n, err := t.exec(`DELETE FROM sessions WHERE last_seen < $1`, nanos(before))
	return int(n), err
}

func factorName(userID string, ch core.Channel) string {
	return fmt.Sprintf("%s factor of user %s", ch, userID)
}

func (t *tx) Factor(userID string, ch core.Channel) (*core.Factor, error) {
	if fs, ok := t.known.userFactors(userID); ok {
		data, ok := fs.get(string(ch))
		if !ok {
			return nil, notFound(factorName(userID, ch))
		}
		return decode[core.Factor](data, factorName(userID, ch))
	}
	return get[core.Factor](t, factorName(userID, ch), `SELECT data FROM factors WHERE user_id = $1 AND channel = $2`, userID, string(ch))
}

func (t *tx) Factors(userID string) ([]*core.Factor, error) {
	if fs, ok := t.known.userFactors(userID); ok {
		out := make([]*core.Factor, 0, len(fs.datas))
		for _, data := range fs.datas {
			f, err := decode[core.Factor](data, "factor")
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	return list[core.Factor](t, "factor", `SELECT data FROM factors WHERE user_id = $1 ORDER BY channel`, userID)
}

func (t *tx) FactorByCredentialID(credentialID []byte) (*core.Factor, error) {
	return get[core.Factor](t, "factor of that credential id", `SELECT data FROM factors WHERE credential_id = $1`, nullBytes(credentialID))
}

// PutFactor inserts or replaces the user's factor of its channel; a
// credential id another factor holds fails with core.UniqueCredentialID.
func (t *tx) PutFactor(f *core.Factor) error {
	credential := nullBytes(f.CredentialID)
	if credential != nil {
		var taken bool
		if err := t.scan("factor", `SELECT EXISTS (SELECT 1 FROM factors WHERE credential_id = $1 AND (user_id, channel) <> ($2, $3))`,
			[]any{credential, f.UserID, string(f.Channel)}, &taken); err != nil {
			return err
		}
		if taken {
			return duplicate(core.UniqueCredentialID)
		}
	}
	data, err := encode(f)
	if err != nil {
		return err
	}
	t.known.forgetFactors(f.UserID)
	_, err = t.exec(`INSERT INTO factors (user_id, channel, credential_id, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, channel) DO UPDATE SET credential_id = excluded.credential_id, data = excluded.data`,
		f.UserID, string(f.Channel), credential, data)
	return err
}

func (t *tx) DeleteFactor(userID string, ch core.Channel) error {
	t.known.forgetFactors(userID)
	return t.delete(factorName(userID, ch), `DELETE FROM factors WHERE user_id = $1 AND channel = $2`, userID, string(ch))
}

func (t *tx) Challenge(sessionHash []byte, p core.ChallengePurpose) (*core.Challenge, error) {
	if cs, ok := t.known.sessionChallenges(sessionHash); ok {
		data, ok := cs.get(string(p))
		if !ok {
			return nil, notFound(string(p) + " challenge")
		}
		return decode[core.Challenge](data, string(p)+" challenge")
	}
	return get[core.Challenge](t, string(p)+" challenge", `SELECT data FROM challenges WHERE session_hash = $1 AND purpose = $2`,
		sessionHash, string(p))
}

// PutChallenge is queued (tx.queue): only its key is unique, and a conflict
// there replaces the row.
func (t *tx) PutChallenge(c *core.Challenge) error {
	data, err := encode(c)
	if err != nil {
		return err
	}
	t.known.forgetChallenges(c.SessionHash)
	t.queue(`INSERT INTO challenges (session_hash, purpose, issued_at, expires_at, unreported, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (session_hash, purpose) DO UPDATE SET issued_at = excluded.issued_at, expires_at = excluded.expires_at,
			unreported = excluded.unreported, data = excluded.data`,
		c.SessionHash, string(c.Purpose), nanos(c.IssuedAt), nanos(c.ExpiresAt), c.State == core.ChallengePending && !c.ExpiryReported, data)
	return nil
}

func (t *tx) ChallengesExpiredUnreported(at time.Time, limit int) ([]*core.Challenge, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list[core.Challenge](t, "challenge",
		`SELECT data FROM challenges WHERE unreported AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, nanos(at), limit)
}

func (t *tx) DeleteChallengesIssuedBefore(before time.Time) (int, error) {
	t.known.forgetAllChallenges()
	n, err := t.exec(`DELETE FROM challenges WHERE issued_at < $1`, nanos(before))
	return int(n), err
}
