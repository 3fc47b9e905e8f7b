package pgstore

import "slices"

// readAhead holds what a View's queries brought along beside the record asked
// for. A View reads one snapshot, so a row brought along is the row a later
// query in it would return: the reads every authenticated request makes one
// after another (a session, then its user; an identity, then its root user,
// whose id is the identity's, and that user's factors) take one round trip
// instead of two or three. An Update, which may change those rows between
// reads, has none and queries each time.
type readAhead struct {
	users   map[string][]byte      // user id -> the user's data
	factors map[string]userFactors // user id -> every factor of the user
}

// userFactors are all the factors of a user, in channel order.
type userFactors struct {
	channels []string
	datas    [][]byte
}

// user returns the data of a user brought along, if any.
func (r *readAhead) user(id string) ([]byte, bool) {
	if r == nil {
		return nil, false
	}
	data, ok := r.users[id]
	return data, ok
}

// userFactors returns the factors of a user brought along, if they were.
func (r *readAhead) userFactors(userID string) (userFactors, bool) {
	if r == nil {
		return userFactors{}, false
	}
	fs, ok := r.factors[userID]
	return fs, ok
}

// keepUser keeps the data of a user a query brought along; nil (no such
// user) keeps nothing.
func (r *readAhead) keepUser(id string, data []byte) {
	if data == nil {
		return
	}
	if r.users == nil {
		r.users = map[string][]byte{}
	}
	r.users[id] = data
}

// keepFactors keeps every factor of a user a query brought along.
func (r *readAhead) keepFactors(userID string, fs userFactors) {
	if r.factors == nil {
		r.factors = map[string]userFactors{}
	}
	r.factors[userID] = fs
}

// factor returns the data of the factor of a channel, if the user has one.
func (fs userFactors) factor(channel string) ([]byte, bool) {
	i := slices.Index(fs.channels, channel)
	if i < 0 {
		return nil, false
	}
	return fs.datas[i], true
}
