package screens_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

const (
	gracePassword = "Tr1cky-Passw0rd"
	appPasscode   = "246810"
)

// companion is the whole app in a harness, with a passcode-verified
// authenticator and the fake push endpoints.
type companion struct {
	*harness
	c        *screens.Companion
	push     *fakePush
	dialog   *screens.PasscodeDialog
	passcode *authenticator.PasscodeVerifier
}

func newCompanion(t *testing.T, d *deputy, opts ...client.Option) *companion {
	t.Helper()
	h := newHarness(t)
	push := newFakePush(t, d.host, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	verifier, err := authenticator.NewPasscodeVerifier("", dlg.Prompt)
	require.NoError(t, err)
	auth, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), verifier)
	require.NoError(t, err)
	c := screens.New(screens.Deps{
		App: h.app, Window: h.win, Dial: dialWithPush(push, opts...), Auth: auth, Passcode: verifier,
		DeviceName: "Grace's test phone", Clock: h.clock, UI: h.ui,
	})
	return &companion{harness: h, c: c, push: push, dialog: dlg, passcode: verifier}
}

// screen waits until the companion shows a screen of type S and returns it.
func screen[S screens.Screen](t *testing.T, c *companion) S {
	t.Helper()
	var s S
	c.waitFor("screen "+typeName(s), func() bool {
		var ok bool
		s, ok = c.c.Current().(S)
		return ok
	})
	return s
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// answerPasscode waits for the passcode prompt and types the passcode.
func (c *companion) answerPasscode(passcode string) {
	c.t.Helper()
	c.waitFor("passcode prompt", c.dialog.Showing)
	test.Type(c.dialog.Entry, passcode)
	test.Tap(c.dialog.OK)
}

// TestJourney walks a new user through the whole companion: connect from a
// link, accept the invite with a new password, enrol SMS, enrol this device
// for biometrics (choosing an app passcode), approve an admin's step-up,
// refuse one with "I did not do this", sign in again, see the device
// unlinked elsewhere, and sign out.
func TestJourney(t *testing.T) {
	d := startDeputy(t)
	userID := d.invite(t, "grace@acme.test")
	c := newCompanion(t, d)
	c.c.Start("")

	// Connect from the admin's link.
	connect := screen[*screens.ConnectScreen](t, c)
	c.paste(connect.Link, deeplink.Connect{Server: d.host, Key: d.UIKey}.String())
	test.Tap(connect.Connect)

	// Accept the invite from the email's link.
	welcome := screen[*screens.WelcomeScreen](t, c)
	test.Tap(welcome.Invite)
	inv := screen[*screens.InviteScreen](t, c)
	c.paste(inv.Link, deeplink.Invite{UserID: userID, Code: "123456"}.String())
	assert.Equal(t, userID, inv.UserID.Text)
	assert.Equal(t, "123456", inv.Code.Text)
	test.Tap(inv.Check)
	c.waitFor("invite checked", inv.Checked)
	c.typeInto(inv.Password, gracePassword)
	c.typeInto(inv.Confirm, gracePassword)
	test.Tap(inv.Accept)

	// Signed in: SMS codes are not set up yet.
	home := screen[*screens.HomeScreen](t, c)
	c.waitFor("factors", func() bool { return home.SetUpSMS.Visible() })
	assert.Equal(t, "SMS codes: not set up. You need them to confirm sensitive operations.", home.SMSStatus.Text)
	c.assertMarkup("home_new_user.xml")

	// Enrol SMS, with one wrong code first.
	test.Tap(home.SetUpSMS)
	sms := screen[*screens.SMSScreen](t, c)
	test.Tap(sms.Send)
	c.waitFor("code sent", sms.CodeSent)
	c.typeInto(sms.Code, "000000")
	test.Tap(sms.Verify)
	c.waitFor("wrong code", sms.Problem.Visible)
	assert.Equal(t, "4 attempts left.", sms.Attempts.Text)
	c.typeInto(sms.Code, "123456")
	test.Tap(sms.Verify)
	c.waitFor("SMS enrolled", sms.Done.Visible)
	test.Tap(sms.Back)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("SMS on", func() bool { return home.SMSStatus.Text == "SMS codes: on" })

	// Enrol this device for approvals, choosing an app passcode.
	test.Tap(home.SetUpBio)
	bio := screen[*screens.BiometricScreen](t, c)
	assert.Contains(t, bio.Warning.Text, "This unlinks any other device.")
	test.Tap(bio.Send)
	c.waitFor("code sent", bio.CodeSent)
	assert.True(t, bio.NewPasscode.Visible(), "a first enrolment asks for an app passcode")
	c.typeInto(bio.Code, "123456")
	c.typeInto(bio.NewPasscode, appPasscode)
	c.typeInto(bio.ConfirmPasscode, appPasscode)
	test.Tap(bio.Enrol)
	c.answerPasscode(appPasscode)
	c.waitFor("device enrolled", bio.Done.Visible)
	assert.True(t, c.passcode.IsSet())
	test.Tap(bio.Back)
	screen[*screens.HomeScreen](t, c)
	c.waitFor("push stream open", func() bool { return c.push.watching() == 1 })

	// The admin creates a user: the step-up comes to this device, and the
	// admin's screen shows 42.
	first := c.push.request("Create user alice@acme.test with role ADMIN", 42, []int{17, 42, 86})
	approvals := screen[*screens.ApprovalsScreen](t, c)
	c.waitFor("challenge shown", func() bool { return approvals.Summary.Text != "" })
	assert.Equal(t, "Create user alice@acme.test with role ADMIN", approvals.Summary.Text)
	assert.True(t, approvals.Approve.Disabled(), "nothing to approve before a number is picked")
	c.assertMarkup("approvals_pending.xml")
	test.Tap(approvals.Choices[1])
	assert.Equal(t, "Approve with 42", approvals.Approve.Text)
	test.Tap(approvals.Approve)
	c.answerPasscode(appPasscode)
	c.waitFor("approved", approvals.Result.Visible)
	assert.Equal(t, "Approved: Create user alice@acme.test with role ADMIN.", approvals.Result.Text)
	assert.Equal(t, "APPROVED", c.push.state(first))
	assert.True(t, approvals.Empty.Visible())

	// A request the user did not start: the wrong number is refused, then
	// "I did not do this" stops it and signs the user out.
	second := c.push.request("Change the mobile of grace@acme.test", 58, []int{58, 23, 71})
	c.waitFor("second challenge", func() bool { return approvals.Current() != nil && approvals.Current().ID == second })
	test.Tap(approvals.Choices[1])
	test.Tap(approvals.Approve)
	c.answerPasscode(appPasscode)
	c.waitFor("wrong number", approvals.Problem.Visible)
	assert.Contains(t, approvals.Problem.Message.Text, "That is not the number")
	test.Tap(approvals.NotMe)
	test.Tap(approvals.ConfirmNotMe)
	signIn := screen[*screens.SignInScreen](t, c)
	assert.Equal(t, "NOT_ME", c.push.state(second))
	assert.Contains(t, signIn.Notice.Text, "signed out on every device")

	// Sign in again; the device still receives approvals.
	c.typeInto(signIn.Email, "grace@acme.test")
	c.typeInto(signIn.Password, gracePassword)
	test.Tap(signIn.SignIn)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("signed in as", func() bool { return home.Who.Text == "Signed in as grace@acme.test." })
	c.waitFor("push stream open", func() bool { return c.push.watching() == 1 })

	// Another device is enrolled for Grace: this one is told.
	c.push.unlinkElsewhere()
	unlinked := screen[*screens.UnlinkedScreen](t, c)
	c.assertMarkup("unlinked.xml")
	assert.Equal(t, 0, c.push.watching())
	test.Tap(unlinked.OK)
	home = screen[*screens.HomeScreen](t, c)

	// Sign out.
	test.Tap(home.SignOut)
	welcome = screen[*screens.WelcomeScreen](t, c)
	assert.Equal(t, "You are signed out.", welcome.Notice.Text)
}

// TestSessionExpirySendsToSignIn: when the session lapses (5 minutes
// without use), the next call answers 401 and the companion asks the user to
// sign in again, keeping their email.
func TestSessionExpirySendsToSignIn(t *testing.T) {
	d := startDeputy(t)
	d.userWithPassword(t, "grace@acme.test", gracePassword)
	c := newCompanion(t, d)
	screens.SaveConnection(c.app.Preferences(), deeplink.Connect{Server: d.host, Key: d.UIKey})
	c.c.Start("")

	welcome := screen[*screens.WelcomeScreen](t, c)
	test.Tap(welcome.SignIn)
	signIn := screen[*screens.SignInScreen](t, c)
	c.typeInto(signIn.Email, "grace@acme.test")
	c.typeInto(signIn.Password, gracePassword)
	test.Tap(signIn.SignIn)
	home := screen[*screens.HomeScreen](t, c)
	c.waitFor("factors", home.SetUpSMS.Visible)

	// Six minutes pass on the sandbox server's clock.
	_, err := d.key.AdvanceClock(context.Background(), 6*time.Minute)
	require.NoError(t, err)
	test.Tap(home.SetUpSMS)
	sms := screen[*screens.SMSScreen](t, c)
	test.Tap(sms.Send)

	signIn = screen[*screens.SignInScreen](t, c)
	assert.Equal(t, "Your session has ended. Please sign in again.", signIn.Notice.Text)
	assert.Equal(t, "grace@acme.test", signIn.Email.Text)
	c.assertMarkup("signin_session_ended.xml")
}
