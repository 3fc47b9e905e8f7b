package core_test

// Points of issue 4 that HTTP cannot reach: real (non-sandbox) invite codes,
// and role names the HTTP layer already refuses.

import (
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// steppedUpRoot creates a root user, enrols their SMS factor (which steps the
// session up) and returns the caller of that session.
func (e *coreEnv) steppedUpRoot(prog *core.Programme, email string) *core.Caller {
	e.t.Helper()
	_, token := e.root(prog, email)
	c := e.caller(prog, token)
	require.NoError(e.t, e.svc.EnrolSMS(e.ctx, c))
	require.NoError(e.t, e.svc.VerifyEnrolSMS(e.ctx, c, e.sms.lastCode(e.t)))
	c = e.caller(prog, token)
	require.True(e.t, c.Session.SteppedUp)
	return c
}

var reInvite = regexp.MustCompile(`(\S+\?\S*userId=\S+)[\s\S]*asked for it: (\S+)`)

// lastInvite returns the link and the code of the last email, which must be an invite to addr.
func (e *coreEnv) lastInvite(addr string) (*url.URL, string) {
	e.t.Helper()
	all := e.mail.all()
	require.NotEmpty(e.t, all, "no email was sent")
	m := all[len(all)-1]
	require.Equal(e.t, addr, m.To)
	got := reInvite.FindStringSubmatch(m.Text)
	require.NotNil(e.t, got, "not an invite: %q", m.Text)
	link, err := url.Parse(got[1])
	require.NoError(e.t, err)
	return link, got[2]
}

// A new invite replaces the old one: outside sandbox the codes are 256
// random bits, base64url, in the text and in both emails' deputy:// link, and
// the old code no longer validates or consumes.
func TestNewInviteVoidsTheOldCode(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
	require.NoError(t, err)

	require.NoError(t, e.svc.SendInvite(e.ctx, root, u.ID))
	link, old := e.lastInvite("bea@acme.test")
	assert.Equal(t, url.Values{"userId": {u.ID}, "code": {old}}, link.Query(), "the link carries the same code as the text")
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, old, "256 bits, base64url")
	html := e.mail.all()[len(e.mail.all())-1].HTML
	assert.Contains(t, html, `href="`+strings.ReplaceAll(link.String(), "&", "&amp;")+`"`, "the HTML email links to the companion too")
	require.NoError(t, e.svc.SendInvite(e.ctx, root, u.ID))
	_, current := e.lastInvite("bea@acme.test")
	require.NotEqual(t, old, current)

	requireCode(t, e.svc.ValidateInvite(e.ctx, e.prog, u.ID, old, testIP), core.ErrConflict, core.CodeInviteInvalid, "the old code")
	_, err = e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, old, testPassword, nil, testIP)
	requireCode(t, err, core.ErrConflict, core.CodeInviteInvalid, "consuming with the old code")
	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, u.ID, current, testIP), "the new code")
	set, err := e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, current, testPassword, nil, testIP)
	require.NoError(t, err)
	assert.NotEmpty(t, set.Token)
	assert.True(t, e.user(u.ID).PasswordSet)

	_, err = e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, current, testPassword, nil, testIP)
	requireCode(t, err, core.ErrConflict, core.CodeInviteInvalid, "the code works once (a client address: no more said)")
	_, err = e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, current, testPassword, nil, "")
	requireCode(t, err, core.ErrConflict, core.CodePasswordAlreadyCreated, "the code works once (the embedder's backend)")
	requireCode(t, e.svc.SendInvite(e.ctx, root, u.ID), core.ErrConflict, core.CodeInviteAlreadyConsumed)
}

// The HTTP layer refuses unknown role names as a bad request; core refuses
// them on its own too, for callers that bypass it.
func TestUnknownRoleIsRefused(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	_, err := e.svc.CreateUser(e.ctx, root, core.NewUser{
		UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"},
		Roles:       []core.Role{"SUPERUSER"},
	})
	requireCode(t, err, core.ErrConflict, core.CodeRoleNotFound)

	u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
	require.NoError(t, err)
	roles := []core.Role{core.RoleCardAssignee, ""}
	_, err = e.svc.UpdateUser(e.ctx, root, u.ID, core.UserPatch{Roles: &roles})
	requireCode(t, err, core.ErrConflict, core.CodeRoleNotFound)
	assert.Empty(t, e.user(u.ID).Roles, "unchanged")
}

// Two consumes of one invite race (on two replicas, say): both pass the
// code check, the first sets the password, the second finds it set. To a
// client address (the ui key) the loser is refused like any spent invite,
// INVITE_OR_INVITE_CODE_INVALID, never PASSWORD_ALREADY_CREATED, which only
// the embedder's backend is told (README, "Signing in"). It used to leak
// PASSWORD_ALREADY_CREATED to the ui key whenever two consumes overlapped.
func TestConsumeLosingARaceLooksLikeASpentInvite(t *testing.T) {
	const winner, loser = "W1nner-Passw0rd!", "L0ser-Passw0rd!"
	for _, c := range []struct {
		name, clientIP, want string
	}{
		{"a client address", testIP, core.CodeInviteInvalid},
		{"the embedder's backend", "", core.CodePasswordAlreadyCreated},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newCoreEnv(t)
			root := e.steppedUpRoot(e.prog, "root@acme.test")
			u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
			require.NoError(t, err)
			require.NoError(t, e.svc.SendInvite(e.ctx, root, u.ID))
			_, code := e.lastInvite("bea@acme.test")

			var armed atomic.Bool
			core.WrapHasher(e.svc, func(h core.PasswordHasher) core.PasswordHasher {
				return onceHashing{h, loser, &armed, func() { // the other consume wins meanwhile
					_, err := e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, code, winner, nil, testIP)
					require.NoError(t, err)
				}}
			})
			armed.Store(true)
			_, err = e.svc.ConsumeInvite(e.ctx, e.prog, u.ID, code, loser, nil, c.clientIP)
			require.False(t, armed.Load(), "the winner consumed while the loser hashed")
			requireCode(t, err, core.ErrConflict, c.want, "the consume that lost the race")
			_, err = e.svc.Login(e.ctx, e.prog, "bea@acme.test", winner)
			assert.NoError(t, err, "the winner's password is the password")
		})
	}
}
