package core_test

// The rank rule of issue 12, point 1: acting on another user (email, mobile,
// roles, active state, invite, device) needs every permission that user holds.

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// rankKind is a kind of user: the root user, a user without roles, or a user
// holding one predefined role.
type rankKind struct {
	name  string
	root  bool
	roles []core.Role
}

var rankKinds = []rankKind{
	{name: "root", root: true},
	{name: "no roles"},
	{name: "ADMIN", roles: []core.Role{core.RoleAdmin}},
	{name: "ACCESS_MANAGEMENT", roles: []core.Role{core.RoleAccessManagement}},
	{name: "FUNDS", roles: []core.Role{core.RoleFundsManagement}},
	{name: "CARDS", roles: []core.Role{core.RoleCardsManagement}},
	{name: "CARD_ASSIGNEE", roles: []core.Role{core.RoleCardAssignee}},
}

// outranks is the rank rule written out by hand, independently of core.Roles:
// the kinds of authorised user each kind of actor may act on. Root, a user
// without roles and ADMIN hold every permission; an access manager lacks the
// funds and cards managers' permissions and ADMIN's; the others lack the
// permission of every operation, so the rank rule never comes to them.
var outranks = map[string][]string{
	"root":              {"no roles", "ADMIN", "ACCESS_MANAGEMENT", "FUNDS", "CARDS", "CARD_ASSIGNEE"},
	"no roles":          {"no roles", "ADMIN", "ACCESS_MANAGEMENT", "FUNDS", "CARDS", "CARD_ASSIGNEE"},
	"ADMIN":             {"no roles", "ADMIN", "ACCESS_MANAGEMENT", "FUNDS", "CARDS", "CARD_ASSIGNEE"},
	"ACCESS_MANAGEMENT": {"ACCESS_MANAGEMENT", "CARD_ASSIGNEE"},
}

// rankOp is one operation on another user, with the permission it needs.
type rankOp struct {
	name string
	// managers says which kinds of actor hold the operation's permission.
	managers []string
	do       func(e *coreEnv, c *core.Caller, target *core.User) error
}

var userManagers = []string{"root", "no roles", "ADMIN", "ACCESS_MANAGEMENT"}

var rankOps = []rankOp{
	{"email", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		email := "moved-" + u.ID + "@acme.test"
		_, err := e.svc.UpdateUser(e.ctx, c, u.ID, core.UserPatch{Email: &email})
		return err
	}},
	{"mobile", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		_, err := e.svc.UpdateUser(e.ctx, c, u.ID, core.UserPatch{Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900999"}})
		return err
	}},
	{"roles", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		// A real change that leaves the target within every manager's rank.
		roles := []core.Role{core.RoleCardAssignee}
		if slices.Equal(u.Roles, roles) {
			roles = []core.Role{core.RoleAccessManagement}
		}
		_, err := e.svc.UpdateUser(e.ctx, c, u.ID, core.UserPatch{Roles: &roles})
		return err
	}},
	{"activate", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		return e.svc.SetUserActive(e.ctx, c, u.ID, true)
	}},
	{"deactivate", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		return e.svc.SetUserActive(e.ctx, c, u.ID, false)
	}},
	{"invite", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		return e.svc.SendInvite(e.ctx, c, u.ID)
	}},
	{"device reset", userManagers, func(e *coreEnv, c *core.Caller, u *core.User) error {
		return e.svc.ResetUserDevice(e.ctx, c, u.ID)
	}},
}

// rankOutcome classifies an operation's error as the API would answer it.
func rankOutcome(err error) string {
	switch {
	case err == nil:
		return "allowed"
	case errors.Is(err, core.ErrNotFound):
		return "404"
	case errors.Is(err, core.ErrPermissionDenied):
		return "403 " + core.CodeOf(err)
	case errors.Is(err, core.ErrConflict):
		return "409 " + core.CodeOf(err)
	}
	return "unexpected: " + err.Error()
}

// Every kind of actor x every kind of target x every operation: allowed
// exactly when the actor holds the operation's permission and every
// permission of the target; otherwise 403 INSUFFICIENT_PERMISSIONS (checked
// first) or RANK_INSUFFICIENT, and the refused call changed nothing. Root
// users are no one's target (404). Every actor is stepped up, so the step-up
// rule cannot hide the rank rule.
func TestRankRuleEveryPair(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	actors := map[string]*core.Caller{"root": root}
	for i, k := range rankKinds[1:] {
		actors[k.name] = e.steppedUpMember(root, fmt.Sprintf("actor%d@acme.test", i), fmt.Sprintf("77009001%02d", i), k.roles)
	}

	n := 0
	for _, actor := range rankKinds {
		for _, target := range rankKinds {
			for _, op := range rankOps {
				t.Run(actor.name+"/"+target.name+"/"+op.name, func(t *testing.T) {
					u := root.User
					if !target.root {
						n++
						u = e.createUser(root, fmt.Sprintf("target%d@acme.test", n), target.roles)
					}
					want := "allowed"
					switch {
					case !slices.Contains(op.managers, actor.name):
						want = "403 " + core.CodeInsufficientPermissions
					case target.root && actor.root && op.name == "roles":
						want = "409 " + core.CodeCannotModifyOwnRoles // the root itself, who may not change their own roles
					case target.root:
						want = "404"
					case !slices.Contains(outranks[actor.name], target.name):
						want = "403 " + core.CodeRankInsufficient
					}
					before := e.user(u.ID)
					err := op.do(e, actors[actor.name], u)
					require.Equal(t, want, rankOutcome(err))
					if want != "allowed" {
						after := e.user(u.ID)
						assert.Equal(t, before, after, "a refused call changes nothing")
						assert.False(t, e.hasInvite(u.ID), "a refused call sends no invite")
					}
				})
			}
		}
	}
}

// A role change is judged after the change too: an access manager cannot
// leave a user holding a permission it lacks, however it words the change.
func TestRankRuleAfterARoleChange(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	am := e.steppedUpMember(root, "am@acme.test", "7700900101", []core.Role{core.RoleAccessManagement})
	for i, roles := range [][]core.Role{
		{core.RoleAdmin},
		{core.RoleFundsManagement},
		{core.RoleCardsManagement},
		{core.RoleCardAssignee, core.RoleFundsManagement},
		{},
	} {
		t.Run(fmt.Sprint(roles), func(t *testing.T) {
			target := e.createUser(root, fmt.Sprintf("t%d@acme.test", i), []core.Role{core.RoleCardAssignee})
			_, err := e.svc.UpdateUser(e.ctx, am, target.ID, core.UserPatch{Roles: &roles})
			assert.Equal(t, "403 "+core.CodeRankInsufficient, rankOutcome(err), "granting %v", roles)
			_, err = e.svc.CreateUser(e.ctx, am, core.NewUser{UserDetails: core.UserDetails{Name: "N", Surname: "U", Email: "new-" + target.Email}, Roles: roles})
			assert.Equal(t, "403 "+core.CodeRankInsufficient, rankOutcome(err), "creating with %v", roles)
			assert.Equal(t, []core.Role{core.RoleCardAssignee}, e.user(target.ID).Roles)
		})
	}
}

// steppedUpMember creates an authorised user with roles and mobile, sets
// their password, enrols their SMS factor (stepping the session up) and
// returns the caller of that session.
func (e *coreEnv) steppedUpMember(creator *core.Caller, email, mobile string, roles []core.Role) *core.Caller {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.ctx, creator, core.NewUser{Roles: roles, UserDetails: core.UserDetails{
		Name: "Actor", Surname: "Smith", Email: email, Mobile: &core.Mobile{CountryCode: "+44", Number: mobile}}})
	require.NoError(e.t, err)
	set, err := e.svc.CreatePassword(e.ctx, e.prog, u.ID, testPassword)
	require.NoError(e.t, err)
	c := e.caller(e.prog, set.Token)
	require.NoError(e.t, e.svc.EnrolSMS(e.ctx, c))
	require.NoError(e.t, e.svc.VerifyEnrolSMS(e.ctx, c, e.sms.lastCode(e.t)))
	c = e.caller(e.prog, set.Token)
	require.True(e.t, c.Session.SteppedUp)
	return c
}

// createUser creates an authorised user with roles and a mobile, as creator.
func (e *coreEnv) createUser(creator *core.Caller, email string, roles []core.Role) *core.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.ctx, creator, core.NewUser{Roles: roles, UserDetails: core.UserDetails{
		Name: "Target", Surname: "Smith", Email: email, Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900456"}}})
	require.NoError(e.t, err)
	return u
}

// hasInvite reports whether the user was ever sent an invite.
func (e *coreEnv) hasInvite(userID string) bool {
	e.t.Helper()
	err := e.store.View(e.ctx, func(tx core.ReadTx) error {
		_, err := tx.Invite(userID)
		return err
	})
	if errors.Is(err, core.ErrRecordNotFound) {
		return false
	}
	require.NoError(e.t, err)
	return true
}

// TestRolesIsACopy: changing what Roles returns changes nobody's permissions.
func TestRolesIsACopy(t *testing.T) {
	table := core.Roles()
	for i := range table {
		table[i].Permissions = append(table[i].Permissions[:0], core.PermRolesAdmin)
	}
	table[0].Role = core.RoleCardAssignee
	for _, ri := range core.Roles() {
		if ri.Role == core.RoleCardAssignee {
			assert.NotContains(t, ri.Permissions, core.PermRolesAdmin, "the table in core is untouched")
		}
	}
	assert.Equal(t, core.RoleAdmin, core.Roles()[0].Role)
}
