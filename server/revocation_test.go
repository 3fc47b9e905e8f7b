package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/internal/teststore"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/client"
)

// revocationScene is a corporate whose root user Ada and admin Bea may be
// told about Cy, the user each revocation concerns. Cy has a phone (when the
// row wants one) signed in and bound to it, a second session "web", and a
// push challenge pending from web.
type revocationScene struct {
	e       *bioEnv
	ada     *client.Session // root, stepped up
	cy      string          // Cy's id
	phone   *device         // nil without a device
	web     *client.Session // another session of Cy
	pending string          // a push challenge pending from web ("" without a device)
}

const (
	revAda = "ada@acme.test"
	revBea = "bea@acme.test"
	revCy  = "cy@acme.test"
	// revNewPassword is the password the password rows set.
	revNewPassword = "N3w-Str0ng-Passw0rd"
)

func newRevocationScene(t *testing.T, withDevice bool) *revocationScene {
	t.Helper()
	ctx := context.Background()
	e := newBioEnv(t, func(o *testserver.Options) { o.Config.SCAFailureLimit = 3 })
	ada := e.enrolledRoot(revAda, "ada-phone").s
	sc := &revocationScene{e: e, ada: ada}
	for _, u := range []struct {
		email string
		roles []string
	}{{revBea, []string{client.RoleAdmin}}, {revCy, []string{client.RoleFundsManagement}}} {
		created, err := ada.CreateUser(ctx, client.UserCreate{Name: "User", Surname: "Example", Email: u.email,
			Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"}, Roles: u.roles})
		require.NoError(t, err)
		_, err = e.api.CreatePassword(ctx, created.ID, bioPassword)
		require.NoError(t, err)
		sc.cy = created.ID
	}
	if withDevice {
		sc.phone = e.newDevice("cy-phone", revCy)
		sc.phone.enrol()
	}
	sc.web = e.login(revCy)
	if withDevice {
		up, err := sc.web.StepUpPush(ctx, "")
		require.NoError(t, err)
		sc.pending = up.ID
	}
	return sc
}

// live reports whether a session still works.
func live(t *testing.T, s *client.Session) bool {
	t.Helper()
	_, err := s.Factors(context.Background())
	if err == nil {
		return true
	}
	var ae *client.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnauthorized, ae.Status, "%v", err)
	return false
}

// emailsSince returns the recipients of the emails sent after the outbox held
// n messages, checking that none of them carries a secret.
func (sc *revocationScene) emailsSince(t *testing.T, n int) []string {
	t.Helper()
	msgs, err := sc.e.api.Outbox(context.Background(), 100)
	require.NoError(t, err)
	require.Less(t, len(msgs), 100, "the outbox outgrew the test")
	var to []string
	for _, m := range msgs[:len(msgs)-n] {
		if m.Channel == "EMAIL" {
			to = append(to, m.To)
			for _, secret := range []string{bioPassword, revNewPassword, core.SandboxCode, "dst_"} {
				assert.NotContains(t, m.Subject+m.Text, secret, "a notice to %s", m.To)
			}
		}
	}
	slices.Sort(to)
	return to
}

func (sc *revocationScene) outboxLen(t *testing.T) int {
	t.Helper()
	msgs, err := sc.e.api.Outbox(context.Background(), 100)
	require.NoError(t, err)
	return len(msgs)
}

// TestRevocationPolicy drives every reason of core's revocation policy
// through the operation that causes it and checks its row: which of Cy's
// sessions end (the phone's, web's, and the acting one's), whether her
// pending push challenge is cancelled, and who is emailed.
func TestRevocationPolicy(t *testing.T) {
	ctx := context.Background()
	type outcome struct {
		phoneLive, webLive bool
		pushCancelled      bool
		emailed            []string // sorted
	}
	rows := []struct {
		reason core.RevocationReason
		device bool
		// prepare runs before the outbox is counted; act causes the revocation
		// and returns the session it acted in, if it was one of Cy's (nil otherwise).
		prepare func(t *testing.T, sc *revocationScene)
		act     func(t *testing.T, sc *revocationScene) *client.Session
		want    outcome
		actLive bool // the acting session of Cy survives
	}{
		{
			reason: core.RevokeLockout, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				for range 5 {
					_, err := sc.e.ui.LoginWithPassword(ctx, revCy, "Wr0ng-Passw0rd")
					require.Error(t, err)
				}
				_, err := sc.e.ui.LoginWithPassword(ctx, revCy, bioPassword)
				requireAPIError(t, err, http.StatusLocked, "LOCKED")
				return nil
			},
			want: outcome{phoneLive: true, webLive: true, pushCancelled: true, emailed: []string{revCy}},
		},
		{
			reason: core.RevokeSCALock, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				require.NoError(t, sc.web.StepUpSMS(ctx))
				for range 3 {
					require.Error(t, sc.web.VerifyStepUpSMS(ctx, "000000"))
				}
				return nil
			},
			want: outcome{pushCancelled: true, emailed: []string{revCy}},
		},
		{
			reason: core.RevokeDeactivated, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				require.NoError(t, sc.ada.DeactivateUser(ctx, sc.cy))
				return nil
			},
			want: outcome{pushCancelled: true},
		},
		{
			reason: core.RevokePasswordChanged, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				_, fresh, err := sc.web.UpdatePassword(ctx, bioPassword, revNewPassword)
				require.NoError(t, err)
				return fresh
			},
			want: outcome{pushCancelled: true, emailed: []string{revCy}}, actLive: true,
		},
		{
			reason: core.RevokePasswordReset, device: true,
			prepare: func(t *testing.T, sc *revocationScene) { require.NoError(t, sc.e.api.LostPasswordStart(ctx, revCy)) },
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				token, err := sc.e.api.LostPasswordResume(ctx, revCy, core.SandboxCode, revNewPassword)
				require.NoError(t, err)
				return sc.e.ui.Session(token)
			},
			want: outcome{pushCancelled: true, emailed: []string{revCy}}, actLive: true,
		},
		{
			reason: core.RevokeEmailChanged, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				email := "cy.new@acme.test"
				_, err := sc.ada.UpdateUser(ctx, sc.cy, client.UserPatch{Email: &email})
				require.NoError(t, err)
				return nil
			},
			want: outcome{phoneLive: true, webLive: true, emailed: []string{"cy.new@acme.test", revCy}},
		},
		{
			reason: core.RevokeMobileChanged, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				_, err := sc.ada.UpdateUser(ctx, sc.cy, client.UserPatch{Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900999"}})
				require.NoError(t, err)
				return nil
			},
			want: outcome{emailed: []string{revCy}},
		},
		{
			// Dee, who has no mobile, gives herself one (no step-up: she
			// has no factor to step up with); Cy is not concerned.
			reason: core.RevokeMobileAdded,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				dee, err := sc.ada.CreateUser(ctx, client.UserCreate{Name: "User", Surname: "Example", Email: "dee@acme.test"})
				require.NoError(t, err)
				_, err = sc.e.api.CreatePassword(ctx, dee.ID, bioPassword)
				require.NoError(t, err)
				s := sc.e.login("dee@acme.test")
				_, err = s.UpdateUser(ctx, dee.ID, client.UserPatch{Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900999"}})
				require.NoError(t, err)
				return s
			},
			want: outcome{webLive: true, emailed: []string{"dee@acme.test"}}, actLive: true,
		},
		{
			reason: core.RevokeRolesChanged, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				roles := []string{client.RoleCardsManagement}
				_, err := sc.ada.UpdateUser(ctx, sc.cy, client.UserPatch{Roles: &roles})
				require.NoError(t, err)
				return nil
			},
			want: outcome{phoneLive: true, webLive: true, emailed: []string{revCy}},
		},
		{
			reason: core.RevokeNotMe, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				other, err := sc.e.login(revCy).StepUpPush(ctx, "")
				require.NoError(t, err)
				require.NoError(t, sc.phone.s.DeclinePush(ctx, other.ID, core.PushReasonNotMe))
				return sc.phone.s
			},
			want: outcome{pushCancelled: true, emailed: []string{revAda, revBea, revCy}},
		},
		{
			reason: core.RevokeDeviceLinked,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				d := sc.e.newDevice("cy-phone", revCy)
				d.enrol()
				return d.s
			},
			want: outcome{webLive: true, emailed: []string{revCy}}, actLive: true,
		},
		{
			reason: core.RevokeDeviceReplaced, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				d := sc.e.newDevice("cy-new-phone", revCy)
				d.enrol()
				return d.s
			},
			want: outcome{pushCancelled: true, emailed: []string{revCy}}, actLive: true,
		},
		{
			reason: core.RevokeDeviceUnlinked, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				require.NoError(t, sc.phone.s.UnlinkBiometric(ctx))
				return sc.phone.s
			},
			want: outcome{phoneLive: true, pushCancelled: true, emailed: []string{revCy}}, actLive: true,
		},
		{
			reason: core.RevokeDeviceReset, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				require.NoError(t, sc.ada.ResetUserDevice(ctx, sc.cy))
				return nil
			},
			want: outcome{pushCancelled: true, emailed: []string{revCy}},
		},
		{
			reason: core.RevokeSignCountRegression, device: true,
			act: func(t *testing.T, sc *revocationScene) *client.Session {
				clone := sc.phone.clone("cy-clone", sc.phone.signedIn(sc.e.login(revCy))) // a copy of the key, counter, secret and all
				other, err := sc.e.login(revCy).StepUpPush(ctx, "")
				require.NoError(t, err)
				require.NoError(t, sc.phone.approve(other.ID, other.Number), "the phone's counter moves on")
				requireAPIError(t, clone.approve(sc.pending, 10), http.StatusConflict, core.CodeWebAuthnSignCount)
				return clone.s
			},
			want: outcome{phoneLive: true, webLive: true, emailed: []string{revCy}}, actLive: true,
		},
	}
	var covered []core.RevocationReason
	for _, row := range rows {
		covered = append(covered, row.reason)
		t.Run(string(row.reason), func(t *testing.T) {
			sc := newRevocationScene(t, row.device)
			if row.prepare != nil {
				row.prepare(t, sc)
			}
			before := sc.outboxLen(t)
			acting := row.act(t, sc)

			got := outcome{webLive: live(t, sc.web), emailed: sc.emailsSince(t, before)}
			if sc.phone != nil && sc.phone.s != acting {
				got.phoneLive = live(t, sc.phone.s)
			}
			if sc.pending != "" {
				got.pushCancelled = sc.e.pushRecord(sc.pending).State == core.PushCancelled
			}
			want := row.want
			if acting == sc.phone.sessionOrNil() {
				want.phoneLive = false // judged as the acting session below
			}
			assert.Equal(t, want, got)
			if acting != nil {
				assert.Equal(t, row.actLive, live(t, acting), "the session that acted")
			}
		})
	}
	assert.ElementsMatch(t, core.RevocationReasons(), covered, "every reason of the policy has its row here")
}

// sessionOrNil is the device's session, or nil without a device.
func (d *device) sessionOrNil() *client.Session {
	if d == nil {
		return nil
	}
	return d.s
}

// TestLockoutAlertsOnce fires many wrong passwords at once: the user is
// locked once, told once, and the pending push challenge is cancelled.
func TestLockoutAlertsOnce(t *testing.T) {
	sc := newRevocationScene(t, true)
	before := sc.outboxLen(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := sc.e.ui.LoginWithPassword(context.Background(), revCy, "Wr0ng-Passw0rd")
			assert.Error(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, []string{revCy}, sc.emailsSince(t, before), "one lockout, one notice")
	assert.Equal(t, core.PushCancelled, sc.e.pushRecord(sc.pending).State)
	assert.True(t, live(t, sc.web), "whoever guesses passwords does not sign the user out")
}

// TestReplacedDeviceRacesNotMe fires the old phone's "I did not do this" and
// the new phone's enrolment at once: exactly one of them wins, so a phone
// being replaced can never answer after its replacement.
func TestReplacedDeviceRacesNotMe(t *testing.T) {
	ctx := context.Background()
	for i := range 5 {
		sc := newRevocationScene(t, true)
		fresh := sc.e.newDevice("cy-new-phone", revCy)
		options, err := fresh.s.BeginBiometricEnrolment(ctx, fresh.id, "New phone")
		require.NoError(t, err)
		req, err := authenticator.ParseCreationOptions(options, fresh.origin)
		require.NoError(t, err)
		att, err := fresh.auth.Register(ctx, req)
		require.NoError(t, err)

		var notMe, enrol error
		var wg sync.WaitGroup
		wg.Go(func() { notMe = sc.phone.s.DeclinePush(ctx, sc.pending, core.PushReasonNotMe) })
		wg.Go(func() { _, enrol = fresh.s.FinishBiometricEnrolment(ctx, core.SandboxCode, att) })
		wg.Wait()
		require.True(t, (notMe == nil) != (enrol == nil), "round %d: exactly one wins: NOT_ME %v, enrolment %v", i, notMe, enrol)
		loser := notMe
		if loser == nil {
			loser = enrol
		}
		require.ErrorIs(t, loser, client.ErrUnauthorized, "round %d: the loser's session ended", i)
	}
}

// gate holds the first store Update after during starts a request, so that
// a revocation commits between the request's authentication and its write.
type gate struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

// gatedStore passes its Updates through a gate.
type gatedStore struct {
	core.Store
	g *gate
}

func (s gatedStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	if s.g.armed.CompareAndSwap(true, false) {
		close(s.g.entered)
		<-s.g.release
	}
	return s.Store.Update(ctx, fn)
}

// newGatedEnv is a bioEnv whose store's Updates pass through a gate.
func newGatedEnv(t *testing.T) (*bioEnv, *gate) {
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	e := newBioEnv(t, func(o *testserver.Options) {
		o.WrapStore = func(s core.Store) core.Store { return gatedStore{s, g} }
	})
	return e, g
}

// during runs request until its first write, then revoke, then lets the
// write go on, and returns the request's error.
func (g *gate) during(t *testing.T, request, revoke func() error) error {
	g.armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- request() }()
	select {
	case <-g.entered:
	case err := <-done:
		t.Fatalf("the request ended before writing: %v", err)
	}
	err := revoke()
	close(g.release)
	require.NoError(t, err)
	return <-done
}

// steppedUpMember creates a user with roles as root, sets their password,
// signs them in and steps that session up by enrolling SMS; it returns the
// user's id and session.
func (e *bioEnv) steppedUpMember(root *client.Session, email string, roles ...string) (string, *client.Session) {
	e.t.Helper()
	ctx := context.Background()
	u, err := root.CreateUser(ctx, client.UserCreate{Name: "R", Surname: "A", Email: email,
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900555"}, Roles: roles})
	require.NoError(e.t, err)
	_, err = e.api.CreatePassword(ctx, u.ID, bioPassword)
	require.NoError(e.t, err)
	s := e.login(email)
	require.NoError(e.t, s.EnrolSMS(ctx))
	require.NoError(e.t, s.VerifyEnrolSMS(ctx, core.SandboxCode))
	return u.ID, s
}

// TestRevocationDuringARequest: a stepped-up user manager's request to
// create a user, authenticated before root deactivates them, they log out
// or root takes their role away, and writing after it, is refused
// (401, or 403 for the roles) and creates no one: the write reads the
// caller again in its own transaction. On PostgreSQL the revocation goes
// through a second replica.
func TestRevocationDuringARequest(t *testing.T) {
	for _, c := range []struct {
		name   string
		revoke func(root *client.Session, id string, rogue *client.Session) error
		want   error
	}{
		{"deactivated", func(root *client.Session, id string, _ *client.Session) error {
			return root.DeactivateUser(context.Background(), id)
		}, client.ErrUnauthorized},
		{"logged out", func(_ *client.Session, _ string, rogue *client.Session) error {
			return rogue.Logout(context.Background())
		}, client.ErrUnauthorized},
		{"no longer a user manager", func(root *client.Session, id string, _ *client.Session) error {
			roles := []string{client.RoleCardAssignee}
			_, err := root.UpdateUser(context.Background(), id, client.UserPatch{Roles: &roles})
			return err
		}, client.ErrForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, g := newGatedEnv(t)
			ctx := context.Background()
			root := e.enrolledRoot("ada@acme.test", "ada-phone").s
			if teststore.OnPostgres() {
				b := e.inst.Replica(t)
				ui, err := client.New(b.URL, b.UIKey)
				require.NoError(t, err)
				root = ui.Session(root.Token())
			}
			id, rogue := e.steppedUpMember(root, "rogue@acme.test", client.RoleAccessManagement)
			err := g.during(t, func() error {
				_, err := rogue.CreateUser(ctx, client.UserCreate{Name: "S", Surname: "P", Email: "sleeper@acme.test", Roles: []string{client.RoleCardAssignee}})
				return err
			}, func() error { return c.revoke(root, id, rogue) })
			require.ErrorIs(t, err, c.want)
			users, err := root.ListUsers(ctx, client.UserFilter{Email: "sleeper@acme.test"})
			require.NoError(t, err)
			assert.Empty(t, users.Users, "nobody was created")
		})
	}
}

// TestPasswordChangeDuringDeactivation: a password change whose hashing
// outlasts the user's deactivation is refused and changes nothing: once
// the user is active again, the old password still signs in and the new
// one does not. (It used to commit and hand out a new session.)
func TestPasswordChangeDuringDeactivation(t *testing.T) {
	e, g := newGatedEnv(t)
	ctx := context.Background()
	root := e.enrolledRoot("ada@acme.test", "ada-phone").s
	u, err := root.CreateUser(ctx, client.UserCreate{Name: "B", Surname: "E", Email: "bea@acme.test", Roles: []string{client.RoleCardAssignee}})
	require.NoError(t, err)
	_, err = e.api.CreatePassword(ctx, u.ID, bioPassword)
	require.NoError(t, err)
	bea := e.login("bea@acme.test")

	err = g.during(t, func() error {
		_, _, err := bea.UpdatePassword(ctx, bioPassword, "An0ther-Passw0rd!")
		return err
	}, func() error { return root.DeactivateUser(ctx, u.ID) })
	require.ErrorIs(t, err, client.ErrUnauthorized)

	require.NoError(t, root.ActivateUser(ctx, u.ID))
	_, err = e.ui.LoginWithPassword(ctx, "bea@acme.test", "An0ther-Passw0rd!")
	require.Error(t, err, "the new password was not set")
	_, err = e.ui.LoginWithPassword(ctx, "bea@acme.test", bioPassword)
	require.NoError(t, err, "the old one still signs in")
}

// TestRolesGrownDuringARequest: root re-sending a user manager's roles in
// another order, or giving them one more, while their request runs takes
// away nothing they may do, and the request goes through.
func TestRolesGrownDuringARequest(t *testing.T) {
	for _, c := range []struct {
		name  string
		roles []string
	}{
		{"the same roles in another order", []string{client.RoleCardsManagement, client.RoleAccessManagement}},
		{"a role added", []string{client.RoleAccessManagement, client.RoleCardsManagement, client.RoleFundsManagement}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, g := newGatedEnv(t)
			ctx := context.Background()
			root := e.enrolledRoot("ada@acme.test", "ada-phone").s
			id, mia := e.steppedUpMember(root, "mia@acme.test", client.RoleAccessManagement, client.RoleCardsManagement)
			err := g.during(t, func() error {
				_, err := mia.CreateUser(ctx, client.UserCreate{Name: "S", Surname: "P", Email: "sam@acme.test", Roles: []string{client.RoleCardAssignee}})
				return err
			}, func() error {
				_, err := root.UpdateUser(ctx, id, client.UserPatch{Roles: &c.roles})
				return err
			})
			require.NoError(t, err)
		})
	}
}

// A change of a user's email voids every code sent to the old address: the
// pending invite, a lost-password code and an email-verification code (the
// policy's EMAIL_CHANGED row).
// Otherwise whoever reads the old mailbox (a typo, an address the user left)
// keeps what it held: setting the user's first password and signing in as
// them, resetting their password, or having the new address marked verified
// without ever seeing a code sent to it.
func TestEmailChangeVoidsCodesSentToTheOldAddress(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	move := func(id, email string) {
		t.Helper()
		r := e.auth(root.token, "PATCH", userPath(id), map[string]any{"email": email})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}

	// An invite sent to a mistyped address, corrected before it is accepted.
	bea := e.createUser(root.token, userBody("bea@acme.tset"))
	e.invite(root.token, bea)
	move(bea, "bea@acme.test")
	assert.Equal(t, "VOID", e.inviteState(root.token, bea))
	wantConflict(t, e.validateInvite(bea, sandboxCode), core.CodeInviteInvalid)
	wantConflict(t, e.consumeInvite(bea, sandboxCode, testPassword, nil), core.CodeInviteInvalid)
	e.invite(root.token, bea) // a new invite, to the new address, works
	require.Equal(t, http.StatusOK, e.consumeInvite(bea, sandboxCode, testPassword, nil).status)

	// A lost-password code sent to the old address.
	cy := e.withPassword(root.token, "cy@acme.test")
	e.startReset("cy@acme.test")
	move(cy.id, "cy.new@acme.test")
	wantConflict(t, e.resume("cy.new@acme.test", sandboxCode, "N3w-Str0ng-Passw0rd"), core.CodeInvalidNonceOrEmail)
	assert.Equal(t, http.StatusOK, e.login("cy.new@acme.test", testPassword).status, "the password is as it was")

	// An email-verification code sent to the old address.
	dee := e.withPassword(root.token, "dee@acme.test")
	require.Equal(t, http.StatusNoContent, e.sendEmailCode("dee@acme.test").status)
	move(dee.id, "dee.new@acme.test")
	wantConflict(t, e.verifyEmail("dee.new@acme.test", sandboxCode), core.CodeCodeInvalid)
	assert.Equal(t, false, e.userStatus(root.token, dee.id)["emailVerified"], "the new address is not verified")

	// A deactivation voids them too, for good: reactivating the user does
	// not bring a lost-password code back.
	eve := e.withPassword(root.token, "eve@acme.test")
	e.startReset("eve@acme.test")
	wantNoContent(t, e.auth(root.token, "POST", userPath(eve.id, "deactivate"), nil))
	wantNoContent(t, e.auth(root.token, "POST", userPath(eve.id, "activate"), nil))
	wantConflict(t, e.resume("eve@acme.test", sandboxCode, "N3w-Str0ng-Passw0rd"), core.CodeInvalidNonceOrEmail)
}

// emailRacer moves a user's email away just after a read transaction that
// looked users up by email: as an email change committing between the
// lookup of a lost-password or email-verification request and the write
// that stores its code.
type emailRacer struct {
	core.Store
	t    *testing.T
	move atomic.Pointer[[2]string] // user id, new email
}

// lookupSpy notes a look-up of users by email.
type lookupSpy struct {
	core.ReadTx
	looked *bool
}

func (s lookupSpy) UsersByEmail(programmeID, email string) ([]*core.User, error) {
	*s.looked = true
	return s.ReadTx.UsersByEmail(programmeID, email)
}

func (s *emailRacer) View(ctx context.Context, fn func(core.ReadTx) error) error {
	looked := false
	err := s.Store.View(ctx, func(tx core.ReadTx) error { return fn(lookupSpy{tx, &looked}) })
	if mv := s.move.Load(); looked && mv != nil && s.move.CompareAndSwap(mv, nil) {
		require.NoError(s.t, s.Store.Update(ctx, func(tx core.Tx) error {
			u, err := tx.User(mv[0])
			if err != nil {
				return err
			}
			u.Email = mv[1]
			return tx.UpdateUser(u)
		}))
	}
	return err
}

// A code goes only to the address the user still has when it is stored: an
// email change that commits between a lost-password or email-verification
// request's look-up and its write leaves no code for the old address to use
// on the new one.
func TestEmailChangeDuringACodeRequest(t *testing.T) {
	racer := &emailRacer{t: t}
	e, _ := newEnvOverStore(t, server.Options{}, func(s core.Store) core.Store { racer.Store = s; return racer })
	root := e.adminRoot("root@acme.test")

	cy := e.withPassword(root.token, "cy@acme.test")
	racer.move.Store(&[2]string{cy.id, "cy.new@acme.test"})
	e.startReset("cy@acme.test")
	require.Nil(t, racer.move.Load(), "the racer ran")
	wantConflict(t, e.resume("cy.new@acme.test", sandboxCode, "N3w-Str0ng-Passw0rd"), core.CodeInvalidNonceOrEmail)

	dee := e.withPassword(root.token, "dee@acme.test")
	racer.move.Store(&[2]string{dee.id, "dee.new@acme.test"})
	e.sendEmailCode("dee@acme.test")
	require.Nil(t, racer.move.Load(), "the racer ran")
	wantConflict(t, e.verifyEmail("dee.new@acme.test", sandboxCode), core.CodeCodeInvalid)
	assert.Equal(t, false, e.userStatus(root.token, dee.id)["emailVerified"], "the new address is not verified")
}

// A password change voids a lost-password code mailed before it (the
// policy's PASSWORD_CHANGED row). Otherwise whoever read the code (in a
// mailbox they no longer reach) sets a password of their own after the
// user changed theirs to shut them out, within the code's life.
func TestPasswordChangeVoidsAnEarlierResetCode(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	cy := e.withPassword(root.token, "cy@acme.test")
	e.startReset("cy@acme.test") // the thief reads this code
	r := e.auth(cy.token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("Cy-0wn-Passw0rd!")})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	wantConflict(t, e.resume("cy@acme.test", sandboxCode, "Th1ef-Passw0rd!"), core.CodeInvalidNonceOrEmail)
	assert.Equal(t, http.StatusOK, e.login("cy@acme.test", "Cy-0wn-Passw0rd!").status, "the user's new password stands")
}

// An alert to the admins about another user does not spend the admin's own
// notices: otherwise a member who answers "I did not do this" on their own
// phone again and again (each one alerts every admin) uses up the admins'
// notice budget, and the notice of a change to an admin's own account (a
// password, an email, a device linked) is dropped unseen.
func TestAdminAlertsLeaveTheAdminsOwnNotices(t *testing.T) {
	ctx := context.Background()
	e := newBioEnv(t, func(o *testserver.Options) {
		o.Config.RateLimits = &core.RateLimits{NoticesPerAddress: core.RateLimit{Requests: 2, Window: time.Hour}}
	})
	ada := e.enrolledRoot(revAda, "ada-phone").s // "a device was linked": Ada's first notice
	cy, err := ada.CreateUser(ctx, client.UserCreate{Name: "User", Surname: "Example", Email: revCy,
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"}, Roles: []string{client.RoleFundsManagement}})
	require.NoError(t, err)
	_, err = e.api.CreatePassword(ctx, cy.ID, bioPassword)
	require.NoError(t, err)
	phone := e.newDevice("cy-phone", revCy)
	phone.enrol()
	for range 2 { // Cy, or whoever holds her phone, cries wolf
		up, err := e.login(revCy).StepUpPush(ctx, "")
		require.NoError(t, err)
		require.NoError(t, phone.signedIn(e.login(revCy)).DeclinePush(ctx, up.ID, core.PushReasonNotMe))
	}

	_, _, err = ada.UpdatePassword(ctx, bioPassword, revNewPassword)
	require.NoError(t, err)
	e.inst.Service.WaitForMail()
	msgs, err := e.api.Outbox(ctx, 100)
	require.NoError(t, err)
	var told bool
	for _, m := range msgs {
		told = told || (m.To == revAda && strings.Contains(m.Subject+m.Text, "your password was changed"))
	}
	assert.True(t, told, "Ada is told her password changed")
}
