package server_test

// Issue 12, points 1 and 2 over HTTP: the attack chain the issue opens with,
// fired in parallel, and the step-up that privilege changes need. The table
// over every pair of roles and every operation is in core/rank_test.go.

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// An access manager tries to take an admin's account over: move the admin's
// email (for a lost-password reset) or mobile (for the second factor), strip
// or re-grant roles, switch the admin off and on, re-invite them, reset their
// device. Every attempt, fired at once, is 403 RANK_INSUFFICIENT, and the
// admin's account is as it was; the lost-password reset to the attacker's
// address sends nothing.
func TestAccessManagerCannotTakeOverAnAdmin(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	funds := e.createUser(root.token, userBody("funds@acme.test", core.RoleFundsManagement))
	before := e.getUser(root.token, admin.id)

	type attack struct {
		name, method, path string
		body               any
	}
	var attacks []attack
	for _, id := range []string{admin.id, funds} {
		attacks = append(attacks,
			attack{"email", "PATCH", userPath(id), map[string]any{"email": "attacker@evil.test"}},
			attack{"mobile", "PATCH", userPath(id), map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": "7700900666"}}},
			attack{"roles", "PATCH", userPath(id), map[string]any{"roles": []string{"CARD_ASSIGNEE"}}},
			attack{"deactivate", "POST", userPath(id, "deactivate"), nil},
			attack{"activate", "POST", userPath(id, "activate"), nil},
			attack{"invite", "POST", userPath(id, "invite"), nil},
			attack{"device reset", "POST", userPath(id, "device", "reset"), nil},
		)
	}
	// The access manager's session is stepped up, and a fresh one is not:
	// the rank rule answers first either way.
	tokens := []string{am.token, e.loginToken(am.email)}
	var wg sync.WaitGroup
	results := make([]resp, len(attacks)*len(tokens))
	for i, a := range attacks {
		for j, token := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i*len(tokens)+j] = e.auth(token, a.method, a.path, a.body)
			}()
		}
	}
	wg.Wait()
	for i, r := range results {
		a := attacks[i/len(tokens)]
		if assert.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", a.name, a.path, r.body) {
			assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t), "%s %s", a.name, a.path)
		}
	}

	assert.Equal(t, before, e.getUser(root.token, admin.id), "the admin's account is unchanged")
	assert.Equal(t, []any{"FUNDS_MANAGEMENT_ROLE"}, e.getUser(root.token, funds)["roles"])
	wantNoContent(t, e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "attacker@evil.test"}), "lost password")
	for _, m := range e.outbox() {
		assert.NotEqual(t, "attacker@evil.test", m.To, "nothing goes to the attacker")
		assert.NotEqual(t, "+447700900666", m.To, "nothing goes to the attacker's phone")
	}
	r := e.auth(admin.token, "GET", userPath(admin.id), nil)
	assert.Equal(t, http.StatusOK, r.status, "the admin's session lives on: %s", r.body)

	// Nor can the access manager climb: its own roles are not its to change,
	// and it grants nobody a role above its own.
	wantConflict(t, e.auth(am.token, "PATCH", userPath(am.id), map[string]any{"roles": []string{"ADMIN"}}), "CANNOT_MODIFY_OWN_ROLES")
	plain := e.createUser(am.token, userBody("plain@acme.test", core.RoleCardAssignee))
	r = e.auth(am.token, "PATCH", userPath(plain), map[string]any{"roles": []string{"ADMIN"}})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t))

	// The same calls by the admin, who holds every permission, go through.
	r = e.auth(admin.token, "PATCH", userPath(am.id), map[string]any{"email": "am2@acme.test"})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// A role change that gives a permission the user lacked (granting ADMIN or
// another role's permissions, taking every role away) and changing another
// user's email or mobile need a stepped-up session (STEP_UP_REQUIRED,
// nothing changed); a role change that only takes permissions away does not.
func TestPrivilegeChangesNeedAStepUp(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	fresh := e.loginToken(admin.email) // a session that has not stepped up
	target := e.createUser(root.token, userBody("target@acme.test", core.RoleFundsManagement, core.RoleCardsManagement))

	changes := []struct {
		name  string
		patch map[string]any
	}{
		{"grant ADMIN", map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE", "ADMIN"}}},
		{"swap a role for one with other permissions", map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE", "ACCESS_MANAGEMENT_ROLE"}}},
		{"take every role away", map[string]any{"roles": []string{}}},
		{"another user's email", map[string]any{"email": "moved@acme.test"}},
		{"another user's mobile", map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": "7700900777"}}},
	}
	before := e.getUser(root.token, target)
	for _, c := range changes {
		r := e.auth(fresh, "PATCH", userPath(target), c.patch)
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", c.name, r.body)
		assert.Equal(t, core.CodeStepUpRequired, r.errorCode(t), c.name)
	}
	assert.Equal(t, before, e.getUser(root.token, target), "nothing changed")
	assert.Equal(t, 0, count(e.auditActions(), "user.update"))

	r := e.auth(fresh, "PATCH", userPath(target), map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE"}})
	require.Equal(t, http.StatusOK, r.status, "taking permissions away needs no step-up: %s", r.body)

	e.stepUpAgain(fresh)
	for _, c := range changes {
		r := e.auth(fresh, "PATCH", userPath(target), c.patch)
		assert.Equal(t, http.StatusOK, r.status, "%s once stepped up: %s", c.name, r.body)
	}
	got := e.getUser(root.token, target)
	assert.Equal(t, "moved@acme.test", got["email"])
	assert.NotContains(t, got, "roles", "the target holds no roles now")
}

// A password oracle the attacker review found: a user of another identity
// who could take the victim's email would share the victim's sign-in, and by
// setting their own password to each guess learn from the shared sign-in
// which guess is the victim's. An email change therefore cannot take an
// address another user of the programme signs in with, whoever asks.
func TestEmailChangeCannotTakeAnotherUsersAddress(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	victim := e.newMember(root.token, "victim@acme.test", core.RoleFundsManagement)
	boss := e.adminRoot("boss@evil.test")
	me := e.newMember(boss.token, "me@evil.test", core.RoleCardAssignee)

	for _, c := range []struct{ who, token, email string }{
		{"the attacker, on themselves", me.token, "victim@acme.test"},
		{"the attacker, in another spelling", me.token, "Victim@ACME.test"},
		{"the attacker's admin, on the attacker", boss.token, "victim@acme.test"},
		{"the victim's own admin, on another user", root.token, "boss@evil.test"},
	} {
		target := me.id
		if c.token == root.token {
			target = victim.id
		}
		wantConflict(t, e.auth(c.token, "PATCH", userPath(target), map[string]any{"email": c.email}), core.CodeEmailNotUnique, c.who)
	}
	assert.Equal(t, "me@evil.test", e.getUser(boss.token, me.id)["email"], "nothing changed")
	assert.Equal(t, http.StatusOK, e.login(victim.email, testPassword).status, "the victim signs in as before")
	r := e.auth(me.token, "PATCH", userPath(me.id), map[string]any{"email": "me2@evil.test"})
	assert.Equal(t, http.StatusOK, r.status, "a free address is fine: %s", r.body)
}

// Activating a user also forgets their failed sign-ins; without a step-up an
// access manager could reset a password guesser's count every four guesses.
func TestActivationLiftsALockoutOnlyAfterAStepUp(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	peer := e.newMember(root.token, "peer@acme.test", core.RoleAccessManagement)
	for range 4 {
		require.Equal(t, http.StatusForbidden, e.login(peer.email, "Wr0ng-Passw0rd!").status)
	}
	r := e.auth(e.loginToken(am.email), "POST", userPath(peer.id, "activate"), nil)
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, core.CodeStepUpRequired, r.errorCode(t))
	assert.Equal(t, http.StatusForbidden, e.login(peer.email, "Wr0ng-Passw0rd!").status, "the fifth failure still counts")
	assert.Equal(t, http.StatusLocked, e.login(peer.email, testPassword).status, "and locks")

	wantNoContent(t, e.auth(am.token, "POST", userPath(peer.id, "activate"), nil), "a stepped-up session lifts the lockout")
	assert.Equal(t, http.StatusOK, e.login(peer.email, testPassword).status)
}

// Any change to another user needs the rank rule, not only the sign-in
// fields: a user's name is what notices and invites greet them and others with.
func TestRenamingAStrongerUserIsRanked(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	cat := e.newMember(root.token, "cat@acme.test", core.RoleCardAssignee)

	r := e.auth(am.token, "PATCH", userPath(admin.id), map[string]any{"name": "Your bank asks you to call 0900"})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t))
	assert.Equal(t, http.StatusOK, e.auth(am.token, "PATCH", userPath(cat.id), map[string]any{"name": "Cathy"}).status, "a weaker user")
	assert.Equal(t, http.StatusOK, e.auth(admin.token, "PATCH", userPath(admin.id), map[string]any{"name": "Ann"}).status, "oneself")
}

// A bulk of user creations is the submitter's too: an access manager cannot
// submit rows it could not create itself (a user without roles, an admin, a
// funds manager) and wait for an admin to execute the bulk, which would make
// those users for it. Rows within its rank are taken.
func TestAccessManagerCannotSubmitStrongerUsersForAnAdminToCreate(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	for i, roles := range [][]string{nil, {string(core.RoleAdmin)}, {string(core.RoleCardAssignee), string(core.RoleFundsManagement)}} {
		rows := bulkRows("climb"+string(rune('a'+i)), 2)
		rows[0].(map[string]any)["requestBody"].(map[string]any)["roles"] = []string{string(core.RoleCardAssignee)}
		if roles != nil {
			rows[1].(map[string]any)["requestBody"].(map[string]any)["roles"] = roles
		}
		r := e.auth(am.token, "POST", "/multi/bulks/users", rows)
		if !assert.Equal(t, http.StatusForbidden, r.status, "roles %v: %s", roles, r.body) {
			id := str(t, r.json(t), "bulkId")
			wantNoContent(t, e.auth(admin.token, "POST", "/multi/bulks/"+id+"/execute", nil), "execute as the admin")
			e.runBulks()
			t.Errorf("roles %v: the admin's run made %d users", roles, e.listUsers(root.token, "search=climb").count)
			continue
		}
		assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t), "roles %v", roles)
	}
	rows := bulkRows("fair", 2)
	for _, row := range rows {
		row.(map[string]any)["requestBody"].(map[string]any)["roles"] = []string{string(core.RoleCardAssignee)}
	}
	e.submitBulk(am.token, rows)
}

// Activating a deactivated user gives back every permission they hold, a
// privilege change: a session that is not stepped up (a stolen one) cannot
// bring back an admin someone deactivated. Deactivating needs no step-up.
func TestReactivationNeedsAStepUp(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	peer := e.newMember(root.token, "peer@acme.test", core.RoleAccessManagement)
	plain := e.loginToken(am.email)
	wantNoContent(t, e.auth(plain, "POST", userPath(peer.id, "deactivate"), nil), "deactivation needs no step-up")
	r := e.auth(plain, "POST", userPath(peer.id, "activate"), nil)
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, core.CodeStepUpRequired, r.errorCode(t))
	assert.Equal(t, false, e.getUser(root.token, peer.id)["active"], "still deactivated")
	wantNoContent(t, e.auth(am.token, "POST", userPath(peer.id, "activate"), nil), "a stepped-up session")
	assert.Equal(t, true, e.getUser(root.token, peer.id)["active"])
	wantNoContent(t, e.auth(plain, "POST", userPath(peer.id, "activate"), nil), "activating an active user changes nothing")
}

// A bulk of invites is the submitter's too, as a bulk of creations is: an
// access manager cannot submit invites to users it could not invite itself
// (an admin who has not yet set a password) and wait for an admin to
// execute the bulk, which would re-send those invites for it (voiding the
// codes already sent, mailing the admin a link it asked for). Rows within
// its rank are taken; unknown ids are left to fail when they run.
func TestAccessManagerCannotSubmitInvitesToStrongerUsersForAnAdminToSend(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	pendingAdmin := e.createUser(root.token, userBody("boss@acme.test", core.RoleAdmin))
	pendingClerk := e.createUser(root.token, userBody("clerk@acme.test", core.RoleCardAssignee))
	row := func(id string) any { return map[string]any{"pathParams": map[string]any{"_user_id_": id}} }

	single := e.auth(am.token, "POST", userPath(pendingAdmin, "invite"), nil)
	require.Equal(t, http.StatusForbidden, single.status, "one by one: %s", single.body)
	assert.Equal(t, core.CodeRankInsufficient, single.errorCode(t))

	r := e.auth(am.token, "POST", "/multi/bulks/users/_user_id_/invite", []any{row(pendingClerk), row(pendingAdmin)})
	if !assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body) {
		id := str(t, r.json(t), "bulkId")
		wantNoContent(t, e.auth(admin.token, "POST", "/multi/bulks/"+id+"/execute", nil), "execute as the admin")
		before := len(e.outbox())
		e.runBulks()
		ops := e.bulkOps(admin.token, id, "")
		t.Fatalf("the admin's run sent the access manager's invites (%d emails): %+v", len(e.outbox())-before, ops.Operations)
	}
	assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t))
	r = e.auth(am.token, "POST", "/multi/bulks/users/_user_id_/invite", []any{row(pendingClerk), row("999999999")})
	assert.Equal(t, http.StatusCreated, r.status, "within its rank, and an unknown id judged when it runs: %s", r.body)
	otherRoot := e.adminRoot("other-root@acme.test")
	otherAdmin := e.createUser(otherRoot.token, userBody("other-boss@acme.test", core.RoleAdmin))
	r = e.auth(am.token, "POST", "/multi/bulks/users/_user_id_/invite", []any{row(otherAdmin)})
	assert.Equal(t, http.StatusCreated, r.status, "another identity's admin answers as an unknown id: nothing tells it exists: %s", r.body)
}

// The rows of a bulk of invites stay the submitter's until they run: a user
// promoted past the submitter after the submission, or made under an id the
// submitter named before it existed (ids are sequential), is not invited for
// an access manager by the admin who executes its bulk; each such row fails
// RANK_INSUFFICIENT, as the access manager's own call would.
func TestAccessManagerCannotQueueInvitesToUsersPromotedOrMadeAfterTheSubmission(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	clerk := e.createUser(root.token, userBody("clerk@acme.test", core.RoleCardAssignee))
	row := func(id string) any { return map[string]any{"pathParams": map[string]any{"_user_id_": id}} }
	n, err := strconv.ParseUint(clerk, 10, 64)
	require.NoError(t, err)
	future := strconv.FormatUint(n+2, 10) // after the clerk: the bulk, then the next user

	r := e.auth(am.token, "POST", "/multi/bulks/users/_user_id_/invite", []any{row(clerk), row(future)})
	require.Equal(t, http.StatusCreated, r.status, "a clerk and an unknown id: %s", r.body)
	id := str(t, r.json(t), "bulkId")
	boss := e.createUser(root.token, userBody("boss@acme.test", core.RoleAdmin))
	require.Equal(t, future, boss, "the id the access manager named")
	promote := e.auth(root.token, "PATCH", userPath(clerk), map[string]any{"roles": []string{string(core.RoleAdmin)}})
	require.Equal(t, http.StatusOK, promote.status, "%s", promote.body)

	before := len(e.outbox())
	e.executeToFailure(admin.token, id, 2, "RANK_INSUFFICIENT")
	assert.Len(t, e.outbox(), before, "no invite sent for the access manager")
}

// TestDeactivatedSubmittersBulkRowsFail: a bulk whose submitter is
// deactivated before it runs creates nothing, even when a root executes it:
// deactivation ends what the user queued too.
func TestDeactivatedSubmittersBulkRowsFail(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	id := e.submitBulk(admin.token, bulkRows("queued", 2))
	wantNoContent(t, e.auth(root.token, "POST", userPath(admin.id)+"/deactivate", nil), "deactivate the submitter")

	e.executeToFailure(root.token, id, 2, "INSUFFICIENT_PERMISSIONS")
	r := e.auth(root.token, "GET", usersPath+"?email=queued0@acme.test", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.EqualValues(t, 0, r.json(t)["count"], "no user made for the deactivated admin: %s", r.body)
}

// executeToFailure executes bulk id as token, runs it, and checks that each
// of its n rows failed with code.
func (e *env) executeToFailure(token, id string, n int, code string) {
	e.t.Helper()
	wantNoContent(e.t, e.auth(token, "POST", "/multi/bulks/"+id+"/execute", nil), "execute")
	e.runBulks()
	ops := e.bulkOps(token, id, "")
	require.Len(e.t, ops.Operations, n)
	for _, op := range ops.Operations {
		assert.Equal(e.t, "FAILED", op.Status, "%s", op.Path)
		assert.JSONEq(e.t, `{"errorCode":"`+code+`"}`, op.ResponsePayload, "%s", op.Path)
	}
}

// TestDemotedSubmittersBulkRowsFail: the rows of a bulk stay the
// submitter's until they run, permissions as well as rank: an access
// manager demoted to card assignee after submitting a bulk of creations
// and one of invites, within its rank then and still now, may create and
// invite nobody one by one, so an admin who executes the bulks neither
// creates the users nor sends the invites for it. Each row fails
// INSUFFICIENT_PERMISSIONS, as a deactivated submitter's do.
func TestDemotedSubmittersBulkRowsFail(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	clerk := e.createUser(root.token, userBody("clerk@acme.test", core.RoleCardAssignee))
	rows := bulkRows("queued", 2)
	for _, row := range rows {
		row.(map[string]any)["requestBody"].(map[string]any)["roles"] = []string{string(core.RoleCardAssignee)}
	}
	creations := e.submitBulk(am.token, rows)
	r := e.auth(am.token, "POST", "/multi/bulks/users/_user_id_/invite", []any{map[string]any{"pathParams": map[string]any{"_user_id_": clerk}}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	invites := str(t, r.json(t), "bulkId")

	demote := e.auth(root.token, "PATCH", userPath(am.id), map[string]any{"roles": []string{string(core.RoleCardAssignee)}})
	require.Equal(t, http.StatusOK, demote.status, "%s", demote.body)
	single := e.auth(e.loginToken(am.email), "POST", userPath(clerk, "invite"), nil)
	require.Equal(t, http.StatusForbidden, single.status, "one by one: %s", single.body)
	assert.Equal(t, core.CodeInsufficientPermissions, single.errorCode(t))

	before := len(e.outbox())
	e.executeToFailure(admin.token, creations, 2, core.CodeInsufficientPermissions)
	e.executeToFailure(admin.token, invites, 1, core.CodeInsufficientPermissions)
	assert.Len(t, e.outbox(), before, "no invite sent for the demoted access manager")
	r = e.auth(root.token, "GET", usersPath+"?email=queued0@acme.test", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.EqualValues(t, 0, r.json(t)["count"], "no user made for the demoted access manager: %s", r.body)
}
