package screens

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server/client"
)

// InviteScreen accepts an invite in two steps: the user id and the code
// are checked (Weavr userInviteValidate), then the user chooses a password,
// with the programme's rules ticked as they type, and optionally gives their
// mobile number (Weavr userInviteConsume), which signs them in.
type InviteScreen struct {
	Link     *widget.Entry
	LinkHint *widget.Label
	UserID   *widget.Entry
	Code     *widget.Entry
	Check    *widget.Button

	// Shown once the invite is valid.
	Password    *widget.Entry
	Confirm     *widget.Entry
	ConfirmHint *widget.Label
	Policy      *PolicyView
	CountryCode *widget.Entry
	Mobile      *widget.Entry
	Accept      *widget.Button

	// CheckedNote replaces the first step once the code is accepted.
	CheckedNote *widget.Label

	Back    *widget.Button
	Problem *ProblemBox
	busy    busy
	step1   *fyne.Container
	step2   *fyne.Container
	content fyne.CanvasObject

	env     Env
	api     KeyAPI
	profile password.Profile
	idem    string // one idempotency-ref for every attempt at consuming this invite
	valid   deeplink.Invite
	done    func(token, userID string)
}

// NewInviteScreen builds the screen; prefill, when not zero, comes from a
// deputy://invite link. done runs on the UI goroutine with the new session's
// token.
func NewInviteScreen(e Env, api KeyAPI, profile password.Profile, prefill deeplink.Invite, done func(token, userID string), back func()) *InviteScreen {
	s := &InviteScreen{env: e.withDefaults(), api: api, profile: profile, done: done, idem: client.NewIdempotencyRef()}
	s.Link = widget.NewEntry()
	s.Link.SetPlaceHolder("deputy://invite?userId=…&code=…")
	s.Link.OnChanged = s.linkChanged
	s.LinkHint = para("")
	s.LinkHint.Hide()
	s.UserID = widget.NewEntry()
	s.UserID.SetPlaceHolder("from the invite email")
	s.UserID.SetText(prefill.UserID)
	s.Code = widget.NewEntry()
	s.Code.SetPlaceHolder("the code from the email")
	s.Code.SetText(prefill.Code)
	s.Code.Validator = func(text string) error { return deeplink.CheckInviteCode(strings.TrimSpace(text)) }
	s.Code.OnSubmitted = func(string) { s.check() }
	s.UserID.OnChanged = func(string) { s.invalidate() }
	s.Code.OnChanged = func(string) { s.invalidate() }
	s.Check = primary("Continue", s.check)

	s.Password = widget.NewPasswordEntry()
	s.Confirm = widget.NewPasswordEntry()
	s.ConfirmHint = para("")
	s.ConfirmHint.Hide()
	s.Policy = NewPolicyView(profile)
	s.Password.OnChanged = func(text string) { s.Policy.Update(text); s.confirmChanged(); s.Problem.Hide() }
	s.Confirm.OnChanged = func(string) { s.confirmChanged(); s.Problem.Hide() }
	s.CountryCode = widget.NewEntry()
	s.CountryCode.SetPlaceHolder("+44")
	s.Mobile = widget.NewEntry()
	s.Mobile.SetPlaceHolder("7700900123")
	s.Accept = primary("Accept invite", s.accept)

	s.Back = widget.NewButton("Back", back)
	s.Back.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()

	s.step2 = container.NewVBox(
		widget.NewSeparator(),
		fieldLabel("Choose a password"), s.Password,
		s.Policy.Object(),
		fieldLabel("Type it again"), s.Confirm, s.ConfirmHint,
		fieldLabel("Mobile number (optional)"),
		para("For sign-in codes by SMS. Leave empty to keep the number your admin entered."),
		container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(72, s.CountryCode.MinSize().Height), s.CountryCode), nil, s.Mobile),
		s.Accept,
	)
	s.step2.Hide()
	s.CheckedNote = para("")
	s.CheckedNote.Importance = widget.SuccessImportance
	s.CheckedNote.Hide()
	s.step1 = container.NewVBox(
		para("Paste the link from your invite email, or type the user id and the code from it."),
		fieldLabel("Invite link"), s.Link, s.LinkHint,
		container.New(layout.NewFormLayout(), widget.NewLabel("User id"), s.UserID, widget.NewLabel("Code"), s.Code),
		s.Check,
	)
	s.content = page("Accept your invite",
		s.step1,
		s.CheckedNote,
		s.step2,
		s.busy, s.Problem.Object(),
		s.Back,
	)
	return s
}

// Checked reports whether the invite code was accepted and the password
// step is shown.
func (s *InviteScreen) Checked() bool { return s.valid != (deeplink.Invite{}) }

// Content implements Screen.
func (s *InviteScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *InviteScreen) Close() {}

func (s *InviteScreen) linkChanged(text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		s.LinkHint.Hide()
		return
	}
	inv, err := deeplink.ParseInvite(text)
	if err != nil {
		s.LinkHint.Importance = widget.DangerImportance
		s.LinkHint.SetText("This is not an invite link: " + linkReason(err))
		s.LinkHint.Show()
		return
	}
	s.UserID.SetText(inv.UserID)
	s.Code.SetText(inv.Code)
	s.LinkHint.Importance = widget.SuccessImportance
	s.LinkHint.SetText("Link read. Tap Continue.")
	s.LinkHint.Show()
}

// invalidate hides the second step when the invite fields change.
func (s *InviteScreen) invalidate() {
	s.Problem.Hide()
	if s.valid != (deeplink.Invite{}) && (s.valid.UserID != strings.TrimSpace(s.UserID.Text) || s.valid.Code != strings.TrimSpace(s.Code.Text)) {
		s.valid = deeplink.Invite{}
		s.step2.Hide()
		s.CheckedNote.Hide()
		s.step1.Show()
	}
}

func (s *InviteScreen) check() {
	if s.Check.Disabled() {
		return
	}
	inv := deeplink.Invite{UserID: strings.TrimSpace(s.UserID.Text), Code: strings.TrimSpace(s.Code.Text)}
	if err := deeplink.CheckUserID(inv.UserID); err != nil {
		s.Problem.ShowText(sentence(linkReason(err)))
		return
	}
	if err := deeplink.CheckInviteCode(inv.Code); err != nil {
		s.Problem.ShowText(sentence(linkReason(err)))
		return
	}
	s.Check.Disable()
	s.busy.on()
	run0(s.env, func(ctx context.Context) error {
		return s.api.InviteValidate(ctx, inv.UserID, inv.Code)
	}, func(err error) {
		s.busy.off()
		s.Check.Enable()
		if err != nil {
			s.Problem.Show(describeKeyCall(err), s.check)
			return
		}
		s.valid = inv
		s.step1.Hide()
		s.CheckedNote.SetText("Your invite code is right. Now choose your password.")
		s.CheckedNote.Show()
		s.step2.Show()
		s.Policy.Update(s.Password.Text)
	})
}

func (s *InviteScreen) confirmChanged() {
	if s.Confirm.Text == "" || s.Confirm.Text == s.Password.Text {
		s.ConfirmHint.Hide()
		return
	}
	s.ConfirmHint.Importance = widget.DangerImportance
	s.ConfirmHint.SetText("The two passwords are different.")
	s.ConfirmHint.Show()
}

// mobile reads the optional mobile number.
func (s *InviteScreen) mobile() (*client.Mobile, error) {
	cc, num := strings.TrimSpace(s.CountryCode.Text), strings.ReplaceAll(strings.TrimSpace(s.Mobile.Text), " ", "")
	if cc == "" && num == "" {
		return nil, nil
	}
	if !strings.HasPrefix(cc, "+") {
		cc = "+" + cc
	}
	if len(cc) < 2 || len(cc) > 4 || !allDigits(cc[1:]) {
		return nil, errors.New("Enter the country code of your mobile, like +44.")
	}
	if len(num) < 4 || len(num) > 15 || !allDigits(num) {
		return nil, errors.New("Enter your mobile number as digits, without the country code.")
	}
	return &client.Mobile{CountryCode: cc, Number: num}, nil
}

func allDigits(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

func (s *InviteScreen) accept() {
	if s.Accept.Disabled() || s.valid == (deeplink.Invite{}) {
		return
	}
	pw := s.Password.Text
	switch {
	case !s.Policy.Update(pw):
		s.Problem.ShowText("The password does not meet every rule yet.")
		return
	case s.Confirm.Text != pw:
		s.Problem.ShowText("The two passwords are different.")
		return
	}
	mobile, err := s.mobile()
	if err != nil {
		s.Problem.ShowText(err.Error())
		return
	}
	inv := s.valid
	s.Accept.Disable()
	s.busy.on()
	run(s.env, func(ctx context.Context) (string, error) {
		return s.api.InviteConsume(ctx, inv.UserID, inv.Code, pw, mobile, client.IdempotencyRef(s.idem))
	}, func(token string, err error) {
		s.busy.off()
		s.Accept.Enable()
		if err != nil {
			s.Problem.Show(describeKeyCall(err), s.accept)
			return
		}
		s.Password.SetText("")
		s.Confirm.SetText("")
		s.done(token, inv.UserID)
	})
}

// describeKeyCall is describe for calls made before sign-in, where a 401
// means the UI key is no longer accepted rather than a session ending.
func describeKeyCall(err error) Problem {
	p := describe(err)
	if p.SessionEnded {
		p = Problem{Text: "The server no longer accepts this programme's UI key. Use another server, or ask your admin for a new link."}
	}
	return p
}
