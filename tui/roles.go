package tui

import (
	"context"
	"errors"
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// rolesMsg answers the list of predefined roles (Weavr rolesGet) and the
// ones the admin may give (Deputy sessionGet).
type rolesMsg struct {
	outcome
	roles []client.Role
	info  *client.SessionInfo
}

type rolesKeys struct {
	Up, Down, Toggle, Save, Cancel key.Binding
}

func (k rolesKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Toggle, k.Save, k.Cancel}
}

func (k rolesKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down}, {k.Toggle, k.Save, k.Cancel}}
}

// rolesScreen toggles a user's five predefined roles and saves them with
// Weavr userUpdate (roles replace the old ones).
type rolesScreen struct {
	deps
	w, h   int
	keys   rolesKeys
	user   client.User
	desc   map[string]string
	on     []bool
	cursor int
	saving bool
	err    string
	// grantable are the roles the admin may give or take, nil until the
	// server says; mayAll whether they may leave the user without roles.
	grantable []string
	mayAll    bool
	confirm   *confirmBox // asks before leaving the user without roles
}

func newRoles(d deps, u client.User) (screen, tea.Cmd) {
	s := rolesScreen{deps: d, user: u, desc: map[string]string{}, on: make([]bool, len(allRoles())), keys: rolesKeys{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
		Down:   key.NewBinding(key.WithKeys("down", "j")),
		Toggle: key.NewBinding(key.WithKeys("space", "x"), key.WithHelp("space", "toggle")),
		Save:   key.NewBinding(key.WithKeys("enter", "ctrl+s"), key.WithHelp("enter", "save")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}}
	for i, r := range allRoles() {
		s.on[i] = slices.Contains(u.Roles, r)
	}
	return s, do(op{name: "list roles", label: "Loading roles…",
		run: func(ctx context.Context, a api) result {
			roles, err := a.s.Roles(ctx)
			if err != nil {
				return rolesMsg{outcome: outcome{err}}
			}
			info, err := a.s.Info(ctx)
			return rolesMsg{outcome: outcome{err}, roles: roles, info: info}
		}})
}

func (s rolesScreen) Title() string { return "Roles · " + s.user.Email }
func (s rolesScreen) Editing() bool { return false }

// Unsaved names the roles when a box differs from the user's roles.
func (s rolesScreen) Unsaved() string {
	for i, r := range allRoles() {
		if s.on[i] != slices.Contains(s.user.Roles, r) {
			return "the new roles of " + s.user.Email
		}
	}
	return ""
}
func (s rolesScreen) Keys() help.KeyMap {
	if s.confirm != nil {
		return bindingList(s.confirm.keys())
	}
	return s.keys
}

func (s rolesScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s rolesScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case rolesMsg:
		for _, r := range msg.roles {
			s.desc[r.Name] = r.Description
		}
		if msg.info != nil {
			s.grantable, s.mayAll = msg.info.GrantableRoles, msg.info.MayGrantAll
		}
		return s, nil
	case savedMsg:
		s.saving = false
		switch err := msg.failure(); {
		case errors.Is(err, client.ErrUnauthorized):
			s.err = "Not saved: your session had ended. Press enter to save again."
			return s, nil
		case err != nil:
			s.err = "Not saved: " + describe(err) + "."
			return s, nil
		}
		return s, back("Saved the roles of " + displayName(*msg.user) + ": " + rolesShort(msg.user.Roles) + ".")
	case saveRolesMsg:
		return s.send(msg.roles)
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
		case key.Matches(msg, s.keys.Up):
			s.cursor = max(0, s.cursor-1)
		case key.Matches(msg, s.keys.Down):
			s.cursor = min(len(s.on)-1, s.cursor+1)
		case key.Matches(msg, s.keys.Toggle):
			if s.own() {
				s.err = "Not changed: these are your own roles."
				return s, nil
			}
			if !s.mayGive(allRoles()[s.cursor]) {
				s.err = "You may not give or take " + allRoles()[s.cursor] + ": it holds permissions you do not hold."
				return s, nil
			}
			s.on[s.cursor] = !s.on[s.cursor]
			s.err = ""
		case key.Matches(msg, s.keys.Save):
			return s.save()
		}
	}
	return s, nil
}

// mayGive reports whether the server says the admin may give role r; while
// it has not said, the server decides on save.
func (s rolesScreen) mayGive(r string) bool {
	return s.grantable == nil || slices.Contains(s.grantable, r)
}

// ownRoles is what the screen says when the admin tries to change their own
// roles, which the server refuses (CANNOT_MODIFY_OWN_ROLES).
const ownRoles = "These are your own roles: nobody changes their own roles; ask another admin."

// own reports whether the user shown is the signed-in admin.
func (s rolesScreen) own() bool { return s.self != "" && s.user.ID == s.self }

func (s rolesScreen) save() (screen, tea.Cmd) {
	// Saving the roles the user has would still be a change to the server:
	// a step-up asked for nothing and an audit event saying roles changed.
	if s.Unsaved() == "" {
		s.err = "Nothing changed."
		return s, nil
	}
	roles := []string{}
	for i, r := range allRoles() {
		if s.on[i] {
			roles = append(roles, r)
		}
	}
	switch {
	case len(roles) == 0 && s.grantable != nil && !s.mayAll:
		s.err = "Tick a role: without one the user holds every permission, which you may not give."
		return s, nil
	case len(roles) == 0:
		// Unticking every role gives every permission (Weavr's rule), the
		// opposite of what it looks like: as when creating such a user, ask.
		s.confirm = newConfirm("Leave "+displayName(s.user)+" with no roles? A user without roles holds every permission, as an admin does.",
			func() tea.Msg { return saveRolesMsg{roles} })
		return s, nil
	}
	return s.send(roles)
}

// saveRolesMsg saves roles once the admin has confirmed them.
type saveRolesMsg struct{ roles []string }

// send saves roles as the user's.
func (s rolesScreen) send(roles []string) (screen, tea.Cmd) {
	s.saving, s.err = true, ""
	id, email, ref := s.user.ID, s.user.Email, client.NewIdempotencyRef()
	return s, do(op{name: "change the roles of " + email + " to " + rolesText(roles), label: "Saving roles…", quiet: true,
		run: func(ctx context.Context, a api) result {
			u, err := a.s.UpdateUser(ctx, id, client.UserPatch{Roles: &roles}, client.IdempotencyRef(ref))
			return savedMsg{outcome: outcome{err}, user: u}
		}})
}

func (s rolesScreen) View() string {
	var list []string
	for i, r := range allRoles() {
		box := "[ ] "
		if s.on[i] {
			box = "[x] "
		}
		mark := "  "
		line := box + fit(r, 24)
		desc := s.desc[r]
		if !s.mayGive(r) {
			box = "[-] "
			if s.on[i] {
				box = "[x] "
			}
			line = box + fit(r, 24)
			desc = "you may not give or take this role"
		}
		if i == s.cursor {
			mark = "› "
			line = s.st.selected.Render(line)
		}
		list = append(list, "  "+mark+line+" "+s.st.dim.Render(fit(desc, max(0, s.w-34))))
	}
	// The list's descriptions are cut to its width; the selected role's is
	// under it in full (the server's, even for a role the admin may not give).
	var about []string
	if d := s.desc[allRoles()[s.cursor]]; d != "" {
		for _, l := range strings.Split(wrapText(d, s.w-4), "\n") {
			about = append(about, "    "+l)
		}
	}
	var noRole, hint, errLines []string
	if !slices.Contains(s.on, true) {
		noRole = strings.Split(s.st.hint("  ", "No role ticked: by Weavr's rule the user then has every permission.", s.w), "\n")
	}
	if s.own() {
		hint = strings.Split(s.st.hint("  ", ownRoles, s.w), "\n")
	} else {
		hint = strings.Split(s.st.hint("  ", "Nobody changes their own roles; privilege changes ask you to confirm it's you.", s.w), "\n")
	}
	if s.err != "" {
		errLines = strings.Split(s.st.errText("  ", s.err, s.w), "\n")
	}
	blank := func(before []string) []string {
		if len(before) == 0 {
			return nil
		}
		return []string{""}
	}
	// On a short terminal the parts with a drop order go, in that order,
	// until the rest fits: the blank lines first, then the hint, then the
	// selected role's description; the list, the warning and the error
	// always stay.
	parts := []struct {
		lines []string
		drop  int
	}{
		{[]string{"  " + s.st.header.Render("Roles of "+displayName(s.user))}, 0},
		{[]string{""}, 1},
		{list, 0},
		{blank(about), 4},
		{about, 6},
		{[]string{""}, 2},
		{noRole, 0},
		{hint, 5},
		{blank(errLines), 3},
		{errLines, 0},
	}
	height := func() (n int) {
		for _, p := range parts {
			n += len(p.lines)
		}
		return n
	}
	for order := 1; order <= 6 && height() > s.h; order++ {
		for i := range parts {
			if parts[i].drop == order {
				parts[i].lines = nil
			}
		}
	}
	var lines []string
	for _, p := range parts {
		lines = append(lines, p.lines...)
	}
	return s.confirm.over(strings.Join(lines, "\n"), s.st, s.w, s.h)
}
