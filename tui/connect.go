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
	title := s.st.header.Render("Connect "+s.who) + s.st.dim.Render(" · scan it with the Deputy companion · esc closes")
	link := strings.Split(ansi.Hardwrap("  "+s.connect, s.w, false), "\n")
	code := qrText(s.connect)
	qr := strings.Split(code, "\n")
	if code == "" || lineCount(code)+len(link) > s.h {
		lines := []string{fit(title, s.w), s.st.dim.Render("(make the window taller to see the QR code; the link is below)"), ""}
		return strings.Join(append(lines, link...), "\n")
	}
	var lines []string
	if len(qr)+len(link)+1 <= s.h {
		lines = append(lines, fit(title, s.w))
	}
	for _, l := range qr {
		lines = append(lines, "  "+l)
	}
	lines = append(lines, link...)
	if s.hint != "" && len(lines)+1 <= s.h {
		lines = append(lines, s.st.dim.Render(fit("  "+s.hint, s.w)))
	}
	return strings.Join(lines, "\n")
}
