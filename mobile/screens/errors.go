package screens

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// codeText is what the user reads for the machine codes they can meet.
var codeText = map[string]string{
	client.CodeInvalidCredentials:      "The email or password is not right.",
	client.CodeInviteInvalid:           "This invite code is not right, or the invite has expired or was replaced. Check the latest invite email, or ask your admin to send a new one.",
	client.CodeInviteAlreadyConsumed:   "This invite has already been accepted. Sign in with your password instead.",
	client.CodePasswordAlreadyCreated:  "This invite has already been accepted. Sign in with your password instead.",
	client.CodePasswordTooShort:        "The password is too short.",
	client.CodePasswordTooLong:         "The password is too long.",
	client.CodePasswordTooSimple:       "The password does not meet the rules below.",
	client.CodePasswordAlreadyUsed:     "You have used this password before; choose a new one.",
	client.CodeMobileNotAvailable:      "Your account has no mobile number. Ask your admin to add one, then try again.",
	client.CodeChannelAlreadyActive:    "SMS codes are already set up for your account.",
	client.CodeCodeInvalid:             "That code is not right.",
	client.CodeOneChallengeLimitRemain: "That code is not right. You have one attempt left.",
	client.CodeChallengeLimitExceeded:  "Too many wrong codes. Ask for a new code.",
	client.CodeCodeExpired:             "The code has expired. Ask for a new one.",
	client.CodeStateInvalid:            "There is no code waiting. Ask for a new one.",
	client.CodeRetryIn15Sec:            "A code was sent moments ago. Wait a little before asking again.",
	client.CodeCredentialsInactive:     "Your account is deactivated. Ask your admin.",
	client.CodeInsufficientPermissions: "You are not allowed to do this.",
	client.CodeChannelNotSupported:     "Approvals on a device are not switched on for this programme. Ask your admin.",
	client.CodeChannelNotRegistered:    "No device is set up for approvals on your account.",
	client.CodeDeviceSecretRequired:    "This device no longer has what proves it is your approvals device. Set it up for approvals again.",
	client.CodeAlreadyVerified:         "This was already confirmed.",
	client.CodeWebAuthnOrigin:          "The server does not accept this device's key for its address. Ask your admin to check the server's WebAuthn origins.",
	client.CodeWebAuthnRPID:            "The server does not accept this device's key for its address. Ask your admin to check the server's WebAuthn settings.",
	client.CodeWebAuthnUserNotVerified: "The server needs you to be verified on this device (passcode or fingerprint).",
	client.CodeWebAuthnSignCount:       "The server saw this device's key used out of order, which can mean it was copied. It has been reported; set up this device again and tell your admin.",
}

// Problem is a failure as the user reads it.
type Problem struct {
	Text  string
	Retry bool // a network or server failure: trying again may work
	// SessionEnded: the session expired or was revoked (401): sign in again.
	SessionEnded bool
	Code         string // the errorCode, if any
}

// describe turns an error of a call into a [Problem]: never a stack trace,
// a raw HTTP dump or a secret.
func describe(err error) Problem {
	var ae *client.Error
	if errors.As(err, &ae) {
		p := Problem{Code: ae.Code}
		if text, ok := codeText[ae.Code]; ok {
			p.Text = text
			return p
		}
		if strings.HasPrefix(ae.Code, "WEBAUTHN_") {
			p.Text = "The server refused this device's answer (" + ae.Code + "). Try again; if it keeps failing, set up this device again."
			return p
		}
		switch {
		case errors.Is(ae, client.ErrUnauthorized):
			p.Text, p.SessionEnded = "Your session has ended. Please sign in again.", true
		case errors.Is(ae, client.ErrLocked):
			p.Text = "Your account is locked after too many failed sign-ins."
			if ae.RetryAfter > 0 {
				p.Text += " Try again in " + humanDuration(ae.RetryAfter) + "."
			}
		case errors.Is(ae, client.ErrRateLimited):
			p.Text, p.Retry = "Too many attempts. Wait a moment and try again.", true
			if ae.RetryAfter > 0 {
				p.Text = "Too many attempts. Try again in " + humanDuration(ae.RetryAfter) + "."
			}
		case errors.Is(ae, client.ErrServer):
			p.Text, p.Retry = "The server had a problem. Try again in a moment.", true
			if ae.RequestRef != "" {
				p.Text += " (Reference " + ae.RequestRef + ")"
			}
		case errors.Is(ae, client.ErrInvalid) && len(ae.Fields) > 0:
			p.Text = "Please check " + fieldName(ae.Fields[0].Field) + "."
		case errors.Is(ae, client.ErrNotFound):
			p.Text = "The server does not know this. Check the server address, or ask your admin."
		case errors.Is(ae, client.ErrStepUpRequired):
			p.Text = "This needs a fresh confirmation with your second factor."
		default:
			p.Text = "The server refused this: " + ae.Error() + "."
		}
		return p
	}
	var (
		dnsErr *net.DNSError
		wrong  *authenticator.WrongPasscodeError
	)
	switch {
	case errors.As(err, &wrong):
		return wrongPasscode(wrong.InARow)
	case errors.Is(err, authenticator.ErrPasscodeLocked):
		return Problem{Text: "Too many wrong passcodes. Try again in " + humanDuration(authenticator.PasscodeLockout) + "."}
	case errors.Is(err, authenticator.ErrPasscodeBlocked):
		return Problem{Text: "Too many wrong passcodes: approvals on this device are blocked. Ask your admin to reset your device, then remove this app's data (or reinstall it) and set the device up again."}
	case errors.Is(err, authenticator.ErrUserVerificationFailed):
		return Problem{Text: "You were not verified (wrong passcode, or cancelled).", Retry: true}
	case errors.Is(err, context.DeadlineExceeded):
		return Problem{Text: "The server did not answer in time. Check your connection and try again.", Retry: true}
	case errors.Is(err, context.Canceled):
		return Problem{Text: "Cancelled."}
	case errors.As(err, &dnsErr):
		return Problem{Text: "Cannot find the server " + dnsErr.Name + ". Check the address and your connection.", Retry: true}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		if netErr.Timeout() {
			return Problem{Text: "The server did not answer in time. Check your connection and try again.", Retry: true}
		}
		return Problem{Text: "Cannot reach the server. Check your connection and try again.", Retry: true}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return Problem{Text: "Cannot reach the server. Check your connection and try again.", Retry: true}
	}
	return Problem{Text: "Something went wrong. Try again.", Retry: true}
}

func fieldName(f string) string {
	switch f {
	case "password.value", "password":
		return "the password"
	case "mobile.number", "mobile.countryCode", "mobile":
		return "the mobile number"
	case "inviteCode", "verificationCode":
		return "the code"
	case "email":
		return "the email address"
	case "api-key":
		return "the UI key"
	}
	return "the " + f + " field"
}

// wrongPasscode says what a wrong passcode, the n-th in a row, leaves: the
// tries before approvals lock (authenticator.MaxPasscodeAttempts), or the
// lock and the tries before they are blocked for good. It offers no "Try
// again": the button that asked for the passcode is still there.
func wrongPasscode(n int) Problem {
	lockout := humanDuration(authenticator.PasscodeLockout)
	switch left := authenticator.MaxPasscodeAttempts - n; {
	case left > 1:
		return Problem{Text: fmt.Sprintf("Wrong passcode. %d more wrong ones in a row lock approvals for %s.", left, lockout)}
	case left == 1:
		return Problem{Text: "Wrong passcode. One more wrong one locks approvals for " + lockout + "."}
	}
	switch left := authenticator.MaxPasscodeFailures - n; {
	case left > 1:
		return Problem{Text: fmt.Sprintf("Wrong passcode: approvals are locked for %s. After that, %d more wrong ones in a row block them on this device for good.", lockout, left)}
	case left == 1:
		return Problem{Text: "Wrong passcode: approvals are locked for " + lockout + ". After that, one more wrong one blocks them on this device for good."}
	}
	return describe(authenticator.ErrPasscodeBlocked)
}

// humanDuration renders d for people: "29 min 12 s", "30 min", "45 s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour && int(d.Minutes())%60 == 0:
		return fmt.Sprintf("%d h", int(d.Hours()))
	case d >= time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute && int(d.Seconds())%60 == 0:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d >= time.Minute:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
}

// clockText renders a countdown: "4:59".
func clockText(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second) // round up: 0:00 only at the end
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// ProblemBox shows a failure with a "Try again" button when trying again may
// help. It is hidden until Show.
type ProblemBox struct {
	Message *widget.Label
	Retry   *widget.Button
	box     *fyne.Container
	retry   func()
}

func newProblemBox() *ProblemBox {
	p := &ProblemBox{Message: widget.NewLabel("")}
	p.Message.Wrapping = fyne.TextWrapWord
	p.Message.Importance = widget.DangerImportance
	p.Retry = widget.NewButtonWithIcon("Try again", theme.ViewRefreshIcon(), func() {
		if p.retry != nil {
			f := p.retry
			p.Hide()
			f()
		}
	})
	p.box = container.NewVBox(p.Message, p.Retry)
	p.box.Hide()
	return p
}

// Object is the box's canvas object.
func (p *ProblemBox) Object() fyne.CanvasObject { return p.box }

// Show shows pr, with the retry button calling retry when pr.Retry and retry is not nil.
func (p *ProblemBox) Show(pr Problem, retry func()) {
	p.Message.SetText(pr.Text)
	p.retry = nil
	if pr.Retry && retry != nil {
		p.retry = retry
		p.Retry.Show()
	} else {
		p.Retry.Hide()
	}
	p.box.Show()
}

// ShowText shows a message without a retry button.
func (p *ProblemBox) ShowText(text string) { p.Show(Problem{Text: text}, nil) }

// Hide hides the box.
func (p *ProblemBox) Hide() {
	p.retry = nil
	p.box.Hide()
}

// Visible reports whether a problem is shown.
func (p *ProblemBox) Visible() bool { return p.box.Visible() }
