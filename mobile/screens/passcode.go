package screens

import (
	"context"
	"errors"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/authenticator"
)

// Authenticator is the WebAuthn authenticator of package authenticator, as
// the screens use it.
type Authenticator interface {
	Register(ctx context.Context, req authenticator.RegistrationRequest) (*authenticator.Attestation, error)
	Assert(ctx context.Context, req authenticator.AssertionRequest) (*authenticator.Assertion, error)
}

var _ Authenticator = (*authenticator.Authenticator)(nil)

// Passcode is the app passcode that verifies the user where there is no
// platform biometric prompt (desktops): *authenticator.PasscodeVerifier.
type Passcode interface {
	IsSet() bool
	Set(ctx context.Context, passcode string) error
}

var _ Passcode = (*authenticator.PasscodeVerifier)(nil)

// ErrCancelled is what the passcode prompt returns when the user cancels.
var ErrCancelled = errors.New("cancelled by the user")

// PasscodeDialog asks for the app passcode in a dialog over the window. Its
// Prompt method is the authenticator.PasscodePrompt of the desktop build:
// the authenticator calls it from a background goroutine before every
// signature, and it waits there while the user types on the UI goroutine.
type PasscodeDialog struct {
	Reason  *widget.Label
	Entry   *widget.Entry
	OK      *widget.Button
	Cancel  *widget.Button
	dialog  dialog.Dialog
	win     fyne.Window
	ui      func(func())
	mu      sync.Mutex
	answers chan string // nil while no prompt is open
	showing bool        // the dialog is on screen (UI goroutine only)
}

// NewPasscodeDialog returns the prompt for win; ui hands work to the UI
// goroutine (nil for fyne.Do).
func NewPasscodeDialog(win fyne.Window, ui func(func())) *PasscodeDialog {
	if ui == nil {
		ui = fyne.Do
	}
	d := &PasscodeDialog{win: win, ui: ui}
	d.Reason = para("")
	d.Entry = widget.NewPasswordEntry()
	d.Entry.SetPlaceHolder("App passcode")
	d.OK = primary("Confirm", func() { d.answer(d.Entry.Text, true) })
	d.Cancel = widget.NewButton("Cancel", func() { d.answer("", false) })
	d.Entry.OnSubmitted = func(string) { d.answer(d.Entry.Text, true) }
	content := container.NewVBox(d.Reason, d.Entry, container.NewGridWithColumns(2, d.Cancel, d.OK))
	d.dialog = dialog.NewCustomWithoutButtons("Enter your app passcode", content, win)
	return d
}

// Prompt implements authenticator.PasscodePrompt.
func (d *PasscodeDialog) Prompt(ctx context.Context, reason string) (string, error) {
	answers := make(chan string, 1)
	d.mu.Lock()
	if d.answers != nil {
		d.mu.Unlock()
		return "", errors.New("another passcode prompt is open")
	}
	d.answers = answers
	d.mu.Unlock()
	d.ui(func() {
		d.Reason.SetText(reason)
		d.Entry.SetText("")
		d.dialog.Show()
		d.showing = true
		d.win.Canvas().Focus(d.Entry)
	})
	select {
	case code, ok := <-answers:
		if !ok {
			return "", ErrCancelled
		}
		return code, nil
	case <-ctx.Done():
		d.mu.Lock()
		if d.answers == answers {
			d.answers = nil
		}
		d.mu.Unlock()
		d.ui(func() { d.showing = false; d.dialog.Hide() })
		return "", ctx.Err()
	}
}

// answer closes the dialog and hands the passcode to the waiting Prompt.
func (d *PasscodeDialog) answer(code string, ok bool) {
	d.mu.Lock()
	answers := d.answers
	d.answers = nil
	d.mu.Unlock()
	d.Entry.SetText("")
	d.showing = false
	d.dialog.Hide()
	if answers == nil {
		return
	}
	if ok {
		answers <- code
	} else {
		close(answers)
	}
}

// Showing reports whether the dialog is on screen. Call it on the UI goroutine.
func (d *PasscodeDialog) Showing() bool { return d.showing }
