package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
)

// Model tests: the root model and its screens driven through Update and
// View against a real in-process Deputy (internal/testserver).

func signedInDriver(t *testing.T, w, h int) (*driver, *deputy) {
	t.Helper()
	dep := startDeputy(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, w, h)
	d.signIn()
	return d, dep
}

func TestSignIn(t *testing.T) {
	dep := startDeputy(t)
	d := newDriver(t, Options{Client: dep.ui}, 80, 24)
	d.requireScreen("Sign in to Deputy", "Server", dep.inst.URL, "Not signed in")

	d.keys("enter", "enter") // enter on the email goes to the password, then signs in
	d.requireScreen("✗ Type your email address.")
	d.typeText("not-an-email")
	d.keys("enter", "enter")
	d.requireScreen("✗ That is not a valid email address.")

	d.keys("ctrl+u") // clears the field
	for range len("not-an-email") {
		d.keys("backspace")
	}
	d.typeText(adminEmail)
	d.keys("enter")
	d.typeText("Wr0ng-Passw0rd")
	d.keys("enter")
	d.requireScreen("✗ Wrong email or password.")
	d.requireNotScreen("Wr0ng") // the password field is emptied

	d.typeText("q?") // typed, not quitting or showing help
	assert.False(t, d.quit)

	d.keys("backspace", "backspace")
	d.typeText(adminPassword)
	d.keys("enter")
	d.requireScreen("Users", "No users yet", "● Ada Lovelace <ada@acme.test> · Acme Ltd", "session 5:00 left")
	d.requireNotScreen("SANDBOX", "o outbox")
}

func TestSignInLocked(t *testing.T) {
	dep := startDeputy(t)
	d := newDriver(t, Options{Client: dep.ui}, 80, 24)
	d.typeText(adminEmail)
	d.keys("enter")
	for i := range 6 {
		d.typeText(fmt.Sprintf("Wr0ng-Passw0rd-%d", i))
		d.keys("enter")
	}
	d.requireScreen("✗ This account is locked after too many failed sign-ins. Try again in 30m 0s.")
}

func TestSignInPrefilled(t *testing.T) {
	dep := startDeputy(t)
	d := newDriver(t, Options{Client: dep.ui, Email: adminEmail, Password: adminPassword}, 80, 24)
	d.requireScreen("Users", "Ada Lovelace <ada@acme.test>")
}

func TestSignInServerProblems(t *testing.T) {
	dep := startDeputy(t)
	badKey, err := client.New(dep.inst.URL, "not-a-key")
	require.NoError(t, err)
	d := newDriver(t, Options{Client: badKey, Email: adminEmail, Password: adminPassword}, 80, 24)
	d.requireScreen("✗ The server does not accept this api key: check --key (DEPUTY_KEY).")

	nowhere, err := client.New("http://127.0.0.1:1", "key")
	require.NoError(t, err)
	d = newDriver(t, Options{Client: nowhere, Email: adminEmail, Password: adminPassword}, 80, 24)
	d.requireScreen("✗ Could not sign in: cannot reach the server (connection refused).")
}

func TestCreateUserThroughStepUp(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	d.keys("n")
	d.requireScreen("New user", "Name", "Surname", "Roles")
	assert.True(t, d.m.top().Editing(), "q is typed into the form")
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("enter")
	d.typeText("+44")
	d.keys("enter")
	d.typeText("7700900456")
	d.keys("enter")
	d.typeText("navy")
	// The least privilege is ticked; tick "access" too.
	d.requireScreen("[ ] admin  [ ] access  [ ] funds  [ ] cards  [x] assignee")
	d.keys("enter", "right", "space")
	d.keys("enter")

	d.requireScreen("Confirm it's you", "Create user grace@acme.test with roles", "CARD_ASSIGNEE needs a second factor.", "Text me a code")
	assert.Zero(t, dep.count(t, client.UserFilter{}), "nothing created before the step-up")
	d.keys("enter")
	d.requireScreen("Type the code texted to your mobile", "5 attempts left")
	sms, err := dep.c.Outbox(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, "+44"+adminMobile, sms[0].To, "the code went to the admin's mobile")

	d.typeText("000000")
	d.keys("enter")
	d.requireScreen("Wrong code. 4 attempts left.")
	d.typeText(sandboxCode)
	d.keys("enter")

	d.requireNotScreen("Confirm it's you")
	d.requireScreen("Users", "✓ Created Grace Hopper <grace@acme.test>.", "Grace Hopper", "navy", "access,assign…", "Page 1 of 1 · 1 user")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "created exactly once")
	page, err := dep.admin.ListUsers(context.Background(), client.UserFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{client.RoleAccessManagement, client.RoleCardAssignee}, page.Users[0].Roles)
	assert.Equal(t, &client.Mobile{CountryCode: "+44", Number: "7700900456"}, page.Users[0].Mobile)

	// The session is stepped up now: the next create goes straight through,
	// and the server's own errors show under the field.
	d.keys("n")
	d.fillUser("Grace", "Two", "grace@acme.test")
	d.keys("ctrl+s")
	d.requireScreen("Email", "✗ a user with this email already exists")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}))
}

func TestStepUpCancelled(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	d.keys("n")
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s")
	d.requireScreen("Confirm it's you")
	d.keys("esc")
	d.requireNotScreen("Confirm it's you")
	d.requireScreen("New user", "✗ Not saved: the step-up did not complete.", "Step-up cancelled. Nothing was done.")
	assert.Zero(t, dep.count(t, client.UserFilter{}))

	// Saving again asks again, and this time it goes through once.
	d.keys("ctrl+s")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Created Grace Hopper")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}))
}

func TestStepUpWithoutFactor(t *testing.T) {
	dep := startDeputy(t)
	ctx := context.Background()
	corp, err := dep.c.CreateCorporate(ctx, client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Bob", Surname: "Builder", Email: "bob@build.test",
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900999"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Build Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(t, err)
	_, err = dep.c.CreatePassword(ctx, corp.RootUser.ID.ID, adminPassword)
	require.NoError(t, err)

	d := newDriver(t, Options{Client: dep.ui, Email: "bob@build.test", Password: adminPassword}, 80, 24)
	d.keys("n")
	d.fillUser("Grace", "Hopper", "grace@build.test")
	d.keys("ctrl+s") // no factor: the modal says so before anything is sent
	d.requireScreen("The step-up failed: you have no active SMS factor.")
	d.requireNotScreen("> Text me a code")
	d.keys("esc", "esc") // the step-up, then the form, which asks first
	d.requireScreen("Leave without saving the new user?")
	d.keys("y")

	// Enrol the factor from My factors, then the step-up works.
	d.keys("m")
	d.requireScreen("My factors", "SMS one-time passwords", "not enrolled", "Press s")
	d.keys("s")
	d.requireScreen("A code was texted to your mobile", "waiting for the code")
	d.typeText("111111")
	d.keys("enter")
	d.requireScreen("✗ Wrong code.")
	d.requireNotScreen("Wrong code: wrong code")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("SMS one-time passwords    active", "✓ SMS factor active")
	d.requireNotScreen("s enrol SMS")
	d.keys("s")
	d.requireScreen("✗ Your SMS factor is already active.")
	fs, err := dep.c.Session(d.m.sess.Token()).Factors(ctx)
	require.NoError(t, err)
	assert.Equal(t, []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}}, fs)
}

func TestUsersPagingAndFilters(t *testing.T) {
	dep := startDeputy(t)
	users := dep.createUsers(t, 20)
	ctx := context.Background()
	require.NoError(t, dep.admin.DeactivateUser(ctx, users[3].ID))
	_, err := dep.admin.UpdateUser(ctx, users[5].ID, client.UserPatch{Tag: new("navy"), Roles: &[]string{client.RoleAdmin}})
	require.NoError(t, err)

	d := newDriver(t, Options{Client: dep.ui, Email: adminEmail, Password: adminPassword}, 80, 24)
	// 24 rows: 16 users a page.
	d.requireScreen("Page 1 of 2 · 20 users", "User No01", "User No16")
	d.requireNotScreen("User No17")
	d.keys("right")
	d.requireScreen("Page 2 of 2 · 20 users", "User No17", "User No20")
	d.keys("right") // no page 3
	d.requireScreen("Page 2 of 2")
	d.keys("left")
	d.requireScreen("Page 1 of 2")

	// A taller window shows more of them in one page.
	d.send(windowSize(100, 40))
	d.requireScreen("Page 1 of 1 · 20 users", "User No20")
	d.send(windowSize(80, 24))

	d.keys("/")
	d.requireScreen("Filter users", "part of a name, an email or a tag; any case")
	d.typeText("navy")
	d.keys("enter")
	d.requireScreen("Filter: “navy”", "Page 1 of 1 · 1 user match", "User No06")

	// Part of a name, any case; part of an email.
	d.keys("/", "ctrl+u")
	for range 4 {
		d.keys("backspace")
	}
	d.typeText("no1")
	d.keys("enter")
	d.requireScreen("Filter: “no1”", "Page 1 of 1 · 10 users match", "User No10", "User No19")
	d.requireNotScreen("User No09")
	d.keys("/")
	for range 3 {
		d.keys("backspace")
	}
	d.typeText("user04@acme")
	d.keys("enter")
	d.requireScreen("Filter: “user04@acme”", "1 user match", "inactive")

	d.keys("/", "ctrl+u")
	for range len("user04@acme") {
		d.keys("backspace")
	}
	d.keys("tab", "right", "right", "tab", "right", "enter") // inactive only, role ADMIN
	d.requireScreen("Filter: inactive only · role ADMIN", "No user matches the filter")
	d.keys("/", "tab", "left", "enter") // active only, role ADMIN
	d.requireScreen("Filter: active only · role ADMIN", "1 user match", "User No06")

	d.keys("esc") // clears the filter
	d.requireScreen("All users", "Page 1 of 2 · 20 users")
}

func TestDetailInviteAndOutbox(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	dep.createUsers(t, 2)
	d.keys("ctrl+r") // nothing on the table; reload by leaving and coming back
	d.keys("m", "esc")
	d.requireScreen("User No01", "User No02")

	d.keys("down", "enter")
	d.requireScreen("User · User No02", "user02@acme.test  (not verified)", "Tag           team", "CARD_ASSIGNEE",
		"Password      not set", "Invite        never sent", "Factors       none enrolled", "KYC           not started")
	d.keys("i")
	d.requireScreen("Email an invite to User No02 <user02@acme.test>?")
	d.requireNotScreen("It replaces the invite")
	d.keys("y")
	d.requireScreen("✓ Invite emailed to user02@acme.test.", "Invite        sent, waiting; expires")
	d.keys("i")
	d.requireScreen("It replaces the invite sent before")
	d.keys("n")
	d.keys("esc")
	d.requireScreen("Users", "User No02")

	d.keys("o")
	d.requireScreen("Sandbox outbox", "EMAIL", "user02@acme.test", "123456")
	d.keys("esc")
	d.requireScreen("Users")
}

func TestActivateDeactivate(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	d.keys("m", "esc")

	d.keys("a") // an active user who is not locked out: nothing to activate
	d.requireNotScreen("Activate User", "a activate")
	d.keys("d")
	d.requireScreen("Deactivate User No01 <user01@acme.test>? Their sessions end", "y yes")
	d.keys("n")
	d.requireNotScreen("Deactivate User")
	got, err := dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.True(t, got.Active, "n cancels")

	d.keys("d", "y")
	d.requireScreen("✓ Deactivated User No01 <user01@acme.test>.", "inactive")
	got, err = dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.False(t, got.Active)

	// Activation gives the user back their permissions: it needs a step-up.
	d.keys("enter")
	d.requireScreen("User · User No01", "a activate")
	d.requireNotScreen("d deactivate")
	d.keys("a")
	d.requireScreen("Activate User No01")
	d.keys("y")
	d.requireScreen("Confirm it's you", "Activate user01@acme.test needs a second factor.")
	got, err = dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.False(t, got.Active, "nothing changed before the step-up")
	d.keys("enter")
	d.requireScreen("Type the code texted to your mobile")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Activated User No01", "User No01  active")
}

func TestEditUser(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	d.keys("m", "esc", "e")
	d.requireScreen("Edit User No01 <user01@acme.test>", "Name         User", "Email        user01@acme.test")

	d.keys("ctrl+s")
	d.requireScreen("✗ Nothing changed.")

	// A new surname needs no step-up.
	d.keys("down")
	for range len("No01") {
		d.keys("backspace")
	}
	d.typeText("Renamed")
	d.keys("ctrl+s")
	d.requireNotScreen("Confirm it's you")
	d.requireScreen("✓ Saved User Renamed <user01@acme.test>.")

	// A new email does.
	d.keys("e", "down", "down")
	for range len(u.Email) {
		d.keys("backspace")
	}
	d.typeText("renamed@acme.test")
	d.keys("ctrl+s")
	d.requireScreen("Confirm it's you", "Update user user01@acme.test needs a second factor.")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Saved User Renamed <renamed@acme.test>.")
	got, err := dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.Equal(t, "renamed@acme.test", got.Email)

	// Local checks, the server's rules.
	d.keys("e")
	for range len("User") {
		d.keys("backspace")
	}
	d.typeText(strings.Repeat("x", 51))
	d.keys("down", "down", "down")
	d.typeText("+4")
	d.keys("ctrl+s")
	d.requireScreen("Mobile code  +4", "✗ required")
	assert.Equal(t, strings.Repeat("x", 50), d.m.top().(formScreen).value("name"), "a name stops at 50 characters")
}

func TestEditRoles(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	d.keys("m", "esc", "r")
	d.requireScreen("Roles of User No01", "[x] CARD_ASSIGNEE", "[ ] ADMIN")
	d.keys("space", "down", "space", "down", "down", "down", "space", "enter")
	// Granting ADMIN needs a second factor, asked inline.
	d.requireScreen("Confirm it's you", "Change the roles of user01@acme.test to", "needs a second factor.")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Saved the roles of User No01 <user01@acme.test>: admin,access.")
	got, err := dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{client.RoleAdmin, client.RoleAccessManagement}, got.Roles)
}

func TestSessionExpiryKeepsThePlace(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	dep.createUsers(t, 1)
	d.keys("m", "esc", "enter")
	d.requireScreen("User · User No01")

	d.clock.Advance(4 * time.Minute)
	d.requireScreen("session 1:00 left")
	d.clock.Advance(time.Minute)
	d.requireScreen("session ended")

	dep.inst.Clock.Advance(6 * time.Minute)
	d.keys("ctrl+r") // the next call answers 401
	d.requireScreen("Sign in to Deputy", "Your session ended. Sign in again", "ada@acme.test")
	d.requireNotScreen("Your session has ended") // said once, not in the status line too
	d.typeText(adminPassword)
	d.keys("enter")
	d.requireScreen("User · User No01", "✓ Signed in again.", "session 5:00 left")
	d.keys("esc")
	d.requireScreen("Users", "User No01")
}

func TestServerErrorIsReadable(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	dep.createUsers(t, 1)
	d.keys("m", "esc")
	dep.inst.Store.Close() // the server's store goes away: 5xx from now on
	d.keys("enter")
	d.requireScreen("✗ Could not read user user01@acme.test: the server failed (HTTP 500")
	d.requireNotScreen("goroutine", "panic")
}

func TestHelpAndQuit(t *testing.T) {
	d, _ := signedInDriver(t, 80, 24)
	d.requireScreen("/ filter", "n new", "? more keys", "q quit")
	d.keys("?")
	d.requireScreen("previous page", "my factors", "clear filter")
	d.keys("?")
	d.requireNotScreen("previous page")
	d.keys("q")
	assert.True(t, d.quit)

	d, _ = signedInDriver(t, 80, 24)
	d.keys("/")
	d.typeText("q")
	assert.False(t, d.quit, "q is typed into the search")
	d.keys("ctrl+c")
	assert.True(t, d.quit)
}

func TestSecurityEvents(t *testing.T) {
	d, dep := signedInDriver(t, 100, 30)
	dep.createUsers(t, 1)
	d.keys("m", "esc", "enter", "i", "y")
	d.requireScreen("✓ Invite emailed to user01@acme.test.")

	d.keys("s")
	d.requireScreen("Security events · User No01", "TIME", "WHAT", "BY", "Invite sent", "Created with roles CARD_ASSIGNEE", "you",
		"1 of 2 · the oldest shown", "user.invite · ")
	d.requireNotScreen("o older")
	d.keys("down")
	d.requireScreen("2 of 2", "  Created with roles CARD_ASSIGNEE", "user.create · ")
	d.keys("esc")
	d.requireScreen("User · User No01")
}

// Refusals the server answers with a bare machine code read as sentences,
// never as the code in lower case ("user inactive").
func TestInviteDeactivatedUserIsASentence(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	require.NoError(t, dep.admin.DeactivateUser(context.Background(), u.ID))
	d.keys("m", "esc", "enter")
	d.requireScreen("User No01  inactive")
	height := len(strings.Split(d.screen(), "\n"))
	d.keys("i", "y")
	// At 80 columns the sentence takes two lines rather than lose its end.
	d.requireScreen("✗ Could not send an invite to user01@acme.test: the user is deactivated;\nactivate them (a) first\n● Ada")
	d.requireNotScreen("user inactive", "…")
	assert.Len(t, strings.Split(d.screen(), "\n"), height, "the screen keeps its height")
}

// Nobody changes their own roles: the screen says so before the server
// has to, and its refusal is a sentence too.
func TestOwnRoles(t *testing.T) {
	dep := startDeputy(t)
	ctx := context.Background()
	grace, err := dep.admin.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper",
		Email: "grace@acme.test", Roles: []string{client.RoleAdmin}})
	require.NoError(t, err)
	require.NoError(t, dep.admin.SendInvite(ctx, grace.ID))
	_, err = dep.c.InviteConsume(ctx, grace.ID, sandboxCode, adminPassword, nil)
	require.NoError(t, err)

	d := newDriver(t, Options{Client: dep.ui, Email: grace.Email, Password: adminPassword}, 80, 24)
	d.requireScreen("Grace Hopper <grace@acme.test>")
	d.keys("r")
	d.requireScreen("Roles of Grace Hopper", "These are your own roles: nobody changes their own roles; ask another admin.")
	d.keys("down", "space")
	d.requireScreen("✗ Not changed: these are your own roles.", "[ ] ACCESS_MANAGEMENT_ROLE")

	assert.Equal(t, "nobody changes their own roles; ask another admin",
		describe(&client.Error{Status: 409, Code: client.CodeCannotModifyOwnRoles}))
}

// Saving the roles a user already has changes nothing, so it asks for no
// step-up and writes no event saying their roles changed.
func TestRolesUnchangedIsNotSaved(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	d.keys("m", "esc", "r")
	d.requireScreen("Roles of User No01", "[x] CARD_ASSIGNEE")
	d.keys("enter")
	d.requireScreen("✗ Nothing changed.", "Roles of User No01")
	d.requireNotScreen("Confirm it's you")
	page, err := dep.admin.SecurityEvents(context.Background(), u.ID, "", 10)
	require.NoError(t, err)
	for _, e := range page.Events {
		assert.NotEqual(t, "user.update", e.Action, "no update recorded")
	}
}

// Unticking every role gives every permission (Weavr's rule): the roles
// screen asks first, as the new-user form does, and n leaves the roles.
func TestRolesNoneAsksFirst(t *testing.T) {
	d, dep := signedInDriver(t, 80, 24)
	u := dep.createUsers(t, 1)[0]
	d.keys("m", "esc", "r")
	d.requireScreen("Roles of User No01", "[x] CARD_ASSIGNEE")
	for range 4 {
		d.keys("down")
	}
	d.keys("space")
	d.requireScreen("No role ticked: by Weavr's rule the user then has every permission.")
	d.keys("enter")
	d.requireScreen("Leave User No01 <user01@acme.test> with no roles? A user without roles", "holds every permission")
	d.keys("n")
	d.requireNotScreen("with no roles?")
	got, err := dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{client.RoleCardAssignee}, got.Roles, "n keeps the roles")

	d.keys("esc") // leaving with a box unticked asks too
	d.requireScreen("Leave without saving the new roles of user01@acme.test?")
	d.keys("n")
	d.requireScreen("Roles of User No01")
	d.keys("enter")
	d.requireScreen("with no roles?")
	d.keys("y")
	d.requireScreen("Confirm it's you", "to none (Weavr's rule:")
	d.keys("enter")
	d.requireScreen("Type the code texted to your mobile")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("Saved the roles of User No01")
	got, err = dep.admin.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Roles, "y saves them")
}

// At 60 columns the help keeps "? more keys" and "q quit" on its last line
// and drops screen keys instead: "?" lists those.
func TestNarrowHelpKeepsMoreKeysAndQuit(t *testing.T) {
	d, _ := signedInDriver(t, 60, 24)
	d.requireScreen("? more keys", "q quit")
}

// While the terminal is too small the screens are hidden, so keys do not
// reach them: q still quits (asking first over unsaved changes), and the
// screen is as it was once the terminal is big enough again.
func TestTooSmallKeys(t *testing.T) {
	d := signedIn(t, 80, 24)
	newUser(d)
	d.typeText("Grace")
	d.send(windowSize(40, 10))
	d.requireScreen("too small", "It is 40×10", "q quit")
	d.typeText("xyz") // not typed into the hidden form
	d.keys("q")
	assert.False(t, d.quit)
	d.requireScreen("Quit without saving the new user?", "y yes")
	d.keys("n")
	d.requireScreen("It is 40×10", "q quit")
	d.send(windowSize(80, 24))
	d.requireScreen("Name         Grace")
	d.requireNotScreen("Gracexyz", "Quit without saving")

	// On the sign-in screen q is text, but not while nobody sees the field.
	d = offlineDriver(t, 30, 6)
	d.keys("q")
	assert.True(t, d.quit)
}
