package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// UnlinkedScreen says that this device no longer receives approvals because
// another device was enrolled, or biometrics were removed, elsewhere.
type UnlinkedScreen struct {
	Explain *widget.Label
	Warning *widget.Label
	Relink  *widget.Button
	OK      *widget.Button
	content fyne.CanvasObject
}

// NewUnlinkedScreen builds the screen; relink sets this device up again.
func NewUnlinkedScreen(relink, ok func()) *UnlinkedScreen {
	s := &UnlinkedScreen{}
	s.Explain = para("Approvals for your account no longer come to this device. Someone set up another device for your account, or removed this one.")
	s.Warning = para("If that was not you, tell your admin now: someone may have your password and your phone's text messages.")
	s.Warning.Importance = widget.DangerImportance
	s.Relink = widget.NewButton("Use this device again", relink)
	s.OK = primary("OK", ok)
	s.content = page("This device was unlinked", s.Explain, s.Warning, s.OK, s.Relink)
	return s
}

// Content implements Screen.
func (s *UnlinkedScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *UnlinkedScreen) Close() {}
