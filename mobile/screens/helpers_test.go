package screens_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

// phone is the window size of the markup goldens: a phone's proportions.
var phone = fyne.NewSize(400, 760)

// waitLimit bounds how long a test waits for the app to reach a state; the
// calls go to a server on loopback, so this is only ever reached on a bug.
const waitLimit = 20 * time.Second

// harness runs screens the way the app does, with the test goroutine as the
// UI goroutine: background work hands its callbacks to a queue (the Env's
// UI function) and the test runs them, so every widget is read and written
// on one goroutine. Fyne's test driver would run a fyne.Do callback at once
// on the background goroutine instead.
type harness struct {
	t     *testing.T
	app   fyne.App
	win   fyne.Window
	queue chan func()
	clock *manualClock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	win := a.NewWindow("Deputy")
	win.Resize(phone)
	t.Cleanup(win.Close)
	return &harness{t: t, app: a, win: win, queue: make(chan func(), 1024), clock: newManualClock()}
}

// env is the Env of the harness's screens.
func (h *harness) env() screens.Env { return screens.Env{UI: h.ui, Clock: h.clock} }

// ui is the UI dispatcher: it queues f for the test goroutine.
func (h *harness) ui(f func()) { h.queue <- f }

// show puts a screen's content in the window.
func (h *harness) show(s screens.Screen) {
	h.win.SetContent(s.Content())
	h.win.Resize(phone)
}

// waitFor runs queued UI callbacks until cond holds. cond is checked after
// each callback, and every few milliseconds for conditions on state outside
// the UI (the fake server's open streams).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(waitLimit)
	recheck := time.NewTicker(5 * time.Millisecond)
	defer recheck.Stop()
	for !cond() {
		select {
		case f := <-h.queue:
			f()
		case <-recheck.C:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// settle runs the UI callbacks already queued.
func (h *harness) settle() {
	for {
		select {
		case f := <-h.queue:
			f()
		default:
			return
		}
	}
}

// advance moves the clock and runs the UI callbacks it caused.
func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.settle()
}

// manualClock is a Clock that moves only when the test says so. AfterFunc
// callbacks run on the goroutine that calls Advance.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
}

// newManualClock starts at the real time, whole seconds, so that times the
// server sends (a push challenge's expiry) are near it.
func newManualClock() *manualClock {
	return &manualClock{now: time.Now().Truncate(time.Second)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) screens.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock forward by d, one due timer at a time, so that
// timers set by callbacks also fire when they fall within d.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var next *manualTimer
		for i, t := range c.timers {
			if t.stopped {
				continue
			}
			if !t.at.After(end) {
				next = t
				c.timers = append(c.timers[:i:i], c.timers[i+1:]...)
			}
			break
		}
		if next == nil {
			c.now = end
			c.timers = compact(c.timers)
			c.mu.Unlock()
			return
		}
		c.now = next.at
		next.stopped = true
		c.mu.Unlock()
		next.f()
	}
}

func compact(ts []*manualTimer) []*manualTimer {
	out := ts[:0]
	for _, t := range ts {
		if !t.stopped {
			out = append(out, t)
		}
	}
	return out
}

// deputy is an in-process sandbox Deputy with one corporate whose root user,
// Ada, is the admin: she has a password and an active SMS factor.
type deputy struct {
	*testserver.Instance
	admin *client.Session // Ada's session, stepped up
	key   *client.Client  // the secret key's client
}

const adaPassword = "Str0ng-Passw0rd"

func startDeputy(t *testing.T) *deputy {
	t.Helper()
	inst := testserver.Start(t, testserver.Options{})
	ctx := context.Background()
	// Biometrics are off unless the operator turns them on (issue 6).
	set := inst.Programme.Settings
	set.Biometrics = true
	_, err := inst.Service.UpdateProgrammeSettings(ctx, inst.Programme.ID, nil, set)
	require.NoError(t, err)
	c, err := client.New(inst.URL, inst.APIKey)
	require.NoError(t, err)
	corp, err := c.CreateCorporate(ctx, client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test",
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(t, err)
	pw, err := c.CreatePassword(ctx, corp.RootUser.ID.ID, adaPassword)
	require.NoError(t, err)
	s := c.Session(pw.Token)
	require.NoError(t, s.EnrolSMS(ctx))
	require.NoError(t, s.VerifyEnrolSMS(ctx, "123456"))
	return &deputy{Instance: inst, admin: s, key: c}
}

// invite creates an authorised user with a mobile and sends them an invite,
// as the admin does in the TUI; the sandbox's invite code is 123456.
func (d *deputy) invite(t *testing.T, email string) string {
	t.Helper()
	ctx := context.Background()
	u, err := d.admin.CreateUser(ctx, client.UserCreate{
		Name: "Grace", Surname: "Hopper", Email: email,
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"},
		Roles:  []string{client.RoleAccessManagement},
	})
	require.NoError(t, err)
	require.NoError(t, d.admin.SendInvite(ctx, u.ID))
	return u.ID
}

// userWithPassword creates a user who has accepted their invite.
func (d *deputy) userWithPassword(t *testing.T, email, password string) string {
	t.Helper()
	id := d.invite(t, email)
	ui, err := client.New(d.URL, d.UIKey)
	require.NoError(t, err)
	_, err = ui.InviteConsume(context.Background(), id, "123456", password, nil)
	require.NoError(t, err)
	return id
}

// paste pastes text into an entry, as a user pasting a link does.
func (h *harness) paste(e *widget.Entry, text string) {
	h.t.Helper()
	h.win.Canvas().Focus(e)
	cb := h.app.Clipboard()
	cb.SetContent(text)
	e.TypedShortcut(&fyne.ShortcutPaste{Clipboard: cb})
}

// assertMarkup compares the window with a golden file under testdata. The
// desktop driver lays out again whenever a widget is shown or hidden (its
// canvas checks min sizes every frame); the test canvas does not, so the
// tree is laid out first, top-down, as the driver would.
func (h *harness) assertMarkup(name string) {
	h.t.Helper()
	relayout(h.win.Canvas().Content())
	test.AssertRendersToMarkup(h.t, name, h.win.Canvas())
}

func relayout(o fyne.CanvasObject) {
	switch v := o.(type) {
	case *fyne.Container:
		if v.Layout != nil {
			v.Layout.Layout(v.Objects, v.Size())
		}
		for _, c := range v.Objects {
			relayout(c)
		}
	case fyne.Widget:
		r := test.WidgetRenderer(v)
		r.Layout(v.Size())
		for _, c := range r.Objects() {
			relayout(c)
		}
	}
}

// onScreen reports whether o is shown on s: it and everything that holds it
// are visible.
func onScreen(s screens.Screen, o fyne.CanvasObject) bool {
	return shownIn(s.Content(), o)
}

func shownIn(in, o fyne.CanvasObject) bool {
	if !in.Visible() {
		return false
	}
	if in == o {
		return true
	}
	var children []fyne.CanvasObject
	switch v := in.(type) {
	case *fyne.Container:
		children = v.Objects
	case fyne.Widget:
		children = test.WidgetRenderer(v).Objects()
	}
	for _, c := range children {
		if shownIn(c, o) {
			return true
		}
	}
	return false
}

// typeInto focuses an entry, as a tap on it would, and types text.
func (h *harness) typeInto(e *widget.Entry, text string) {
	h.win.Canvas().Focus(e)
	test.Type(e, text)
}
