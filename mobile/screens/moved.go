package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// MovedScreen asks, after a sign-in, whether the server this device approves
// for really moved to the address it is connected to now. The enrolment
// belongs to the programme and the user, not the address (a server moves),
// but anyone can copy a programme's public key and send a connect link to
// their own server: until the user says it moved, the device sends nothing
// of its enrolment (its secret) to the new address.
type MovedScreen struct {
	Explain *widget.Label
	Warning *widget.Label
	Moved   *widget.Button
	Cancel  *widget.Button
	content fyne.CanvasObject
}

// NewMovedScreen builds the screen for a device enrolled at from ("" when
// it was enrolled before the companion kept the address) and now connected
// to to; moved trusts the new address, cancel does not.
func NewMovedScreen(from, to string, moved, cancel func()) *MovedScreen {
	s := &MovedScreen{}
	if from == "" {
		from = "an address it did not keep"
	}
	s.Explain = para("This device approves for your account at " + from + ". You are now signed in at " + to + ".")
	s.Warning = para("Only continue if your organisation told you Deputy moved to this address. A link to another server can ask for your password and then for your approvals.")
	s.Warning.Importance = widget.DangerImportance
	// The safe answer is the one that stands out.
	s.Cancel = primary("Cancel", cancel)
	s.Moved = widget.NewButton("It moved: approve here", moved)
	s.content = page("Is this your server?", s.Explain, s.Warning, s.Cancel, s.Moved)
	return s
}

// Content implements Screen.
func (s *MovedScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *MovedScreen) Close() {}
