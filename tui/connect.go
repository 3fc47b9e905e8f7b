package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/deputyhq/deputy/server/client"
)

// connectScreen shows the deputy://connect link that points the companion
// app at this server, as a QR code and in full, for one user's phone or the
// admin's own. It takes the whole terminal (fullScreen), so that the code
// fits an 80x24 one.
type connectScreen struct {
	deps
	w, h int
	who  string // "Grace Hopper's phone", "your phone"
	hint string // what the phone's owner does next
	keys bindingList
}

// fullScreen is a screen drawn on the whole terminal, without the title,
// status and help lines.
type fullScreen interface{ FullScreen() bool }

func newConnect(d deps, who, hint string) (screen, tea.Cmd) {
	return connectScreen{deps: d, who: who, hint: hint,
		keys: bindingList{key.NewBinding(key.WithKeys("esc", "c"), key.WithHelp("esc", "close"))}}, nil
}

// connectUser is the connect screen for u's phone.
func connectUser(d deps, u client.User) (screen, tea.Cmd) {
	return newConnect(d, strings.TrimSpace(u.Name+" "+u.Surname)+"'s phone",
		"Then "+u.Email+" accepts their invite, or signs in, on the phone.")
}

// connectSelf is the connect screen for the admin's own phone.
func connectSelf(d deps) (screen, tea.Cmd) {
	return newConnect(d, "your phone", "Then sign in on the phone as yourself to approve step-ups there.")
}

func (s connectScreen) Title() string     { return "Connect " + s.who }
func (s connectScreen) Editing() bool     { return false }
func (s connectScreen) Keys() help.KeyMap { return s.keys }
func (s connectScreen) FullScreen() bool  { return true }

func (s connectScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s connectScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if msg, ok := msg.(tea.KeyPressMsg); ok && key.Matches(msg, s.keys...) {
		return s, back("")
	}
	return s, nil
}

func (s connectScreen) View() string {
	title := s.title()
	link := strings.Split(ansi.Hardwrap("  "+s.connect, s.w, false), "\n")
	code := qrText(s.connect)
	qr := strings.Split(code, "\n")
	if code == "" || lineCount(code)+len(link) > s.h {
		lines := append(title, strings.Split(s.st.hint("", "(make the window taller to see the QR code; the link is below)", s.w), "\n")...)
		return strings.Join(append(append(lines, ""), link...), "\n")
	}
	var lines []string
	switch {
	case len(qr)+len(link)+len(title) <= s.h:
		lines = append(lines, title...)
	case len(qr)+len(link)+1 <= s.h:
		lines = append(lines, fit(strings.Join(title, " "), s.w))
	}
	for _, l := range qr {
		lines = append(lines, "  "+l)
	}
	lines = append(lines, link...)
	if hint := s.st.hint("  ", s.hint, s.w); s.hint != "" && len(lines)+lineCount(hint) <= s.h {
		lines = append(lines, hint)
	} else if s.hint != "" && len(lines)+1 <= s.h {
		lines = append(lines, s.st.dim.Render(fit("  "+s.hint, s.w)))
	}
	return strings.Join(lines, "\n")
}

// title says whose phone to connect, with what, and how to close the
// screen, wrapped to the width (the screen has no help line to say it).
func (s connectScreen) title() []string {
	who := "Connect " + s.who
	lines := strings.Split(wrapText(who+" · scan it with the Deputy companion · esc closes", s.w), "\n")
	for i, l := range lines {
		if i == 0 && strings.HasPrefix(l, who) {
			lines[i] = s.st.header.Render(who) + s.st.dim.Render(strings.TrimPrefix(l, who))
		} else {
			lines[i] = s.st.dim.Render(l)
		}
	}
	return lines
}
