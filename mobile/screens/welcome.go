package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// WelcomeScreen is where a connected companion starts: accept an invite or
// sign in.
type WelcomeScreen struct {
	Server     *widget.Label
	Notice     *widget.Label
	Invite     *widget.Button
	SignIn     *widget.Button
	Disconnect *widget.Button
	content    fyne.CanvasObject
}

// WelcomeActions are what the welcome screen's buttons do.
type WelcomeActions struct {
	Invite, SignIn, Disconnect func()
}

// NewWelcomeScreen builds the screen for the server at server; notice, when
// not empty, is shown first (for example why the user was signed out).
func NewWelcomeScreen(server, notice string, do WelcomeActions) *WelcomeScreen {
	s := &WelcomeScreen{}
	s.Server = para("Connected to " + server)
	s.Notice = para(notice)
	s.Notice.Importance = widget.WarningImportance
	if notice == "" {
		s.Notice.Hide()
	}
	s.Invite = primary("Accept an invite", do.Invite)
	s.SignIn = widget.NewButton("Sign in", do.SignIn)
	s.Disconnect = widget.NewButton("Use another server", do.Disconnect)
	s.Disconnect.Importance = widget.LowImportance
	s.content = page("Deputy companion",
		s.Notice,
		para("Approve sensitive operations on your account from this device."),
		s.Server,
		widget.NewSeparator(),
		para("New here? Your admin sent you an invite email with a code."),
		s.Invite,
		para("Already set a password?"),
		s.SignIn,
		widget.NewSeparator(),
		s.Disconnect,
	)
	return s
}

// Content implements Screen.
func (s *WelcomeScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *WelcomeScreen) Close() {}
