package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func getSession(t *testing.T, s core.Store, tokenHash string) (*core.Session, error) {
	t.Helper()
	return read(t, s, func(tx core.ReadTx) (*core.Session, error) { return tx.Session([]byte(tokenHash)) })
}

func insertSessions(t *testing.T, s core.Store, ss ...*core.Session) {
	t.Helper()
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, x := range ss {
			if err := tx.InsertSession(x); err != nil {
				return err
			}
		}
		return nil
	})
}

// requireSessions checks which of the sessions exist.
func requireSessions(t *testing.T, s core.Store, present, absent []string) {
	t.Helper()
	for _, h := range present {
		_, err := getSession(t, s, h)
		require.NoError(t, err, "session %s", h)
	}
	for _, h := range absent {
		_, err := getSession(t, s, h)
		require.ErrorIs(t, err, core.ErrRecordNotFound, "session %s", h)
	}
}

func testSession(t *testing.T, s core.Store) {
	_, err := getSession(t, s, "tok-1")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error {
		return tx.UpdateSession(session("tok-1", "101", t0))
	}))
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteSession([]byte("tok-1")) }))

	s1 := session("tok-1", "101", t0)
	requireComplete(t, s1)
	insertSessions(t, s, s1)
	got, err := getSession(t, s, "tok-1")
	require.NoError(t, err)
	assert.Equal(t, s1, got)

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertSession(session("tok-1", "102", t0)) })
	require.ErrorIs(t, err, core.ErrDuplicate, "insert with a used token hash")

	s1.LastSeen, s1.SteppedUp, s1.SteppedUpAt = t0.Add(time.Minute), false, time.Time{}
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateSession(s1) })
	got, err = getSession(t, s, "tok-1")
	require.NoError(t, err)
	assert.Equal(t, s1, got)

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteSession([]byte("tok-1")) })
	requireSessions(t, s, nil, []string{"tok-1"})
	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteUserSessions("101") })
	require.NoError(t, err)
	assert.Zero(t, n, "sessions of the user after DeleteSession")
}

func testDeleteUserSessions(t *testing.T, s core.Store) {
	insertSessions(t, s,
		session("a-1", "101", t0), session("a-2", "101", t0), session("a-3", "101", t0),
		session("b-1", "1010", t0), // a user id that the other one is a prefix of
		session("c-1", "10", t0),   // and one that is a prefix of the other
	)
	// Moving a session to another user moves it in the index too.
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateSession(session("a-3", "10", t0)) })

	for _, c := range []struct {
		userID  string
		deleted int
		present []string
		absent  []string
	}{
		{userID: "101", deleted: 2, present: []string{"a-3", "b-1", "c-1"}, absent: []string{"a-1", "a-2"}},
		{userID: "101", deleted: 0, present: []string{"a-3", "b-1", "c-1"}},
		{userID: "10", deleted: 2, present: []string{"b-1"}, absent: []string{"a-3", "c-1"}},
		{userID: "999", deleted: 0, present: []string{"b-1"}},
	} {
		n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteUserSessions(c.userID) })
		require.NoError(t, err)
		assert.Equal(t, c.deleted, n, "sessions of user %s", c.userID)
		requireSessions(t, s, c.present, c.absent)
	}
}

func testUserSessions(t *testing.T, s core.Store) {
	insertSessions(t, s,
		session("a-1", "101", t0), session("a-2", "101", t0), session("a-3", "101", t0),
		session("b-1", "1010", t0), // a user id that the other one is a prefix of
		session("c-1", "10", t0),   // and one that is a prefix of the other
	)
	// Moving a session to another user moves it in the index too.
	moved := session("a-3", "10", t0)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateSession(moved) })
	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteSession([]byte("a-2")) })
	for user, want := range map[string][]*core.Session{
		"101":  {session("a-1", "101", t0)},
		"10":   {moved, session("c-1", "10", t0)},
		"1010": {session("b-1", "1010", t0)},
		"999":  nil,
	} {
		got, err := read(t, s, func(tx core.ReadTx) ([]*core.Session, error) { return tx.UserSessions(user) })
		require.NoError(t, err)
		assert.ElementsMatch(t, want, got, "sessions of user %s", user)
	}
}

func testDeleteSessionsIdleSince(t *testing.T, s core.Store) {
	insertSessions(t, s,
		session("old", "101", t0.Add(-10*time.Minute)),
		session("edge", "101", t0.Add(-5*time.Minute)),
		session("fresh", "102", t0),
	)

	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteSessionsIdleSince(t0.Add(-5 * time.Minute)) })
	require.NoError(t, err)
	assert.Equal(t, 1, n, "sessions last seen before the cut-off")
	requireSessions(t, s, []string{"edge", "fresh"}, []string{"old"})

	// The per-user index lost the deleted session too.
	n, err = write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteUserSessions("101") })
	require.NoError(t, err)
	assert.Equal(t, 1, n, "sessions of user 101 left")

	n, err = write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteSessionsIdleSince(t0.Add(time.Minute)) })
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	requireSessions(t, s, nil, []string{"old", "edge", "fresh"})
	n, err = write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteUserSessions("102") })
	require.NoError(t, err)
	assert.Zero(t, n, "sessions of user 102 left")
}

// testSessionPrefetched reads what an authenticated call reads, the
// programme of a key and then a session and its user, having named the
// session first on a ReadTx that takes it (core.SessionPrefetcher): the
// answers are those without, for a session that exists and one that does
// not, and a key that matches nothing.
func testSessionPrefetched(t *testing.T, s core.Store) {
	p := programme("p1", "Alpha")
	u := user("101", "p1", "101", "root@example.com")
	insertAll(t, s, []*core.Programme{p}, nil, []*core.User{u})
	s1 := session("tok-1", "101", t0)
	insertSessions(t, s, s1)
	call := func(keyHash, tokenHash string) (*core.Programme, *core.Session, *core.User, error) {
		var (
			gotP *core.Programme
			gotS *core.Session
			gotU *core.User
		)
		err := s.View(t.Context(), func(tx core.ReadTx) (err error) {
			if pf, ok := tx.(core.SessionPrefetcher); ok {
				pf.PrefetchSession([]byte(tokenHash))
			}
			if gotP, err = tx.ProgrammeByKeyHash([]byte(keyHash)); err != nil {
				return err
			}
			if gotS, err = tx.Session([]byte(tokenHash)); err != nil {
				return err
			}
			gotU, err = tx.User(gotS.UserID)
			return err
		})
		return gotP, gotS, gotU, err
	}
	gotP, gotS, gotU, err := call("api-key-hash-p1", "tok-1")
	require.NoError(t, err)
	assert.Equal(t, p, gotP)
	assert.Equal(t, s1, gotS)
	assert.Equal(t, u, gotU)

	_, _, _, err = call("api-key-hash-p1", "tok-2")
	assert.ErrorIs(t, err, core.ErrRecordNotFound, "a session that does not exist")
	_, _, _, err = call("no-such-key", "tok-1")
	assert.ErrorIs(t, err, core.ErrRecordNotFound, "a key that matches nothing")
}
