package screens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/server/client"
)

// BiometricScreen binds this device's WebAuthn credential to the user (issue
// 6, enrolDeviceUsingPush): a code is texted to the user's mobile, then the
// authenticator creates a key after verifying the user (the platform's
// biometric prompt on phones, the app passcode on desktops; a passcode is
// chosen here the first time). It says plainly that any other device is
// unlinked.
type BiometricScreen struct {
	Warning *widget.Label
	Intro   *widget.Label
	// Passcode setup, shown when the app passcode is not set yet.
	NewPasscode     *widget.Entry
	ConfirmPasscode *widget.Entry
	passcodeBox     *fyne.Container

	Send    *widget.Button
	Code    *widget.Entry
	Expiry  *widget.Label
	Enrol   *widget.Button
	Done    *widget.Label
	Back    *widget.Button
	Problem *ProblemBox
	busy    busy
	codeBox *fyne.Container
	content fyne.CanvasObject

	env      Env
	api      PushAPI
	auth     Authenticator
	passcode Passcode // nil when the platform prompt verifies the user
	device   Device
	origin   string
	options  json.RawMessage            // the server's creation options, once a code was sent
	att      *authenticator.Attestation // made for options, kept while only the code was wrong or the answer was lost
	attRef   string                     // the idempotency-ref of att's finish: a lost answer, the device secret among it, is replayed
	expiry   countdown
	expired  func(Problem)
	finished func(Enrolment)
	enrolled Enrolment
}

// Enrolment is this device's new credential: the relying party it belongs
// to, its id, and the secret the server gave the device with it.
type Enrolment struct {
	RPID         string
	CredentialID []byte
	DeviceSecret string
}

// Device names this device to the server.
type Device struct {
	ID   string // random, made at the first enrolment and kept
	Name string // shown to admins, e.g. "Deputy companion on grace-laptop (linux)"
}

// BiometricDeps are what the biometric screen is built from.
type BiometricDeps struct {
	API  PushAPI
	Auth Authenticator
	// Passcode is the app passcode verifier; nil when the platform's
	// biometric prompt verifies the user.
	Passcode Passcode
	// Device names this device to the server.
	Device Device
	// Origin is the WebAuthn origin to act for; "" for https://<RP ID>.
	Origin string
}

// NewBiometricScreen builds the screen. finished runs once this device is
// enrolled; expired when the session has ended.
func NewBiometricScreen(e Env, d BiometricDeps, finished func(Enrolment), back func(), expired func(Problem)) *BiometricScreen {
	s := &BiometricScreen{env: e.withDefaults(), api: d.API, auth: d.Auth, passcode: d.Passcode, device: d.Device, origin: d.Origin, finished: finished, expired: expired}
	s.Warning = para("This unlinks any other device. Approvals for your account will come only to this device; a phone or computer you set up before stops receiving them.")
	s.Warning.Importance = widget.WarningImportance
	s.Warning.TextStyle = fyne.TextStyle{Bold: true}

	s.NewPasscode = widget.NewPasswordEntry()
	s.NewPasscode.SetPlaceHolder(fmt.Sprintf("at least %d characters", authenticator.MinPasscodeLen))
	s.ConfirmPasscode = widget.NewPasswordEntry()
	s.ConfirmPasscode.SetPlaceHolder("the same again")
	s.passcodeBox = container.NewVBox(
		fieldLabel("Choose an app passcode"),
		para("This device has no fingerprint or face prompt that Deputy can use, so you will confirm each approval with this passcode. It never leaves this device."),
		s.NewPasscode, fieldLabel("Type it again"), s.ConfirmPasscode,
	)
	if s.passcode == nil || s.passcode.IsSet() {
		s.passcodeBox.Hide()
	}

	s.Send = primary("Text me a code", s.begin)
	s.Code = widget.NewEntry()
	s.Code.SetPlaceHolder("6-digit code")
	s.Code.OnChanged = func(string) { s.Problem.Hide() }
	s.Expiry = para("")
	s.Enrol = primary("Use this device", s.enrol)
	s.Done = para("This device now receives your approvals.")
	s.Done.Importance = widget.SuccessImportance
	s.Done.Hide()
	s.Back = widget.NewButton("Back", back)
	s.Back.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()
	s.expiry = countdown{e: s.env, tick: s.expiryTick}
	s.codeBox = container.NewVBox(fieldLabel("Code we texted you"), s.Code, s.Expiry, s.passcodeBox, s.Enrol)
	s.codeBox.Hide()
	s.Intro = para("We will text a code to your mobile to check it is you. Then this device creates a key that only it holds, and signs each approval with it.")
	s.content = page("Use this device for approvals",
		s.Warning,
		s.Intro,
		s.Send, s.codeBox, s.Done, s.busy, s.Problem.Object(), s.Back,
	)
	return s
}

// PasscodeAsked reports whether the screen asks the user to choose an app
// passcode.
func (s *BiometricScreen) PasscodeAsked() bool { return s.passcodeBox.Visible() }

// CodeSent reports whether the code entry is shown: a code was texted.
func (s *BiometricScreen) CodeSent() bool { return s.codeBox.Visible() }

// Content implements Screen.
func (s *BiometricScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *BiometricScreen) Close() { s.expiry.stop() }

func (s *BiometricScreen) setBusy(on bool) {
	if on {
		s.busy.on()
		s.Send.Disable()
		s.Enrol.Disable()
		return
	}
	s.busy.off()
	s.Send.Enable()
	s.Enrol.Enable()
}

func (s *BiometricScreen) begin() { s.beginWith(client.NewIdempotencyRef()) }

// beginWith texts a code and fetches this device's registration options; ref
// makes a retry of the same tap safe.
func (s *BiometricScreen) beginWith(ref string) {
	s.Problem.Hide()
	s.setBusy(true)
	type begun struct {
		options json.RawMessage
		limits  *client.ChallengeLimits
	}
	run(s.env, func(ctx context.Context) (begun, error) {
		options, err := s.api.BeginBiometricEnrolment(ctx, s.device.ID, s.device.Name, client.IdempotencyRef(ref))
		if err != nil {
			return begun{}, err
		}
		return begun{options, codeLimits(ctx, s.api)}, nil
	}, func(b begun, err error) {
		s.setBusy(false)
		if err != nil {
			s.fail(err, func() { s.beginWith(ref) })
			return
		}
		options := b.options
		s.options, s.att, s.attRef = options, nil, ""
		s.Send.SetText("Text me another code")
		s.Send.Importance = widget.MediumImportance
		s.Send.Refresh()
		s.Code.SetText("")
		s.codeBox.Show()
		s.Expiry.SetText("")
		if b.limits != nil {
			s.expiry.start(s.env.Clock.Now().Add(b.limits.TTL))
		}
	})
}

func (s *BiometricScreen) expiryTick(left time.Duration) {
	if left > 0 {
		s.Expiry.Importance = widget.MediumImportance
		s.Expiry.SetText("The code expires in " + clockText(left) + ".")
		return
	}
	s.Expiry.Importance = widget.DangerImportance
	s.Expiry.SetText("The code has expired. Tap Text me another code.")
}

// checkPasscode reads a new passcode, when one must be chosen.
func (s *BiometricScreen) checkPasscode() (string, error) {
	if s.passcode == nil || s.passcode.IsSet() {
		return "", nil
	}
	pc := s.NewPasscode.Text
	if n := utf8.RuneCountInString(pc); n < authenticator.MinPasscodeLen || n > authenticator.MaxPasscodeLen {
		return "", fmt.Errorf("Choose an app passcode of %d to %d characters.", authenticator.MinPasscodeLen, authenticator.MaxPasscodeLen)
	}
	if s.ConfirmPasscode.Text != pc {
		return "", errors.New("The two passcodes are different.")
	}
	return pc, nil
}

// enrolled is the outcome of an enrolment attempt: the attestation, kept so
// that a mistyped code can be corrected without a second prompt.
type enrolled struct {
	att          *authenticator.Attestation
	ref          string
	deviceSecret string
}

func (s *BiometricScreen) enrol() {
	code := strings.TrimSpace(s.Code.Text)
	if deeplink.CheckCode(code) != nil {
		s.Problem.ShowText("Enter the 6 digits of the code we texted you.")
		return
	}
	newPasscode, err := s.checkPasscode()
	if err != nil {
		s.Problem.ShowText(err.Error())
		return
	}
	s.Problem.Hide()
	s.setBusy(true)
	options, att, ref := s.options, s.att, s.attRef
	runFor(s.env, promptTimeout, func(ctx context.Context) (enrolled, error) {
		if newPasscode != "" {
			err := s.passcode.Set(ctx, newPasscode)
			switch {
			case err == nil:
				ctx = authenticator.WithPasscodeJustSet(ctx) // typed twice just now: not a third time
			case !errors.Is(err, authenticator.ErrPasscodeAlreadySet):
				return enrolled{}, err
			}
		}
		if att == nil {
			req, err := authenticator.ParseCreationOptions(options, originFor(s.origin, options))
			if err != nil {
				return enrolled{}, fmt.Errorf("reading the server's registration options: %w", err)
			}
			req.Reason = "Confirm to use this device for approvals"
			if att, err = s.auth.Register(ctx, req); err != nil {
				return enrolled{}, err
			}
			ref = client.NewIdempotencyRef()
		}
		secret, err := s.api.FinishBiometricEnrolment(ctx, code, att, client.IdempotencyRef(ref))
		return enrolled{att: att, ref: ref, deviceSecret: secret}, err
	}, func(r enrolled, err error) {
		s.setBusy(false)
		if s.passcode != nil && s.passcode.IsSet() {
			s.passcodeBox.Hide()
		}
		if err == nil {
			s.success(Enrolment{RPID: rpIDOf(options), CredentialID: r.att.CredentialID, DeviceSecret: r.deviceSecret})
			return
		}
		var ae *client.Error
		switch {
		case errors.As(err, &ae) && (ae.Code == client.CodeCodeInvalid || ae.Code == client.CodeOneChallengeLimitRemain):
			s.att, s.attRef = r.att, r.ref // the same key answers once the code is right
		case describe(err).Retry:
			s.att, s.attRef = r.att, r.ref // the answer may be lost: the same call again replays it
		case errors.As(err, &ae) && ae.Status == http.StatusConflict:
			// The ceremony is over (expired, too many codes, refused): start again.
			s.options, s.att = nil, nil
			s.codeBox.Hide()
		case errors.Is(err, authenticator.ErrPasscodeLength):
			s.Problem.ShowText(sentence(err.Error()))
			return
		}
		s.fail(err, s.enrol)
	})
}

func (s *BiometricScreen) fail(err error, retry func()) {
	p := describe(err)
	if p.SessionEnded {
		s.Close()
		s.expired(p)
		return
	}
	s.Problem.Show(p, retry)
}

func (s *BiometricScreen) success(en Enrolment) {
	s.enrolled = en
	s.Close()
	s.Warning.Hide()
	s.Intro.Hide()
	s.codeBox.Hide()
	s.Send.Hide()
	s.Done.Show()
	s.Back.SetText("Done")
	s.Back.Importance = widget.HighImportance
	s.Back.OnTapped = func() { s.finished(s.enrolled) }
	s.Back.Refresh()
}
