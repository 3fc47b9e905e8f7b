package screens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/server/client"
)

// SMSScreen enrols the user's mobile for one-time codes (Weavr
// enrolDeviceUsingOtpStepOne and StepTwo): it texts a code, counts down to
// when another may be sent and to the code's expiry, and shows the attempts
// left from the server's errorCodes.
type SMSScreen struct {
	Intro    *widget.Label
	Send     *widget.Button
	Code     *widget.Entry
	Verify   *widget.Button
	Resend   *widget.Button
	Expiry   *widget.Label
	Attempts *widget.Label
	Done     *widget.Label
	Back     *widget.Button
	Problem  *ProblemBox
	busy     busy
	codeBox  *fyne.Container
	content  fyne.CanvasObject

	env          Env
	api          SessionAPI
	expired      func(Problem)
	finished     func()
	attemptsLeft int
	resendTimer  countdown
	expiryTimer  countdown
}

// NewSMSScreen builds the screen. finished runs when SMS codes are active;
// expired when the session has ended (401).
func NewSMSScreen(e Env, api SessionAPI, finished, back func(), expired func(Problem)) *SMSScreen {
	s := &SMSScreen{env: e.withDefaults(), api: api, finished: finished, expired: expired}
	s.Intro = para("We will text a 6-digit code to the mobile number on your account. Entering it here turns on SMS codes, which you use to confirm sensitive operations.")
	s.Send = primary("Send code", func() { s.send(client.NewIdempotencyRef()) })
	s.Code = widget.NewEntry()
	s.Code.SetPlaceHolder("6-digit code")
	s.Code.OnChanged = func(string) { s.Problem.Hide() }
	s.Code.OnSubmitted = func(string) { s.verify(client.NewIdempotencyRef()) }
	s.Verify = primary("Verify", func() { s.verify(client.NewIdempotencyRef()) })
	s.Resend = widget.NewButton("Resend code", func() { s.send(client.NewIdempotencyRef()) })
	s.Expiry = para("")
	s.Attempts = para("")
	s.Done = para("SMS codes are on.")
	s.Done.Importance = widget.SuccessImportance
	s.Done.Hide()
	s.Back = widget.NewButton("Back", back)
	s.Back.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()
	s.resendTimer = countdown{e: s.env, tick: s.resendTick}
	s.expiryTimer = countdown{e: s.env, tick: s.expiryTick}
	s.codeBox = container.NewVBox(
		fieldLabel("Code"), s.Code, s.Expiry, s.Attempts, s.Verify, s.Resend,
	)
	s.codeBox.Hide()
	s.content = page("Set up SMS codes",
		s.Intro, s.Send, s.codeBox, s.Done, s.busy, s.Problem.Object(), s.Back,
	)
	return s
}

// CodeSent reports whether the code entry is shown: a code was texted.
func (s *SMSScreen) CodeSent() bool { return s.codeBox.Visible() }

// Content implements Screen.
func (s *SMSScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *SMSScreen) Close() {
	s.resendTimer.stop()
	s.expiryTimer.stop()
}

func (s *SMSScreen) setBusy(on bool) {
	if on {
		s.busy.on()
		s.Send.Disable()
		s.Verify.Disable()
		s.Resend.Disable()
		return
	}
	s.busy.off()
	s.Send.Enable()
	s.Verify.Enable()
	if !s.resendTimer.running() {
		s.Resend.Enable()
	}
}

// send texts a code; ref makes a retry of the same tap safe.
func (s *SMSScreen) send(ref string) {
	s.Problem.Hide()
	s.setBusy(true)
	run(s.env, func(ctx context.Context) (*client.ChallengeLimits, error) {
		if err := s.api.EnrolSMS(ctx, client.IdempotencyRef(ref)); err != nil {
			return nil, err
		}
		return codeLimits(ctx, s.api), nil
	}, func(limits *client.ChallengeLimits, err error) {
		s.setBusy(false)
		var ae *client.Error
		switch {
		case err == nil:
			s.sent(limits)
		case errors.As(err, &ae) && ae.Code == client.CodeChannelAlreadyActive:
			s.success()
		default:
			s.fail(err, func() { s.send(ref) })
		}
	})
}

func (s *SMSScreen) showCodeBox() {
	s.Send.Hide()
	s.codeBox.Show()
}

// sent starts the countdowns of a fresh code with the server's numbers; nil
// limits (the server's numbers could not be read) show none rather than
// guessed ones.
func (s *SMSScreen) sent(limits *client.ChallengeLimits) {
	s.showCodeBox()
	digits := "a"
	if limits != nil && limits.CodeLength > 0 {
		digits = fmt.Sprintf("a %d-digit", limits.CodeLength)
	}
	s.Intro.SetText("We texted " + digits + " code to the mobile number on your account. Enter it below.")
	s.Code.SetText("")
	s.Attempts.Importance = widget.MediumImportance
	s.attemptsLeft = 0
	s.Attempts.SetText("")
	s.Expiry.SetText("")
	if limits != nil {
		s.attemptsLeft = limits.Attempts
		s.Attempts.SetText(fmt.Sprintf("You have %d attempts.", limits.Attempts))
		now := s.env.Clock.Now()
		s.resendTimer.start(now.Add(limits.ResendAfter))
		s.expiryTimer.start(now.Add(limits.TTL))
	}
	s.Verify.Enable()
	s.Code.Enable()
}

func (s *SMSScreen) resendTick(left time.Duration) {
	if left > 0 {
		s.Resend.SetText(fmt.Sprintf("Resend code in %d s", int((left+time.Second-1)/time.Second)))
		s.Resend.Disable()
		return
	}
	s.Resend.SetText("Resend code")
	if !s.busy.Visible() {
		s.Resend.Enable()
	}
}

func (s *SMSScreen) expiryTick(left time.Duration) {
	if left > 0 {
		s.Expiry.Importance = widget.MediumImportance
		s.Expiry.SetText("The code expires in " + clockText(left) + ".")
		return
	}
	s.Expiry.Importance = widget.DangerImportance
	s.Expiry.SetText("The code has expired. Tap Resend code for a new one.")
}

// verify checks the typed code.
func (s *SMSScreen) verify(ref string) {
	code := strings.TrimSpace(s.Code.Text)
	if err := deeplink.CheckCode(code); err != nil {
		s.Problem.ShowText("Enter the 6 digits of the code we texted you.")
		return
	}
	s.Problem.Hide()
	s.setBusy(true)
	run0(s.env, func(ctx context.Context) error {
		return s.api.VerifyEnrolSMS(ctx, code, client.IdempotencyRef(ref))
	}, func(err error) {
		s.setBusy(false)
		var ae *client.Error
		if err == nil || (errors.As(err, &ae) && ae.Code == client.CodeChannelAlreadyActive) {
			s.success()
			return
		}
		if errors.As(err, &ae) {
			switch ae.Code {
			case client.CodeCodeInvalid:
				// More than one attempt is left; count down from what we know.
				s.setAttempts(max(s.attemptsLeft-1, 2))
			case client.CodeOneChallengeLimitRemain:
				s.setAttempts(1)
			case client.CodeChallengeLimitExceeded:
				s.setAttempts(0)
			case client.CodeCodeExpired:
				s.expiryTimer.stop()
				s.expiryTick(0)
			}
		}
		s.fail(err, func() { s.verify(ref) })
	})
}

func (s *SMSScreen) setAttempts(n int) {
	s.attemptsLeft = n
	s.Code.SetText("")
	switch n {
	case 0:
		s.Attempts.Importance = widget.DangerImportance
		s.Attempts.SetText("No attempts left for this code. Tap Resend code for a new one.")
		s.Verify.Disable()
		s.resendTimer.stop() // the server replaces a spent code at once
		s.resendTick(0)
	case 1:
		s.Attempts.Importance = widget.WarningImportance
		s.Attempts.SetText("1 attempt left.")
	default:
		s.Attempts.Importance = widget.WarningImportance
		s.Attempts.SetText(fmt.Sprintf("%d attempts left.", n))
	}
}

func (s *SMSScreen) fail(err error, retry func()) {
	p := describe(err)
	if p.SessionEnded {
		s.Close()
		s.expired(p)
		return
	}
	s.Problem.Show(p, retry)
	if s.attemptsLeft == 0 && s.codeBox.Visible() {
		s.Verify.Disable()
	}
}

func (s *SMSScreen) success() {
	s.Close()
	s.codeBox.Hide()
	s.Send.Hide()
	s.Intro.Hide()
	s.Done.Show()
	s.Back.SetText("Done")
	s.Back.Importance = widget.HighImportance
	s.Back.OnTapped = s.finished
	s.Back.Refresh()
}

// codeLimits reads the server's numbers for one-time codes, nil when they
// cannot be read (the code was sent all the same).
func codeLimits(ctx context.Context, api interface {
	Info(context.Context) (*client.SessionInfo, error)
}) *client.ChallengeLimits {
	info, err := api.Info(ctx)
	if err != nil {
		return nil
	}
	return &info.Challenges
}
