package tui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// fakeClock stands still until a test moves it. What it schedules never
// fires by itself: the driver keeps the timers, and a test fires them with
// driver.fire, so screens render the same every time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
	return func() tea.Msg { return timerMsg{every: d, fn: fn} }
}

// timerMsg is a scheduled message, kept by the driver until fired.
type timerMsg struct {
	every time.Duration
	fn    func(time.Time) tea.Msg
}

// The admin every test signs in as: the root user of a corporate, with an
// active SMS factor.
const (
	adminEmail    = "ada@acme.test"
	adminPassword = "Str0ng-Passw0rd"
	adminMobile   = "7700900123"
	sandboxCode   = "123456"
)

// deputy is a running test server with one corporate whose root user is the admin.
type deputy struct {
	inst  *testserver.Instance
	c     *client.Client  // with the secret key, for setting up and reading data
	ui    *client.Client  // with the public ui key, as `deputy admin` runs
	admin *client.Session // a stepped-up session of the admin, for setting up data
}

func startDeputy(t *testing.T) *deputy {
	t.Helper()
	return startDeputyWith(t, testserver.Options{})
}

// startDeputyWith is startDeputy with the test server's options.
func startDeputyWith(t testing.TB, opts testserver.Options) *deputy {
	t.Helper()
	inst := testserver.Start(t, opts)
	c, err := client.New(inst.URL, inst.APIKey)
	require.NoError(t, err)
	ctx := context.Background()
	corp, err := c.CreateCorporate(ctx, client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: adminEmail,
			Mobile: client.Mobile{CountryCode: "+44", Number: adminMobile}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(t, err)
	pw, err := c.CreatePassword(ctx, corp.RootUser.ID.ID, adminPassword)
	require.NoError(t, err)
	s := c.Session(pw.Token)
	require.NoError(t, s.EnrolSMS(ctx))
	require.NoError(t, s.VerifyEnrolSMS(ctx, sandboxCode))
	ui, err := client.New(inst.URL, inst.UIKey)
	require.NoError(t, err)
	return &deputy{inst: inst, c: c, ui: ui, admin: s}
}

// createUsers adds n users, numbered, tagged "team".
func (d *deputy) createUsers(t *testing.T, n int) []*client.User {
	t.Helper()
	var out []*client.User
	for i := range n {
		u, err := d.admin.CreateUser(context.Background(), client.UserCreate{
			Name: "User", Surname: fmt.Sprintf("No%02d", i+1), Email: fmt.Sprintf("user%02d@acme.test", i+1),
			Tag: "team", Roles: []string{client.RoleCardAssignee},
		})
		require.NoError(t, err)
		out = append(out, u)
	}
	return out
}

// count returns how many users the identity has.
func (d *deputy) count(t *testing.T, f client.UserFilter) int {
	t.Helper()
	page, err := d.admin.ListUsers(context.Background(), f)
	require.NoError(t, err)
	return page.Count
}

// driver feeds a model messages and runs the commands it returns, one after
// the other, the way the program would but synchronously: a test reads the
// screen after each step. Timers never fire (fakeClock schedules nothing).
type driver struct {
	t     *testing.T
	m     model
	clock *fakeClock
	quit  bool
	// offline: API calls are not made but kept in pending, for the test to
	// answer with answer (golden screens use made-up data this way).
	offline bool
	pending []op
	timers  []timerMsg
}

func newDriver(t *testing.T, opts Options, w, h int) *driver {
	t.Helper()
	clock := newFakeClock()
	d := &driver{t: t, m: newModel(opts, clock, time.UTC), clock: clock}
	d.run(d.m.Init())
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	return d
}

// send delivers msg and everything that follows from it.
func (d *driver) send(msg tea.Msg) {
	d.t.Helper()
	next, cmd := d.m.Update(msg)
	d.m = next.(model)
	d.run(cmd)
}

func (d *driver) run(cmd tea.Cmd) {
	d.t.Helper()
	if cmd == nil {
		return
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	case tea.QuitMsg:
		d.quit = true
	case timerMsg:
		d.timers = append(d.timers, msg)
	case op:
		if d.offline {
			d.pending = append(d.pending, msg)
			return
		}
		d.send(msg)
	default:
		d.send(msg)
	}
}

// fire moves the clock on by every and delivers the messages of the timers
// scheduled that often, with everything that follows from them.
func (d *driver) fire(every time.Duration) {
	d.t.Helper()
	d.clock.Advance(every)
	var due []timerMsg
	kept := d.timers[:0]
	for _, tm := range d.timers {
		if tm.every == every {
			due = append(due, tm)
		} else {
			kept = append(kept, tm)
		}
	}
	d.timers = kept
	for _, tm := range due {
		d.send(tm.fn(d.clock.Now()))
	}
}

// update delivers msg but runs none of the commands that follow.
func (d *driver) update(msg tea.Msg) {
	d.t.Helper()
	next, _ := d.m.Update(msg)
	d.m = next.(model)
}

// answer answers the pending call named name with res, as the server would.
func (d *driver) answer(name string, res result) {
	d.t.Helper()
	for i, o := range d.pending {
		if o.name == name {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			d.update(o) // the root starts it (busy line) but makes no call
			d.send(doneMsg{op: o, res: res})
			return
		}
	}
	d.t.Fatalf("no pending call %q (pending: %v)", name, d.pendingNames())
}

func (d *driver) pendingNames() []string {
	var out []string
	for _, o := range d.pending {
		out = append(out, o.name)
	}
	return out
}

// keys types each key: names such as "enter", "esc", "tab", "space",
// "ctrl+s", or a single character.
func (d *driver) keys(names ...string) {
	d.t.Helper()
	for _, k := range names {
		d.send(keyPress(k))
	}
}

// typeText types s one character at a time.
func (d *driver) typeText(s string) {
	d.t.Helper()
	for _, r := range s {
		d.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyPress(name string) tea.KeyPressMsg {
	special := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "space": tea.KeySpace,
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
		"backspace": tea.KeyBackspace, "pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp,
		"home": tea.KeyHome, "end": tea.KeyEnd,
	}
	if strings.HasPrefix(name, "ctrl+") {
		return tea.KeyPressMsg{Code: rune(name[len("ctrl+")]), Mod: tea.ModCtrl}
	}
	if name == "shift+tab" {
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	}
	if r, ok := special[name]; ok {
		if r == tea.KeySpace {
			return tea.KeyPressMsg{Code: r, Text: " "}
		}
		return tea.KeyPressMsg{Code: r}
	}
	r := []rune(name)[0]
	return tea.KeyPressMsg{Code: r, Text: name}
}

// screen is what the terminal shows, as plain text.
func (d *driver) screen() string { return plain(d.m.View().Content) }

// requireScreen fails unless the screen shows every want.
func (d *driver) requireScreen(want ...string) {
	d.t.Helper()
	s := d.screen()
	for _, w := range want {
		if !strings.Contains(s, w) {
			d.t.Fatalf("screen does not show %q:\n%s", w, s)
		}
	}
}

func (d *driver) requireNotScreen(unwanted ...string) {
	d.t.Helper()
	s := d.screen()
	for _, w := range unwanted {
		if strings.Contains(s, w) {
			d.t.Fatalf("screen shows %q:\n%s", w, s)
		}
	}
}

// signIn signs the admin in through the sign-in screen.
func (d *driver) signIn() {
	d.t.Helper()
	d.typeText(adminEmail)
	d.keys("enter")
	d.typeText(adminPassword)
	d.keys("enter")
	d.requireScreen("Users", "Ada Lovelace <ada@acme.test> · Acme Ltd")
}

var trailingSpace = regexp.MustCompile(`[ \t]+\n`)

// plain renders a view with the colour profile pinned to "no colour": every
// escape sequence goes, as on a pipe. Trailing spaces go too.
func plain(content string) string {
	var b strings.Builder
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.NoTTY}
	_, _ = w.Write([]byte(content))
	return strings.TrimRight(trailingSpace.ReplaceAllString(b.String()+"\n", "\n"), "\n") + "\n"
}

// named gives a golden file its name: testdata/<name>.golden.
type named struct {
	testing.TB
	name string
}

func (n named) Name() string { return n.name }

// requireGolden compares the screen with testdata/<name>.golden; go test
// -update rewrites it.
func requireGolden(t *testing.T, name, screen string) {
	t.Helper()
	golden.RequireEqual(named{TB: t, name: name}, screen)
}

func windowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// createUsers2 adds one user named "User <surname>".
func (d *deputy) createUsers2(t *testing.T, surname string) {
	t.Helper()
	_, err := d.admin.CreateUser(context.Background(), client.UserCreate{Name: "User", Surname: surname,
		Email: strings.ToLower(surname) + "@acme.test", Roles: []string{client.RoleCardAssignee}})
	require.NoError(t, err)
}
