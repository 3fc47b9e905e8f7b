package tui

import (
	"context"
	"errors"
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/deputyhq/deputy/server/client"
)

// savedMsg answers a create (Weavr userCreate) or an update (userUpdate).
type savedMsg struct {
	outcome
	user *client.User
}

// grantMsg answers which roles the admin may give (Deputy sessionGet).
type grantMsg struct {
	outcome
	info *client.SessionInfo
}

// grantOp asks the server which roles the admin may give: the rank rule is
// the server's, never re-typed here.
func grantOp() tea.Cmd {
	return do(op{name: "read the roles you may give", label: "Reading the roles you may give…", quiet: true,
		run: func(ctx context.Context, a api) result {
			info, err := a.s.Info(ctx)
			return grantMsg{outcome: outcome{err}, info: info}
		}})
}

// leastRole is the role a new user starts with: it sees and changes only
// the user themselves.
const leastRole = client.RoleCardAssignee

type formKeys struct {
	Next, Prev, Enter, Save, Toggle, Left, Right, Cancel key.Binding
}

func (k formKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Enter, k.Save, k.Toggle, k.Cancel}
}

func (k formKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Next, k.Prev, k.Enter}, {k.Save, k.Cancel}, {k.Left, k.Toggle}}
}

// formField is one text field, named by its JSON path so that the server's
// field errors land under it.
type formField struct {
	name, label string
	input       textinput.Model
}

// formScreen creates a user (edit nil) or edits one. It checks the fields as
// the server does before sending, and shows the server's own field errors
// under the right field.
type formScreen struct {
	deps
	w, h       int
	keys       formKeys
	edit       *client.User
	fields     []formField
	grantable  []string // create only: the roles the admin may give, nil until the server says
	mayAll     bool     // the admin may create a user without roles (who holds every permission)
	grantErr   string   // why the grantable roles could not be read
	roles      []bool   // the roles to give, in grantable's order
	roleCursor int
	confirm    *confirmBox // asks before creating a user without roles
	focus      int         // a field index; len(fields) is the roles row
	errs       fieldErrors
	formErr    string
	saving     bool
	top        int // the first line shown of a form taller than the screen
}

func newForm(d deps, edit *client.User) (screen, tea.Cmd) {
	s := formScreen{deps: d, edit: edit, errs: fieldErrors{}, keys: formKeys{
		Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		Enter:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next / save")),
		Save:   key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Toggle: key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "toggle role")),
		Left:   key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←/→", "choose role")),
		Right:  key.NewBinding(key.WithKeys("right")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}}
	field := func(name, label string, limit int) formField {
		return formField{name: name, label: label, input: newInput("", limit)}
	}
	s.fields = []formField{
		field("name", "Name", 50),
		field("surname", "Surname", 50),
		field("email", "Email", 254),
		field("mobile.countryCode", "Mobile code", 4),
		field("mobile.number", "Mobile no.", 12),
		field("tag", "Tag", 50),
	}
	if edit != nil {
		vals := []string{edit.Name, edit.Surname, edit.Email, "", "", edit.Tag}
		if edit.Mobile != nil {
			vals[3], vals[4] = edit.Mobile.CountryCode, edit.Mobile.Number
		}
		for i, v := range vals {
			s.fields[i].input.SetValue(v)
		}
		s.focusField()
		return s, nil
	}
	s.keys.Toggle.SetEnabled(false)
	s.focusField()
	return s, grantOp()
}

// granted takes the roles the admin may give, ticking the least of them.
func (s formScreen) granted(msg grantMsg) formScreen {
	if err := msg.failure(); err != nil {
		s.grantErr = describe(err)
		return s
	}
	s.grantErr = ""
	s.grantable, s.mayAll = msg.info.GrantableRoles, msg.info.MayGrantAll
	s.roles = make([]bool, len(s.grantable))
	if i := slices.Index(s.grantable, leastRole); i >= 0 {
		s.roles[i] = true
	}
	s.roleCursor = 0
	return s
}

func (s *formScreen) focusField() {
	for i := range s.fields {
		if i == s.focus {
			s.fields[i].input.Focus()
		} else {
			s.fields[i].input.Blur()
		}
	}
	onRoles := s.focus == len(s.fields)
	s.keys.Toggle.SetEnabled(onRoles)
	s.keys.Left.SetEnabled(onRoles)
}

// last is the index of the last focusable row.
func (s formScreen) last() int {
	if s.edit == nil {
		return len(s.fields)
	}
	return len(s.fields) - 1
}

func (s formScreen) Title() string {
	if s.edit != nil {
		return "Edit " + s.edit.Email
	}
	return "New user"
}

func (s formScreen) Editing() bool { return s.confirm == nil }

// Unsaved names the form when a field differs from what it started with.
func (s formScreen) Unsaved() string {
	in := s.input()
	if s.edit == nil {
		if in != (userInput{}) {
			return "the new user"
		}
		return ""
	}
	var start userInput
	start.name, start.surname, start.email, start.tag = s.edit.Name, s.edit.Surname, s.edit.Email, s.edit.Tag
	if m := s.edit.Mobile; m != nil {
		start.countryCode, start.number = m.CountryCode, m.Number
	}
	if in != start {
		return "the changes to " + s.edit.Email
	}
	return ""
}

func (s formScreen) Keys() help.KeyMap {
	if s.confirm != nil {
		return bindingList(s.confirm.keys())
	}
	return s.keys
}

func (s formScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	for i := range s.fields {
		s.fields[i].input.SetWidth(max(10, min(34, w-40)))
	}
	return s.scrolled()
}

// Update handles msg, then scrolls the focused row into view.
func (s formScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	next, cmd := s.update(msg)
	if f, ok := next.(formScreen); ok {
		next = f.scrolled()
	}
	return next, cmd
}

func (s formScreen) update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case savedMsg:
		s.saving = false
		return s.saved(msg)
	case grantMsg:
		return s.granted(msg), nil
	case createMsg:
		return s.create(msg.create)
	case tea.KeyPressMsg:
		if s.saving {
			return s, nil
		}
		if s.confirm != nil {
			var cmd tea.Cmd
			s.confirm, cmd = s.confirm.update(msg)
			return s, cmd
		}
		switch {
		case key.Matches(msg, s.keys.Cancel):
			var cmd tea.Cmd
			s.confirm, cmd = leave(s)
			return s, cmd
		case key.Matches(msg, s.keys.Save):
			return s.submit()
		case key.Matches(msg, s.keys.Enter):
			if s.focus >= s.last() {
				return s.submit()
			}
			s.focus++
			s.focusField()
			return s, nil
		case key.Matches(msg, s.keys.Next):
			s.focus = min(s.last(), s.focus+1)
			s.focusField()
			return s, nil
		case key.Matches(msg, s.keys.Prev):
			s.focus = max(0, s.focus-1)
			s.focusField()
			return s, nil
		}
		if s.focus == len(s.fields) {
			if len(s.roles) == 0 {
				return s, nil // not read yet
			}
			switch msg.String() {
			case "left":
				s.roleCursor = max(0, s.roleCursor-1)
			case "right":
				s.roleCursor = min(len(s.roles)-1, s.roleCursor+1)
			case "space":
				s.roles[s.roleCursor] = !s.roles[s.roleCursor]
			}
			return s, nil
		}
		f := &s.fields[s.focus]
		var cmd tea.Cmd
		f.input, cmd = f.input.Update(msg)
		delete(s.errs, f.name)
		return s, cmd
	}
	return s, nil
}

func (s formScreen) value(name string) string {
	for _, f := range s.fields {
		if f.name == name {
			return strings.TrimSpace(f.input.Value())
		}
	}
	return ""
}

func (s formScreen) input() userInput {
	return userInput{
		name: s.value("name"), surname: s.value("surname"), email: s.value("email"),
		countryCode: s.value("mobile.countryCode"), number: s.value("mobile.number"), tag: s.value("tag"),
	}
}

// submit checks the fields and sends the create or the changes, with a fresh
// idempotency-ref that the step-up's retry reuses.
func (s formScreen) submit() (screen, tea.Cmd) {
	in := s.input()
	s.formErr = ""
	s.errs = in.validate(s.edit != nil && s.edit.Mobile != nil)
	if len(s.errs) > 0 {
		s.focusFirstError()
		return s, nil
	}
	var mobile *client.Mobile
	if in.countryCode != "" {
		mobile = &client.Mobile{CountryCode: in.countryCode, Number: in.number}
	}
	if s.edit == nil {
		create := client.UserCreate{Name: in.name, Surname: in.surname, Email: in.email, Mobile: mobile, Tag: in.tag}
		for i, on := range s.roles {
			if on {
				create.Roles = append(create.Roles, s.grantable[i])
			}
		}
		switch {
		case s.grantable == nil && s.grantErr != "":
			s.formErr = "Could not read the roles you may give: " + s.grantErr + ". Press esc and try again."
			return s, nil
		case s.grantable == nil:
			s.formErr = "Still reading the roles you may give; save again in a moment."
			return s, nil
		case len(create.Roles) == 0 && !s.mayAll:
			s.formErr = "Tick a role: you may not create a user who holds every permission."
			s.focus = len(s.fields)
			s.focusField()
			return s, nil
		case len(create.Roles) == 0:
			s.confirm = newConfirm("Create "+in.email+" with no roles? A user without roles holds every permission, as an admin does.",
				func() tea.Msg { return createMsg{create} })
			return s, nil
		}
		return s.create(create)
	}
	ref := client.NewIdempotencyRef()
	patch, changed := s.patch(in, mobile)
	if !changed {
		s.formErr = "Nothing changed."
		return s, nil
	}
	id, email := s.edit.ID, s.edit.Email
	s.saving = true
	return s, do(op{name: "update user " + email, label: "Saving " + email + "…", quiet: true,
		run: func(ctx context.Context, a api) result {
			u, err := a.s.UpdateUser(ctx, id, patch, client.IdempotencyRef(ref))
			return savedMsg{outcome: outcome{err}, user: u}
		}})
}

// createMsg is the admin's yes to creating a user without roles.
type createMsg struct{ create client.UserCreate }

// create sends the create, with a fresh idempotency-ref that the step-up's
// retry reuses.
func (s formScreen) create(create client.UserCreate) (screen, tea.Cmd) {
	ref := client.NewIdempotencyRef()
	s.saving = true
	// The name is also what the phone is asked to approve: the whole operation.
	return s, do(op{name: "create user " + create.Email + " with roles " + rolesText(create.Roles), label: "Creating " + create.Email + "…", quiet: true,
		run: func(ctx context.Context, a api) result {
			u, err := a.s.CreateUser(ctx, create, client.IdempotencyRef(ref))
			return savedMsg{outcome: outcome{err}, user: u}
		}})
}

// patch holds only what the admin changed: changing the email or the mobile
// needs a step-up, the other fields do not.
func (s formScreen) patch(in userInput, mobile *client.Mobile) (client.UserPatch, bool) {
	var p client.UserPatch
	changed := false
	set := func(dst **string, old, v string) {
		if v != old {
			*dst = &v
			changed = true
		}
	}
	set(&p.Name, s.edit.Name, in.name)
	set(&p.Surname, s.edit.Surname, in.surname)
	set(&p.Email, s.edit.Email, in.email)
	set(&p.Tag, s.edit.Tag, in.tag)
	if mobile != nil && (s.edit.Mobile == nil || *s.edit.Mobile != *mobile) {
		p.Mobile = mobile
		changed = true
	}
	return p, changed
}

func (s formScreen) saved(msg savedMsg) (screen, tea.Cmd) {
	err := msg.failure()
	if err == nil {
		if s.edit != nil {
			return s, back("Saved " + displayName(*msg.user) + ".")
		}
		return s, backTo("Created "+displayName(*msg.user)+". Press i to email them an invite.", msg.user.ID)
	}
	var ae *client.Error
	switch {
	case errors.As(err, &ae) && len(ae.Fields) > 0:
		var other []string
		for _, f := range ae.Fields {
			if s.hasField(f.Field) {
				s.errs[f.Field] = fieldError(f)
			} else {
				other = append(other, fieldLine(f))
			}
		}
		if len(other) > 0 {
			s.formErr = "The server refused " + strings.Join(other, "; ")
		}
		s.focusFirstError()
	case errors.As(err, &ae) && ae.Code == client.CodeEmailNotUnique:
		s.errs["email"] = describe(err)
		s.focusFirstError()
	case errors.As(err, &ae) && ae.Code == client.CodeMobileOrCountryCodeInvalid:
		s.errs["mobile.number"] = describe(err)
		s.focusFirstError()
	case errors.Is(err, client.ErrStepUpRequired):
		s.formErr = "Not saved: the step-up did not complete. Press ctrl+s to try again."
	case errors.Is(err, client.ErrUnauthorized):
		s.formErr = "Not saved: your session had ended. Press ctrl+s to save again."
	default:
		s.formErr = "Not saved: " + describe(err) + "."
	}
	return s, nil
}

func (s formScreen) hasField(name string) bool {
	return slices.ContainsFunc(s.fields, func(f formField) bool { return f.name == name })
}

func (s *formScreen) focusFirstError() {
	for i, f := range s.fields {
		if _, bad := s.errs[f.name]; bad {
			s.focus = i
			break
		}
	}
	s.focusField()
}

// formLayout is the form drawn as lines: the rows that scroll (the heading,
// the fields with their errors and hints, the roles; one row per focusable
// row, in order) and the foot that stays (the save error, or what saving
// will ask).
type formLayout struct {
	scrollBlock
	foot []string
}

// indent lines up hints and errors under the fields' inputs.
const indent = "                "

func (s formScreen) layout() formLayout {
	label := func(text string, focused bool) string {
		if focused {
			return s.st.focus.Render("› " + fit(text, 13))
		}
		return "  " + s.st.label.Render(fit(text, 13))
	}
	heading := "New user"
	if s.edit != nil {
		heading = "Edit " + displayName(*s.edit)
	}
	var l formLayout
	l.lines = []string{"  " + s.st.header.Render(heading), ""}
	for i, f := range s.fields {
		row := scrollRow{start: len(l.lines)}
		if i == 0 {
			row.start = 0 // the heading comes into view with the first field
		}
		line := label(f.label, i == s.focus) + f.input.View()
		if hint := fieldHint(f.name); hint != "" && i == s.focus {
			// Beside the input when it fits, under it when it does not.
			if ansi.StringWidth(line)+2+ansi.StringWidth(hint) <= s.w {
				line += "  " + s.st.dim.Render(hint)
			} else {
				line += "\n" + s.st.hint(indent, hint, s.w)
			}
		}
		l.lines = append(l.lines, strings.Split(line, "\n")...)
		row.errAt = len(l.lines)
		if e, ok := s.errs[f.name]; ok {
			l.lines = append(l.lines, strings.Split(s.st.errText(indent, e, s.w), "\n")...)
			row.bad = true
		}
		if s.edit != nil && i == len(s.fields)-1 {
			l.lines = append(l.lines, strings.Split(s.st.hint("  ", "Change roles with r on the users table or the user's page.", s.w), "\n")...)
		}
		row.end = len(l.lines)
		l.rows = append(l.rows, row)
	}
	if s.edit == nil {
		row := scrollRow{start: len(l.lines)}
		roles, note, bad := s.rolesRow(label)
		l.lines = append(l.lines, roles...)
		row.errAt = len(l.lines)
		l.lines = append(l.lines, note...)
		row.end, row.bad = len(l.lines), bad
		l.rows = append(l.rows, row)
	}
	var foot string
	switch {
	case s.saving:
		foot = "  " + s.st.dim.Render("Saving…")
	case s.formErr != "":
		foot = s.st.errText("  ", s.formErr, s.w)
	case s.edit != nil:
		foot = s.st.hint("  ", "Changing the email or mobile asks you to confirm it's you.", s.w)
	default:
		foot = s.st.hint("  ", "Creating a user asks you to confirm it's you. Mobile is optional.", s.w)
	}
	l.foot = strings.Split(foot, "\n")
	return l
}

// room is how many lines the scrolling rows have: the height but for the
// foot and the line above it.
func (s formScreen) room(l formLayout) int { return s.h - len(l.foot) - 1 }

// scrolled moves the form's first shown line, when the form is taller than
// the screen, so that the focused row, with its error and hint, is in view
// (scrollBlock.follow).
func (s formScreen) scrolled() formScreen {
	l := s.layout()
	s.top = l.follow(s.top, s.room(l), s.focus)
	return s
}

func (s formScreen) View() string {
	l := s.layout()
	lines, sep := l.view(s.st, s.top, s.room(l))
	lines = append(append(lines, sep), l.foot...)
	return s.confirm.over(strings.Join(lines, "\n"), s.st, s.w, s.h)
}

// rolesRow shows the roles the admin may give, as check boxes, on as many
// lines as the width takes, and a note under them; bad when the note is an
// error.
func (s formScreen) rolesRow(label func(string, bool) string) (roles, note []string, bad bool) {
	focused := s.focus == len(s.fields)
	switch {
	case s.grantable == nil && s.grantErr != "":
		lines := strings.Split(s.st.errText(indent, "could not read the roles you may give: "+s.grantErr, s.w), "\n")
		lines[0] = label("Roles", focused) + strings.TrimPrefix(lines[0], indent)
		return lines, nil, false
	case s.grantable == nil:
		return []string{label("Roles", focused) + s.st.dim.Render("reading the roles you may give…")}, nil, false
	}
	room := s.w - ansi.StringWidth(indent)
	line, lineW := label("Roles", focused), 0
	for i, r := range s.grantable {
		box := "[ ] "
		if s.roles[i] {
			box = "[x] "
		}
		item := box + roleShort(r)
		itemW := ansi.StringWidth(item)
		if focused && i == s.roleCursor {
			item = s.st.selected.Render(item)
		}
		switch {
		case i == 0:
		case lineW+2+itemW > room:
			roles = append(roles, line)
			line, lineW = indent, 0
		default:
			line += "  "
			lineW += 2
		}
		line += item
		lineW += itemW
	}
	roles = append(roles, line)
	var text string
	switch {
	case !slices.Contains(s.roles, true) && s.mayAll:
		text = s.st.hint(indent, "none ticked: the user gets every permission", s.w)
	case !slices.Contains(s.roles, true):
		text, bad = s.st.errText(indent, "tick a role: without one the user holds every permission", s.w), true
	case len(s.grantable) < len(allRoles()):
		text = s.st.hint(indent, "only the roles you may give are shown", s.w)
	default:
		return roles, nil, false
	}
	return roles, strings.Split(text, "\n"), bad
}

// fieldHint says what a field takes, next to it while it has the focus.
func fieldHint(name string) string {
	switch name {
	case "mobile.countryCode":
		return "e.g. +44 (optional)"
	case "mobile.number":
		return "up to 12 digits"
	case "tag":
		return "optional: letters, digits, _ and -"
	}
	return ""
}
