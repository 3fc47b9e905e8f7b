package server_test

// Invites (issue 4, point 6): Weavr userInviteSend, userInviteValidate and
// userInviteConsume. That a new invite voids the old code needs real codes, so
// it is tested in core (core/invites_test.go).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

const inviteTTL = 30 * 24 * time.Hour

// invitation is what an invite email carries.
type invitation struct {
	msg  outboxMessage
	link *url.URL
	code string
}

var (
	reInviteLink = regexp.MustCompile(`\S+\?\S*userId=\S+`)
	reInviteCode = regexp.MustCompile(`code where you were asked for it: ([A-Za-z0-9_-]+)`)
)

// invitesTo returns the invite emails to addr, newest first.
func (e *env) invitesTo(addr string) []invitation {
	e.t.Helper()
	var out []invitation
	for _, m := range e.outbox() {
		if m.Channel != "EMAIL" || m.To != addr || !reInviteLink.MatchString(m.Text) {
			continue
		}
		link, err := url.Parse(reInviteLink.FindString(m.Text))
		require.NoError(e.t, err)
		inv := invitation{msg: m, link: link}
		if c := reInviteCode.FindStringSubmatch(m.Text); c != nil {
			inv.code = c[1]
		}
		out = append(out, inv)
	}
	return out
}

// invite sends an invite as token and expects 204.
func (e *env) invite(token, id string) {
	e.t.Helper()
	r := e.auth(token, "POST", userPath(id, "invite"), nil)
	require.Equal(e.t, http.StatusNoContent, r.status, "invite: %s", r.body)
}

// validateInvite calls userInviteValidate with the api key only.
func (e *env) validateInvite(id, code string) resp {
	e.t.Helper()
	return e.key("POST", userPath(id, "invite/validate"), map[string]any{"inviteCode": code})
}

// consumeInvite calls userInviteConsume with the api key only; mobile may be nil.
func (e *env) consumeInvite(id, code, password string, mobile map[string]any) resp {
	e.t.Helper()
	body := map[string]any{"inviteCode": code, "password": pw(password)}
	if mobile != nil {
		body["mobile"] = mobile
	}
	return e.key("POST", userPath(id, "invite/consume"), body)
}

// inviteState returns the invite part of a user's status ("" when none).
func (e *env) inviteState(token, id string) string {
	e.t.Helper()
	r := e.auth(token, "GET", userPath(id, "status"), nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	inv, ok := r.json(e.t)["invite"].(map[string]any)
	if !ok {
		return ""
	}
	return inv["state"].(string)
}

// asProgramme returns a view of e that calls with another programme's api key.
func (e *env) asProgramme(t *testing.T, key string, prog *core.Programme) *env {
	c := *e
	c.t, c.apiKey, c.prog = t, key, prog
	return &c
}

func TestUserInviteSend(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	assert.Equal(t, "", e.inviteState(root.token, bea), "never invited")

	sent := e.svc.Now()
	r := e.auth(root.token, "POST", userPath(bea, "invite"), nil)
	wantNoContent(t, r)
	assert.Empty(t, r.body)
	received := e.svc.Now()
	invs := e.invitesTo("bea@acme.test")
	require.Len(t, invs, 1, "one invite email")
	inv := invs[0]
	assert.Contains(t, inv.msg.Subject, e.prog.Name)
	assert.Equal(t, "deputy", inv.link.Scheme, "without an embedder page the link opens the companion app")
	assert.Equal(t, "invite", inv.link.Host)
	assert.Equal(t, url.Values{"userId": {bea}, "code": {sandboxCode}}, inv.link.Query())
	assert.Equal(t, sandboxCode, inv.code, "the code is in the text too")
	assert.Contains(t, inv.msg.Text, "30 days")

	st := e.auth(root.token, "GET", userPath(bea, "status"), nil).json(t)
	assert.Equal(t, false, st["passwordSet"])
	stInv := st["invite"].(map[string]any)
	assert.Equal(t, "PENDING", stInv["state"])
	expires := int64(stInv["expiresAt"].(float64))
	assert.True(t, expires >= sent.Add(inviteTTL).UnixMilli() && expires <= received.Add(inviteTTL).UnixMilli(),
		"the invite expires 30 days after it was sent: got %d", expires)

	wantNoContent(t, e.validateInvite(bea, sandboxCode))
	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "invite"), nil), "inviting again")
	assert.Len(t, e.invitesTo("bea@acme.test"), 2, "a second email")
	wantNoContent(t, e.validateInvite(bea, sandboxCode), "the new invite's code")
	assert.Equal(t, 2, count(e.auditActions(), "user.invite"))
}

// A programme with its own invite page gets links to it, with its query kept.
func TestUserInviteLinksToTheEmbeddersPage(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.CreateProgramme(context.Background(), core.NewProgramme{Name: "Embedder",
		Settings: core.ProgrammeSettings{InviteURL: "https://app.example/accept?src=email"}})
	require.NoError(t, err)
	ep := e.asProgramme(t, p.APIKey, p.Programme)
	root := ep.adminRoot("root@acme.test")
	bea := ep.createUser(root.token, userBody("bea@acme.test"))
	ep.invite(root.token, bea)

	invs := ep.invitesTo("bea@acme.test")
	require.Len(t, invs, 1)
	l := invs[0].link
	assert.Equal(t, "https://app.example/accept", l.Scheme+"://"+l.Host+l.Path)
	assert.Equal(t, url.Values{"src": {"email"}, "userId": {bea}, "code": {sandboxCode}}, l.Query())
	assert.Empty(t, e.invitesTo("bea@acme.test"), "the default programme's outbox is its own")
}

func TestUserInviteValidateFailuresLookAlike(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	browser := e.withKey(uiKey) // the secret key is told more on consume (TestInviteConsumeUnknownUser)
	root := e.adminRoot("root@acme.test")
	pending := e.createUser(root.token, userBody("pending@acme.test"))
	e.invite(root.token, pending)
	never := e.createUser(root.token, userBody("never@acme.test"))
	voided := e.createUser(root.token, userBody("voided@acme.test"))
	e.invite(root.token, voided)
	wantNoContent(t, e.auth(root.token, "POST", userPath(voided, "deactivate"), nil))
	consumed := e.createUser(root.token, userBody("consumed@acme.test"))
	e.invite(root.token, consumed)
	require.Equal(t, http.StatusOK, e.consumeInvite(consumed, sandboxCode, testPassword, nil).status)
	withPassword := e.newMember(root.token, "member@acme.test").id
	otherKey := e.otherProgramme("Other")
	first := e.validateInvite(pending, wrongCode(0))

	for name, r := range map[string]resp{
		"wrong code":              first,
		"never invited":           e.validateInvite(never, sandboxCode),
		"voided by deactivation":  e.validateInvite(voided, sandboxCode),
		"consumed":                e.validateInvite(consumed, sandboxCode),
		"password set otherwise":  e.validateInvite(withPassword, sandboxCode),
		"root user":               e.validateInvite(root.id, sandboxCode),
		"unknown user":            e.validateInvite("999999999", sandboxCode),
		"another programme's key": e.call("POST", userPath(pending, "invite/validate"), map[string]any{"inviteCode": sandboxCode}, "api-key", otherKey),
		"consume, wrong code":     browser.consumeInvite(pending, wrongCode(1), testPassword, nil),
		"consume, voided":         browser.consumeInvite(voided, sandboxCode, testPassword, nil),
		"consume, never invited":  browser.consumeInvite(never, sandboxCode, testPassword, nil),
		"consume, consumed":       browser.consumeInvite(consumed, sandboxCode, testPassword, nil),
		// Without the code, consume tells no more than validate: not whether
		// the id is a user, a root user or one who has a password.
		"consume, password set, wrong code": browser.consumeInvite(withPassword, wrongCode(2), testPassword, nil),
		"consume, root user, wrong code":    browser.consumeInvite(root.id, wrongCode(3), testPassword, nil),
		"consume, unknown user, wrong code": browser.consumeInvite("999999999", wrongCode(4), testPassword, nil),
	} {
		wantConflict(t, r, "INVITE_OR_INVITE_CODE_INVALID", name)
		assert.Equal(t, string(first.body), string(r.body), "%s: every failure has the same body", name)
	}
	wantNoContent(t, e.validateInvite(pending, sandboxCode), "two wrong codes leave the invite usable")
	wantNoContent(t, e.validateInvite(pending, sandboxCode), "validating consumes nothing")
	assert.Equal(t, "VOID", e.inviteState(root.token, voided))
	assert.Equal(t, "CONSUMED", e.inviteState(root.token, consumed))

	for name, c := range map[string]struct {
		body any
		want []string
	}{
		"no code":       {map[string]any{}, []string{"inviteCode:REQUIRED"}},
		"five digits":   {map[string]any{"inviteCode": "12345"}, []string{"inviteCode:REGEX"}},
		"a space":       {map[string]any{"inviteCode": "123 456"}, []string{"inviteCode:REGEX"}},
		"padding":       {map[string]any{"inviteCode": strings.Repeat("a", 42) + "="}, []string{"inviteCode:REGEX"}},
		"65 characters": {map[string]any{"inviteCode": strings.Repeat("a", 65)}, []string{"inviteCode:REGEX"}},
		"a number":      {`{"inviteCode":12345}`, []string{"inviteCode:REGEX"}}, // read as its text, as Weavr does
		"a boolean":     {`{"inviteCode":true}`, []string{"inviteCode:IN"}},
		"unknown field": {map[string]any{"inviteCode": sandboxCode, "code": "1"}, []string{"code:NOT_IN"}},
	} {
		assert.Equal(t, c.want, e.key("POST", userPath(pending, "invite/validate"), c.body).invalidFields(t), name)
	}
	assert.Equal(t, []string{"user_id:REGEX"}, e.validateInvite("abc", sandboxCode).invalidFields(t))
	assert.Equal(t, []string{"api-key:REQUIRED"}, e.call("POST", userPath(pending, "invite/validate"), map[string]any{"inviteCode": sandboxCode}).invalidFields(t))
	wantNoContent(t, e.validateInvite(pending, sandboxCode), "malformed codes are not attempts")
}

// Wrong codes never void an invite (issue 12, point 6): over the invite's
// budget they get 429, and the right code still works.
func TestUserInviteWrongCodesNeverVoidIt(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{InviteWrongPerInvite: core.RateLimit{Requests: 5, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)

	for i := range 4 {
		wantConflict(t, e.validateInvite(bea, wrongCode(i)), "INVITE_OR_INVITE_CODE_INVALID", "wrong code %d", i+1)
	}
	wantConflict(t, e.consumeInvite(bea, wrongCode(4), testPassword, nil), "INVITE_OR_INVITE_CODE_INVALID", "wrong code 5, on consume")
	wantRateLimitedWithin(t, e.validateInvite(bea, wrongCode(5)), "5, 5;w=3600", time.Hour, "wrong code 6")
	wantRateLimitedWithin(t, e.consumeInvite(bea, wrongCode(6), testPassword, nil), "5, 5;w=3600", time.Hour, "wrong code 7, on consume")
	assert.Equal(t, "PENDING", e.inviteState(root.token, bea))
	wantNoContent(t, e.validateInvite(bea, sandboxCode), "the right code still works")
	require.Equal(t, http.StatusOK, e.consumeInvite(bea, sandboxCode, testPassword, nil).status)
	assert.Equal(t, "CONSUMED", e.inviteState(root.token, bea))
}

// Guessing in parallel gets exactly the invite's budget of wrong answers;
// the rest are refused without being weighed or audited.
func TestUserInviteWrongCodesAreCountedExactlyUnderParallelGuesses(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{InviteWrongPerInvite: core.RateLimit{Requests: 5, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	const n = 30
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = e.validateInvite(bea, wrongCode(i)).status })
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusConflict: 5, http.StatusTooManyRequests: n - 5}, tally(statuses))
	assert.Equal(t, 5, count(e.auditActions(), "user.invite_code_wrong"), "only five guesses were weighed")
	assert.Equal(t, "PENDING", e.inviteState(root.token, bea))
	wantNoContent(t, e.validateInvite(bea, sandboxCode))
}

// tally counts how often each status occurs.
func tally(statuses []int) map[int]int {
	out := map[int]int{}
	for _, s := range statuses {
		out[s]++
	}
	return out
}

// Deactivation voids a pending invite (issue 12, point 10): neither validate
// nor consume accept its code, no new one is sent meanwhile, reactivation
// does not revive it, and a new invite works.
func TestUserInviteOfADeactivatedUserCannotBeUsed(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)

	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "deactivate"), nil))
	assert.Equal(t, "VOID", e.inviteState(root.token, bea))
	wantConflict(t, e.validateInvite(bea, sandboxCode), "INVITE_OR_INVITE_CODE_INVALID")
	wantConflict(t, e.consumeInvite(bea, sandboxCode, testPassword, nil), "INVITE_OR_INVITE_CODE_INVALID")

	sent := len(e.invitesTo("bea@acme.test"))
	wantConflict(t, e.auth(root.token, "POST", userPath(bea, "invite"), nil), "USER_INACTIVE", "no invite to a deactivated user")
	assert.Len(t, e.invitesTo("bea@acme.test"), sent, "nothing sent")
	assert.Equal(t, "VOID", e.inviteState(root.token, bea), "nothing written")

	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "activate"), nil))
	assert.Equal(t, "VOID", e.inviteState(root.token, bea), "reactivation does not revive it")
	wantConflict(t, e.validateInvite(bea, sandboxCode), "INVITE_OR_INVITE_CODE_INVALID")

	e.invite(root.token, bea)
	require.Equal(t, http.StatusOK, e.consumeInvite(bea, sandboxCode, testPassword, nil).status, "a new invite")
}

// USER_INACTIVE tells a deactivated user's state only to one who may
// invite them: another identity's admin gets 404, a role without the
// permission 403 INSUFFICIENT_PERMISSIONS and a weaker one 403
// RANK_INSUFFICIENT, as for an active user; none of them writes anything.
func TestUserInviteOfADeactivatedUserTellsOnlyThoseWhoMayInvite(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.createUser(root.token, userBody("admin@acme.test", core.RoleAdmin))
	clerk := e.newMember(root.token, "clerk@acme.test", core.RoleCardAssignee)
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)
	wantNoContent(t, e.auth(root.token, "POST", userPath(admin, "deactivate"), nil))
	other := e.adminRoot("root@other.test")

	r := e.auth(other.token, "POST", userPath(admin, "invite"), nil)
	assert.Equal(t, http.StatusNotFound, r.status, "another identity: %s", r.body)
	for token, code := range map[string]string{clerk.token: core.CodeInsufficientPermissions, am.token: core.CodeRankInsufficient} {
		r := e.auth(token, "POST", userPath(admin, "invite"), nil)
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, code, r.errorCode(t))
	}
	wantConflict(t, e.auth(root.token, "POST", userPath(admin, "invite"), nil), "USER_INACTIVE", "one who may invite them")
	assert.Empty(t, e.invitesTo("admin@acme.test"), "nothing sent")
	assert.Zero(t, count(e.auditActions(), "user.invite"), "nothing written")
}

// A user made inactive without going through deactivation (here, directly in
// the store) cannot use a pending invite either: validate and consume check
// that the user is active.
func TestUserInviteNeedsAnActiveUser(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	e.deactivate(bea)
	assert.Equal(t, "PENDING", e.inviteState(root.token, bea))
	wantConflict(t, e.validateInvite(bea, sandboxCode), "INVITE_OR_INVITE_CODE_INVALID")
	wantConflict(t, e.consumeInvite(bea, sandboxCode, testPassword, nil), "INVITE_OR_INVITE_CODE_INVALID")
}

// subjectActions lists the audit actions on subject, in commit order.
func (e *env) subjectActions(subject string) []string {
	e.t.Helper()
	var actions []string
	err := e.store.View(context.Background(), func(tx core.ReadTx) error {
		evs, err := tx.AuditEvents(e.prog.ID, 0, 10000)
		for _, ev := range evs {
			if ev.Subject == subject {
				actions = append(actions, ev.Action)
			}
		}
		return err
	})
	require.NoError(e.t, err)
	return actions
}

// Deactivating a user while their invite is being consumed: either the
// consume commits first (the user has a password, and is then deactivated),
// or the invite is void and no password is set. An invite is never consumed
// after its user was deactivated.
func TestUserInviteConsumeRacesDeactivation(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	for i := range 5 {
		email := fmt.Sprintf("bea%d@acme.test", i)
		bea := e.createUser(root.token, userBody(email))
		e.invite(root.token, bea)
		var consumed resp
		var wg sync.WaitGroup
		wg.Go(func() { consumed = e.consumeInvite(bea, sandboxCode, testPassword, nil) })
		wg.Go(func() { wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "deactivate"), nil)) })
		wg.Wait()
		state := e.inviteState(root.token, bea)
		if consumed.status == http.StatusOK {
			assert.Equal(t, "CONSUMED", state)
			actions := e.subjectActions(bea)
			assert.Less(t, slices.Index(actions, "user.invite_consume"), slices.Index(actions, "user.deactivate"), "consumed before the deactivation: %v", actions)
		} else {
			wantConflict(t, consumed, "INVITE_OR_INVITE_CODE_INVALID")
			assert.Equal(t, "VOID", state)
			assert.Equal(t, false, e.auth(root.token, "GET", userPath(bea, "status"), nil).json(t)["passwordSet"])
		}
	}
}

func TestUserInviteExpiresAfterThirtyDays(t *testing.T) {
	for _, c := range []struct {
		name  string
		after time.Duration
		valid bool
	}{
		{"a minute before", inviteTTL - time.Minute, true},
		{"at thirty days", inviteTTL, false},
		{"a year later", 365 * 24 * time.Hour, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			root := e.adminRoot("root@acme.test")
			bea := e.createUser(root.token, userBody("bea@acme.test"))
			e.invite(root.token, bea)
			e.advance(c.after)
			root.token = e.loginToken("root@acme.test") // the old session idled out
			if c.valid {
				wantNoContent(t, e.validateInvite(bea, sandboxCode))
				assert.Equal(t, "PENDING", e.inviteState(root.token, bea))
				require.Equal(t, http.StatusOK, e.consumeInvite(bea, sandboxCode, testPassword, nil).status)
				return
			}
			wantConflict(t, e.validateInvite(bea, sandboxCode), "INVITE_OR_INVITE_CODE_INVALID")
			wantConflict(t, e.consumeInvite(bea, sandboxCode, testPassword, nil), "INVITE_OR_INVITE_CODE_INVALID")
			assert.Equal(t, "EXPIRED", e.inviteState(root.token, bea))

			e.invite(root.token, bea)
			wantNoContent(t, e.validateInvite(bea, sandboxCode), "a new invite works again")
		})
	}
}

func TestUserInviteConsume(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, map[string]any{"name": "Bea", "surname": "Smith", "email": "bea@acme.test"})
	e.invite(root.token, bea)

	for _, v := range profileViolations {
		wantConflict(t, e.consumeInvite(bea, sandboxCode, v.password, nil), v.code, v.name)
	}
	for name, c := range map[string]struct {
		body any
		want []string
	}{
		"no password":   {map[string]any{"inviteCode": sandboxCode}, []string{"password.value:REQUIRED"}},
		"no code":       {map[string]any{"password": pw(testPassword)}, []string{"inviteCode:REQUIRED"}},
		"bad mobile":    {map[string]any{"inviteCode": sandboxCode, "password": pw(testPassword), "mobile": map[string]any{"countryCode": "+44", "number": "x"}}, []string{"mobile.number:REGEX"}},
		"unknown field": {map[string]any{"inviteCode": sandboxCode, "password": pw(testPassword), "email": "a@b.test"}, []string{"email:NOT_IN"}},
	} {
		assert.Equal(t, c.want, e.key("POST", userPath(bea, "invite/consume"), c.body).invalidFields(t), name)
	}
	wantNoContent(t, e.validateInvite(bea, sandboxCode), "refused consumes leave the invite usable")
	wantConflict(t, e.consumeInvite("999999999", sandboxCode, testPassword, nil), "UNRESOLVED_IDENTITY", "unknown user, as Weavr answers")

	r := e.consumeInvite(bea, sandboxCode, testPassword, map[string]any{"countryCode": "+356", "number": "79000002"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	require.Len(t, got, 1, "the answer is {token}: %s", r.body)
	token := str(t, got, "token")

	me := e.getUser(token, bea)
	assert.Equal(t, map[string]any{"countryCode": "+356", "number": "79000002"}, me["mobile"], "the mobile given with the consume")
	assert.Equal(t, http.StatusOK, e.login("bea@acme.test", testPassword).status, "the password works")
	st := e.auth(root.token, "GET", userPath(bea, "status"), nil).json(t)
	assert.Equal(t, true, st["passwordSet"])
	assert.Equal(t, "CONSUMED", st["invite"].(map[string]any)["state"])

	wantConflict(t, e.consumeInvite(bea, sandboxCode, "An0ther-Passw0rd", nil), "PASSWORD_ALREADY_CREATED", "a second consume, told to the secret key")
	wantConflict(t, e.validateInvite(bea, sandboxCode), "INVITE_OR_INVITE_CODE_INVALID", "the code is spent")
	wantConflict(t, e.auth(root.token, "POST", userPath(bea, "invite"), nil), "INVITE_ALREADY_CONSUMED")
	assert.Equal(t, http.StatusForbidden, e.login("bea@acme.test", "An0ther-Passw0rd").status, "the second password was not set")

	// A user created with a mobile keeps it when the consume gives none.
	cy := e.createUser(root.token, userBody("cy@acme.test"))
	e.invite(root.token, cy)
	r = e.consumeInvite(cy, sandboxCode, testPassword, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, map[string]any{"countryCode": "+44", "number": "7700900456"}, e.getUser(str(t, r.json(t), "token"), cy)["mobile"])

	// A user whose password was set otherwise cannot be invited.
	dee := e.newMember(root.token, "dee@acme.test")
	wantConflict(t, e.auth(root.token, "POST", userPath(dee.id, "invite"), nil), "INVITE_ALREADY_CONSUMED")
}

// An invite code works once, however many consumes race for it.
func TestUserInviteConsumeIsSingleUseUnderParallelRequests(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	const n = 20
	results := make([]resp, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = e.consumeInvite(bea, sandboxCode, testPassword, nil) })
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			assert.Contains(t, []string{"PASSWORD_ALREADY_CREATED", "INVITE_OR_INVITE_CODE_INVALID"}, r.errorCode(t))
		default:
			t.Errorf("got %d %s", r.status, r.body)
		}
	}
	assert.Equal(t, 1, ok, "exactly one consume succeeds")
	assert.Equal(t, 1, count(e.auditActions(), "user.invite_consume"))
}

// Accepting an invite is done by the invited user, who has no token yet: the
// api key is all validate and consume need.
func TestUserInviteValidateAndConsumeNeedOnlyTheAPIKey(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	for _, path := range []string{userPath(bea, "invite/validate"), userPath(bea, "invite/consume")} {
		body := map[string]any{"inviteCode": sandboxCode}
		if path == userPath(bea, "invite/consume") {
			body["password"] = pw(testPassword)
		}
		assert.Equal(t, []string{"api-key:REQUIRED"}, e.call("POST", path, body).invalidFields(t), path)
		assert.Equal(t, http.StatusUnauthorized, e.call("POST", path, body, "api-key", "dsk_unknown").status, path)
		r := e.call("POST", path, body, "api-key", e.apiKey) // no Authorization header
		assert.Less(t, r.status, 300, "%s: %s", path, r.body)
	}
}

// Invite checks with the public ui key are budgeted per client address; with
// the secret key the caller is the embedder's backend, one address for all its
// invitees, so only the per-invite budget applies.
// A guess refused for its invite's budget of wrong codes is still a check
// from its address: it spends the address's budget, so that an address
// cannot go on guessing at an invite, answered 429 when wrong and 204 when
// right, once the invite's budget is spent.
func TestUserInviteChecksOverTheInvitesBudgetSpendTheAddresss(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, loopbackProxy, withRateLimits(core.RateLimits{
		InvitePerIP:          core.RateLimit{Requests: 3, Window: 15 * time.Minute},
		InviteWrongPerInvite: core.RateLimit{Requests: 1, Window: time.Hour},
	}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	ui := e.withKey(uiKey)
	validate := func(code, xff string) resp {
		return ui.key("POST", userPath(bea, "invite/validate"), map[string]any{"inviteCode": code}, "X-Forwarded-For", xff)
	}

	wantConflict(t, validate(wrongCode(0), "198.51.100.7"), "INVITE_OR_INVITE_CODE_INVALID")
	assert.Equal(t, http.StatusTooManyRequests, validate(wrongCode(1), "198.51.100.7").status, "over the invite's budget")
	assert.Equal(t, http.StatusTooManyRequests, validate(wrongCode(2), "198.51.100.7").status, "over the invite's budget")
	assert.Equal(t, http.StatusTooManyRequests, validate(sandboxCode, "198.51.100.7").status, "a fourth check from the address, right or not")
	wantNoContent(t, validate(sandboxCode, "198.51.100.8"), "another address")
}

func TestUserInviteChecksPerClientAddress(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, loopbackProxy, withRateLimits(core.RateLimits{InvitePerIP: core.RateLimit{Requests: 2, Window: 15 * time.Minute}}))
	e.alignClock(15 * time.Minute)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	ui := e.withKey(uiKey)
	validateFrom := func(env *env, xff string) resp {
		return env.key("POST", userPath(bea, "invite/validate"), map[string]any{"inviteCode": sandboxCode}, "X-Forwarded-For", xff)
	}

	wantNoContent(t, validateFrom(ui, "2001:db8:5:6::1"))
	wantNoContent(t, validateFrom(ui, "2001:db8:5:6::2"))
	wantRateLimitedWithin(t, validateFrom(ui, "2001:db8:5:6:7::8"), "2, 2;w=900", 15*time.Minute, "the right code, a third time from one /64")
	wantNoContent(t, validateFrom(ui, "198.51.100.20"), "another address")
	for i := range 5 {
		wantNoContent(t, validateFrom(e, "2001:db8:5:6::1"), "secret key %d", i+1)
	}
}

// A mobile given with a consume is set as any other (README: "wherever it is
// set"): one no one can have is 409 MOBILE_OR_COUNTRY_CODE_INVALID, and the
// invite, the password and the mobile are left as they were.
func TestUserInviteConsumeMobileMustBeOneSomeoneCanHave(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	for _, m := range []map[string]any{
		{"countryCode": "+999", "number": "7700900456"},
		{"countryCode": "+44", "number": "123"},
		{"countryCode": "+447", "number": "700900456"},
	} {
		wantConflict(t, e.consumeInvite(bea, sandboxCode, testPassword, m), "MOBILE_OR_COUNTRY_CODE_INVALID", fmt.Sprintf("%v", m))
	}
	wantNoContent(t, e.validateInvite(bea, sandboxCode), "refused consumes leave the invite usable")
	r := e.consumeInvite(bea, sandboxCode, testPassword, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, map[string]any{"countryCode": "+44", "number": "7700900456"}, e.getUser(str(t, r.json(t), "token"), bea)["mobile"],
		"the mobile it was created with")
}
