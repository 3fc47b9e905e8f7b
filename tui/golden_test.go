package tui

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/tui/stepup"
)

// Golden screens: every main screen rendered at 80x24 (and some wider) with
// made-up data, the colour profile pinned to "no colour" and TERM pinned, and
// compared with testdata/<name>.golden (go test ./tui -run Golden -update
// rewrites them). They double as the README's text screenshots.

// offlineDriver is a driver whose calls are answered by the test.
func offlineDriver(t *testing.T, w, h int) *driver {
	t.Helper()
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("NO_COLOR", "")
	// The driver makes no call (offline): the test answers each one.
	c, err := client.New("https://deputy.example.com", "ui-key")
	require.NoError(t, err)
	clock := newFakeClock()
	d := &driver{t: t, m: newModel(Options{Client: c, Sandbox: true}, clock, time.UTC), clock: clock, offline: true}
	d.run(d.m.Init())
	d.send(windowSize(w, h))
	return d
}

// signedIn signs in offline and shows the users table with made-up users.
func signedIn(t *testing.T, w, h int) *driver {
	t.Helper()
	d := offlineDriver(t, w, h)
	d.signIn0()
	return d
}

// signIn0 signs in offline and shows the users table with made-up users.
func (d *driver) signIn0() {
	d.t.Helper()
	d.signInAs("Ada Lovelace", "Acme Ltd")
	users := sampleUsers()
	limit := d.m.top().(usersScreen).limit
	d.answer("list users", usersPageMsg{seq: 1, page: &client.UserPage{Users: users[:min(limit, len(users))], Count: 42, ResponseCount: min(limit, len(users))}})
	d.clock.Advance(41 * time.Second)
}

// signInAs signs in offline as the root user of the given name and identity,
// up to the users table's request.
func (d *driver) signInAs(name, identity string) {
	d.t.Helper()
	d.typeText(adminEmail)
	d.keys("enter")
	d.typeText(adminPassword)
	d.keys("enter")
	d.answer("sign in", signedInMsg{email: adminEmail, login: &client.Login{
		Token: "token", Identity: client.IdentityID{Type: client.IdentityCorporate, ID: "1"},
		Credentials: client.CredentialID{Type: client.CredentialsRoot, ID: "1"},
	}})
	d.answer("read your account", whoMsg{name: name, identity: identity})
	d.answer("read the session", sessionMsg{info: rootSession()})
}

// fillUser types a new user's name, surname and email into the form.
func (d *driver) fillUser(name, surname, email string) {
	d.t.Helper()
	d.typeText(name)
	d.keys("enter")
	d.typeText(surname)
	d.keys("enter")
	d.typeText(email)
}

func sampleUsers() []client.User {
	people := []struct{ name, surname, tag string }{
		{"Grace", "Hopper", "navy"}, {"Alan", "Turing", "bletchley"}, {"Katherine", "Johnson", "nasa"},
		{"Edsger", "Dijkstra", ""}, {"Barbara", "Liskov", "mit"}, {"Donald", "Knuth", "stanford"},
		{"Margaret", "Hamilton", "nasa"}, {"Ken", "Thompson", "bell"}, {"Frances", "Allen", "ibm"},
		{"Dennis", "Ritchie", "bell"}, {"Radia", "Perlman", ""}, {"John", "Backus", "ibm"},
		{"Hedy", "Lamarr", ""}, {"Tim", "Berners-Lee", "cern"}, {"Sophie", "Wilson", "acorn"},
		{"Leslie", "Lamport", "sri"}, {"Joan", "Clarke", "bletchley"}, {"Niklaus", "Wirth", "eth"},
	}
	roles := [][]string{{client.RoleAdmin}, {client.RoleAccessManagement}, {client.RoleFundsManagement, client.RoleCardsManagement}, {client.RoleCardAssignee}, nil}
	var out []client.User
	for i, p := range people {
		out = append(out, client.User{
			ID: fmt.Sprint(101 + i), Identity: client.IdentityID{Type: client.IdentityCorporate, ID: "1"},
			Name: p.name, Surname: p.surname, Email: strings.ToLower(p.name) + "@acme.test", Tag: p.tag,
			Mobile: &client.Mobile{CountryCode: "+44", Number: fmt.Sprintf("77009%05d", 100+i)},
			Active: i%7 != 3, Roles: roles[i%len(roles)],
		})
	}
	return out
}

func TestGoldenSignIn(t *testing.T) {
	d := offlineDriver(t, 80, 24)
	requireGolden(t, "signin_80x24", d.screen())

	d.typeText(adminEmail)
	d.keys("enter")
	d.typeText("wrong")
	d.keys("enter")
	d.answer("sign in", signedInMsg{outcome: outcome{&client.Error{Status: http.StatusLocked, RetryAfter: 29*time.Minute + 12*time.Second}}})
	requireGolden(t, "signin_locked_80x24", d.screen())
	// Narrower, the error wraps rather than lose when to try again.
	d.send(windowSize(minWidth, minHeight))
	requireGolden(t, "signin_locked_60x16", d.screen())
}

func TestGoldenUsers(t *testing.T) {
	requireGolden(t, "users_80x24", signedIn(t, 80, 24).screen())
	requireGolden(t, "users_120x32", signedIn(t, 120, 32).screen())

	d := signedIn(t, 80, 24)
	d.keys("/")
	d.typeText("navy")
	d.keys("tab", "right")
	requireGolden(t, "users_filter_80x24", d.screen())

	d = signedIn(t, 80, 24)
	d.keys("down", "d")
	requireGolden(t, "users_deactivate_80x24", d.screen())

	d = signedIn(t, 80, 24)
	d.keys("?")
	requireGolden(t, "users_help_80x24", d.screen())
	// Narrower, the keys flow into fewer columns rather than lose the last.
	d.send(windowSize(minWidth, minHeight))
	requireGolden(t, "users_help_60x16", d.screen())
}

// detailOf opens the detail screen of Grace Hopper, loaded.
func detailOf(t *testing.T, w, h int) *driver {
	t.Helper()
	d := signedIn(t, w, h)
	d.keys("enter")
	u := sampleUsers()[0]
	u.DateOfBirth = &client.Date{Year: 1906, Month: 12, Day: 9}
	u.CountryOfResidence, u.Locale = "US", "en-US"
	st := &client.UserStatus{
		EmailVerified: true, PasswordSet: false,
		Invite:  &client.InviteStatus{State: client.InvitePending, ExpiresAt: time.Date(2026, 4, 13, 9, 30, 0, 0, time.UTC)},
		Factors: []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorPendingVerification}},
	}
	d.answer("read user grace@acme.test", detailMsg{user: &u, status: st})
	return d
}

func TestGoldenDetail(t *testing.T) {
	requireGolden(t, "detail_80x24", detailOf(t, 80, 24).screen())

	// At the smallest size the details scroll, and say what is below and
	// above; the help shows the scroll keys.
	d := detailOf(t, minWidth, minHeight)
	requireGolden(t, "detail_60x16", d.screen())
	d.keys("end")
	requireGolden(t, "detail_end_60x16", d.screen())
}

func TestGoldenEvents(t *testing.T) {
	d := signedIn(t, 80, 24)
	d.keys("enter", "s")
	at := time.Date(2026, 3, 14, 9, 29, 0, 0, time.UTC).UnixMilli()
	d.answer("read the security events of grace@acme.test", eventsMsg{page: &client.SecurityEventPage{Events: []client.SecurityEvent{
		{ID: "Wv3Xq1cHk9aZ0bLmN2oPqA", Timestamp: at, Action: "challenge.verify", Summary: "Code verified for a step-up", Actor: "100000002", RequestRef: "2f1c0a9e", Details: map[string]string{"purpose": "stepup:SMS", "channel": "SMS"}},
		{ID: "Hc8tYk2LmQ0rS5uVw7xZ1A", Timestamp: at - 60000, Action: "user.login", Summary: "Signed in with password", Actor: "100000002", RequestRef: "77ab12cd"},
		{ID: "p0OqR3sTu6vWx9yZa2bC4A", Timestamp: at - 3600000, Action: "user.update", Summary: "Roles set to ADMIN", Actor: "api", RequestRef: "0e0e0e0e", Details: map[string]string{"roles": client.RoleAdmin}},
	}, Next: "p0OqR3sTu6vWx9yZa2bC4A"}})
	d.keys("down")
	requireGolden(t, "events_80x24", d.screen())
	// Narrower, the sentences wrap and the list gives up their lines.
	d.send(windowSize(minWidth, minHeight))
	requireGolden(t, "events_60x16", d.screen())
	// The list gives up a row for the details too.
	d.keys("up")
	requireGolden(t, "events_details_60x16", d.screen())
}

// At the smallest size, whichever event is selected, its sentence, its
// source and its details are on screen in full, however long they are.
func TestEventsSelectedFitsAtSmallestSize(t *testing.T) {
	d := signedIn(t, minWidth, minHeight)
	d.keys("enter", "s")
	at := time.Date(2026, 3, 14, 9, 29, 0, 0, time.UTC).UnixMilli()
	long := client.SecurityEvent{ID: "4", Timestamp: at - 7200000, Action: "user.update", Actor: "api", RequestRef: "0f0f0f0f",
		Summary: "Roles set to ADMIN, ACCESS_MANAGEMENT_ROLE and FUNDS_MANAGEMENT_ROLE by the backend",
		Details: map[string]string{"roles": "ADMIN,ACCESS_MANAGEMENT_ROLE,FUNDS_MANAGEMENT_ROLE", "previous": "CARDS_MANAGEMENT_ROLE,CARD_ASSIGNEE"}}
	events := []client.SecurityEvent{
		{ID: "1", Timestamp: at, Action: "challenge.verify", Summary: "Code verified for a step-up", Actor: "100000002", RequestRef: "2f1c0a9e", Details: map[string]string{"purpose": "stepup:SMS", "channel": "SMS"}},
		{ID: "2", Timestamp: at - 60000, Action: "user.login", Summary: "Signed in with password", Actor: "100000002", RequestRef: "77ab12cd"},
		{ID: "3", Timestamp: at - 3600000, Action: "user.update", Summary: "Roles set to ADMIN", Actor: "api", RequestRef: "0e0e0e0e", Details: map[string]string{"roles": client.RoleAdmin}},
		long, long, long,
	}
	d.answer("read the security events of grace@acme.test", eventsMsg{page: &client.SecurityEventPage{Events: events}})
	want := [][]string{
		{"› 14 Mar 09:29:00", "  Code verified for a step-up\n", "2f1c0a9e\n", "  channel=SMS purpose=stepup:SMS\n"},
		{"› 14 Mar 09:28:00", "  Signed in with password\n", "77ab12cd\n"},
		{"› 14 Mar 08:29:00", "  Roles set to ADMIN\n", "0e0e0e0e\n", "  roles=ADMIN\n"},
		{"› 14 Mar 07:29:00", "  Roles set to ADMIN, ACCESS_MANAGEMENT_ROLE and\n", "  FUNDS_MANAGEMENT_ROLE by the backend\n", "0f0f0f0f\n",
			"  previous=CARDS_MANAGEMENT_ROLE,CARD_ASSIGNEE\n", "  roles=ADMIN,ACCESS_MANAGEMENT_ROLE,FUNDS_MANAGEMENT_ROLE\n"},
	}
	for i, w := range want {
		if i > 0 {
			d.keys("down")
		}
		d.requireScreen(w...)
		requireNarrower(t, d, minWidth) // the list cuts the sentence, the selected event's lines do not
	}
}

// rootSession is what GET /multi/session says to a root user (the default limits).
func rootSession() *client.SessionInfo {
	return &client.SessionInfo{IdleTimeout: 5 * time.Minute,
		Challenges:     client.ChallengeLimits{CodeLength: 6, TTL: 5 * time.Minute, Attempts: 5, ResendAfter: 15 * time.Second},
		GrantableRoles: allRoles(), MayGrantAll: true}
}

// newUser opens the New user form with the roles a root user may give.
func newUser(d *driver) {
	d.t.Helper()
	d.keys("n")
	d.answer("read the roles you may give", grantMsg{info: rootSession()})
}

// badForm fills the New user form with three field errors and saves.
func badForm(t *testing.T, w, h int) *driver {
	d := signedIn(t, w, h)
	newUser(d)
	d.typeText("Grace")
	d.keys("enter", "enter")
	d.typeText("grace@acme")
	d.keys("enter")
	d.typeText("44")
	d.keys("enter")
	d.typeText("77009001234567")
	d.keys("ctrl+s")
	return d
}

func TestGoldenForm(t *testing.T) {
	d := badForm(t, 80, 24)
	requireGolden(t, "form_errors_80x24", d.screen())

	// At the smallest size the form scrolls: the focused field and its
	// error stay in view, and a line says what is above and below.
	d = badForm(t, minWidth, minHeight)
	requireGolden(t, "form_errors_60x16", d.screen())
	d.keys("down", "down", "down", "down", "down")
	requireGolden(t, "form_errors_roles_60x16", d.screen())

	// The server's own field errors land under their fields too.
	d = signedIn(t, 80, 24)
	newUser(d)
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s")
	d.answer("create user grace@acme.test with roles CARD_ASSIGNEE", savedMsg{outcome: outcome{&client.Error{Status: http.StatusConflict, Code: client.CodeEmailNotUnique}}})
	requireGolden(t, "form_server_error_80x24", d.screen())
}

// The admin's factors: SMS only, or a phone enrolled for approvals too.
var (
	smsFactors   = []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}}
	phoneFactors = []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}, {Type: "PUSH", Channel: client.ChannelBiometric, Status: client.FactorActive}}
)

// stepUp opens the step-up modal for a create, the admin having factors.
func stepUp(t *testing.T, w, h int, factors []client.Factor) *driver {
	d := signedIn(t, w, h)
	newUser(d)
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s")
	d.answer("create user grace@acme.test with roles CARD_ASSIGNEE", savedMsg{outcome: outcome{&client.Error{Status: http.StatusForbidden, Code: client.CodeStepUpRequired}}})
	d.answer("check your second factors", stepUpFactorsMsg{factors: factors})
	return d
}

func TestGoldenStepUp(t *testing.T) {
	d := stepUp(t, 80, 24, smsFactors)
	requireGolden(t, "stepup_80x24", d.screen())

	d.update(keyPress("enter")) // asks for a code (the call is not made)
	d.send(stepup.SentMsg{})
	d.clock.Advance(4 * time.Second)
	d.typeText("123455")
	d.update(keyPress("enter"))
	d.send(stepup.CheckedMsg{Err: &client.Error{Status: http.StatusConflict, Code: client.CodeCodeInvalid}})
	d.typeText("12")
	requireGolden(t, "stepup_code_80x24", d.screen())
	requireGolden(t, "stepup_code_120x32", func() string { d.send(windowSize(120, 32)); return d.screen() }())
}

func TestGoldenStepUpPush(t *testing.T) {
	d := stepUp(t, 80, 24, phoneFactors)
	d.keys("down")
	requireGolden(t, "stepup_push_80x24", d.screen())

	d.update(keyPress("enter")) // asks the phone (the call is not made)
	d.send(stepup.PushSentMsg{Push: &client.PushStepUp{ID: "100000003", Number: 42, Device: client.DeviceReach{Reachable: true}}})
	d.clock.Advance(7 * time.Second)
	requireGolden(t, "stepup_waiting_80x24", d.screen())

	d.send(stepup.PushStatusMsg{ID: "100000003", Status: &client.PushStatus{ID: "100000003", State: client.PushDeclined}})
	requireGolden(t, "stepup_declined_80x24", d.screen())
	// At the smallest size the modal leaves out its blank lines and the
	// other method's hint rather than the answer at its foot.
	d.send(windowSize(minWidth, minHeight))
	requireGolden(t, "stepup_declined_60x16", d.screen())
}

func TestGoldenRoles(t *testing.T) {
	d := signedIn(t, 80, 24)
	d.keys("down", "r")
	d.answer("list roles", rolesMsg{roles: []client.Role{
		{ID: "1", Name: client.RoleAdmin, Description: "Manages everything, including admins"},
		{ID: "2", Name: client.RoleAccessManagement, Description: "Manages users, but not admins"},
		{ID: "3", Name: client.RoleFundsManagement, Description: "Manages funds"},
		{ID: "4", Name: client.RoleCardsManagement, Description: "Manages cards"},
		{ID: "5", Name: client.RoleCardAssignee, Description: "Holds a card"},
	}})
	d.keys("down", "down", "space")
	requireGolden(t, "roles_80x24", d.screen())

	// Descriptions as long as the server's are cut in the list; the
	// selected one is under it in full, wrapped.
	d = signedIn(t, minWidth, minHeight)
	d.keys("down", "r")
	d.answer("list roles", rolesMsg{roles: longRoles()})
	d.keys("down")
	requireGolden(t, "roles_60x16", d.screen())
}

// longRoles are roles with descriptions as long as Deputy's own.
func longRoles() []client.Role {
	return []client.Role{
		{ID: "1", Name: client.RoleAdmin, Description: "Manages the identity: users, roles and every operation."},
		{ID: "2", Name: client.RoleAccessManagement, Description: "Creates, invites and manages users who hold no permission it lacks: not admins, funds or cards managers."},
		{ID: "3", Name: client.RoleFundsManagement, Description: "Manages accounts and transfers; sees the identity's users."},
		{ID: "4", Name: client.RoleCardsManagement, Description: "Manages cards; sees the identity's users."},
		{ID: "5", Name: client.RoleCardAssignee, Description: "Uses the cards assigned to them; sees and updates only themselves."},
	}
}

// At the smallest size and at 70x20, each role's description shows in full
// when it is selected, nothing runs off the edge, and the warning and the
// error stay when the screen is short of lines.
func TestRolesDescriptionFits(t *testing.T) {
	for _, size := range [][2]int{{minWidth, minHeight}, {70, 20}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			d := signedIn(t, size[0], size[1])
			d.keys("down", "r")
			d.answer("list roles", rolesMsg{roles: longRoles(), info: &client.SessionInfo{GrantableRoles: []string{client.RoleAccessManagement, client.RoleFundsManagement}}})
			for i, r := range longRoles() {
				if i > 0 {
					d.keys("down")
				}
				screen := d.screen()
				got := strings.Join(strings.Fields(screen), " ")
				require.Contains(t, got, r.Description, "the description of %s in\n%s", r.Name, screen)
				requireNarrower(t, d, size[0])
			}
			d.keys("up", "up", "up", "space") // ACCESS_MANAGEMENT_ROLE off: no role
			d.keys("up", "space")             // ADMIN: not the admin's to give
			d.requireScreen("No role ticked", "✗ You may not give or take ADMIN")
			requireNarrower(t, d, size[0])
		})
	}
}

func TestGoldenFactors(t *testing.T) {
	d := signedIn(t, 80, 24)
	d.keys("m")
	d.answer("list your factors", factorsMsg{factors: nil})
	d.keys("s")
	d.answer("start SMS enrolment", enrolSentMsg{})
	d.answer("list your factors", factorsMsg{factors: []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorPendingVerification}}})
	d.typeText("1234")
	requireGolden(t, "factors_80x24", d.screen())
}

func TestGoldenOutbox(t *testing.T) {
	d := signedIn(t, 80, 24)
	d.keys("o")
	at := time.Date(2026, 3, 14, 9, 29, 0, 0, time.UTC)
	d.answer("read the outbox", outboxMsg{msgs: []client.Message{
		{Channel: "SMS", To: "+447700900123", Text: "Test Programme: your verification code is 123456. Never share it with anyone.\n\n@deputy.test #123456", CreatedAt: at},
		{Channel: "EMAIL", To: "grace@acme.test", Subject: "You're invited to Acme Ltd", Text: "Hello Grace,\n\nAda Lovelace invited you to Acme Ltd. Your invite code is 123456; it expires in 30 days.", CreatedAt: at.Add(-time.Minute)},
		{Channel: "EMAIL", To: "alan@acme.test", Subject: "Verify your email", Text: "Your code is 123456.", CreatedAt: at.Add(-3 * time.Minute)},
	}})
	d.keys("down")
	requireGolden(t, "outbox_80x24", d.screen())
}

// Below the smallest size the UI draws in, it says what size it needs and
// the size it is, wrapped to the width, with "q quit" on the last line.
func TestGoldenTooSmall(t *testing.T) {
	for _, size := range [][2]int{{40, 10}, {30, 6}} {
		d := offlineDriver(t, size[0], size[1])
		requireGolden(t, fmt.Sprintf("too_small_%dx%d", size[0], size[1]), d.screen())
	}
}

// At every size below the smallest, down to a single cell, the message
// fills the terminal without a line running off its edge, and the help
// keeps the quit key; the needed size shows wherever it fits.
func TestTooSmallFits(t *testing.T) {
	need := fmt.Sprintf("%d×%d", minWidth, minHeight)
	for _, size := range [][2]int{{59, 24}, {80, 15}, {40, 10}, {30, 6}, {20, 4}, {12, 3}, {10, 2}, {5, 2}, {40, 1}, {1, 1}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			d := offlineDriver(t, w, h)
			s := ansi.Strip(d.m.View().Content)
			lines := strings.Split(s, "\n")
			require.Len(t, lines, h, "lines of\n%s", s)
			for _, l := range lines {
				require.LessOrEqual(t, ansi.StringWidth(l), w, "line %q is wider than %d", l, w)
			}
			require.NotContains(t, s, "…", "nothing is cut")
			last := strings.TrimSpace(lines[h-1])
			require.True(t, strings.HasSuffix(last, "q quit") || (w < len("q quit") && last == "q"), "last line %q", last)
			if w >= len(need) {
				require.Contains(t, s, need)
			}
			if w >= 20 && h >= 4 {
				require.Contains(t, s, fmt.Sprintf("s %d×%d", w, h))
			}
		})
	}
}

// The connect screen takes the whole terminal: at 80x24 the QR code of a
// demo's link (a loopback server and a 47-character ui key) and the link in
// full fit.
func TestGoldenConnect(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("NO_COLOR", "")
	c, err := client.New("http://127.0.0.1:38371", "dpk_K8noSa5UYM0ptTf4iBfmLoz0GQZADAMsde-Bfh4oL9U")
	require.NoError(t, err)
	clock := newFakeClock()
	d := &driver{t: t, m: newModel(Options{Client: c, Sandbox: true}, clock, time.UTC), clock: clock, offline: true}
	d.run(d.m.Init())
	d.send(windowSize(80, 24))
	d.signIn0()
	d.keys("enter") // the detail screen of Grace Hopper
	d.keys("c")
	requireGolden(t, "connect_80x24", d.screen())
	d.keys("esc")
	d.requireScreen("User · Grace Hopper")

	d.send(windowSize(80, 16)) // too short for the code: the link still shows in full
	d.keys("c")
	d.requireScreen("make the window taller", "deputy://connect?server=http://127.0.0.1:38371&key=dpk_K8noSa5UYM0ptTf4iBfmL",
		"0GQZADAMsde-Bfh4oL9U")
}

// At the smallest size, every row of the New user form can be reached with
// tab: the focused row and its error are on screen, as are the save error
// and the line saying what is out of view; nothing runs off the edge.
func TestFormScrollsAtSmallestSize(t *testing.T) {
	d := badForm(t, minWidth, minHeight)
	d.keys("shift+tab", "shift+tab", "shift+tab") // back to Name, the heading in view
	d.requireScreen("  New user", "› Name", "↓ 3 more fields below · 1 error")
	d.requireNotScreen("↑")
	want := []struct{ label, err string }{
		{"› Surname", "✗ required"}, {"› Email", "✗ not a valid email address"}, {"› Mobile code", "✗ + and 1 to 3 digits"},
		{"› Mobile no.", ""}, {"› Tag", "optional: letters, digits, _ and -"}, {"› Roles", "[x] assignee"},
	}
	for _, w := range want {
		d.keys("tab")
		d.requireScreen(w.label, w.err, "Creating a user asks you to confirm it's you.")
		requireFits(t, d, minWidth)
	}
	d.requireScreen("↑ 3 more fields above · 2 errors")
	d.requireNotScreen("↓")

	d.keys("right", "right", "right", "right", "space") // no role ticked: a root user may, after a question
	d.requireScreen("[ ] assignee", "none ticked: the user gets every permission")

	// A save error shows under the form wherever it is scrolled to.
	d = signedIn(t, minWidth, minHeight)
	d.keys("n")
	d.answer("read the roles you may give", grantMsg{info: &client.SessionInfo{GrantableRoles: []string{client.RoleCardAssignee}}})
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("tab", "tab", "tab", "tab", "space", "ctrl+s")
	d.requireScreen("› Roles", "✗ tick a role: without one the user holds\n", "every permission\n",
		"✗ Tick a role: you may not create a user who holds every\n", "permission.\n")
	requireFits(t, d, minWidth)
}

// requireNarrower fails if a line of the screen is wider than w.
func requireNarrower(t *testing.T, d *driver, w int) {
	t.Helper()
	for _, l := range strings.Split(d.screen(), "\n") {
		require.LessOrEqual(t, ansi.StringWidth(l), w, "line %q is wider than %d", l, w)
	}
}

// requireFits fails if a line of the screen is wider than w or was cut.
func requireFits(t *testing.T, d *driver, w int) {
	t.Helper()
	for _, l := range strings.Split(d.screen(), "\n") {
		require.LessOrEqual(t, ansi.StringWidth(l), w, "line %q is wider than %d", l, w)
		require.False(t, strings.HasSuffix(l, "…"), "line %q is cut", l)
	}
}

// At the smallest size the user's details scroll: every row can be reached
// with the keys a terminal user expects, a line says what is above and
// below, and the help shows the scroll keys only while there is something
// to scroll.
func TestDetailScrollsAtSmallestSize(t *testing.T) {
	d := detailOf(t, minWidth, minHeight)
	d.requireScreen("  Grace Hopper  active", "↓ 4 more fields below", "↑/↓ scroll")
	d.requireNotScreen("above", "Invite ", "KYC ")
	requireFits(t, d, minWidth)

	d.keys("down", "j") // two rows on
	d.requireScreen("↑ 2 more fields above", "Invite        sent, waiting", "↓ 2 more fields below")
	d.requireNotScreen("Email ")
	d.keys("k")
	d.requireScreen("↑ 1 more field above", "↓ 3 more fields below")

	for _, k := range []string{"end", "pgdown", "down"} { // the end, which stays the end
		d.keys(k)
		d.requireScreen("↑ 4 more fields above", "Invite        sent, waiting", "Factors       SMS codes: waiting for the code", "KYC           not started")
		d.requireNotScreen("below")
		requireFits(t, d, minWidth)
	}
	d.keys("pgup")
	d.requireScreen("  Grace Hopper  active", "↓ 4 more fields below")
	d.keys("end", "home")
	d.requireScreen("  Grace Hopper  active", "↓ 4 more fields below")

	// The other keys still act: e edits, esc comes back to the details.
	d.keys("end", "e")
	d.requireScreen("Edit Grace Hopper")
	d.keys("esc")
	d.requireScreen("User · Grace Hopper")

	// Where the details fit, nothing scrolls and the help leaves out the keys.
	d.send(windowSize(80, 24))
	d.requireScreen("  Grace Hopper  active", "KYC           not started")
	d.requireNotScreen("above", "below", "scroll")
	d.keys("?")
	d.requireNotScreen("pgup/pgdn", "scroll")
}
