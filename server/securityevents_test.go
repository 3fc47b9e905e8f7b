package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

type securityEvents struct {
	Events []struct {
		ID, Action, Summary, Actor, RequestRef string
		Timestamp                              int64
		Details                                map[string]string
	}
	Next string
}

func (e *env) securityEvents(token, userID, query string) (resp, securityEvents) {
	e.t.Helper()
	r := e.auth(token, "GET", userPath(userID, "security_events")+query, nil)
	var out securityEvents
	if r.status == http.StatusOK {
		require.NoError(e.t, json.Unmarshal(r.body, &out))
	}
	return r, out
}

// TestSecurityEventsTellWhoDidWhat: a user's sign-ins, failures, step-ups and
// role changes are listed newest first, with who did each, for the user and
// for those who may manage them, page by page.
func TestSecurityEventsTellWhoDidWhat(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bob := e.newMember(root.token, "bob@acme.test", core.RoleCardAssignee)
	require.Equal(t, http.StatusForbidden, e.login(bob.email, "wrong-Passw0rd").status)
	e.loginToken(bob.email)
	r := e.auth(root.token, "PATCH", userPath(bob.id), map[string]any{"roles": []string{"CARDS_MANAGEMENT_ROLE"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r, own := e.securityEvents(bob.token, bob.id, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var actions []string
	for _, ev := range own.Events {
		actions = append(actions, ev.Action)
	}
	assert.Equal(t, []string{"user.update", "user.login", "login.failed", "challenge.verify", "challenge.issue", "password.create", "user.create"}, actions, "newest first")
	var summaries []string
	for _, ev := range own.Events {
		summaries = append(summaries, ev.Summary)
	}
	assert.Equal(t, []string{"Roles set to CARDS_MANAGEMENT_ROLE", "Signed in with password", "Wrong password",
		"Code verified for SMS enrolment", "Code texted for SMS enrolment", "Password set", "Created with roles CARD_ASSIGNEE"}, summaries, "each in words")
	assert.Equal(t, root.id, own.Events[0].Actor, "the root changed the roles")
	assert.Equal(t, string(core.PurposeEnrolSMS), own.Events[3].Details["purpose"], "the SMS enrolment's code")
	assert.Equal(t, bob.id, own.Events[1].Actor)
	assert.NotEmpty(t, own.Events[0].RequestRef)
	for i := 1; i < len(own.Events); i++ {
		assert.GreaterOrEqual(t, own.Events[i-1].Timestamp, own.Events[i].Timestamp)
	}
	assert.NotContains(t, string(r.body), testPassword)

	_, managed := e.securityEvents(root.token, bob.id, "")
	assert.Equal(t, own, managed, "the root, who may manage Bob, reads the same")

	// Two at a time, following next, gives the same events.
	var paged []string
	for q := "?limit=2"; ; {
		r, page := e.securityEvents(bob.token, bob.id, q)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		for _, ev := range page.Events {
			paged = append(paged, ev.Action)
		}
		if page.Next == "" {
			break
		}
		q = "?limit=2&before=" + page.Next
	}
	assert.Equal(t, actions, paged)

	for _, q := range []string{"?limit=0", "?limit=101", "?limit=-1"} {
		r, _ := e.securityEvents(bob.token, bob.id, q)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", q, r.body)
	}
}

// TestSecurityEventIDsAreOpaque: an event's id is not its place in the
// programme's log, which would tell a user how busy everyone else was
// between two of their own events; it is stable, and a before that no page
// gave is a 400 naming it.
func TestSecurityEventIDsAreOpaque(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	_, first := e.securityEvents(root.token, root.id, "")
	e.adminRoot("busy@other.test") // another identity's events in between
	e.loginToken("root@acme.test")
	r, page := e.securityEvents(root.token, root.id, "?limit=3")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Len(t, page.Events, 3)
	ids := map[string]bool{}
	for _, ev := range page.Events {
		assert.Regexp(t, `^[A-Za-z0-9_-]{22}$`, ev.ID)
		ids[ev.ID] = true
	}
	assert.Len(t, ids, 3, "one id per event")
	assert.Equal(t, first.Events[0].ID, page.Events[1].ID, "an event keeps its id")
	assert.Equal(t, page.Events[2].ID, page.Next)

	_, older := e.securityEvents(root.token, root.id, "?before="+page.Events[0].ID)
	assert.Equal(t, page.Events[1:], older.Events[:2], "before an event: the ones older than it")

	tampered := []byte(page.Next)
	tampered[3] ^= 1
	for _, before := range []string{"0", "5", "x", string(tampered), page.Next + "A", strings.Repeat("A", 22)} {
		r, _ := e.securityEvents(root.token, root.id, "?before="+url.QueryEscape(before))
		assert.Equal(t, http.StatusBadRequest, r.status, "before=%s: %s", before, r.body)
		assert.Contains(t, string(r.body), "before", "the 400 names the parameter")
	}
}

// TestSecurityEventsOnlyForThoseWhoMayManage: nobody reads the events of a
// user they may not manage: a weaker role, a user of another identity (the
// user does not exist for them), or anyone asking for a root user's.
func TestSecurityEventsOnlyForThoseWhoMayManage(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	funds := e.newMember(root.token, "funds@acme.test", core.RoleFundsManagement)
	holder := e.newMember(root.token, "holder@acme.test", core.RoleCardAssignee)
	stranger := e.adminRoot("stranger@other.test")

	cases := []struct {
		name, token, target string
		status              int
		code                string
	}{
		{"an access manager on an admin", am.token, admin.id, http.StatusForbidden, core.CodeRankInsufficient},
		{"an access manager on a funds manager", am.token, funds.id, http.StatusForbidden, core.CodeRankInsufficient},
		{"a funds manager, who may not manage users", funds.token, holder.id, http.StatusForbidden, core.CodeInsufficientPermissions},
		{"a card holder on another", holder.token, am.id, http.StatusForbidden, core.CodeInsufficientPermissions},
		{"an admin on the root", admin.token, root.id, http.StatusNotFound, ""},
		{"another identity's root", stranger.token, holder.id, http.StatusNotFound, ""},
		{"an unknown user", root.token, "999999999", http.StatusNotFound, ""},
		{"an access manager on a card holder", am.token, holder.id, http.StatusOK, ""},
		{"an admin on an access manager", admin.token, am.id, http.StatusOK, ""},
		{"the root on itself", root.token, root.id, http.StatusOK, ""},
	}
	results := make([]resp, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { results[i] = e.auth(c.token, "GET", userPath(c.target, "security_events"), nil) })
	}
	wg.Wait()
	for i, c := range cases {
		r := results[i]
		assert.Equal(t, c.status, r.status, "%s: %s", c.name, r.body)
		if c.code != "" {
			assert.Equal(t, c.code, r.errorCode(t), c.name)
		}
		if c.status != http.StatusOK {
			assert.NotContains(t, string(r.body), "login", "%s: nothing of the events leaks", c.name)
		}
	}
}

// TestSecurityEventsTellNothingToThoseWhoMayNotManage: a caller who may not
// manage users at all (a card holder, who may not even list them) gets the
// same answer for a user of their identity as for one who does not exist, so
// the endpoint is no oracle of who belongs to the identity (as GET
// /multi/users/{id} checks the permission before it looks the user up).
func TestSecurityEventsTellNothingToThoseWhoMayNotManage(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	holder := e.newMember(root.token, "holder@acme.test", core.RoleCardAssignee)
	stranger := e.adminRoot("stranger@other.test")
	other := e.newMember(stranger.token, "other@other.test", core.RoleCardAssignee)

	member, _ := e.securityEvents(holder.token, am.id, "")
	unknown, _ := e.securityEvents(holder.token, "999999999", "")
	foreign, _ := e.securityEvents(holder.token, other.id, "")
	assert.Equal(t, member.status, unknown.status, "a member of the identity and an unknown id: %s / %s", member.body, unknown.body)
	assert.Equal(t, member.errorCode(t), unknown.errorCode(t))
	assert.Equal(t, unknown.status, foreign.status)
	assert.Equal(t, unknown.errorCode(t), foreign.errorCode(t))
}
