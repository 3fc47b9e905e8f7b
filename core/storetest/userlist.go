package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// The listing fixture: identity 101 of programme p1 has its root user and the
// authorised users below, whose ids differ in length so that ordering them as
// strings would not be ordering them by id; identity 201 has its root user
// and one authorised user who must never show up in 101's lists.

// member returns an authorised user of identity 101.
func member(id string, active bool, tag string, roles ...core.Role) *core.User {
	u := user(id, "p1", "101", "user"+id+"@example.com")
	u.Active, u.Tag, u.Roles = active, tag, roles
	return u
}

func listFixture() []*core.User {
	return []*core.User{
		root101(),
		member("102", true, "red", core.RoleAdmin, core.RoleCardAssignee),
		member("103", false, "red", core.RoleCardAssignee),
		member("1004", true, ""),
		member("1005", true, "blue", core.RoleFundsManagement),
		member("10006", false, "", core.RoleAdmin),
		member("10007", true, "red", core.RoleFundsManagement, core.RoleCardAssignee, core.RoleAdmin),
		member("100008", true, "blue", core.RoleCardsManagement),
		root201(),
		user("202", "p1", "201", "user202@example.com"),
	}
}

// insertListFixture stores the listing fixture and returns it by id.
func insertListFixture(t *testing.T, s core.Store) map[string]*core.User {
	t.Helper()
	us := listFixture()
	insertAll(t, s,
		[]*core.Programme{programme("p1", "Alpha")},
		[]*core.Identity{identity("101", "p1"), identity("201", "p1")},
		us)
	model := map[string]*core.User{}
	for _, u := range us {
		model[u.ID] = u
	}
	return model
}

// listUsers runs ListUsers in a View.
func listUsers(t *testing.T, s core.Store, identityID string, f core.UserFilter) ([]*core.User, int) {
	t.Helper()
	type page struct {
		users []*core.User
		total int
	}
	got, err := read(t, s, func(tx core.ReadTx) (page, error) {
		us, total, err := tx.ListUsers(identityID, f)
		return page{us, total}, err
	})
	require.NoError(t, err, "ListUsers(%s, %s)", identityID, describe(f))
	return got.users, got.total
}

// ids returns the ids of us.
func ids(us []*core.User) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// describe prints a filter for failure messages.
func describe(f core.UserFilter) string {
	active := "any"
	if f.Active != nil {
		active = strconv.FormatBool(*f.Active)
	}
	return fmt.Sprintf("active=%s email=%q tag=%q roles=%v search=%q offset=%d limit=%d", active, f.Email, f.Tag, f.Roles, f.Search, f.Offset, f.Limit)
}

// matching returns, in id order, the ids of the authorised users of identityID
// in model that f selects, ignoring its paging: what ListUsers must find.
func matching(model map[string]*core.User, identityID string, f core.UserFilter) []string {
	out := []string{}
	for _, u := range model {
		if u.Root || u.IdentityID != identityID ||
			(f.Active != nil && u.Active != *f.Active) ||
			(f.Email != "" && u.Email != f.Email) ||
			(f.Tag != "" && u.Tag != f.Tag) ||
			(f.Search != "" && !core.MatchesSearch(u, f.Search)) ||
			(len(f.Roles) > 0 && !slices.ContainsFunc(f.Roles, func(r core.Role) bool { return slices.Contains(u.Roles, r) })) {
			continue
		}
		out = append(out, u.ID)
	}
	slices.SortFunc(out, compareIDs)
	return out
}

// compareIDs orders numeric ids by their value.
func compareIDs(a, b string) int {
	x, errX := strconv.ParseUint(a, 10, 64)
	y, errY := strconv.ParseUint(b, 10, 64)
	if errX != nil || errY != nil {
		panic("storetest: the listing fixtures' ids are numeric")
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func boolPtr(b bool) *bool { return &b }

// filters returns every combination of the filter values the listing tests
// try, without paging: each dimension unset and set to values that match
// some, all or none of the fixture's users.
func filters(emails ...string) []core.UserFilter {
	var fs []core.UserFilter
	for _, active := range []*bool{nil, boolPtr(true), boolPtr(false)} {
		for _, tag := range []string{"", "red", "blue", "green", "re"} {
			for _, roles := range [][]core.Role{
				nil,
				{core.RoleAdmin},
				{core.RoleCardAssignee},
				{core.RoleAccessManagement},
				{core.RoleAdmin, core.RoleCardAssignee}, // overlapping: 102 and 10007 hold both
				{core.RoleFundsManagement, core.RoleCardsManagement},
				{core.RoleCardAssignee, core.RoleAdmin, core.RoleAdmin},
				{core.RoleAdmin, core.RoleAccessManagement, core.RoleFundsManagement, core.RoleCardsManagement, core.RoleCardAssignee},
				{"NO_SUCH_ROLE"},
			} {
				for _, email := range append([]string{""}, emails...) {
					// Searches: none, part of some emails, a tag in
					// capitals, the fixture's full name, nothing.
					for _, search := range []string{"", "user10", "RED", "ann smith", "zzz"} {
						fs = append(fs, core.UserFilter{Active: active, Tag: tag, Roles: roles, Email: email, Search: search})
					}
				}
			}
		}
	}
	return fs
}

// requireListsMatch checks ListUsers on identity 101 against model for every
// filter of filters: the users, their order and the totals, and that Limit 0
// gives the total alone.
func requireListsMatch(t *testing.T, s core.Store, model map[string]*core.User, emails ...string) {
	t.Helper()
	for _, f := range filters(emails...) {
		want := matching(model, "101", f)
		f.Limit = 1000
		got, total := listUsers(t, s, "101", f)
		require.Equal(t, want, ids(got), "users of ListUsers(%s)", describe(f))
		require.Equal(t, len(want), total, "total of ListUsers(%s)", describe(f))
		for _, u := range got {
			require.Equal(t, model[u.ID], u, "user %s listed by ListUsers(%s)", u.ID, describe(f))
		}
		f.Limit = 0
		got, total = listUsers(t, s, "101", f)
		require.Empty(t, got, "users of ListUsers(%s)", describe(f))
		require.Equal(t, len(want), total, "total of ListUsers(%s)", describe(f))
	}
}

func testListUsersFilters(t *testing.T, s core.Store) {
	model := insertListFixture(t, s)

	got, total := listUsers(t, s, "101", core.UserFilter{Limit: 100})
	assert.Equal(t, []string{"102", "103", "1004", "1005", "10006", "10007", "100008"}, ids(got),
		"every authorised user, by id, without the root user")
	assert.Equal(t, 7, total)
	for _, u := range got {
		assert.Equal(t, model[u.ID], u)
	}

	got, total = listUsers(t, s, "201", core.UserFilter{Limit: 100})
	assert.Equal(t, []string{"202"}, ids(got), "another identity's users")
	assert.Equal(t, 1, total)

	got, total = listUsers(t, s, "999", core.UserFilter{Limit: 100})
	assert.Empty(t, got, "an identity without users")
	assert.Zero(t, total)

	got, total = listUsers(t, s, "101", core.UserFilter{Email: "root@example.com", Limit: 100})
	assert.Empty(t, got, "the root user by its email")
	assert.Zero(t, total)

	got, total = listUsers(t, s, "101", core.UserFilter{Email: "user202@example.com", Limit: 100})
	assert.Empty(t, got, "another identity's user by its email")
	assert.Zero(t, total)

	// The HTTP API passes a tag filter on as it came (GET /multi/users?tag=%ff):
	// a tag no user holds, whatever the store can hold, selects nobody.
	for _, tag := range []string{"\xff", "red\x00"} {
		got, total = listUsers(t, s, "101", core.UserFilter{Tag: tag, Limit: 100})
		assert.Empty(t, got, "tag %q", tag)
		assert.Zero(t, total, "tag %q", tag)
		got, total = listUsers(t, s, "101", core.UserFilter{Tag: tag, Search: "user", Limit: 100})
		assert.Empty(t, got, "tag %q with a search", tag)
		assert.Zero(t, total, "tag %q with a search", tag)
	}

	requireListsMatch(t, s, model, "user102@example.com", "user10006@example.com", "user1004@example.co", "root@example.com")
}

func testListUsersPaging(t *testing.T, s core.Store) {
	model := insertListFixture(t, s)
	for _, f := range []core.UserFilter{
		{},
		{Active: boolPtr(true)},
		{Tag: "red"},
		{Roles: []core.Role{core.RoleCardAssignee}},
		{Roles: []core.Role{core.RoleAdmin, core.RoleCardAssignee, core.RoleFundsManagement}},
		{Active: boolPtr(true), Roles: []core.Role{core.RoleAdmin, core.RoleCardsManagement}},
		{Email: "user1005@example.com"},
		{Search: "user10"},
		{Search: "Red", Active: boolPtr(true)},
	} {
		want := matching(model, "101", f)
		for _, limit := range []int{1, 2, 3, 100} {
			for offset := 0; offset <= len(want)+2; offset++ {
				f.Offset, f.Limit = offset, limit
				got, total := listUsers(t, s, "101", f)
				wantPage := want[min(offset, len(want)):min(offset+limit, len(want))]
				require.Equal(t, wantPage, ids(got), "page of ListUsers(%s)", describe(f))
				require.Equal(t, len(want), total, "total of ListUsers(%s)", describe(f))
			}
		}
		f.Offset, f.Limit = 1_000_000, 10
		got, total := listUsers(t, s, "101", f)
		assert.Empty(t, got, "page far beyond the end of ListUsers(%s)", describe(f))
		assert.Equal(t, len(want), total, "total of ListUsers(%s)", describe(f))
	}
}

// testListUsersAfterUpdates checks the lists, and so the counts a store may
// keep for them, after updates that move users between lists, after an Update
// that is rolled back and after a write that fails.
func testListUsersAfterUpdates(t *testing.T, s core.Store) {
	model := insertListFixture(t, s)
	emails := []string{"user102@example.com", "new102@example.com", "user103@example.com"}

	for _, step := range []struct {
		name   string
		change func(u *core.User)
		id     string
	}{
		{"deactivate", func(u *core.User) { u.Active = false }, "102"},
		{"activate", func(u *core.User) { u.Active = true }, "103"},
		{"clear the tag", func(u *core.User) { u.Tag = "" }, "10007"},
		{"set a tag", func(u *core.User) { u.Tag = "green" }, "1004"},
		{"change the tag", func(u *core.User) { u.Tag = "blue" }, "102"},
		{"add a role", func(u *core.User) { u.Roles = append(u.Roles, core.RoleAccessManagement) }, "1004"},
		{"drop a role", func(u *core.User) { u.Roles = []core.Role{core.RoleCardAssignee} }, "10007"},
		{"drop every role", func(u *core.User) { u.Roles = nil }, "1005"},
		{"repeat a role", func(u *core.User) { u.Roles = []core.Role{core.RoleAdmin, core.RoleAdmin} }, "103"},
		{"change the email", func(u *core.User) { u.Email = "new102@example.com" }, "102"},
		{"change everything", func(u *core.User) {
			u.Active, u.Tag, u.Roles = !u.Active, "red", []core.Role{core.RoleFundsManagement, core.RoleCardsManagement}
		}, "100008"},
		{"change nothing the lists see", func(u *core.User) { u.Name = "Renamed" }, "10006"},
		{"change the root user", func(u *core.User) { u.Active, u.Tag = false, "red" }, "101"},
	} {
		t.Run(step.name, func(t *testing.T) {
			u := *model[step.id]
			u.Roles = slices.Clone(u.Roles)
			step.change(&u)
			mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateUser(&u) })
			model[u.ID] = &u
			requireListsMatch(t, s, model, emails...)
		})
	}

	t.Run("rolled back", func(t *testing.T) {
		changed := *model["1005"]
		changed.Active, changed.Tag, changed.Roles = false, "red", []core.Role{core.RoleAdmin}
		added := member("1000009", true, "red", core.RoleAdmin)
		inTx := maps.Clone(model)
		inTx[changed.ID], inTx[added.ID] = &changed, added
		redAdmins := core.UserFilter{Tag: "red", Roles: []core.Role{core.RoleAdmin}}
		activeRedAdmins := core.UserFilter{Active: boolPtr(true), Tag: "red", Roles: []core.Role{core.RoleAdmin}}

		type state struct {
			all, active []string
			total       int
		}
		got, err := write(t, s, func(tx core.Tx) (state, error) {
			var st state
			u, v := changed, *added
			if err := tx.UpdateUser(&u); err != nil {
				return st, err
			}
			if err := tx.InsertUser(&v); err != nil {
				return st, err
			}
			f := redAdmins
			f.Limit = 100
			us, total, err := tx.ListUsers("101", f)
			if err != nil {
				return st, err
			}
			st.all, st.total = ids(us), total
			f = activeRedAdmins
			f.Limit = 100
			if us, _, err = tx.ListUsers("101", f); err != nil {
				return st, err
			}
			st.active = ids(us)
			return st, errRollback
		})
		require.ErrorIs(t, err, errRollback)
		want := matching(inTx, "101", redAdmins)
		assert.Contains(t, want, added.ID)
		assert.Equal(t, want, got.all, "the transaction lists its own writes")
		assert.Equal(t, len(want), got.total, "the transaction counts its own writes")
		assert.Equal(t, matching(inTx, "101", activeRedAdmins), got.active, "active red admins in the transaction")
		requireListsMatch(t, s, model, emails...)
	})

	t.Run("failed write", func(t *testing.T) {
		type state struct {
			err        error
			all        []string
			total, tag int
		}
		got, err := write(t, s, func(tx core.Tx) (state, error) {
			var st state
			u := *model["1004"]
			u.Email, u.Tag, u.Active = "user103@example.com", "failed", false
			st.err = tx.UpdateUser(&u)
			us, total, err := tx.ListUsers("101", core.UserFilter{Limit: 100})
			if err != nil {
				return st, err
			}
			st.all, st.total = ids(us), total
			_, st.tag, err = tx.ListUsers("101", core.UserFilter{Tag: "failed"})
			return st, err
		})
		require.NoError(t, err)
		requireDuplicate(t, got.err, core.UniqueIdentityEmail)
		assert.Equal(t, matching(model, "101", core.UserFilter{}), got.all, "users after a failed update")
		assert.Equal(t, len(got.all), got.total, "total after a failed update")
		assert.Zero(t, got.tag, "users with the failed update's tag")
		requireListsMatch(t, s, model, emails...)
	})
}

// testListUsersConcurrentUpdates toggles Active on different users from
// concurrent Updates: the counts must come out exact.
func testListUsersConcurrentUpdates(t *testing.T, s core.Store) {
	const (
		users   = 20
		toggles = 5
	)
	model := map[string]*core.User{"101": root101()}
	var us []*core.User
	for i := range users {
		roles := []core.Role{core.RoleCardAssignee}
		if i%3 == 0 {
			roles = append(roles, core.RoleAdmin)
		}
		u := member(strconv.Itoa(1000+i), i%2 == 0, []string{"red", "blue", ""}[i%3], roles...)
		us = append(us, u)
		model[u.ID] = u
	}
	insertAll(t, s, []*core.Programme{programme("p1", "Alpha")}, []*core.Identity{identity("101", "p1")}, append(us, root101()))

	var wg sync.WaitGroup
	for _, u := range us {
		wg.Go(func() {
			for range toggles {
				assert.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
					cur, err := tx.User(u.ID)
					if err != nil {
						return err
					}
					cur.Active = !cur.Active
					return tx.UpdateUser(cur)
				}))
			}
		})
	}
	wg.Wait()

	for _, u := range us {
		u.Active = !u.Active // toggled an odd number of times
	}
	requireListsMatch(t, s, model)
}
