package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// usersPageMsg answers one page of the users table.
type usersPageMsg struct {
	outcome
	seq  int
	page *client.UserPage
}

// filter is what the users table shows: the server filters (Weavr usersGet's
// active and roles, and Deputy's search), never the UI.
type filter struct {
	search string // part of a name, an email or a tag
	active int    // index into activeChoices
	role   int    // 0 for any, else 1 + index into allRoles
}

// activeChoices names the status filter's choices: all, active, inactive.
func activeChoices() []string { return []string{"all", "active", "inactive"} }

func (f filter) roleName() string {
	if f.role == 0 {
		return ""
	}
	return allRoles()[f.role-1]
}

func (f filter) empty() bool { return f.search == "" && f.active == 0 && f.role == 0 }

// query turns the filter into the API's.
func (f filter) query(offset, limit int) client.UserFilter {
	q := client.UserFilter{Offset: offset, Limit: limit}
	switch f.active {
	case 1:
		q.Active = new(true)
	case 2:
		q.Active = new(false)
	}
	if r := f.roleName(); r != "" {
		q.Roles = []string{r}
	}
	q.Search = f.search
	return q
}

func (f filter) describe() string {
	if f.empty() {
		return "All users"
	}
	var parts []string
	switch f.active {
	case 1:
		parts = append(parts, "active only")
	case 2:
		parts = append(parts, "inactive only")
	}
	if r := f.roleName(); r != "" {
		parts = append(parts, "role "+r)
	}
	if f.search != "" {
		parts = append(parts, "“"+f.search+"”")
	}
	return "Filter: " + strings.Join(parts, " · ")
}

type usersKeys struct {
	Up, Down, PrevPage, NextPage, Details, Filter, Clear, Reload, New, Import, Edit, Activate, Deactivate, Invite, Roles, Connect, Factors, Outbox key.Binding
}

func newUsersKeys(sandbox bool) usersKeys {
	k := usersKeys{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PrevPage:   key.NewBinding(key.WithKeys("left", "pgup", "h"), key.WithHelp("←/pgup", "previous page")),
		NextPage:   key.NewBinding(key.WithKeys("right", "pgdown", "l"), key.WithHelp("→/pgdn", "next page")),
		Details:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Clear:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Reload:     key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "reload")),
		New:        key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new")),
		Import:     key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "import CSV")),
		Edit:       key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		Activate:   key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "activate")),
		Deactivate: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "deactivate")),
		Invite:     key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "invite")),
		Roles:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "roles")),
		Connect:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "connect a phone")),
		Factors:    key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "my factors")),
		Outbox:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "outbox")),
	}
	if !sandbox {
		k.Outbox.SetEnabled(false)
	}
	return k
}

// usersScreen is the users table: one page at a time from the API, sized to
// the window, with the filter panel (/) and confirmations.
type usersScreen struct {
	deps
	w, h    int
	keys    usersKeys
	f       filter
	panel   *filterPanel
	confirm *confirmBox

	offset, limit int
	page          *client.UserPage
	cursor        int
	focus         string // a user to put the cursor on once their page is loaded
	seq           int
	loading       bool
	loadErr       string
}

// newUsers returns the users table and the command that loads its first page.
func newUsers(d deps, w, h int) (screen, tea.Cmd) {
	s := usersScreen{deps: d, keys: newUsersKeys(d.sandbox)}
	s.w, s.h = w, h
	return s.load()
}

// rows is how many users fit: the body less the filter line, the column
// headings and the page line.
func (s usersScreen) rows() int { return max(1, min(100, s.h-3)) }

func (s usersScreen) Title() string     { return "Users" }
func (s usersScreen) Editing() bool     { return s.panel != nil }
func (s usersScreen) Keys() help.KeyMap { return usersHelp{s} }

func (s usersScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	if s.panel != nil {
		s.panel.search.SetWidth(max(10, w-30))
	}
	return s
}

// load asks for the page at s.offset, as many users as fit.
func (s usersScreen) load() (screen, tea.Cmd) {
	s.limit = s.rows()
	s.offset -= s.offset % s.limit
	s.seq++
	s.loading = true
	seq, q := s.seq, s.f.query(s.offset, s.limit)
	return s, do(op{name: "list users", label: "Loading users…",
		run: func(ctx context.Context, a api) result {
			page, err := a.s.ListUsers(ctx, q)
			return usersPageMsg{outcome: outcome{err}, seq: seq, page: page}
		}})
}

// selected returns the user under the cursor.
func (s usersScreen) selected() (client.User, bool) {
	if s.page == nil || s.cursor < 0 || s.cursor >= len(s.page.Users) {
		return client.User{}, false
	}
	return s.page.Users[s.cursor], true
}

func (s usersScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if s.rows() != s.limit {
			return s.load() // a page of the new size
		}
		return s, nil
	case usersPageMsg:
		if msg.seq != s.seq {
			return s, nil // an older request
		}
		s.loading = false
		if err := msg.failure(); err != nil {
			s.loadErr = describe(err)
			return s, nil
		}
		s.loadErr = ""
		s.page = msg.page
		if len(s.page.Users) == 0 && s.offset > 0 && s.page.Count > 0 {
			// The page emptied (users were deactivated or filtered away): go back.
			s.offset = max(0, ((s.page.Count-1)/s.limit)*s.limit)
			return s.load()
		}
		if s.focus != "" {
			return s.findFocus()
		}
		s.cursor = min(s.cursor, max(0, len(s.page.Users)-1))
		return s, nil
	case userActionMsg:
		if msg.failure() != nil {
			return s, nil
		}
		next, cmd := s.load()
		return next, tea.Batch(tell(msg.notice), cmd)
	case reloadMsg:
		s.focus = msg.focus
		return s.load()
	case refreshMsg:
		if s.panel != nil || s.confirm != nil || s.loading {
			return s, nil
		}
		return s.load()
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return s, nil
}

// findFocus puts the cursor on s.focus once its page is loaded. Users are
// listed in the order they were created, so a new one is on the last page;
// when the filter hides them, it is cleared.
func (s usersScreen) findFocus() (screen, tea.Cmd) {
	for i, u := range s.page.Users {
		if u.ID == s.focus {
			s.cursor, s.focus = i, ""
			return s, nil
		}
	}
	last := max(0, ((s.page.Count-1)/s.limit)*s.limit)
	switch {
	case s.offset < last:
		s.offset = last
		return s.load()
	case !s.f.empty():
		s.f, s.offset = filter{}, 0
		return s.load()
	}
	s.focus = ""
	s.cursor = min(s.cursor, max(0, len(s.page.Users)-1))
	return s, nil
}

func (s usersScreen) key(msg tea.KeyPressMsg) (screen, tea.Cmd) {
	if s.confirm != nil {
		var cmd tea.Cmd
		s.confirm, cmd = s.confirm.update(msg)
		return s, cmd
	}
	if s.panel != nil {
		done, apply := s.panel.update(msg)
		if !done {
			return s, nil
		}
		if apply {
			s.f, s.offset, s.cursor = s.panel.filter(), 0, 0
			s.panel = nil
			return s.load()
		}
		s.panel = nil
		return s, nil
	}
	u, ok := s.selected()
	s.keys = s.keysFor(u, ok)
	switch {
	case key.Matches(msg, s.keys.Up):
		s.cursor = max(0, s.cursor-1)
	case key.Matches(msg, s.keys.Down):
		if s.page != nil {
			s.cursor = min(len(s.page.Users)-1, s.cursor+1)
		}
	case key.Matches(msg, s.keys.PrevPage):
		if s.offset > 0 {
			s.offset = max(0, s.offset-s.limit)
			s.cursor = 0
			return s.load()
		}
	case key.Matches(msg, s.keys.NextPage):
		if s.page != nil && s.offset+s.limit < s.page.Count {
			s.offset += s.limit
			s.cursor = 0
			return s.load()
		}
	case key.Matches(msg, s.keys.Filter):
		s.panel = newFilterPanel(s.f, s.st, max(10, s.w-30))
		return s, nil
	case key.Matches(msg, s.keys.Clear):
		if !s.f.empty() {
			s.f, s.offset, s.cursor = filter{}, 0, 0
			return s.load()
		}
	case key.Matches(msg, s.keys.Reload):
		return s.load()
	case key.Matches(msg, s.keys.New):
		f, init := newForm(s.deps, nil)
		return s, push(f, init)
	case key.Matches(msg, s.keys.Import):
		f, init := newImport(s.deps)
		return s, push(f, init)
	case key.Matches(msg, s.keys.Factors):
		f, init := newFactors(s.deps)
		return s, push(f, init)
	case key.Matches(msg, s.keys.Outbox):
		o, init := newOutbox(s.deps)
		return s, push(o, init)
	case key.Matches(msg, s.keys.Connect) && !ok:
		c, init := connectSelf(s.deps)
		return s, push(c, init)
	case !ok:
		return s, nil
	case key.Matches(msg, s.keys.Connect):
		c, init := connectUser(s.deps, u)
		return s, push(c, init)
	case key.Matches(msg, s.keys.Details):
		d, init := newDetail(s.deps, u)
		return s, push(d, init)
	case key.Matches(msg, s.keys.Edit):
		f, init := newForm(s.deps, &u)
		return s, push(f, init)
	case key.Matches(msg, s.keys.Activate):
		s.confirm = confirmActive(u, true)
	case key.Matches(msg, s.keys.Deactivate):
		s.confirm = confirmActive(u, false)
	case key.Matches(msg, s.keys.Invite):
		s.confirm = confirmInvite(u, nil)
	case key.Matches(msg, s.keys.Roles):
		r, init := newRoles(s.deps, u)
		return s, push(r, init)
	}
	return s, nil
}

// columns returns the widths of name, email, tag, roles and status for width w.
func columns(w int) (name, email, tag, roles, status int) {
	status, tag, roles = 8, 10, 14
	rest := max(20, w-2-4-status-tag-roles)
	name = rest * 2 / 5
	email = rest - name
	return
}

func (s usersScreen) View() string {
	var lines []string
	head := s.f.describe()
	if s.f.empty() {
		head += s.st.dim.Render(" · / to search names, emails and tags")
	} else {
		head += s.st.dim.Render(" · esc clears")
	}
	lines = append(lines, fit(head, s.w))

	nw, ew, tw, rw, sw := columns(s.w)
	row := func(mark, name, email, tag, roles, status string) string {
		return mark + fit(name, nw) + " " + fit(email, ew) + " " + fit(tag, tw) + " " + fit(roles, rw) + " " + fit(status, sw)
	}
	lines = append(lines, s.st.header.Render(row("  ", "NAME", "EMAIL", "TAG", "ROLES", "STATUS")))

	rows := s.rows()
	switch {
	case s.page == nil && s.loadErr != "":
		lines = append(lines, "  "+s.st.errLine("Could not load users: "+s.loadErr))
	case s.page == nil:
		lines = append(lines, s.st.dim.Render("  Loading users…"))
	case len(s.page.Users) == 0 && s.f.empty():
		lines = append(lines, s.st.dim.Render("  No users yet. Press n to create one."))
	case len(s.page.Users) == 0:
		lines = append(lines, s.st.dim.Render("  No user matches the filter. Press esc to clear it."))
	default:
		for i, u := range s.page.Users {
			status := statusText(u)
			if i == s.cursor {
				lines = append(lines, s.st.selected.Render(row("› ", u.Name+" "+u.Surname, u.Email, u.Tag, rolesShort(u.Roles), status)))
			} else {
				lines = append(lines, row("  ", u.Name+" "+u.Surname, u.Email, u.Tag, rolesShort(u.Roles), status))
			}
		}
	}
	for len(lines) < rows+2 {
		lines = append(lines, "")
	}
	lines = lines[:rows+2]

	footer := ""
	if s.page != nil {
		pages := max(1, (s.page.Count+s.limit-1)/s.limit)
		pageNo := s.offset/s.limit + 1
		noun := "users"
		if s.page.Count == 1 {
			noun = "user"
		}
		footer = fmt.Sprintf("Page %d of %d · %d %s", pageNo, pages, s.page.Count, noun)
		if !s.f.empty() {
			footer += " match"
		}
		if s.loadErr != "" {
			footer += " · " + s.st.errLine(s.loadErr)
		}
	}
	lines = append(lines, s.st.dim.Render(fit(footer, s.w)))

	body := strings.Join(lines, "\n")
	switch {
	case s.panel != nil:
		body = overlayTop(body, s.panel.view(s.st, min(s.w, 76)), s.w, s.h, 1)
	case s.confirm != nil:
		body = s.confirm.over(body, s.st, s.w, s.h)
	}
	return body
}

// statusText is a user's state in one word: inactive, locked (out of
// sign-in), invited (the invite waits to be accepted) or active.
func statusText(u client.User) string {
	switch {
	case !u.Active:
		return "inactive"
	case u.Locked:
		return "locked"
	case u.InvitePending:
		return "invited"
	}
	return "active"
}

func lineCount(s string) int { return strings.Count(s, "\n") + 1 }

// overlayTop draws box over body from line y.
func overlayTop(body, box string, w, h, y int) string {
	lines := strings.Split(pad(body, w, h), "\n")
	for i, l := range strings.Split(box, "\n") {
		if y+i < len(lines) {
			lines[y+i] = l
		}
	}
	return strings.Join(lines, "\n")
}

// keysFor is the table's keys with those that act on the selected user u
// (ok: there is one) enabled as they can act.
func (s usersScreen) keysFor(u client.User, ok bool) usersKeys {
	k := s.keys
	activeKeys(&k.Activate, &k.Deactivate, u, u.Locked)
	if !ok {
		k.Activate.SetEnabled(false)
		k.Deactivate.SetEnabled(false)
	}
	return k
}

// usersHelp is the users table's key map; it depends on the screen's state.
type usersHelp struct{ s usersScreen }

func (h usersHelp) ShortHelp() []key.Binding {
	k := h.s.keysFor(h.s.selected())
	switch {
	case h.s.confirm != nil:
		return h.s.confirm.keys()
	case h.s.panel != nil:
		return h.s.panel.keys.list()
	}
	b := []key.Binding{k.Filter, k.New, k.Details, k.Edit, k.Activate, k.Deactivate, k.Invite, k.Roles, k.Connect, k.Reload}
	return b
}

func (h usersHelp) FullHelp() [][]key.Binding {
	k := h.s.keysFor(h.s.selected())
	if h.s.confirm != nil || h.s.panel != nil {
		return [][]key.Binding{h.ShortHelp()}
	}
	return [][]key.Binding{
		{k.Up, k.Down, k.PrevPage, k.NextPage},
		{k.Filter, k.Clear, k.Reload, k.Details, k.New, k.Import, k.Edit},
		{k.Activate, k.Deactivate, k.Invite, k.Roles},
		{k.Connect, k.Factors, k.Outbox},
	}
}

// filterPanel edits the table's filter: a search text (part of a name, an
// email or a tag), the status and a role.
type filterPanel struct {
	search textinput.Model
	active int
	role   int
	focus  int // 0 search, 1 status, 2 role
	err    string
	keys   panelKeys
}

type panelKeys struct {
	Next, Prev, Left, Right, Apply, Cancel key.Binding
}

func (k panelKeys) list() []key.Binding {
	return []key.Binding{k.Next, k.Left, k.Apply, k.Cancel}
}

func newFilterPanel(f filter, st *styles, width int) *filterPanel {
	p := &filterPanel{search: newInput("name, email or tag", 254), active: f.active, role: f.role,
		keys: panelKeys{
			Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next")),
			Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "previous")),
			Left:   key.NewBinding(key.WithKeys("left"), key.WithHelp("←/→", "change")),
			Right:  key.NewBinding(key.WithKeys("right")),
			Apply:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
			Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}}
	p.search.SetWidth(width)
	p.search.SetValue(f.search)
	p.search.Focus()
	return p
}

func (p *filterPanel) filter() filter {
	return filter{search: strings.TrimSpace(p.search.Value()), active: p.active, role: p.role}
}

// update handles a key: done when the panel closes, apply when its filter is to be used.
func (p *filterPanel) update(msg tea.KeyPressMsg) (done, apply bool) {
	switch {
	case key.Matches(msg, p.keys.Apply):
		return true, true
	case key.Matches(msg, p.keys.Cancel):
		return true, false
	case key.Matches(msg, p.keys.Next):
		p.focus = (p.focus + 1) % 3
	case key.Matches(msg, p.keys.Prev):
		p.focus = (p.focus + 2) % 3
	case p.focus == 1 && key.Matches(msg, p.keys.Left):
		p.active = (p.active + 2) % 3
	case p.focus == 1 && key.Matches(msg, p.keys.Right):
		p.active = (p.active + 1) % 3
	case p.focus == 2 && key.Matches(msg, p.keys.Left):
		p.role = (p.role + len(allRoles())) % (len(allRoles()) + 1)
	case p.focus == 2 && key.Matches(msg, p.keys.Right):
		p.role = (p.role + 1) % (len(allRoles()) + 1)
	case p.focus == 0:
		p.err = ""
		p.search, _ = p.search.Update(msg)
	}
	if p.focus == 0 {
		p.search.Focus()
	} else {
		p.search.Blur()
	}
	return false, false
}

func (p *filterPanel) view(st *styles, width int) string {
	label := func(text string, i int) string {
		if p.focus == i {
			return st.focus.Render("› " + fit(text, 8))
		}
		return "  " + st.label.Render(fit(text, 8))
	}
	choice := func(names []string, cur int, focused bool) string {
		v := names[cur]
		if focused {
			return "‹ " + st.header.Render(v) + " ›"
		}
		return v
	}
	hint := "part of a name, an email or a tag; any case"
	roles := append([]string{"any"}, allRoles()...)
	lines := []string{
		st.header.Render("Filter users"),
		label("Search", 0) + p.search.View(),
		"            " + st.dim.Render(hint),
		label("Status", 1) + choice(activeChoices(), p.active, p.focus == 1),
		label("Role", 2) + choice(roles, p.role, p.focus == 2),
	}
	if p.err != "" {
		lines = append(lines, st.errLine(p.err))
	}
	return st.box.Width(width).Render(strings.Join(lines, "\n"))
}
