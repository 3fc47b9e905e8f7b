package screens

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/server/client"
)

// HomeScreen is what a signed-in user sees: their factors, what to set up
// next, the approvals waiting, and sign out.
type HomeScreen struct {
	Who          *widget.Label
	SMSStatus    *widget.Label
	SetUpSMS     *widget.Button
	BioStatus    *widget.Label
	SetUpBio     *widget.Button
	Unlink       *widget.Button
	Approvals    *widget.Button
	SignOut      *widget.Button
	Problem      *ProblemBox
	busy         busy
	content      fyne.CanvasObject
	env          Env
	api          SessionAPI
	info         HomeInfo
	expired      func(Problem)
	loaded       func([]client.Factor)
	factorsKnown bool
	Factors      []client.Factor
}

// HomeInfo is what the home screen shows besides the factors.
type HomeInfo struct {
	Who string // "Signed in as ..."
	// PushOffered: this build can enrol the device and approve.
	PushOffered bool
	// EnrolledHere: this device is the one the user enrolled last.
	EnrolledHere bool
	// EnrolledAt, when not EnrolledHere, is the server address this device
	// was enrolled at for the user, who did not confirm (MovedScreen) that
	// the server moved to the address signed in at; "" when it is not
	// enrolled for the user.
	EnrolledAt string
	// Pending is the number of approvals waiting.
	Pending int
}

// HomeActions are what the home screen's buttons do.
type HomeActions struct {
	SetUpSMS, SetUpBiometrics, Unlink, Approvals, SignOut func()
	// Loaded, when not nil, is told the user's factors once they are read.
	Loaded func([]client.Factor)
}

// NewHomeScreen builds the screen and starts loading the user's factors.
func NewHomeScreen(e Env, api SessionAPI, info HomeInfo, do HomeActions, expired func(Problem)) *HomeScreen {
	s := &HomeScreen{env: e.withDefaults(), api: api, info: info, expired: expired, loaded: do.Loaded}
	s.Who = para(info.Who)
	s.SMSStatus = para("SMS codes: checking…")
	s.SetUpSMS = widget.NewButton("Set up SMS codes", do.SetUpSMS)
	s.SetUpSMS.Hide()
	s.BioStatus = para("Approvals on this device: checking…")
	s.SetUpBio = widget.NewButton("Use this device for approvals", do.SetUpBiometrics)
	s.SetUpBio.Hide()
	s.Unlink = widget.NewButton("Stop approvals on this device", do.Unlink)
	s.Unlink.Importance = widget.LowImportance
	s.Unlink.Hide()
	s.Approvals = widget.NewButton("", do.Approvals)
	s.SetPending(info.Pending)
	if !info.PushOffered || !info.EnrolledHere {
		s.Approvals.Hide()
	}
	s.SignOut = widget.NewButton("Sign out", do.SignOut)
	s.SignOut.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()
	s.content = page("Your account",
		s.Who,
		widget.NewSeparator(),
		s.SMSStatus, s.SetUpSMS,
		s.BioStatus, s.SetUpBio, s.Approvals, s.Unlink,
		s.busy, s.Problem.Object(),
		widget.NewSeparator(),
		s.SignOut,
	)
	s.Load()
	return s
}

// Content implements Screen.
func (s *HomeScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *HomeScreen) Close() {}

// SetPending shows how many approvals are waiting.
func (s *HomeScreen) SetPending(n int) {
	switch n {
	case 0:
		s.Approvals.SetText("Approvals: none waiting")
		s.Approvals.Importance = widget.MediumImportance
	case 1:
		s.Approvals.SetText("Approvals: 1 waiting")
		s.Approvals.Importance = widget.HighImportance
	default:
		s.Approvals.SetText(fmt.Sprintf("Approvals: %d waiting", n))
		s.Approvals.Importance = widget.HighImportance
	}
	s.Approvals.Refresh()
}

// Load (re)reads the user's factors.
func (s *HomeScreen) Load() {
	s.busy.on()
	s.Problem.Hide()
	run(s.env, s.api.Factors, func(fs []client.Factor, err error) {
		s.busy.off()
		if err != nil {
			p := describe(err)
			if p.SessionEnded {
				s.expired(p)
				return
			}
			s.Problem.Show(p, s.Load)
			return
		}
		s.factorsKnown, s.Factors = true, fs
		s.showFactors()
		if s.loaded != nil {
			s.loaded(fs)
		}
	})
}

func (s *HomeScreen) showFactors() {
	sms, bio := "", ""
	for _, f := range s.Factors {
		switch f.Channel {
		case "SMS":
			sms = f.Status
		case client.ChannelBiometric:
			bio = f.Status
		}
	}
	switch sms {
	case client.FactorActive:
		s.SMSStatus.SetText("SMS codes: on.")
		s.SMSStatus.Importance = widget.SuccessImportance
		s.SetUpSMS.Hide()
	case client.FactorPendingVerification:
		s.SMSStatus.SetText("SMS codes: waiting for the code we texted you.")
		s.SMSStatus.Importance = widget.WarningImportance
		s.SetUpSMS.SetText("Finish setting up SMS codes")
		s.SetUpSMS.Show()
	default:
		s.SMSStatus.SetText("SMS codes: not set up. You need them to confirm sensitive operations.")
		s.SMSStatus.Importance = widget.WarningImportance
		s.SetUpSMS.SetText("Set up SMS codes")
		s.SetUpSMS.Show()
	}
	s.SMSStatus.Refresh()
	s.Unlink.Hide()
	switch {
	case !s.info.PushOffered:
		s.BioStatus.SetText("Approvals on this device: not available in this build.")
		s.BioStatus.Importance = widget.MediumImportance
		s.SetUpBio.Hide()
	case bio == client.FactorActive && s.info.EnrolledHere:
		s.BioStatus.SetText("Approvals with biometrics: on, on this device.")
		s.BioStatus.Importance = widget.SuccessImportance
		s.SetUpBio.Hide()
		s.Unlink.Show()
	case bio == client.FactorActive && s.info.EnrolledAt != "":
		// Not "another device": this one, kept from this address until
		// the user says the server moved (the sign-in asks).
		s.BioStatus.SetText("Approvals with biometrics: on this device for " + s.info.EnrolledAt + ", not for this address. If your organisation moved Deputy here, sign out, sign in again and answer “It moved”.")
		s.BioStatus.Importance = widget.WarningImportance
		s.SetUpBio.Hide()
	case bio == client.FactorActive:
		s.BioStatus.SetText("Approvals with biometrics: on, on another device.")
		s.BioStatus.Importance = widget.SuccessImportance
		s.SetUpBio.SetText("Use this device instead")
		s.SetUpBio.Show()
	default:
		s.BioStatus.SetText("Approvals with biometrics: not set up.")
		s.BioStatus.Importance = widget.MediumImportance
		s.SetUpBio.SetText("Use this device for approvals")
		s.SetUpBio.Importance = widget.MediumImportance
		if sms != client.FactorActive {
			// The fewest steps: the device's one texted code turns SMS codes
			// on too. Said in the status, which wraps: on the button the
			// words made the page wider than a phone.
			s.BioStatus.SetText("Approvals with biometrics: not set up. Setting them up on this device also turns on SMS codes.")
			s.SetUpBio.Importance = widget.HighImportance
		}
		s.SetUpBio.Refresh()
		s.SetUpBio.Show()
	}
	s.BioStatus.Refresh()
	if s.info.PushOffered && s.info.EnrolledHere {
		s.Approvals.Show()
	} else {
		s.Approvals.Hide()
	}
}
