package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// The user fixture: programme p1 with identities 101 and 201, programme p2 with
// identity 301; 101 has its root user and an authorised user.

func root101() *core.User { return user("101", "p1", "101", "root@example.com") }
func ann101() *core.User  { return user("102", "p1", "101", "ann@example.com") }
func root201() *core.User { return user("201", "p1", "201", "other@example.com") }
func root301() *core.User { return user("301", "p2", "301", "third@example.com") }

func insertUsers(t *testing.T, s core.Store) {
	t.Helper()
	insertAll(t, s,
		[]*core.Programme{programme("p1", "Alpha"), programme("p2", "Beta")},
		[]*core.Identity{identity("101", "p1"), identity("201", "p1"), identity("301", "p2")},
		[]*core.User{root101(), ann101(), root201(), root301()},
	)
}

func getUser(t *testing.T, s core.Store, id string) (*core.User, error) {
	t.Helper()
	return read(t, s, func(tx core.ReadTx) (*core.User, error) { return tx.User(id) })
}

func usersByEmail(t *testing.T, s core.Store, programmeID, email string) []*core.User {
	t.Helper()
	us, err := read(t, s, func(tx core.ReadTx) ([]*core.User, error) { return tx.UsersByEmail(programmeID, email) })
	require.NoError(t, err)
	return us
}

func testUserRoundTrip(t *testing.T, s core.Store) {
	// Every field set, the links of both kinds too (no real user holds both).
	full := user("401", "p1", "401", "root@example.com")
	full.CredentialsID, full.LinkedIdentities = "101", []string{"501", "601"}
	requireComplete(t, full)
	insertUsers(t, s)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertUser(full) })
	for _, want := range []*core.User{root101(), ann101(), root201(), root301(), full} {
		got, err := getUser(t, s, want.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	bare := &core.User{ID: "103", IdentityID: "101", ProgrammeID: "p1", Email: "bare@example.com"}
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertUser(bare) })
	got, err := getUser(t, s, "103")
	require.NoError(t, err)
	assert.Equal(t, bare, got, "a user with only the required fields")

	// A second user with the same email in another identity of the programme.
	twin := user("202", "p1", "201", "ann@example.com")
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertUser(twin) })
	assert.ElementsMatch(t, []*core.User{ann101(), twin}, usersByEmail(t, s, "p1", "ann@example.com"))
	assert.Equal(t, []*core.User{root301()}, usersByEmail(t, s, "p2", "third@example.com"))
	assert.Empty(t, usersByEmail(t, s, "p2", "ann@example.com"), "another programme")
	assert.Empty(t, usersByEmail(t, s, "p1", "nobody@example.com"))
	assert.Empty(t, usersByEmail(t, s, "p1", "ann@example.co"), "a prefix of an email")
}

func testUserNotFound(t *testing.T, s core.Store) {
	insertUsers(t, s)
	_, err := getUser(t, s, "999")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error {
		return tx.UpdateUser(user("999", "p1", "101", "new@example.com"))
	}))
	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertUser(user("102", "p1", "101", "x@example.com")) })
	require.ErrorIs(t, err, core.ErrDuplicate, "insert with a used id")
}

func testInsertUserUniqueEmails(t *testing.T, s core.Store) {
	insertUsers(t, s)
	for _, c := range []struct {
		name string
		user *core.User
		want string // violated constraint; empty if the insert succeeds
	}{
		{"root email of another identity's root", user("401", "p1", "401", "root@example.com"), core.UniqueRootEmail},
		{"root email used in another programme", user("402", "p2", "402", "root@example.com"), ""},
		{"root email used by an authorised user", user("403", "p1", "403", "ann@example.com"), ""},
		{"authorised user with the root's email", user("103", "p1", "101", "root@example.com"), core.UniqueIdentityEmail},
		{"authorised user with another's email", user("104", "p1", "101", "ann@example.com"), core.UniqueIdentityEmail},
		{"authorised user, email used in another identity", user("202", "p1", "201", "ann@example.com"), ""},
		{"authorised user with another root's email", user("203", "p1", "201", "root@example.com"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tryWrite(t, s, func(tx core.Tx) error { return tx.InsertUser(c.user) })
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			requireDuplicate(t, err, c.want)
		})
	}
}

func testUpdateUserUniqueEmails(t *testing.T, s core.Store) {
	insertUsers(t, s)
	withEmail := func(u *core.User, email string) *core.User {
		u.Email = email
		return u
	}
	for _, c := range []struct {
		name string
		user *core.User
		want string
	}{
		{"root takes another root's email", withEmail(root201(), "root@example.com"), core.UniqueRootEmail},
		{"user takes its root's email", withEmail(ann101(), "root@example.com"), core.UniqueIdentityEmail},
		{"root takes its user's email", withEmail(root101(), "ann@example.com"), core.UniqueIdentityEmail},
		{"root takes a user's email in another identity", withEmail(root201(), "ann@example.com"), ""},
		{"root takes a root's email in another programme", withEmail(root301(), "root@example.com"), ""},
		{"email unchanged", ann101(), ""},
		{"new email", withEmail(ann101(), "new@example.com"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tryWrite(t, s, func(tx core.Tx) error { return tx.UpdateUser(c.user) })
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			requireDuplicate(t, err, c.want)
		})
	}
}

func testUpdateUserEmailMovesIndexes(t *testing.T, s core.Store) {
	insertUsers(t, s)
	root, ann := root101(), ann101()
	root.Email, ann.Email = "new-root@example.com", "new-ann@example.com"
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.UpdateUser(root); err != nil {
			return err
		}
		return tx.UpdateUser(ann)
	})

	got, err := getUser(t, s, "101")
	require.NoError(t, err)
	assert.Equal(t, root, got)
	assert.Empty(t, usersByEmail(t, s, "p1", "root@example.com"), "old email")
	assert.Empty(t, usersByEmail(t, s, "p1", "ann@example.com"), "old email")
	assert.Equal(t, []*core.User{root}, usersByEmail(t, s, "p1", "new-root@example.com"))
	assert.Equal(t, []*core.User{ann}, usersByEmail(t, s, "p1", "new-ann@example.com"))

	for _, c := range []struct {
		name string
		user *core.User
		want string
	}{
		{"old root email is free for roots", user("401", "p1", "401", "root@example.com"), ""},
		{"old root email is free in the identity", user("103", "p1", "101", "root@example.com"), ""},
		{"old user email is free in the identity", user("104", "p1", "101", "ann@example.com"), ""},
		{"new root email is taken for roots", user("402", "p1", "402", "new-root@example.com"), core.UniqueRootEmail},
		{"new root email is taken in the identity", user("105", "p1", "101", "new-root@example.com"), core.UniqueIdentityEmail},
		{"new user email is taken in the identity", user("106", "p1", "101", "new-ann@example.com"), core.UniqueIdentityEmail},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tryWrite(t, s, func(tx core.Tx) error { return tx.InsertUser(c.user) })
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			requireDuplicate(t, err, c.want)
		})
	}
}

// testFailedWriteChangesNothing checks that a write that fails leaves the
// transaction as it was, so that fn may handle the error and go on.
func testFailedWriteChangesNothing(t *testing.T, s core.Store) {
	insertUsers(t, s)
	type state struct {
		updateErr, insertErr error
		ann                  *core.User
		byOld, byNew         []*core.User
	}
	got, err := write(t, s, func(tx core.Tx) (state, error) {
		var st state
		clash := ann101()
		clash.Email, clash.Name = "root@example.com", "Changed"
		st.updateErr = tx.UpdateUser(clash)
		st.insertErr = tx.InsertUser(user("103", "p1", "101", "ann@example.com"))
		var err error
		if st.ann, err = tx.User("102"); err != nil {
			return st, err
		}
		if st.byOld, err = tx.UsersByEmail("p1", "ann@example.com"); err != nil {
			return st, err
		}
		st.byNew, err = tx.UsersByEmail("p1", "root@example.com")
		return st, err
	})
	require.NoError(t, err)
	requireDuplicate(t, got.updateErr, core.UniqueIdentityEmail)
	requireDuplicate(t, got.insertErr, core.UniqueIdentityEmail)
	assert.Equal(t, ann101(), got.ann, "user after a failed update")
	assert.Equal(t, []*core.User{ann101()}, got.byOld, "users with the old email")
	assert.Equal(t, []*core.User{root101()}, got.byNew, "users with the clashing email")

	_, err = getUser(t, s, "103")
	requireNotFound(t, err)
}

// testLinkedRootSharesEmail checks UniqueRootEmail against User.HoldsRootEmail:
// a root linked to another root's credentials shares that root's email without
// taking, or ever freeing, its place in the root email index.
func testLinkedRootSharesEmail(t *testing.T, s core.Store) {
	insertUsers(t, s)
	linked := user("401", "p1", "401", "root@example.com")
	linked.CredentialsID, linked.PasswordSet = "101", false
	root := root101()
	root.LinkedIdentities = []string{"401"}
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.InsertUser(linked); err != nil {
			return err
		}
		return tx.UpdateUser(root)
	})
	got, err := getUser(t, s, "401")
	require.NoError(t, err)
	assert.Equal(t, linked, got)
	got, err = getUser(t, s, "101")
	require.NoError(t, err)
	assert.Equal(t, root, got)
	assert.ElementsMatch(t, []*core.User{root, linked}, usersByEmail(t, s, "p1", "root@example.com"))

	linked.Email = "moved@example.com" // the linked root leaves the email: 101 keeps it
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateUser(linked) })
	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertUser(user("402", "p1", "402", "root@example.com")) })
	requireDuplicate(t, err, core.UniqueRootEmail)
	// And an unlinked root may take the address the linked one holds.
	require.NoError(t, tryWrite(t, s, func(tx core.Tx) error { return tx.InsertUser(user("403", "p1", "403", "moved@example.com")) }))
}
