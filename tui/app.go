package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/tui/stepup"
)

// refreshEvery is how often the users table reloads itself while the
// admin is at the keyboard.
const refreshEvery = 30 * time.Second

// The smallest terminal the UI draws in; below it, it says so.
const (
	minWidth  = 60
	minHeight = 16
)

// deps is what every screen is built from.
type deps struct {
	clock   Clock
	st      *styles
	loc     *time.Location // where times are shown
	sandbox bool
	server  string // the server's address, shown at sign-in
	connect string // the deputy://connect link the companion app scans
	self    string // the signed-in user's id
}

// who is the signed-in admin, for the status line.
type who struct {
	email, name, identity string
}

// whoMsg answers the call that finds the admin's name and identity.
type whoMsg struct {
	outcome
	name, identity string
}

type tickMsg struct{}

// refreshMsg asks the top screen to reload what it shows, if it lists
// something that others change (the users table).
type refreshMsg struct{}

// sessionMsg answers the call that reads the session's numbers (Deputy sessionGet).
type sessionMsg struct {
	outcome
	info *client.SessionInfo
}

// sessionOp reads the session's idle timeout and challenge limits. It is
// quiet: without them the status line shows no countdown.
func sessionOp() op {
	return op{name: "read the session", label: "Reading the session…", quiet: true,
		run: func(ctx context.Context, a api) result {
			info, err := a.s.Info(ctx)
			return sessionMsg{outcome: outcome{err}, info: info}
		}}
}

type spinMsg struct{}

// appKeys are the bindings that work on every screen.
type appKeys struct {
	Help, Quit, ForceQuit key.Binding
}

func newAppKeys() appKeys {
	return appKeys{
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// model is the root model: a stack of screens, the step-up modal when one is
// open, the status line and the help. It runs every API call (see op) so that
// step-up, session expiry, the spinner and error messages work the same way
// on every screen.
type model struct {
	c    *client.Client
	deps deps
	keys appKeys
	help help.Model

	width, height int
	stack         []screen
	fullHelp      bool

	sess   *client.Session
	who    who
	lastOK time.Time           // the last successful call: the session's idle timer restarts there
	info   *client.SessionInfo // the server's numbers for this session, once read
	ends   time.Time           // when the session ends at the latest, by this clock (zero: not said)

	modal      *stepup.Model
	stepUpWait result // the failed answer the modal is about (given back to the screen on cancel)
	stepUpOp   op     // the operation to repeat, while the admin's factors are read

	inflight int
	busy     string
	spin     spinner.Model
	spinning bool

	notice    string
	noticeErr bool

	quitAsk *confirmBox // q asks while a screen holds unsaved changes
	lastKey time.Time   // the admin's last key press: the table refreshes itself only while they are there

	initCmd tea.Cmd // the first screen's first command
}

// newModel returns the root model, on the sign-in screen.
func newModel(opts Options, clock Clock, loc *time.Location) model {
	d := deps{clock: clock, st: newStyles(darkPalette()), loc: loc, sandbox: opts.Sandbox, server: opts.Client.BaseURL(),
		connect: connectLink(opts.Client.BaseURL(), opts.Client.Key())}
	h := help.New()
	h.Styles = d.st.help
	m := model{
		c: opts.Client, deps: d, keys: newAppKeys(), help: h,
		width: 80, height: 24,
		spin: spinner.New(spinner.WithSpinner(spinner.MiniDot)),
	}
	s, init := newSignIn(d, opts.Email, opts.Password, false, "")
	m.stack = []screen{s}
	m.initCmd = init
	return m
}

func (m model) Init() tea.Cmd {
	return tea.Batch(m.initCmd, tea.RequestBackgroundColor, m.deps.clock.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} }),
		m.deps.clock.Tick(refreshEvery, func(time.Time) tea.Msg { return refreshMsg{} }))
}

func (m model) top() screen { return m.stack[len(m.stack)-1] }

// bodySize is the area a screen draws in: everything but the title bar, the
// notice line, the status line and the two lines of help.
func (m model) bodySize() (int, int) { return m.width, max(1, m.height-5) }

// sizeFor is the area s draws in: the body, or the whole terminal for a
// full-screen one.
func (m model) sizeFor(s screen) (int, int) {
	if fs, ok := s.(fullScreen); ok && fs.FullScreen() {
		return m.width, m.height
	}
	return m.bodySize()
}

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		for i, s := range m.stack {
			m.stack[i] = s.SetSize(m.sizeFor(s))
		}
		w, h := m.bodySize()
		if m.modal != nil {
			mod := m.modal.SetWidth(w - 4).SetHeight(h)
			m.modal = &mod
		}
		return m.toTop(msg) // a screen may need new data for its new size
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.BackgroundColorMsg:
		// Every screen shares the styles: rebuilt in place, they all follow.
		*m.deps.st = *newStyles(paletteFor(msg.IsDark()))
		m.help.Styles = m.deps.st.help
		if m.modal != nil {
			mod := m.modal.SetColors(m.deps.st.stepUpColors())
			m.modal = &mod
		}
		return m, nil
	case op:
		return m.start(msg)
	case doneMsg:
		return m.done(msg)
	case pushMsg:
		w, h := m.sizeFor(msg.s)
		m.stack = append(m.stack, msg.s.SetSize(w, h))
		m.fullHelp = false
		return m, msg.init
	case popMsg:
		if len(m.stack) > 1 {
			m.stack = m.stack[:len(m.stack)-1]
		}
		m.fullHelp = false
		if msg.notice != "" {
			m.notice, m.noticeErr = msg.notice, false
		}
		return m.toTop(reloadMsg{focus: msg.focus})
	case noticeMsg:
		m.notice, m.noticeErr = msg.text, false
		return m, nil
	case tickMsg:
		return m, m.deps.clock.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} })
	case refreshMsg:
		next := m.deps.clock.Tick(refreshEvery, func(time.Time) tea.Msg { return refreshMsg{} })
		if !m.present() || m.modal != nil || m.quitAsk != nil || m.fullHelp {
			return m, next
		}
		m, cmd := m.toTop(msg)
		return m, tea.Batch(next, cmd)
	case spinMsg:
		if m.inflight == 0 && (m.modal == nil || !m.modal.Busy()) {
			m.spinning = false
			return m, nil
		}
		m.spin, _ = m.spin.Update(spinner.TickMsg{ID: m.spin.ID()})
		return m, m.deps.clock.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{} })
	case stepup.SentMsg:
		if msg.Err == nil {
			m.lastOK = m.deps.clock.Now()
		}
		return m.toModal(msg)
	case stepup.CheckedMsg:
		if msg.Err == nil {
			m.lastOK = m.deps.clock.Now()
		}
		return m.toModal(msg)
	case stepup.PushSentMsg:
		if msg.Err == nil {
			m.lastOK = m.deps.clock.Now()
		}
		if m.modal == nil && msg.Push != nil && m.sess != nil {
			// The admin cancelled while the phone was being asked.
			return m, stepup.Withdraw(m.sess, msg.Push.ID)
		}
		return m.toModal(msg)
	case stepup.PushStatusMsg:
		if msg.Err == nil {
			m.lastOK = m.deps.clock.Now()
		}
		return m.toModal(msg)
	case stepup.VerifiedMsg:
		m.modal, m.stepUpWait = nil, nil
		m.notice, m.noticeErr = "Verified: "+esc(msg.Summary)+"…", false
		return m, nil
	case stepup.CancelledMsg:
		return m.stepUpCancelled(msg.Err)
	}
	if m.modal != nil {
		var cmd tea.Cmd
		m, cmd = m.toModalCmd(msg)
		m2, cmd2 := m.toTop(msg)
		return m2, tea.Batch(cmd, cmd2)
	}
	return m.toTop(msg)
}

// toTop hands msg to the top screen.
func (m model) toTop(msg tea.Msg) (model, tea.Cmd) {
	i := len(m.stack) - 1
	s, cmd := m.stack[i].Update(msg)
	m.stack[i] = s
	return m, cmd
}

func (m model) toModal(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := m.toModalCmd(msg)
	return m, cmd
}

func (m model) toModalCmd(msg tea.Msg) (model, tea.Cmd) {
	if m.modal == nil {
		return m, nil
	}
	mod, cmd := m.modal.Update(msg)
	m.modal = &mod
	if mod.Busy() {
		cmd = tea.Batch(cmd, m.startSpin())
	}
	return m, cmd
}

func (m model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.ForceQuit) {
		return m, tea.Quit
	}
	m.lastKey = m.deps.clock.Now()
	if m.tooSmall() {
		// The screens are hidden: any other key would act on one the
		// admin cannot see. Quitting (and its question) still works.
		switch {
		case m.quitAsk != nil:
			var cmd tea.Cmd
			m.quitAsk, cmd = m.quitAsk.update(msg)
			return m, cmd
		case key.Matches(msg, m.keys.Quit):
			return m.quit()
		}
		return m, nil
	}
	if m.modal != nil {
		return m.toModal(msg)
	}
	if m.quitAsk != nil {
		var cmd tea.Cmd
		m.quitAsk, cmd = m.quitAsk.update(msg)
		return m, cmd
	}
	m.notice = "" // a notice stays until the admin does something else
	if m.fullHelp {
		switch {
		case key.Matches(msg, m.keys.Quit) && !m.top().Editing():
			return m.quit()
		case key.Matches(msg, m.keys.Help), msg.String() == "esc":
			m.fullHelp = false
		}
		return m, nil
	}
	if !m.top().Editing() {
		switch {
		case key.Matches(msg, m.keys.Quit):
			return m.quit()
		case key.Matches(msg, m.keys.Help):
			m.fullHelp = true
			return m, nil
		}
	}
	return m.toTop(msg)
}

// present reports whether the admin has pressed a key recently enough that
// a refresh does not keep an unattended session alive: refreshing stops a
// refresh before the session would have ended without them.
func (m model) present() bool {
	return m.sess != nil && m.info != nil && m.deps.clock.Now().Sub(m.lastKey)+refreshEvery < m.info.IdleTimeout
}

// quit quits, after asking when a screen holds unsaved changes.
func (m model) quit() (tea.Model, tea.Cmd) {
	for i := len(m.stack) - 1; i >= 0; i-- {
		if u, ok := m.stack[i].(unsaved); ok {
			if what := u.Unsaved(); what != "" {
				m.fullHelp = false
				m.quitAsk = newConfirm("Quit without saving "+what+"?", tea.Quit)
				return m, nil
			}
		}
	}
	return m, tea.Quit
}

// start runs o.
func (m model) start(o op) (tea.Model, tea.Cmd) {
	if m.sess == nil && !o.signIn {
		return m, nil // the session ended while the call was being asked for
	}
	m.inflight++
	m.busy = o.label
	a := api{c: m.c, s: m.sess}
	run := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return doneMsg{op: o, res: o.run(ctx, a)}
	}
	return m, tea.Batch(run, m.startSpin())
}

func (m *model) startSpin() tea.Cmd {
	if m.spinning {
		return nil
	}
	m.spinning = true
	return m.deps.clock.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{} })
}

// done takes an op's answer: the step-up and an ended session are dealt with
// here, everything else goes to the top screen.
func (m model) done(d doneMsg) (tea.Model, tea.Cmd) {
	m.inflight = max(0, m.inflight-1)
	if m.inflight == 0 {
		m.busy = ""
	}
	d.res = shown(d.res)
	err := d.res.failure()
	switch {
	case err == nil:
		m.lastOK = m.deps.clock.Now()
	case errors.Is(err, client.ErrStepUpRequired) && m.sess != nil && m.modal == nil && m.stepUpWait == nil:
		// Which methods to offer depends on the admin's factors now (a
		// phone may have been enrolled on the companion since sign-in):
		// read them, then open the modal (stepUpFactorsMsg).
		m.stepUpWait, m.stepUpOp = d.res, d.op
		return m, do(stepUpFactorsOp())
	case errors.Is(err, client.ErrUnauthorized) && !d.op.signIn:
		return m.expire(d.res)
	case !d.op.quiet:
		m.notice, m.noticeErr = "Could not "+d.op.name+": "+describe(err), true
	}
	switch res := d.res.(type) {
	case signedInMsg:
		if err == nil {
			return m.signedIn(res)
		}
	case whoMsg:
		if err == nil {
			m.who.name, m.who.identity = res.name, res.identity
		}
		return m, nil
	case sessionMsg:
		if err == nil {
			m = m.withInfo(res.info)
		}
		return m, nil
	case stepUpFactorsMsg:
		if res.info != nil {
			m = m.withInfo(res.info)
		}
		return m.openStepUp(res.factors)
	}
	return m.toTop(d.res)
}

// withInfo keeps the server's numbers for the session, and when it ends at
// the latest by this clock, counted from now (the server's may differ).
func (m model) withInfo(info *client.SessionInfo) model {
	m.info, m.ends = info, time.Time{}
	if !info.ExpiresAt.IsZero() { // a server before session lifetimes says nothing
		m.ends = m.deps.clock.Now().Add(info.ExpiresIn)
	}
	return m
}

// stepUpFactorsMsg answers the admin's factors and the session's numbers,
// read before the step-up modal opens.
type stepUpFactorsMsg struct {
	outcome
	factors []client.Factor
	info    *client.SessionInfo
}

// stepUpFactorsOp reads the admin's own factors (Weavr authFactorsGet) and
// the session's challenge limits (Deputy sessionGet). It is quiet: when the
// factors cannot be read the modal opens with SMS alone, and without the
// limits it shows the ones read at sign-in.
func stepUpFactorsOp() op {
	return op{name: "check your second factors", label: "Checking how you can confirm…", quiet: true,
		run: func(ctx context.Context, a api) result {
			fs, err := a.s.Factors(ctx)
			info, _ := a.s.Info(ctx)
			return stepUpFactorsMsg{outcome: outcome{err}, factors: fs, info: info}
		}}
}

// openStepUp opens the step-up modal for the operation that asked for it,
// offering "Approve on my phone" when factors include an active biometric
// factor.
func (m model) openStepUp(factors []client.Factor) (tea.Model, tea.Cmd) {
	if m.stepUpWait == nil || m.sess == nil || m.modal != nil {
		return m, nil // the session ended meanwhile
	}
	o := m.stepUpOp
	named := stepup.Operation{Summary: sentenceCase(o.name), Retry: do(o)}
	if ae := (*client.Error)(nil); errors.As(m.stepUpWait.failure(), &ae) && ae.Operation != nil {
		// The server binds the step-up to this call: show what it will
		// approve, in its words.
		named.Summary, named.Reference = ae.Operation.Summary, ae.Operation.Reference
	}
	w, h := m.bodySize()
	mod := stepup.New(m.sess, m.deps.clock, named, factors, m.info).SetWidth(w - 4).SetHeight(h).SetColors(m.deps.st.stepUpColors())
	m.modal, m.stepUpOp = &mod, op{}
	m.fullHelp = false
	return m, mod.Init()
}

// stepUpCancelled closes the modal. The screen that asked for the operation
// gets its failed answer, so that it stops waiting; nothing was done.
func (m model) stepUpCancelled(err error) (tea.Model, tea.Cmd) {
	if errors.Is(err, client.ErrUnauthorized) {
		return m.expire(nil)
	}
	m.modal = nil
	waiting := m.stepUpWait
	m.stepUpWait = nil
	if err != nil {
		m.notice, m.noticeErr = "Step-up failed: "+describe(err)+". Nothing was done.", true
	} else {
		m.notice, m.noticeErr = "Step-up cancelled. Nothing was done.", false
	}
	if waiting == nil {
		return m, nil
	}
	return m.toTop(waiting)
}

// expire sends the admin to sign in again, keeping the screens they were on:
// after signing in they are back where they were. The screen gets its failed
// answers first (failed, the call that met the ended session, and the one
// that waited for a step-up), so that it does not wait for ever: nothing was
// done, and the admin can ask again.
func (m model) expire(failed result) (tea.Model, tea.Cmd) {
	waiting := m.stepUpWait
	m.modal, m.stepUpWait, m.stepUpOp, m.sess = nil, nil, op{}, nil
	m.fullHelp = false
	var cmds []tea.Cmd
	for _, res := range []result{waiting, failed} {
		if res != nil {
			var cmd tea.Cmd
			m, cmd = m.toTop(res)
			cmds = append(cmds, cmd)
		}
	}
	cmd := tea.Batch(cmds...)
	if _, ok := m.top().(signIn); ok {
		return m, cmd
	}
	s, init := newSignIn(m.deps, m.who.email, "", true, "")
	w, h := m.bodySize()
	m.stack = append(m.stack, s.SetSize(w, h))
	m.notice = "" // the sign-in screen says the session ended, once
	return m, tea.Batch(cmd, init)
}

// signedIn starts the session: back to the kept place after a re-sign-in,
// the users table after the first.
func (m model) signedIn(res signedInMsg) (tea.Model, tea.Cmd) {
	m.sess = m.c.Session(res.login.Token)
	m.lastOK = m.deps.clock.Now()
	if m.who.email != res.email {
		m.who = who{email: res.email}
	}
	m.deps.self = res.login.Credentials.ID
	m.lastKey = m.lastOK
	whoCmd := tea.Batch(do(whoOp(res.login)), do(sessionOp()))
	w, h := m.bodySize()
	if len(m.stack) > 1 {
		m.stack = m.stack[:len(m.stack)-1]
		m.notice, m.noticeErr = "Signed in again.", false
		m2, cmd := m.toTop(reloadMsg{})
		return m2, tea.Batch(whoCmd, cmd)
	}
	s, init := newUsers(m.deps, w, h)
	m.stack = []screen{s}
	m.notice = ""
	return m, tea.Batch(whoCmd, init)
}

// whoOp finds the admin's name and identity for the status line.
func whoOp(login *client.Login) op {
	return op{name: "read your account", label: "Reading your account…", quiet: true,
		run: func(ctx context.Context, a api) result {
			var out whoMsg
			switch login.Identity.Type {
			case client.IdentityCorporate:
				corp, err := a.s.Corporate(ctx)
				if err != nil {
					return whoMsg{outcome: outcome{err}}
				}
				out.identity = corp.Company.Name
				if login.Credentials.Type == client.CredentialsRoot {
					out.name = corp.RootUser.Name + " " + corp.RootUser.Surname
				}
			case client.IdentityConsumer:
				cons, err := a.s.Consumer(ctx)
				if err != nil {
					return whoMsg{outcome: outcome{err}}
				}
				out.identity = "consumer " + cons.RootUser.Name + " " + cons.RootUser.Surname
				if login.Credentials.Type == client.CredentialsRoot {
					out.name = cons.RootUser.Name + " " + cons.RootUser.Surname
				}
			}
			if login.Credentials.Type == client.CredentialsUser {
				u, err := a.s.GetUser(ctx, login.Credentials.ID)
				if err != nil {
					return whoMsg{outcome: outcome{err}}
				}
				out.name = u.Name + " " + u.Surname
			}
			return out
		}}
}

// View draws the title bar, the top screen (with the step-up modal over it),
// the notice line, the status line and the help.
func (m model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "Deputy admin"
	return v
}

func (m model) render() string {
	if m.tooSmall() {
		return m.tooSmallView()
	}
	w, h := m.bodySize()
	top := m.top()
	if fs, ok := top.(fullScreen); ok && fs.FullScreen() && m.modal == nil && m.quitAsk == nil && !m.fullHelp {
		return pad(top.View(), m.width, m.height)
	}

	title := m.deps.st.title.Render("Deputy admin") + m.deps.st.dim.Render(" · ") + top.Title()
	if m.deps.sandbox {
		badge := m.deps.st.badge.Render("SANDBOX")
		title = fit(title, w-ansi.StringWidth(badge)-1) + " " + badge
	}

	var body string
	if m.fullHelp {
		body = "\n" + m.fullHelpView(w)
	} else {
		body = top.View()
	}
	body = pad(clip(body, h), w, h)
	switch {
	case m.modal != nil:
		body = overlay(body, m.modal.View(), w, h)
	case m.quitAsk != nil:
		body = m.quitAsk.over(body, m.deps.st, w, h)
	}

	var notice string
	switch {
	case m.busy != "":
		notice = fit(m.spin.View()+" "+m.busy, w)
	case m.modal != nil && m.modal.Busy():
		notice = fit("", w)
	case m.notice != "":
		notice = m.noticeView(w)
		if extra := lineCount(notice) - 1; extra > 0 {
			// A notice too long for one line takes the body's last
			// line rather than lose its end (what went wrong, or what
			// to do about it) to an ellipsis.
			body = clip(body, h-extra)
		}
	default:
		notice = fit("", w)
	}

	return strings.Join([]string{
		fit(title, w),
		body,
		notice,
		m.statusLine(w),
		m.shortHelp(w),
	}, "\n")
}

// tooSmall reports whether the terminal is smaller than the UI draws in.
func (m model) tooSmall() bool { return m.width < minWidth || m.height < minHeight }

// tooSmallView fills a terminal too small for the screens: it says what size
// the UI needs and, when there is room, the size it is, wrapped to the width
// so that nothing is lost at the edge, with "q quit" on the last line (or the
// quit question, when a screen holds unsaved changes). The longest wording
// that fits is shown; on the tiniest terminals it comes down to the size.
func (m model) tooSmallView() string {
	w, h := max(1, m.width), max(1, m.height)
	need := fmt.Sprintf("%d×%d", minWidth, minHeight)
	is := fmt.Sprintf("%d×%d", m.width, m.height)
	help := m.help.ShortHelpView([]key.Binding{m.keys.Quit})
	texts := []string{
		"The terminal is too small for Deputy admin.\n\nIt needs at least " + need + ".\nIt is " + is + ".\n\nMake the window bigger to carry on.",
		"The terminal is too small for Deputy admin.\n\nIt needs at least " + need + ".\nIt is " + is + ".",
		"The terminal is too small for Deputy admin: it needs at least " + need + "; it is " + is + ".",
		"Too small: needs " + need + ", is " + is + ".",
		"Needs " + need + ", is " + is + ".",
		"Needs " + need + ".",
		need,
	}
	if m.quitAsk != nil {
		prompt := m.quitAsk.prompt
		help = m.help.ShortHelpView(m.quitAsk.keys())
		texts = []string{prompt + "\n\nThe terminal is too small for Deputy admin: it needs at least " + need + ".", prompt}
	}
	if m.quitAsk == nil && ansi.StringWidth(help) > w { // the key alone, rather than half its name
		help = m.deps.st.help.ShortKey.Render(m.keys.Quit.Help().Key)
	}
	if h == 1 { // the help, after the size if there is room
		for _, line := range []string{"Needs " + need + " · " + help, need + " · " + help} {
			if ansi.StringWidth(line) <= w {
				return line
			}
		}
		return fit(help, w)
	}
	var text string
	for _, t := range texts {
		text = ansi.Wrap(t, w, "")
		if lineCount(text) <= h-1 {
			break
		}
	}
	lines := strings.Split(pad(text, w, h-1), "\n")
	return strings.Join(append(lines, fit(help, w)), "\n")
}

// noticeView renders the notice on one line of width w, or on two when it
// does not fit on one (cut with an ellipsis only beyond that).
func (m model) noticeView(w int) string {
	mark, style := "✓ ", m.deps.st.ok
	if m.noticeErr {
		mark, style = "✗ ", m.deps.st.err
	}
	lines := strings.Split(wrapText(mark+m.notice, w), "\n")
	if len(lines) > 2 {
		lines = append(lines[:1], strings.Join(lines[1:], " "))
	}
	for i, l := range lines {
		switch {
		case m.noticeErr:
			l = style.Render(l)
		case i == 0:
			l = style.Render(mark) + strings.TrimPrefix(l, mark)
		}
		lines[i] = fit(l, w)
	}
	return strings.Join(lines, "\n")
}

// statusLine shows who is signed in, to which identity, and how long the
// session lasts without another call.
func (m model) statusLine(w int) string {
	if m.sess == nil {
		return fit(m.deps.st.dim.Render("Not signed in · "+m.deps.server), w)
	}
	user := m.who.email
	if m.who.name != "" {
		user = m.who.name + " <" + m.who.email + ">"
	}
	left := "● " + user
	if m.who.identity != "" {
		left += " · " + m.who.identity
	}
	var right string
	if m.info == nil {
		return m.deps.st.dim.Render(fit(left, w))
	}
	now := m.deps.clock.Now()
	remaining := m.info.IdleTimeout - now.Sub(m.lastOK)
	if !m.ends.IsZero() {
		remaining = min(remaining, m.ends.Sub(now))
	}
	if remaining > 0 {
		secs := int((remaining + time.Second - 1) / time.Second)
		right = fmt.Sprintf("session %d:%02d left", secs/60, secs%60)
	} else {
		right = "session ended: the next call asks you to sign in"
	}
	room := w - ansi.StringWidth(right) - 2
	return m.deps.st.dim.Render(fit(left, room) + "  " + right)
}

// shortHelp is the help that is always shown: the bindings on up to two
// lines of width w.
func (m model) shortHelp(w int) string {
	km := m.keyMap()
	bs := km.ShortHelp()
	keep := 0                         // the global keys at the end (more keys, quit) always show
	if j, ok := km.(joinedKeys); ok { // its list is a copy of its own: cut in place
		keep = len(j.global)
	}
	var lines []string
	for len(lines) < 2 {
		n := len(bs)
		for n > 1 && ansi.StringWidth(m.help.ShortHelpView(bs[:n])) > w {
			n--
		}
		if len(lines) == 1 {
			// The last line takes the rest, the screen's keys dropped
			// from its end until it fits: "?" lists them all.
			for keep > 0 && len(bs) > keep && ansi.StringWidth(m.help.ShortHelpView(bs)) > w {
				bs = slices.Delete(bs, len(bs)-keep-1, len(bs)-keep)
			}
			n = len(bs)
		}
		lines = append(lines, fit(m.help.ShortHelpView(bs[:n]), w))
		bs = bs[n:]
	}
	return strings.Join(lines, "\n")
}

// fullHelpView is the help of every key: in the screen's columns when they
// fit in width w, else flowed in order into as many columns as fit (the
// more columns, the shorter each), so that no key is cut at the edge.
func (m model) fullHelpView(w int) string {
	groups := m.keyMap().FullHelp()
	if v := m.help.FullHelpView(groups); lipgloss.Width(v) <= w {
		return v
	}
	var all []key.Binding
	for _, g := range groups {
		for _, b := range g {
			if b.Enabled() {
				all = append(all, b)
			}
		}
	}
	for n := len(groups) - 1; n > 1; n-- {
		per := (len(all) + n - 1) / n
		var cols [][]key.Binding
		for rest := all; len(rest) > 0; rest = rest[min(per, len(rest)):] {
			cols = append(cols, rest[:min(per, len(rest))])
		}
		if v := m.help.FullHelpView(cols); lipgloss.Width(v) <= w {
			return v
		}
	}
	return m.help.FullHelpView([][]key.Binding{all})
}

// keyMap is what the help shows: the modal's keys while it is open, the top
// screen's otherwise, plus the global ones.
func (m model) keyMap() help.KeyMap {
	if m.modal != nil {
		return m.modal.KeyMap()
	}
	if m.quitAsk != nil {
		return bindingList(m.quitAsk.keys())
	}
	global := []key.Binding{m.keys.ForceQuit}
	if !m.top().Editing() {
		global = []key.Binding{m.keys.Help, m.keys.Quit}
	}
	return joinedKeys{screen: m.top().Keys(), global: global}
}

// joinedKeys adds the global bindings to a screen's.
type joinedKeys struct {
	screen help.KeyMap
	global []key.Binding
}

func (k joinedKeys) ShortHelp() []key.Binding {
	return append(append([]key.Binding{}, k.screen.ShortHelp()...), k.global...)
}

func (k joinedKeys) FullHelp() [][]key.Binding {
	cols := append([][]key.Binding{}, k.screen.FullHelp()...)
	if len(cols) == 0 {
		return [][]key.Binding{k.global}
	}
	last := len(cols) - 1
	cols[last] = append(append([]key.Binding{}, cols[last]...), k.global...)
	return cols
}

// pad makes block exactly height lines of at most width cells.
func pad(block string, width, height int) string {
	lines := strings.Split(block, "\n")
	for len(lines) < height {
		lines = append(lines, "")
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > width {
			lines[i] = ansi.Truncate(l, width, "…")
		}
	}
	return strings.Join(lines[:height], "\n")
}

// overlay draws box in the middle of body. The lines it covers are blanked
// on either side, so that the modal reads cleanly on any terminal.
func overlay(body, box string, width, height int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	x, y := max(0, (width-bw)/2), max(0, (height-bh)/2)
	lines := strings.Split(body, "\n")
	for i, l := range strings.Split(box, "\n") {
		if y+i < len(lines) {
			lines[y+i] = strings.Repeat(" ", x) + l
		}
	}
	return pad(strings.Join(lines, "\n"), width, height)
}

// sentenceCase capitalises the first letter of s.
func sentenceCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
