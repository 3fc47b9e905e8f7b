package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/deputyhq/deputy/server/client"
)

// detailMsg answers the detail view's load: the user (Weavr userGetById) and
// their security state (Deputy userStatusGet).
type detailMsg struct {
	outcome
	user   *client.User
	status *client.UserStatus
}

type detailKeys struct {
	Back, Edit, Activate, Deactivate, Invite, Roles, Reload, Connect, Events, Devices key.Binding
	// Up, Down, PageUp, PageDown, Home and End scroll the details when they
	// are taller than the screen, and are shown only then.
	Up, Down, PageUp, PageDown, Home, End key.Binding
}

func (k detailKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Back, k.Up, k.Edit, k.Activate, k.Deactivate, k.Invite, k.Roles, k.Connect, k.Devices}
}

func (k detailKeys) FullHelp() [][]key.Binding {
	cols := [][]key.Binding{{k.Back, k.Reload}, {k.Edit, k.Roles, k.Invite}, {k.Activate, k.Deactivate}, {k.Connect, k.Devices, k.Events}}
	if k.Up.Enabled() {
		cols = append([][]key.Binding{{k.Up, k.PageUp, k.Home}}, cols...)
	}
	return cols
}

// scrolling enables the scroll keys, or disables them all.
func (k *detailKeys) scrolling(on bool) {
	for _, b := range []*key.Binding{&k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Home, &k.End} {
		b.SetEnabled(on)
	}
}

// detailScreen shows one user: their fields, roles, factors, invite and KYC,
// scrolled when they are taller than the screen.
type detailScreen struct {
	deps
	w, h    int
	keys    detailKeys
	user    client.User // as the table had it, then as loaded
	status  *client.UserStatus
	loaded  bool
	loadErr string
	confirm *confirmBox
	top     int // the first line shown of details taller than the screen
}

func newDetail(d deps, u client.User) (screen, tea.Cmd) {
	s := detailScreen{deps: d, user: u, keys: detailKeys{
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Edit:       key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		Activate:   key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "activate")),
		Deactivate: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "deactivate")),
		Invite:     key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "invite")),
		Roles:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "roles")),
		Reload:     key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "reload")),
		Connect:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "connect their phone")),
		Events:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "security events")),
		Devices:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "phone & devices")),
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
		Down:       key.NewBinding(key.WithKeys("down", "j")),
		PageUp:     key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup/pgdn", "page")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown")),
		Home:       key.NewBinding(key.WithKeys("home"), key.WithHelp("home/end", "top/bottom")),
		End:        key.NewBinding(key.WithKeys("end")),
	}}
	return s.withKeys(), s.load()
}

// withKeys enables the keys as they can act on the user shown.
func (s detailScreen) withKeys() detailScreen {
	locked := s.user.Locked
	if s.status != nil {
		locked = s.status.Locked
	}
	activeKeys(&s.keys.Activate, &s.keys.Deactivate, s.user, locked)
	return s
}

func (s detailScreen) load() tea.Cmd {
	id := s.user.ID
	return do(op{name: "read user " + s.user.Email, label: "Loading " + s.user.Email + "…",
		run: func(ctx context.Context, a api) result {
			u, err := a.s.GetUser(ctx, id)
			if err != nil {
				return detailMsg{outcome: outcome{err}}
			}
			st, err := a.s.UserStatus(ctx, id)
			return detailMsg{outcome: outcome{err}, user: u, status: st}
		}})
}

func (s detailScreen) Title() string {
	return "User · " + strings.TrimSpace(s.user.Name+" "+s.user.Surname)
}
func (s detailScreen) Editing() bool { return false }

func (s detailScreen) Keys() help.KeyMap {
	if s.confirm != nil {
		return bindingList(s.confirm.keys())
	}
	return s.keys
}

func (s detailScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s.scrolled(s.top)
}

// room is how many lines the details have: all of the height when they fit,
// else all but the line saying what is below.
func (s detailScreen) room(b scrollBlock) int {
	if b.fits(s.h) {
		return s.h
	}
	return s.h - 1
}

// scrolled shows the details from line top, kept between the first row and
// the end, and shows the scroll keys only when there is something to scroll.
func (s detailScreen) scrolled(top int) detailScreen {
	b := s.layout()
	s.top = max(0, min(top, b.last(s.room(b))))
	s.keys.scrolling(!b.fits(s.h))
	return s
}

// Update handles msg, then keeps the scroll within the details, which a
// load or a smaller terminal may have made shorter.
func (s detailScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	next, cmd := s.update(msg)
	if d, ok := next.(detailScreen); ok {
		next = d.scrolled(d.top)
	}
	return next, cmd
}

func (s detailScreen) update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case detailMsg:
		if err := msg.failure(); err != nil {
			s.loadErr = describe(err)
			return s, nil
		}
		s.user, s.status, s.loaded, s.loadErr = *msg.user, msg.status, true, ""
		return s.withKeys(), nil
	case userActionMsg:
		if msg.failure() != nil {
			return s, nil
		}
		return s, tea.Batch(tell(msg.notice), s.load())
	case reloadMsg:
		return s, s.load()
	case tea.KeyPressMsg:
		if s.confirm != nil {
			var cmd tea.Cmd
			s.confirm, cmd = s.confirm.update(msg)
			return s, cmd
		}
		b := s.layout()
		room := s.room(b)
		switch {
		case key.Matches(msg, s.keys.Up):
			s.top = b.scroll(s.top, room, -1)
		case key.Matches(msg, s.keys.Down):
			s.top = b.scroll(s.top, room, 1)
		case key.Matches(msg, s.keys.PageUp):
			s.top = b.pageUp(s.top, room)
		case key.Matches(msg, s.keys.PageDown):
			s.top = b.pageDown(s.top, room)
		case key.Matches(msg, s.keys.Home):
			s.top = 0
		case key.Matches(msg, s.keys.End):
			s.top = b.last(room)
		case key.Matches(msg, s.keys.Connect):
			c, init := connectUser(s.deps, s.user)
			return s, push(c, init)
		case key.Matches(msg, s.keys.Devices):
			v, init := newDevices(s.deps, s.user)
			return s, push(v, init)
		case key.Matches(msg, s.keys.Back):
			return s, back("")
		case key.Matches(msg, s.keys.Reload):
			return s, s.load()
		case key.Matches(msg, s.keys.Edit):
			f, init := newForm(s.deps, &s.user)
			return s, push(f, init)
		case key.Matches(msg, s.keys.Roles):
			r, init := newRoles(s.deps, s.user)
			return s, push(r, init)
		case key.Matches(msg, s.keys.Events):
			ev, init := newEvents(s.deps, s.user)
			return s, push(ev, init)
		case key.Matches(msg, s.keys.Activate):
			s.confirm = confirmActive(s.user, true)
		case key.Matches(msg, s.keys.Deactivate):
			s.confirm = confirmActive(s.user, false)
		case key.Matches(msg, s.keys.Invite):
			var inv *client.InviteStatus
			if s.loaded {
				inv = s.status.Invite
			}
			s.confirm = confirmInvite(s.user, inv)
		}
	}
	return s, nil
}

// layout is the details drawn as lines, one row per field; a value too
// long for the width goes on under itself rather than lose its end.
func (s detailScreen) layout() scrollBlock {
	u := s.user
	var b scrollBlock
	add := func(lines ...string) {
		b.rows = append(b.rows, scrollRow{start: len(b.lines), errAt: len(b.lines) + len(lines), end: len(b.lines) + len(lines)})
		b.lines = append(b.lines, lines...)
	}
	// row is a label and its value's parts, as many to a line as fit.
	row := func(label string, parts ...string) []string {
		const valueAt = 16
		room := s.w - valueAt
		lines := packed(parts, "   ", room)
		var out []string
		for _, l := range lines {
			if ansi.StringWidth(l) > room {
				out = append(out, strings.Split(wrapText(l, room), "\n")...)
			} else {
				out = append(out, l)
			}
		}
		for i, l := range out {
			if i == 0 {
				out[i] = "  " + s.st.label.Render(fit(label, valueAt-2)) + l
			} else {
				out[i] = strings.Repeat(" ", valueAt) + l
			}
		}
		return out
	}
	status := s.st.ok.Render("active")
	if !u.Active {
		status = s.st.err.Render("inactive")
	}
	heading := "  " + s.st.header.Render(strings.TrimSpace(u.Name+" "+u.Surname)) + "  " + status + s.st.dim.Render("  id "+u.ID)
	add(append([]string{heading, ""}, row("Email", u.Email+s.verified())...)...) // the heading with the first row
	add(row("Mobile", mobileText(u.Mobile))...)
	add(row("Tag", orDash(u.Tag))...)
	add(row("Roles", rolesText(u.Roles))...)
	add(append(row("Born", dateText(u.DateOfBirth), s.st.label.Render("Country ")+orDash(u.CountryOfResidence),
		s.st.label.Render("Locale ")+orDash(u.Locale), s.st.label.Render("Brand ")+orDash(u.Brand)), "")...)
	security := "  " + s.st.header.Render("Security")
	switch {
	case s.loadErr != "":
		add(append([]string{security}, strings.Split(s.st.errText("  ", "Could not load: "+s.loadErr, s.w), "\n")...)...)
	case !s.loaded:
		add(security, s.st.dim.Render("  Loading…"))
	default:
		st := s.status
		pw := firstFit(s.w-16, "not set (the user sets one by accepting an invite)",
			"not set (set by accepting an invite)")
		if st.PasswordSet {
			pw = "set"
		}
		add(append([]string{security}, row("Password", pw)...)...) // the heading with the first row
		add(row("Sign-in", s.lockText())...)
		add(row("Invite", s.inviteText())...)
		add(row("Factors", factorsText(st.Factors))...)
		add(row("KYC", kycText(st.KYC))...)
	}
	return b
}

func (s detailScreen) View() string {
	b := s.layout()
	lines, below := b.view(s.st, s.top, s.room(b))
	if !b.fits(s.h) {
		lines = append(lines, below)
	}
	return s.confirm.over(strings.Join(lines, "\n"), s.st, s.w, s.h)
}

func (s detailScreen) verified() string {
	if !s.loaded {
		return ""
	}
	if s.status.EmailVerified {
		return s.st.dim.Render("  (verified)")
	}
	return s.st.dim.Render("  (not verified)")
}

func (s detailScreen) lockText() string {
	if !s.status.Locked {
		return "not locked"
	}
	if s.status.LockedUntil.IsZero() {
		return s.st.err.Render("locked") + " (a to activate lifts it)"
	}
	return s.st.err.Render("locked until "+s.status.LockedUntil.In(s.loc).Format("2 Jan 15:04")) + " (a to activate lifts it)"
}

func (s detailScreen) inviteText() string {
	inv := s.status.Invite
	if inv == nil {
		return "never sent (i to send one)"
	}
	switch inv.State {
	case client.InvitePending:
		return "sent, waiting; expires " + s.dateTime(inv.ExpiresAt)
	case client.InviteConsumed:
		return "accepted"
	case client.InviteExpired:
		return "expired on " + s.dateTime(inv.ExpiresAt) + " (i to send a new one)"
	case client.InviteVoid:
		return "void: the user was deactivated or their email changed (i to send a new one)"
	}
	return strings.ToLower(inv.State)
}

func (s detailScreen) dateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(s.loc).Format("2 Jan 2006 15:04")
}

func factorsText(fs []client.Factor) string {
	if len(fs) == 0 {
		return "none enrolled"
	}
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s: %s", factorName(f), factorStatus(f.Status)))
	}
	return strings.Join(parts, ", ")
}

func factorName(f client.Factor) string {
	switch f.Channel {
	case client.ChannelSMS:
		return "SMS codes"
	case client.ChannelBiometric:
		return "biometric (mobile app)"
	}
	return strings.ToLower(f.Channel + " " + f.Type)
}

func factorStatus(s string) string {
	switch s {
	case client.FactorActive:
		return "active"
	case client.FactorPendingVerification:
		return "waiting for the code"
	case client.FactorInactive:
		return "inactive"
	}
	return strings.ToLower(s)
}

func kycText(k *client.KYCStatus) string {
	if k == nil {
		return "not started"
	}
	var st string
	switch k.Status {
	case client.KYCPendingReview:
		st = "pending review"
	case client.KYCApproved:
		st = "approved"
	case client.KYCRejected:
		st = "rejected"
	default:
		st = strings.ToLower(k.Status)
	}
	return st + " (ref " + k.Reference + ")"
}

func mobileText(m *client.Mobile) string {
	if m == nil {
		return "—"
	}
	return m.CountryCode + " " + m.Number
}

func dateText(d *client.Date) string {
	if d == nil {
		return "—"
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

func rolesText(rs []string) string {
	if len(rs) == 0 {
		return "none (Weavr's rule: every permission)"
	}
	return strings.Join(rs, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// bindingList is a flat key map.
type bindingList []key.Binding

func (b bindingList) ShortHelp() []key.Binding  { return b }
func (b bindingList) FullHelp() [][]key.Binding { return [][]key.Binding{b} }
