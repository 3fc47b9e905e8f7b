package pgstore

import "slices"

// readAhead holds what a transaction's queries brought along beside the
// record asked for. A transaction reads one snapshot (REPEATABLE READ or
// SERIALIZABLE), so a row brought along is the row a later query in it would
// return, unless the transaction itself changes it: every write to a kind of
// row kept here forgets what it may change. The reads an authenticated call
// makes one after another (a session, then its user, that user's factors and
// the session's challenges; an identity, then its root user, whose id is the
// identity's, and that user's factors) take one round trip instead of two to
// four, and an Update's write to a row it read cannot miss it (a row another
// transaction deleted since the snapshot fails to serialize), so it can be
// queued (tx.queue).
//
// In a transaction that Updates share (turns.go), each function starts with
// nothing known: one rolled back to its savepoint may have kept rows it had
// changed.
type readAhead struct {
	users      map[string][]byte     // user id -> the user's data
	factors    map[string]keyedDatas // user id -> every factor of the user, by channel
	sessions   map[string][]byte     // token hash -> the session's data, nil when there is none
	challenges map[string]keyedDatas // session hash -> every challenge of the session, by purpose
	// appending is, per programme, the audit tree that the leaf being
	// appended goes into, with its peaks when its head had them (logs.go).
	appending map[string]*treePeaks
	// prefetch is the token hash of a session to bring along with the next
	// programme by key hash (core.SessionPrefetcher).
	prefetch []byte
}

// keyedDatas are records of one owner (a user's factors, a session's
// challenges), each under its key (channel, purpose), in key order.
type keyedDatas struct {
	keys  []string
	datas [][]byte
}

// get returns the data of the record under key, if there is one.
func (kd keyedDatas) get(key string) ([]byte, bool) {
	i := slices.Index(kd.keys, key)
	if i < 0 {
		return nil, false
	}
	return kd.datas[i], true
}

// user returns the data of a user brought along, if any.
func (r *readAhead) user(id string) ([]byte, bool) {
	data, ok := r.users[id]
	return data, ok
}

// keepUser keeps the data of a user a query brought along; nil (no such
// user) keeps nothing.
func (r *readAhead) keepUser(id string, data []byte) {
	if data != nil {
		r.users = keep(r.users, id, data)
	}
}

// userFactors returns the factors of a user brought along, if they were.
func (r *readAhead) userFactors(userID string) (keyedDatas, bool) {
	fs, ok := r.factors[userID]
	return fs, ok
}

// keepFactors keeps every factor of a user a query brought along.
func (r *readAhead) keepFactors(userID string, fs keyedDatas) {
	r.factors = keep(r.factors, userID, fs)
}

// session returns the data of a session read before, nil when it was found
// missing, and whether it was read.
func (r *readAhead) session(tokenHash []byte) ([]byte, bool) {
	data, ok := r.sessions[string(tokenHash)]
	return data, ok
}

// keepSession keeps the data of a session read, nil when there is none.
func (r *readAhead) keepSession(tokenHash, data []byte) {
	r.sessions = keep(r.sessions, string(tokenHash), data)
}

// sessionChallenges returns the challenges of a session brought along, if they were.
func (r *readAhead) sessionChallenges(sessionHash []byte) (keyedDatas, bool) {
	cs, ok := r.challenges[string(sessionHash)]
	return cs, ok
}

// keepChallenges keeps every challenge of a session a query brought along.
func (r *readAhead) keepChallenges(sessionHash []byte, cs keyedDatas) {
	r.challenges = keep(r.challenges, string(sessionHash), cs)
}

// The forget methods drop what a write may change.

func (r *readAhead) forgetUser(id string)                { delete(r.users, id) }
func (r *readAhead) forgetFactors(userID string)         { delete(r.factors, userID) }
func (r *readAhead) forgetSession(tokenHash []byte)      { delete(r.sessions, string(tokenHash)) }
func (r *readAhead) forgetSessions()                     { clear(r.sessions) }
func (r *readAhead) forgetChallenges(sessionHash []byte) { delete(r.challenges, string(sessionHash)) }
func (r *readAhead) forgetAllChallenges()                { clear(r.challenges) }

// keep puts v under k in m, making m when it is nil.
func keep[V any](m map[string]V, k string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	m[k] = v
	return m
}
