package tui

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// A save that meets an ended session hands the screen its failed answer
// before the admin signs in again: the form is back, editable, saying so.
func TestSaveAfterSessionEnded(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(d *driver)
		save string
		want string
	}{
		{"new user", func(d *driver) {
			d.keys("n")
			d.fillUser("Grace", "Hopper", "grace@acme.test")
		}, "ctrl+s", "✗ Not saved: your session had ended. Press ctrl+s to save again."},
		{"edit", func(d *driver) {
			d.keys("e", "down")
			d.typeText("x")
		}, "ctrl+s", "✗ Not saved: your session had ended. Press ctrl+s to save again."},
		{"roles", func(d *driver) {
			d.keys("r", "space")
		}, "enter", "✗ Not saved: your session had ended. Press enter to save again."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, dep := signedInDriver(t, 80, 24)
			dep.createUsers(t, 1)
			d.keys("m", "esc")
			tc.open(d)
			dep.inst.Clock.Advance(6 * time.Minute)
			d.keys(tc.save)
			d.requireScreen("Sign in to Deputy", "Your session ended.")
			d.typeText(adminPassword)
			d.keys("enter")
			d.requireScreen("✓ Signed in again.", tc.want)
			d.requireNotScreen("Saving…")

			// Editable again, and saving goes through.
			d.keys(tc.save)
			if tc.name != "edit" {
				d.requireScreen("Confirm it's you")
				d.keys("enter")
				d.typeText(sandboxCode)
				d.keys("enter")
			}
			d.requireScreen("Users", "✓ ")
			assert.NotContains(t, d.screen(), "Not saved")
		})
	}
}

// After a create the cursor is on the new user, on whichever page they are,
// and i asks before it emails them an invite.
func TestCreatedUserSelectedAndInviteConfirmed(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	dep.createUsers(t, 20)
	d.keys("m", "esc", "/")
	d.typeText("team")
	d.keys("enter")
	d.requireScreen("Page 1 of 2")

	d.keys("n")
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s", "enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Created Grace Hopper <grace@acme.test>.", "Page 2 of 2 · 21 users")
	u, ok := d.m.top().(usersScreen).selected()
	assert.True(t, ok)
	assert.Equal(t, "grace@acme.test", u.Email, "the cursor is on the new user")

	d.keys("i")
	d.requireScreen("Email an invite to Grace Hopper <grace@acme.test>?", "y yes")
	d.keys("n")
	msgs, err := dep.c.Outbox(context.Background(), 10)
	assert.NoError(t, err)
	for _, m := range msgs {
		assert.NotEqual(t, "grace@acme.test", m.To, "n sends nothing")
	}
	d.keys("i", "y")
	d.requireScreen("✓ Invite emailed to grace@acme.test.")
	msgs, err = dep.c.Outbox(context.Background(), 1)
	assert.NoError(t, err)
	assert.Equal(t, "grace@acme.test", msgs[0].To)
}

// The New user form offers the roles the server says the admin may give,
// starting with the least; a user without roles (every permission) is
// created only after a yes, and the table says what they hold.
func TestNewUserRoles(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	d.keys("n")
	d.requireScreen("[ ] admin  [ ] access  [ ] funds  [ ] cards  [x] assignee")
	d.fillUser("Root", "Like", "all@acme.test")
	d.keys("tab", "tab", "tab", "tab", "right", "right", "right", "right", "space")
	d.requireScreen("none ticked: the user gets every permission")
	d.keys("ctrl+s")
	d.requireScreen("Create all@acme.test with no roles? A user without roles holds every")
	d.keys("n")
	d.requireNotScreen("Confirm it's you", "with no roles?")
	assert.Zero(t, dep.count(t, client.UserFilter{}))
	d.keys("ctrl+s", "y")
	d.requireScreen("Confirm it's you")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Created Root Like", "all (no roles)")

	// An access manager is offered only what they may give, and no "none".
	ctx := context.Background()
	am, err := dep.admin.CreateUser(ctx, client.UserCreate{Name: "Ann", Surname: "Manager", Email: "am@acme.test",
		Roles: []string{client.RoleAccessManagement}})
	require.NoError(t, err)
	_, err = dep.c.CreatePassword(ctx, am.ID, adminPassword)
	require.NoError(t, err)
	d = newDriver(t, Options{Client: dep.ui, Email: "am@acme.test", Password: adminPassword}, 80, 24)
	d.keys("n")
	d.requireScreen("[ ] access  [x] assignee", "only the roles you may give are shown")
	d.requireNotScreen("admin  ", "funds")
	d.fillUser("Bob", "Two", "bob@acme.test")
	d.keys("tab", "tab", "tab", "tab", "right", "space")
	d.requireScreen("✗ tick a role: without one the user holds every permission")
	d.keys("ctrl+s")
	d.requireScreen("✗ Tick a role: you may not create a user who holds every permission.")
	d.requireNotScreen("Confirm it's you")

	// On the roles screen too, what they may not give is marked and kept.
	d.keys("esc", "y", "r")
	d.requireScreen("Roles of Root Like", "[-] ADMIN                    you may not give or take this role",
		"[ ] ACCESS_MANAGEMENT_ROLE   Creates")
	d.keys("space")
	d.requireScreen("✗ You may not give or take ADMIN: it holds permissions you do not hold.", "[-] ADMIN")
}

// q asks before it quits over unsaved changes (and is text in a form).
func TestQuitWithUnsavedChanges(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	dep.createUsers(t, 1)
	d.keys("ctrl+r", "r", "space")
	d.keys("q")
	assert.False(t, d.quit)
	d.requireScreen("Quit without saving the new roles of user01@acme.test?", "y yes")
	d.keys("n")
	assert.False(t, d.quit)
	d.requireNotScreen("Quit without saving")
	d.keys("space", "q") // back as they were: nothing to lose
	assert.True(t, d.quit)

	d, _ = signedInDriver(t, 80, 24)
	d.keys("n")
	d.typeText("q")
	d.requireScreen("Name         q")
	assert.False(t, d.quit, "q is typed into the form")
	d.keys("tab")
	d.typeText("Quinn")
	d.keys("tab")
	d.typeText("q@acme.test")
	d.keys("tab", "tab", "tab", "tab", "right", "right", "right", "right", "space", "ctrl+s")
	d.requireScreen("with no roles?")
	d.keys("q") // q is not typed while the form asks, so it asks too
	assert.False(t, d.quit)
	d.requireScreen("Quit without saving the new user?")
	d.keys("n", "esc", "esc") // the quit box, the no-roles box, then the form, which asks
	d.requireScreen("Leave without saving the new user?")
	d.keys("n")
	d.requireScreen("Surname      Quinn", "none ticked")
	d.keys("esc", "y")
	d.requireScreen("Users")
	d.keys("q")
	assert.True(t, d.quit)
}

// ctrl+r reloads the users table, which also reloads itself every 30 s while
// the admin is at the keyboard, and stops before it would keep an unattended
// session alive.
func TestUsersReload(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	d.requireScreen("No users yet", "ctrl+r")
	dep.createUsers(t, 1)
	d.keys("ctrl+r")
	d.requireScreen("User No01")

	d.keys("down") // the admin is here
	dep.createUsers2(t, "Second")
	d.fire(refreshEvery)
	d.requireScreen("User Second")

	// Nobody at the keyboard for most of the idle time: no more refreshes.
	d.clock.Advance(4 * time.Minute)
	dep.createUsers2(t, "Third")
	d.fire(refreshEvery)
	d.requireNotScreen("User Third")
	d.keys("ctrl+r")
	d.requireScreen("User Third")
}

// The table's STATUS says who has an invite waiting and who is locked out.
func TestUsersStatusMarks(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	ctx := context.Background()
	users := dep.createUsers(t, 3)
	require.NoError(t, dep.admin.SendInvite(ctx, users[0].ID))
	_, err := dep.c.CreatePassword(ctx, users[1].ID, adminPassword)
	require.NoError(t, err)
	for range 6 {
		_, _ = dep.c.LoginWithPassword(ctx, users[1].Email, "Wr0ng-Passw0rd")
	}
	d.keys("ctrl+r")
	d.requireScreen("User No01        user01@acme.test           team       assignee       invited",
		"User No02        user02@acme.test           team       assignee       locked",
		"User No03        user03@acme.test           team       assignee       active")
}

// The numbers on screen are the server's: a programme allowing 3 wrong codes
// and a 2-minute idle timeout show 3 attempts and a 2:00 countdown.
func TestServerNumbersOnScreen(t *testing.T) {
	dep := startDeputyWith(t, testserver.Options{Config: core.Config{SessionIdle: 2 * time.Minute},
		Programme: core.NewProgramme{Name: "Three Tries", Settings: core.ProgrammeSettings{OTPAttempts: 3}}})
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()
	d.requireScreen("session 2:00 left")
	d.clock.Advance(90 * time.Second)
	d.requireScreen("session 0:30 left")

	d.keys("n")
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s", "enter")
	d.requireScreen("expires in 5:00 · 3 attempts left · new code in 0:15")
	d.typeText("000000")
	d.keys("enter")
	d.requireScreen("Wrong code. 2 attempts left.")
}

// The countdown is the nearer of the session's two ends: activity renews
// the idle timeout, not the lifetime from its sign-in.
func TestSessionLifetimeOnScreen(t *testing.T) {
	dep := startDeputyWith(t, testserver.Options{Config: core.Config{SessionIdle: 2 * time.Minute, SessionLifetime: 150 * time.Second}})
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()
	d.requireScreen("session 2:00 left")
	d.clock.Advance(time.Minute)
	d.keys("ctrl+r")
	// 150 s from the sign-in by the server's clock, which runs on (real
	// time) while this one was moved: 1:30 less the seconds between.
	assert.Regexp(t, `session 1:(2\d|30) left`, d.screen())
}

// "Connect a phone" is in the table's footer, for the selected user or, with
// nobody to select, for the admin; My factors has the admin's own.
func TestConnectAPhone(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	d.requireScreen("c connect a phone")
	d.keys("c")
	d.requireScreen("Connect your phone", "deputy://connect?server="+dep.inst.URL)
	d.requireNotScreen("q quit") // the whole terminal is the code's
	d.keys("esc", "m")
	d.requireScreen("c connect my phone")
	d.keys("c")
	d.requireScreen("Connect your phone")
	d.keys("esc", "esc")
	dep.createUsers(t, 1)
	d.keys("ctrl+r", "c")
	d.requireScreen("Connect User No01's phone", "Then user01@acme.test accepts their invite, or signs in, on the phone.")
}

// A user's phone and devices, and the reset for a lost phone: asked first,
// stepped up, and the user is told.
func TestResetDevice(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	ctx := context.Background()
	_, err := dep.c.CreatePassword(ctx, u.ID, adminPassword)
	require.NoError(t, err)
	user := dep.c.Session(func() string {
		l, err := dep.c.LoginWithPassword(ctx, u.Email, adminPassword)
		require.NoError(t, err)
		return l.Token
	}())
	_, err = dep.admin.UpdateUser(ctx, u.ID, client.UserPatch{Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900777"}})
	require.NoError(t, err)
	require.NoError(t, user.EnrolSMS(ctx))
	require.NoError(t, user.VerifyEnrolSMS(ctx, sandboxCode))

	d.keys("ctrl+r", "enter")
	d.requireScreen("p phone & devices")
	d.keys("p")
	d.requireScreen("Phone and devices of User No01", "Mobile          +44 7700900777", "SMS codes       active", "Deputy app      not linked")
	d.keys("x")
	d.requireScreen("Reset the device of User No01 <user01@acme.test>?")
	d.keys("n")
	d.requireScreen("SMS codes       active")
	d.keys("x", "y")
	d.requireScreen("Confirm it's you", "Reset the device of user01@acme.test needs a second factor.")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Reset the device of User No01", "SMS codes       inactive")
	_, err = user.Factors(ctx)
	assert.ErrorIs(t, err, client.ErrUnauthorized, "their sessions ended")
	msgs, err := dep.c.Outbox(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, u.Email, msgs[0].To, "they were told")
}

// TestEnrolCodeIsNotKept: the enrolment code is dropped once it has been
// checked or the admin gave up on it, not kept in the screen's input.
func TestEnrolCodeIsNotKept(t *testing.T) {
	d := signedIn(t, 80, 24)
	d.keys("m")
	d.answer("list your factors", factorsMsg{})
	code := func() string { return d.m.top().(factorsScreen).code.Value() }

	d.keys("s")
	d.answer("start SMS enrolment", enrolSentMsg{})
	d.answer("list your factors", factorsMsg{})
	d.typeText("123456")
	d.keys("esc")
	assert.Empty(t, code(), "after esc")

	d.keys("s")
	d.answer("start SMS enrolment", enrolSentMsg{})
	d.answer("list your factors", factorsMsg{})
	d.typeText("123456")
	d.keys("enter")
	d.answer("verify the SMS code", enrolDoneMsg{})
	d.requireScreen("SMS factor active")
	assert.Empty(t, code(), "after the check")
}
