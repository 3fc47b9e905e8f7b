package tui

import (
	"context"
	"errors"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/deputyhq/deputy/server/client"
)

// signedInMsg answers a sign-in.
type signedInMsg struct {
	outcome
	email string
	login *client.Login
}

type signInKeys struct {
	Next, Prev, Submit key.Binding
}

func (k signInKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Next, k.Submit} }
func (k signInKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Next, k.Prev, k.Submit}} }

// signIn asks for the admin's email and password (Weavr loginWithPassword).
type signIn struct {
	deps
	w, h     int
	keys     signInKeys
	email    textinput.Model
	password textinput.Model
	focus    int // 0 email, 1 password
	reauth   bool
	busy     bool
	err      string
}

// newInput returns a text input in the UI's style: no prompt, no blinking
// (so that a screen looks the same from one moment to the next).
func newInput(placeholder string, limit int) textinput.Model {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = placeholder
	in.CharLimit = limit
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return in
}

// newSignIn returns the sign-in screen. With email and password given and not
// a re-sign-in, it signs in at once.
func newSignIn(d deps, email, password string, reauth bool, errText string) (screen, tea.Cmd) {
	s := signIn{
		deps: d, reauth: reauth, err: errText,
		keys: signInKeys{
			Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next field")),
			Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "previous field")),
			Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "sign in")),
		},
		email:    newInput("", 254),
		password: newInput("", 100),
	}
	s.email.SetWidth(40)
	s.password.SetWidth(40)
	s.password.EchoMode = textinput.EchoPassword
	s.password.EchoCharacter = '•'
	s.email.SetValue(email)
	s.password.SetValue(password)
	if email != "" {
		s.focus = 1
	}
	s.focusInputs()
	if email != "" && password != "" && !reauth {
		return s.submit()
	}
	return s, nil
}

func (s *signIn) focusInputs() {
	if s.focus == 0 {
		s.email.Focus()
		s.password.Blur()
	} else {
		s.password.Focus()
		s.email.Blur()
	}
}

func (s signIn) Title() string     { return "Sign in" }
func (s signIn) Editing() bool     { return true }
func (s signIn) Keys() help.KeyMap { return s.keys }

func (s signIn) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s signIn) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case signedInMsg:
		s.busy = false
		if err := msg.failure(); err != nil {
			s.err = signInError(err)
			s.password.SetValue("")
			s.focus = 1
			s.focusInputs()
		}
		return s, nil
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		switch {
		case key.Matches(msg, s.keys.Next):
			s.focus = (s.focus + 1) % 2
			s.focusInputs()
			return s, nil
		case key.Matches(msg, s.keys.Prev):
			s.focus = (s.focus + 1) % 2
			s.focusInputs()
			return s, nil
		case key.Matches(msg, s.keys.Submit):
			if s.focus == 0 {
				s.focus = 1
				s.focusInputs()
				return s, nil
			}
			return s.submit()
		}
		var cmd tea.Cmd
		if s.focus == 0 {
			s.email, cmd = s.email.Update(msg)
		} else {
			s.password, cmd = s.password.Update(msg)
		}
		return s, cmd
	}
	return s, nil
}

func (s signIn) submit() (screen, tea.Cmd) {
	email := strings.TrimSpace(s.email.Value())
	password := s.password.Value()
	switch {
	case email == "":
		s.err = "Type your email address."
		s.focus = 0
		s.focusInputs()
		return s, nil
	case !validEmail(email):
		s.err = "That is not a valid email address."
		s.focus = 0
		s.focusInputs()
		return s, nil
	case password == "":
		s.err = "Type your password."
		return s, nil
	}
	s.err, s.busy = "", true
	return s, do(op{name: "sign in", label: "Signing in…", quiet: true, signIn: true,
		run: func(ctx context.Context, a api) result {
			login, err := a.c.LoginWithPassword(ctx, email, password)
			if err == nil { // the admin manages their own identity, linked credentials or not
				login, err = a.c.AccessLogin(ctx, login)
			}
			return signedInMsg{outcome: outcome{err}, email: email, login: login}
		}})
}

// signInError explains a failed sign-in.
func signInError(err error) string {
	var ae *client.Error
	errors.As(err, &ae)
	switch {
	case errors.Is(err, client.ErrLocked):
		if ae != nil && ae.RetryAfter > 0 {
			return "This account is locked after too many failed sign-ins. Try again in " + humanDuration(ae.RetryAfter) + "."
		}
		return "This account is locked after too many failed sign-ins."
	case errors.Is(err, client.ErrForbidden) && ae != nil && ae.Code == client.CodeInvalidCredentials:
		return "Wrong email or password."
	case errors.Is(err, client.ErrUnauthorized):
		return "The server does not accept this api key: check --key (DEPUTY_KEY)."
	case errors.Is(err, client.ErrInvalid):
		return "The server refused the request: " + describe(err) + "."
	}
	return "Could not sign in: " + describe(err) + "."
}

func (s signIn) View() string {
	label := func(text string, focused bool) string {
		if focused {
			return s.st.focus.Render("› " + fit(text, 10))
		}
		return "  " + s.st.label.Render(fit(text, 10))
	}
	lines := []string{
		"",
		"  " + s.st.header.Render("Sign in to Deputy"),
		"",
	}
	if s.reauth {
		lines = append(lines, wrapped(lipgloss.NewStyle(), "  ", "", "Your session ended. Sign in again: you will be back where you were.", s.w), "")
	}
	lines = append(lines,
		"  "+label("Server", false)+s.server,
		"",
		"  "+label("Email", s.focus == 0)+s.email.View(),
		"  "+label("Password", s.focus == 1)+s.password.View(),
		"",
	)
	switch {
	case s.busy:
		lines = append(lines, "  "+s.st.dim.Render("Signing in…"))
	case s.err != "":
		lines = append(lines, s.st.errText("  ", s.err, s.w))
	default:
		lines = append(lines, s.st.hint("  ", "Admins and access managers of an identity can sign in here.", s.w))
	}
	return strings.Join(lines, "\n")
}
