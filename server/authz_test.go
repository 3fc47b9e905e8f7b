package server_test

// Roles and permissions of authorised users (issue 4, point 5): Weavr rolesGet
// and the x-permissions of every users operation.

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func TestRolesGet(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	r := e.auth(root.token, "GET", "/multi/roles", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &got))
	var names []string
	for _, ro := range got {
		names = append(names, ro["name"].(string))
		assert.NotEmpty(t, ro["description"], ro["name"])
		assert.NotEmpty(t, ro["id"], ro["name"])
	}
	assert.Equal(t, []string{"ADMIN", "ACCESS_MANAGEMENT_ROLE", "FUNDS_MANAGEMENT_ROLE", "CARDS_MANAGEMENT_ROLE", "CARD_ASSIGNEE"}, names,
		"the five predefined roles of Weavr's UserPredefinedRole")
	assert.Equal(t, http.StatusUnauthorized, e.key("GET", "/multi/roles", nil).status, "the roles need a signed-in user")
}

// holds reports whether a user holds permission p by the table core.Roles(): a
// root user and a user without roles hold every permission (Weavr's rule),
// anyone else what their roles list.
func holds(root bool, roles []core.Role, p core.Permission) bool {
	if root || len(roles) == 0 {
		return true
	}
	for _, ri := range core.Roles() {
		if slices.Contains(roles, ri.Role) && slices.Contains(ri.Permissions, p) {
			return true
		}
	}
	return false
}

// matrixCaller is one row of the authorisation matrix.
type matrixCaller struct {
	name  string
	root  bool // a root user (of identity A, or of B when other)
	other bool // belongs to another identity (B) than the target user
	roles []core.Role
	m     member
}

// matrixOp is one column: an operation, the permission it needs and, for
// operations on oneself, the :own permission that also allows it.
type matrixOp struct {
	name   string
	perm   core.Permission
	ownToo core.Permission // also allowed with this when acting on oneself
	self   bool            // acts on the caller's own user
	onUser bool            // names a user, so another identity's or a root's id is 404
	ok     int
	call   func(e *env, c matrixCaller, target string) resp
}

// Every users endpoint as every kind of caller: the answer follows core.Roles()
// (403 INSUFFICIENT_PERMISSIONS when the permission is missing), and ids that
// are not the caller's identity's authorised users are 404. Every caller is
// stepped up first, so the step-up rule cannot hide a permission check.
func TestUsersAuthorisationMatrix(t *testing.T) {
	e := newEnv(t)
	rootA := e.adminRoot("root@acme.test")
	rootB := e.adminRoot("root@beta.test")
	// target has no password, so it can be invited again and again.
	target := e.createUser(rootA.token, userBody("target@acme.test", core.RoleCardAssignee))

	callers := []matrixCaller{
		{name: "root", root: true, m: rootA},
		{name: "no roles", roles: nil},
		{name: "ADMIN", roles: []core.Role{core.RoleAdmin}},
		{name: "ACCESS_MANAGEMENT_ROLE", roles: []core.Role{core.RoleAccessManagement}},
		{name: "FUNDS_MANAGEMENT_ROLE", roles: []core.Role{core.RoleFundsManagement}},
		{name: "CARDS_MANAGEMENT_ROLE", roles: []core.Role{core.RoleCardsManagement}},
		{name: "CARD_ASSIGNEE", roles: []core.Role{core.RoleCardAssignee}},
		{name: "FUNDS and CARDS", roles: []core.Role{core.RoleFundsManagement, core.RoleCardsManagement}},
		{name: "another identity's root", root: true, other: true, m: rootB},
	}
	for i := range callers {
		if !callers[i].root {
			callers[i].m = e.newMember(rootA.token, "caller"+string(rune('a'+i))+"@acme.test", callers[i].roles...)
		}
	}

	ops := []matrixOp{
		{name: "create", perm: core.PermUsersCreate, ok: http.StatusOK, call: func(e *env, c matrixCaller, _ string) resp {
			return e.auth(c.m.token, "POST", usersPath, userBody("new-"+c.m.id+"@acme.test", core.RoleCardAssignee))
		}},
		{name: "list", perm: core.PermUsersList, ok: http.StatusOK, call: func(e *env, c matrixCaller, _ string) resp {
			return e.auth(c.m.token, "GET", usersPath, nil)
		}},
		{name: "get other", perm: core.PermUsersGet, onUser: true, ok: http.StatusOK, call: func(e *env, c matrixCaller, id string) resp {
			return e.auth(c.m.token, "GET", userPath(id), nil)
		}},
		{name: "get own", perm: core.PermUsersGet, ownToo: core.PermUsersGetOwn, self: true, onUser: true, ok: http.StatusOK, call: func(e *env, c matrixCaller, _ string) resp {
			return e.auth(c.m.token, "GET", userPath(c.m.id), nil)
		}},
		{name: "update other", perm: core.PermUsersUpdate, onUser: true, ok: http.StatusOK, call: func(e *env, c matrixCaller, id string) resp {
			return e.auth(c.m.token, "PATCH", userPath(id), map[string]any{"tag": "by_" + c.m.id})
		}},
		{name: "update own", perm: core.PermUsersUpdate, ownToo: core.PermUsersUpdateOwn, self: true, onUser: true, ok: http.StatusOK, call: func(e *env, c matrixCaller, _ string) resp {
			return e.auth(c.m.token, "PATCH", userPath(c.m.id), map[string]any{"tag": "self"})
		}},
		{name: "deactivate", perm: core.PermUsersDeactivate, onUser: true, ok: http.StatusNoContent, call: func(e *env, c matrixCaller, id string) resp {
			return e.auth(c.m.token, "POST", userPath(id, "deactivate"), nil)
		}},
		{name: "activate", perm: core.PermUsersActivate, onUser: true, ok: http.StatusNoContent, call: func(e *env, c matrixCaller, id string) resp {
			return e.auth(c.m.token, "POST", userPath(id, "activate"), nil)
		}},
		{name: "invite", perm: core.PermUsersInvite, onUser: true, ok: http.StatusNoContent, call: func(e *env, c matrixCaller, id string) resp {
			return e.auth(c.m.token, "POST", userPath(id, "invite"), nil)
		}},
		{name: "roles list", perm: core.PermRolesList, ok: http.StatusOK, call: func(e *env, c matrixCaller, _ string) resp {
			return e.auth(c.m.token, "GET", "/multi/roles", nil)
		}},
		{name: "status of other", perm: core.PermUsersGet, onUser: true, ok: http.StatusOK, call: func(e *env, c matrixCaller, id string) resp {
			return e.auth(c.m.token, "GET", userPath(id, "status"), nil)
		}},
		{name: "status own", perm: core.PermUsersGet, ownToo: core.PermUsersGetOwn, self: true, onUser: true, ok: http.StatusOK, call: func(e *env, c matrixCaller, _ string) resp {
			return e.auth(c.m.token, "GET", userPath(c.m.id, "status"), nil)
		}},
	}

	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			for _, op := range ops {
				allowed := holds(c.root, c.roles, op.perm) || (op.self && op.ownToo != "" && holds(c.root, c.roles, op.ownToo))
				want := op.ok
				switch {
				case !allowed:
					want = http.StatusForbidden
				case op.onUser && op.self && c.root:
					want = http.StatusNotFound // root users are not authorised users
				case op.onUser && !op.self && c.other:
					want = http.StatusNotFound // another identity's user is invisible
				}
				r := op.call(e, c, target)
				if !assert.Equal(t, want, r.status, "%s as %s: %s", op.name, c.name, r.body) {
					continue
				}
				if want == http.StatusForbidden {
					assert.Equal(t, "INSUFFICIENT_PERMISSIONS", r.errorCode(t), "%s as %s", op.name, c.name)
				}
			}
		})
	}

	// Identity B's root saw and changed nothing of identity A.
	u := e.getUser(rootA.token, target)
	assert.Equal(t, true, u["active"])
	assert.NotEqual(t, "by_"+rootB.id, u["tag"])
	l := e.listUsers(rootB.token, "")
	assert.Equal(t, 1, l.count, "B lists only the user B created")
	assert.NotContains(t, l.ids, target)
}

// An access manager grants and removes only roles whose permissions it all
// holds (the rank rule, asked after the change as well as before): never
// ADMIN, nor the funds and cards managers' roles, and it does not touch an
// admin's roles at all.
func TestAccessManagerCannotGrantOrRemoveAdmin(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	admin1 := e.createUser(root.token, userBody("admin1@acme.test", core.RoleAdmin))
	e.createUser(root.token, userBody("admin2@acme.test", core.RoleAdmin)) // so admin1 is not the last
	plain := e.createUser(root.token, userBody("plain@acme.test", core.RoleCardAssignee))

	forbidden := func(r resp, msg string) {
		t.Helper()
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", msg, r.body)
		assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t), msg)
	}
	forbidden(e.auth(am.token, "POST", usersPath, userBody("new-admin@acme.test", core.RoleAdmin)), "create an ADMIN")
	forbidden(e.auth(am.token, "POST", usersPath, userBody("new-admin@acme.test", core.RoleAdmin, core.RoleCardAssignee)), "create an ADMIN with another role")
	forbidden(e.auth(am.token, "POST", usersPath, userBody("new-admin@acme.test", core.RoleCardsManagement)), "create a cards manager")
	forbidden(e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"ADMIN"}}), "grant ADMIN")
	forbidden(e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"CARD_ASSIGNEE", "ADMIN"}}), "add ADMIN")
	forbidden(e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE"}}), "grant FUNDS_MANAGEMENT_ROLE")
	forbidden(e.auth(am.token, "PATCH", userPath(admin1), map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE"}}), "remove ADMIN")
	forbidden(e.auth(am.token, "PATCH", userPath(admin1), map[string]any{"roles": []string{"ADMIN", "CARD_ASSIGNEE"}}), "an admin's other roles")
	assert.Equal(t, []any{"CARD_ASSIGNEE"}, e.getUser(root.token, plain)["roles"], "unchanged")
	assert.Equal(t, []any{"ADMIN"}, e.getUser(root.token, admin1)["roles"], "unchanged")
	assert.Empty(t, e.listUsers(root.token, "email=new-admin%40acme.test").ids)

	// Roles within its own rank are the access manager's to give and take.
	r := e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"ACCESS_MANAGEMENT_ROLE", "CARD_ASSIGNEE"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, []any{"ACCESS_MANAGEMENT_ROLE", "CARD_ASSIGNEE"}, r.json(t)["roles"])
	r = e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"CARD_ASSIGNEE"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.createUser(am.token, userBody("assignee@acme.test", core.RoleCardAssignee))

	// An ADMIN may grant and remove ADMIN.
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	r = e.auth(admin.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"ADMIN"}})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.auth(admin.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"CARD_ASSIGNEE"}})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// A user without roles holds every permission (Weavr's rule), ADMIN's among
// them, so an access manager can no more make one than grant ADMIN: otherwise
// creating a user without roles, or taking every role away, would be a way
// round the ADMIN rule.
func TestAccessManagerCannotMakeAUserWithoutRoles(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	plain := e.createUser(root.token, userBody("plain@acme.test", core.RoleCardAssignee))
	unrestricted := e.createUser(root.token, userBody("all@acme.test"))

	for name, r := range map[string]resp{
		"create without roles":          e.auth(am.token, "POST", usersPath, userBody("new@acme.test")),
		"create with an empty list":     e.auth(am.token, "POST", usersPath, userBody("new@acme.test", []core.Role{}...)),
		"take every role away":          e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{}}),
		"restrict an unrestricted user": e.auth(am.token, "PATCH", userPath(unrestricted), map[string]any{"roles": []string{"CARD_ASSIGNEE"}}),
	} {
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", name, r.body)
		assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t), name)
	}
	assert.Equal(t, []any{"CARD_ASSIGNEE"}, e.getUser(root.token, plain)["roles"])
	assert.NotContains(t, e.getUser(root.token, unrestricted), "roles")
	assert.Equal(t, 3, e.listUsers(root.token, "").count, "nothing was created: am, plain and unrestricted only")

	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	e.createUser(admin.token, userBody("new@acme.test"))
	r := e.auth(admin.token, "PATCH", userPath(plain), map[string]any{"roles": []string{}})
	assert.Equal(t, http.StatusOK, r.status, "an ADMIN may: %s", r.body)
}

func TestCardAssigneeSeesAndUpdatesOnlyItself(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	ca := e.newMember(root.token, "ca@acme.test", core.RoleCardAssignee)
	other := e.createUser(root.token, userBody("other@acme.test", core.RoleCardAssignee))

	me := e.getUser(ca.token, ca.id)
	assert.Equal(t, "ca@acme.test", me["email"])
	r := e.auth(ca.token, "PATCH", userPath(ca.id), map[string]any{"name": "Cara", "tag": "mine"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "Cara", r.json(t)["name"])
	assert.Equal(t, "Cara", e.getUser(root.token, ca.id)["name"])
	wantConflict(t, e.auth(ca.token, "PATCH", userPath(ca.id), map[string]any{"roles": []string{"ADMIN"}}), "CANNOT_MODIFY_OWN_ROLES")
	r = e.auth(ca.token, "PATCH", userPath(ca.id), map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": "7700900999"}})
	assert.Equal(t, http.StatusOK, r.status, "a stepped-up card assignee changes their own mobile: %s", r.body)

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", usersPath, nil},
		{"GET", userPath(other), nil},
		{"PATCH", userPath(other), map[string]any{"name": "X"}},
		{"GET", userPath(other, "status"), nil},
		{"POST", userPath(other, "deactivate"), nil},
		{"POST", userPath(other, "invite"), nil},
		{"POST", usersPath, userBody("new@acme.test", core.RoleCardAssignee)},
		{"GET", "/multi/roles", nil},
		{"GET", userPath(root.id), nil},
		{"GET", userPath("999999999"), nil},
	} {
		r := e.auth(ca.token, c.method, c.path, c.body)
		require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", c.method, c.path, r.body)
		assert.Equal(t, "INSUFFICIENT_PERMISSIONS", r.errorCode(t), "%s %s", c.method, c.path)
	}
	assert.Equal(t, "Bea", e.getUser(root.token, other)["name"])
}
