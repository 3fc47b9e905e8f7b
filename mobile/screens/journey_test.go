package screens_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

const (
	gracePassword = "Tr1cky-Passw0rd"
	appPasscode   = "246810"
	fakeFCMToken  = "dGVzdC1kZXZpY2U:APA91bHfakeFCMregistrationTokenForTheJourneyTests_0123456789"
)

// companion is the whole app in a harness, with a passcode-verified
// authenticator, talking to an in-process Deputy.
type companion struct {
	*harness
	c        *screens.Companion
	dialog   *screens.PasscodeDialog
	passcode *authenticator.PasscodeVerifier
	keys     *authenticator.MemoryStore
}

func newCompanion(t *testing.T, dial screens.Dialer) *companion {
	t.Helper()
	h := newHarness(t)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, verifier, keys := newAuthStore(t, dlg)
	c := screens.New(screens.Deps{
		App: h.app, Window: h.win, Dial: dial, Auth: auth, Passcode: verifier, Keys: keys,
		DeviceName: "Grace's test phone", Clock: h.clock, UI: h.ui,
		PushToken: func() (string, string) { return client.PushPlatformFCM, fakeFCMToken }, // as an Android shell would give it
	})
	t.Cleanup(c.Close) // ends the push stream before the server closes
	return &companion{harness: h, c: c, dialog: dlg, passcode: verifier, keys: keys}
}

// screen waits until the companion shows a screen of type S and returns it.
func screen[S screens.Screen](t *testing.T, c *companion) S {
	t.Helper()
	var s S
	defer func() { // what it showed instead, should the wait fail
		if t.Failed() {
			t.Logf("the companion shows %T (offline banner: %v)", c.c.Current(), c.c.Offline().Visible())
		}
	}()
	c.waitFor(fmt.Sprintf("screen %T", s), func() bool {
		var ok bool
		s, ok = c.c.Current().(S)
		return ok
	})
	return s
}

// answerPasscode waits for the passcode prompt and types the passcode.
func (c *companion) answerPasscode(passcode string) {
	c.t.Helper()
	c.waitFor("passcode prompt", c.dialog.Showing)
	test.Type(c.dialog.Entry, passcode)
	test.Tap(c.dialog.OK)
}

// pick taps the choice showing number (or, with wrong, another one).
func pick(t *testing.T, s *screens.ApprovalsScreen, number int, wrong bool) {
	t.Helper()
	for i, n := range s.Current().Choices {
		if (n == number) != wrong {
			test.Tap(s.Choices[i])
			return
		}
	}
	t.Fatalf("no choice for %d among %v", number, s.Current().Choices)
}

// waitChallenge waits until the approvals screen shows challenge id.
func waitChallenge(t *testing.T, c *companion, id string) *screens.ApprovalsScreen {
	t.Helper()
	s := screen[*screens.ApprovalsScreen](t, c)
	c.waitFor("challenge "+id, func() bool { return s.Current() != nil && s.Current().ID == id })
	return s
}

// TestJourney walks a new user through the whole companion against an
// in-process Deputy: connect from a link, accept the invite with a new
// password, enrol SMS, enrol this device (choosing an app passcode), approve
// the step-up of a sensitive operation started at a console, refuse a wrong
// number, stop one with "I did not do this", sign in again, be unlinked by
// another device, enrol again, stop approvals here, and sign out.
func TestJourney(t *testing.T) {
	ctx := context.Background()
	d := startDeputy(t)
	userID := d.invite(t, "grace@acme.test") // the admin invites Grace in the TUI
	c := newCompanion(t, screens.DialClient())
	c.c.Start("")

	// Connect from the admin's link.
	connect := screen[*screens.ConnectScreen](t, c)
	c.paste(connect.Link, deeplink.Connect{Server: d.URL, Key: d.UIKey}.String())
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
	c.waitFor("factors", home.SetUpSMS.Visible)
	assert.Equal(t, "SMS codes: not set up. You need them to confirm sensitive operations.", home.SMSStatus.Text)
	assert.Equal(t, "Use this device for approvals", home.SetUpBio.Text)
	assert.Equal(t, "Approvals with biometrics: not set up. Setting them up on this device also turns on SMS codes.", home.BioStatus.Text, "the fewest steps first")
	assert.Equal(t, widget.HighImportance, home.SetUpBio.Importance)
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
	c.waitFor("SMS on", func() bool { return home.SMSStatus.Text == "SMS codes: on." })

	// Enrol this device for approvals, choosing an app passcode.
	test.Tap(home.SetUpBio)
	bio := screen[*screens.BiometricScreen](t, c)
	assert.Contains(t, bio.Warning.Text, "This unlinks any other device.")
	test.Tap(bio.Send)
	c.waitFor("code sent", bio.CodeSent)
	assert.True(t, bio.PasscodeAsked(), "a first enrolment asks for an app passcode")
	c.typeInto(bio.Code, "123456")
	c.typeInto(bio.NewPasscode, appPasscode)
	c.typeInto(bio.ConfirmPasscode, appPasscode)
	test.Tap(bio.Enrol)
	c.waitFor("device enrolled", bio.Done.Visible) // the passcode just chosen is not asked again
	assert.True(t, c.passcode.IsSet())
	test.Tap(bio.Back)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("biometrics on", func() bool { return home.BioStatus.Text == "Approvals with biometrics: on, on this device." })

	// At her console Grace creates a user: her session needs a step-up,
	// which comes to this device; the console shows the number.
	console := uiClient(t, d)
	login, err := console.LoginWithPassword(ctx, "grace@acme.test", gracePassword)
	require.NoError(t, err)
	grace := console.Session(login.Token)
	alice := client.UserCreate{Name: "Alice", Surname: "Ames", Email: "alice@acme.test", Roles: []string{client.RoleCardAssignee}}
	_, err = grace.CreateUser(ctx, alice)
	require.ErrorIs(t, err, client.ErrStepUpRequired)
	up, err := grace.StepUpPush(ctx, "Create user alice@acme.test")
	require.NoError(t, err)
	approvals := waitChallenge(t, c, up.ID)
	assert.Equal(t, "“Create user alice@acme.test”", approvals.Summary.Text, "the console's own words, quoted")
	assert.Equal(t, "Confirm it is you. The app that asked describes it, in its own words, as:", approvals.Kind.Text)
	assert.Equal(t, "Asked just now from 127.0.0.1 (deputy-go-client/1).", approvals.From.Text, "when and from where the console asked")
	assert.Len(t, approvals.Current().Choices, 3)
	assert.Contains(t, approvals.Current().Choices, up.Number)
	assert.True(t, approvals.Approve.Disabled(), "nothing to approve before a number is picked")
	pick(t, approvals, up.Number, false)
	assert.Equal(t, fmt.Sprintf("Approve with %d", up.Number), approvals.Approve.Text)
	test.Tap(approvals.Approve)
	c.answerPasscode(appPasscode)
	c.waitFor("approved", approvals.Result.Visible)
	assert.Equal(t, "Approved: “Create user alice@acme.test”.", approvals.Result.Text, "quoted in the result too")
	st, err := grace.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushApproved, st.State)
	_, err = grace.CreateUser(ctx, alice)
	require.NoError(t, err, "the console's session is stepped up")

	// Picking the wrong number refuses the request.
	up, err = grace.StepUpPush(ctx, "Deactivate user alice@acme.test")
	require.NoError(t, err)
	approvals = waitChallenge(t, c, up.ID)
	assert.Equal(t, "Approve", approvals.Approve.Text, "nothing is picked for a new challenge")
	pick(t, approvals, up.Number, true)
	test.Tap(approvals.Approve)
	c.answerPasscode(appPasscode)
	c.waitFor("refused", func() bool { return strings.HasPrefix(approvals.Result.Text, "That was not the number") })
	st, err = grace.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushDeclined, st.State)

	// A request Grace did not start: "I did not do this" stops it and ends
	// all her sessions, the console's too.
	up, err = grace.StepUpPush(ctx, "Change the mobile of grace@acme.test")
	require.NoError(t, err)
	approvals = waitChallenge(t, c, up.ID)
	test.Tap(approvals.NotMe)
	test.Tap(approvals.ConfirmNotMe)
	signIn := screen[*screens.SignInScreen](t, c)
	assert.Contains(t, signIn.Notice.Text, "signed out on every device")
	_, err = grace.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized)

	// Sign in again; this device still receives approvals.
	c.typeInto(signIn.Email, "grace@acme.test")
	c.typeInto(signIn.Password, gracePassword)
	test.Tap(signIn.SignIn)
	home = screen[*screens.HomeScreen](t, c)
	assert.Equal(t, "Signed in as grace@acme.test.", home.Who.Text)
	c.waitFor("unlink offered", home.Unlink.Visible)
	c.waitFor("the push stream open", func() bool { return d.streamOpen(userID) })

	// Grace enrols another phone: this device is told it was unlinked by
	// its stream. (Had the enrolment come first, the stream's first call
	// would meet a session already ended with the link, and the companion
	// would ask her to sign in instead.)
	enrolOtherDevice(t, d)
	unlinked := screen[*screens.UnlinkedScreen](t, c)
	c.assertMarkup("unlinked.xml")
	c.waitFor("the key the server no longer accepts deleted", func() bool { return len(keysFor(t, c)) == 0 })

	// She takes this device back: its session ended with its link, so she
	// signs in again first; the passcode is not asked for again.
	test.Tap(unlinked.Relink)
	signIn = screen[*screens.SignInScreen](t, c)
	assert.Contains(t, signIn.Notice.Text, "Sign in again")
	assert.Equal(t, "grace@acme.test", signIn.Email.Text, "the email is filled in")
	c.typeInto(signIn.Password, gracePassword)
	test.Tap(signIn.SignIn)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("approvals offered", home.SetUpBio.Visible)
	test.Tap(home.SetUpBio)
	bio = screen[*screens.BiometricScreen](t, c)
	test.Tap(bio.Send)
	c.waitFor("code sent", bio.CodeSent)
	assert.False(t, bio.PasscodeAsked())
	c.typeInto(bio.Code, "123456")
	test.Tap(bio.Enrol)
	c.answerPasscode(appPasscode)
	c.waitFor("device enrolled", bio.Done.Visible)
	test.Tap(bio.Back)
	c.waitFor("one key", func() bool { return len(keysFor(t, c)) == 1 })

	// And stops approvals on it.
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("unlink offered", home.Unlink.Visible)
	test.Tap(home.Unlink)
	unlink := screen[*screens.UnlinkScreen](t, c)
	test.Tap(unlink.Unlink)
	c.waitFor("unlinked or code asked", func() bool { return unlink.Done.Visible() || unlink.CodeAsked() })
	if unlink.CodeAsked() {
		c.typeInto(unlink.Code, "123456")
		test.Tap(unlink.Confirm)
		c.waitFor("unlinked", unlink.Done.Visible)
	}
	test.Tap(unlink.Back)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("biometrics off", func() bool { return home.BioStatus.Text == "Approvals with biometrics: not set up." })
	c.waitFor("no key", func() bool { return len(keysFor(t, c)) == 0 })

	// Sign out.
	test.Tap(home.SignOut)
	welcome = screen[*screens.WelcomeScreen](t, c)
	assert.Equal(t, "You are signed out.", welcome.Notice.Text)
}

// keysFor lists the companion's keys for the server's RP ID.
func keysFor(t *testing.T, c *companion) []authenticator.Credential {
	t.Helper()
	creds, err := c.keys.List("localhost")
	require.NoError(t, err)
	return creds
}

// enrolOtherDevice enrols a second, headless device for Grace, as the
// companion CLI would.
// streamOpen reports whether the user's device holds a push stream open on
// d now: its reachability is dated now, not when a stream last closed.
func (d *deputy) streamOpen(userID string) bool {
	now := d.Clock.Now()
	r := d.Service.DeviceReachability(context.Background(), userID)
	return r.Reachable && !r.LastSeen.Before(now)
}

func enrolOtherDevice(t *testing.T, d *deputy) (deviceSecret string) {
	t.Helper()
	ctx := context.Background()
	ui := uiClient(t, d)
	login, err := ui.LoginWithPassword(ctx, "grace@acme.test", gracePassword)
	require.NoError(t, err)
	s := ui.Session(login.Token)
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	a, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	require.NoError(t, err)
	options, err := s.BeginBiometricEnrolment(ctx, "other-device", "Grace's other phone")
	require.NoError(t, err)
	req, err := authenticator.ParseCreationOptions(options, "https://localhost")
	require.NoError(t, err)
	att, err := a.Register(ctx, req)
	require.NoError(t, err)
	deviceSecret, err = s.FinishBiometricEnrolment(ctx, "123456", att)
	require.NoError(t, err)
	return deviceSecret
}

// TestSessionExpirySendsToSignIn: when the session lapses (5 minutes
// without use), the next call answers 401 and the companion asks the user to
// sign in again, keeping their email.
func TestSessionExpirySendsToSignIn(t *testing.T) {
	d := startDeputy(t)
	d.userWithPassword(t, "grace@acme.test", gracePassword)
	c := newCompanion(t, screens.DialClient())
	screens.SaveConnection(c.app.Preferences(), deeplink.Connect{Server: d.URL, Key: d.UIKey})
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

// pushTokenOf reads the push token the server keeps for the user's device.
func pushTokenOf(t *testing.T, d *deputy, userID string) *core.PushToken {
	t.Helper()
	var got *core.PushToken
	require.NoError(t, d.Store.View(context.Background(), func(tx core.ReadTx) error {
		f, err := tx.Factor(userID, core.ChannelBiometric)
		if err == nil {
			got = f.Push
		}
		return err
	}))
	return got
}

// TestEnrolmentKeptAtANewAddress: the same server reached at a new address
// (it moved, or the demo picked a new port) still has this device once the
// user confirms it moved: the companion says so after signing in there, and
// approvals arrive. Until then, the new address gets nothing of the
// enrolment.
func TestEnrolmentKeptAtANewAddress(t *testing.T) {
	ctx := context.Background()
	d := startDeputy(t)
	target, err := url.Parse(d.URL)
	require.NoError(t, err)
	var down atomic.Bool // the new address answers 502 while down
	var secretSent atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(client.DeviceSecretHeader) != "" {
			secretSent.Store(true)
		}
		if down.Load() {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(moved.Close)
	userID := d.invite(t, "grace@acme.test")
	c := newCompanion(t, screens.DialClient())
	c.c.Start("")
	connect := screen[*screens.ConnectScreen](t, c)
	c.paste(connect.Link, deeplink.Connect{Server: d.URL, Key: d.UIKey}.String())
	test.Tap(connect.Connect)
	test.Tap(screen[*screens.WelcomeScreen](t, c).Invite)
	inv := screen[*screens.InviteScreen](t, c)
	c.paste(inv.Link, deeplink.Invite{UserID: userID, Code: "123456"}.String())
	test.Tap(inv.Check)
	c.waitFor("invite checked", inv.Checked)
	c.typeInto(inv.Password, gracePassword)
	c.typeInto(inv.Confirm, gracePassword)
	test.Tap(inv.Accept)
	home := screen[*screens.HomeScreen](t, c)
	c.waitFor("factors", home.SetUpSMS.Visible)
	test.Tap(home.SetUpSMS)
	sms := screen[*screens.SMSScreen](t, c)
	test.Tap(sms.Send)
	c.waitFor("code sent", sms.CodeSent)
	c.typeInto(sms.Code, "123456")
	test.Tap(sms.Verify)
	c.waitFor("SMS enrolled", sms.Done.Visible)
	test.Tap(sms.Back)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("approvals offered", home.SetUpBio.Visible)
	test.Tap(home.SetUpBio)
	bio := screen[*screens.BiometricScreen](t, c)
	test.Tap(bio.Send)
	c.waitFor("code sent", bio.CodeSent)
	c.typeInto(bio.Code, "123456")
	c.typeInto(bio.NewPasscode, appPasscode)
	c.typeInto(bio.ConfirmPasscode, appPasscode)
	test.Tap(bio.Enrol)
	c.waitFor("device enrolled", bio.Done.Visible) // the passcode just chosen is not asked again
	test.Tap(bio.Back)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("this device", func() bool { return home.BioStatus.Text == "Approvals with biometrics: on, on this device." })

	// A link from anywhere changes nothing until the user connects: Cancel
	// leads back home, still signed in.
	c.ui(func() { c.c.OpenLink(deeplink.Connect{Server: "https://evil.example", Key: d.UIKey}.String()) })
	connect = screen[*screens.ConnectScreen](t, c)
	assert.Equal(t, "https://evil.example", connect.Server.Text)
	require.True(t, connect.Cancel.Visible())
	test.Tap(connect.Cancel)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("still signed in", func() bool { return home.BioStatus.Text == "Approvals with biometrics: on, on this device." })

	// The admin's new link names the new address. Anyone could send such a
	// link with the programme's public key, so after signing in there the
	// device asks whether the server moved, and until the user says so it
	// sends nothing of its enrolment there.
	c.ui(func() { c.c.OpenLink(deeplink.Connect{Server: moved.URL, Key: d.UIKey}.String()) })
	connect = screen[*screens.ConnectScreen](t, c)
	test.Tap(connect.Connect)
	signInAt := func() *screens.MovedScreen {
		test.Tap(screen[*screens.WelcomeScreen](t, c).SignIn)
		signIn := screen[*screens.SignInScreen](t, c)
		signIn.Email.SetText("") // filled in after a sign-out
		c.typeInto(signIn.Email, "grace@acme.test")
		c.typeInto(signIn.Password, gracePassword)
		test.Tap(signIn.SignIn)
		return screen[*screens.MovedScreen](t, c)
	}
	ask := signInAt()
	assert.Contains(t, ask.Explain.Text, "approves for your account at "+d.URL+". You are now signed in at "+moved.URL+".")
	test.Tap(ask.Cancel)
	home = screen[*screens.HomeScreen](t, c)
	// It is this device, only not trusted at this address: "another device"
	// and an offer to "use this device instead" would mislead.
	c.waitFor("not this device here", func() bool {
		return home.BioStatus.Text == "Approvals with biometrics: on this device for "+d.URL+", not for this address. If your organisation moved Deputy here, sign out, sign in again and answer “It moved”."
	})
	assert.False(t, home.SetUpBio.Visible(), "no offer to enrol again at an address the user did not confirm")
	assert.False(t, secretSent.Load(), "no device secret to an address the user did not confirm")
	test.Tap(home.SignOut)
	test.Tap(signInAt().Moved)
	home = screen[*screens.HomeScreen](t, c)
	c.waitFor("still this device", func() bool { return home.BioStatus.Text == "Approvals with biometrics: on, on this device." })

	console := uiClient(t, d)
	login, err := console.LoginWithPassword(ctx, "grace@acme.test", gracePassword)
	require.NoError(t, err)
	up, err := console.Session(login.Token).StepUpPush(ctx, "Create user alice@acme.test")
	require.NoError(t, err)
	test.Tap(home.Approvals)
	waitChallenge(t, c, up.ID)
	assert.False(t, c.c.Offline().Visible())
	assert.Equal(t, &core.PushToken{Platform: core.PushFCM, Token: fakeFCMToken}, pushTokenOf(t, d, userID),
		"the linked device registered the platform's push token")

	// The connection breaks: a banner says so until the stream is back.
	down.Store(true)
	moved.CloseClientConnections()
	c.waitFor("offline banner", c.c.Offline().Visible)
	assert.Equal(t, "Offline: cannot reach "+moved.URL+". Approvals arrive when the connection is back; trying again every 5 s.", c.c.Offline().Text)
	down.Store(false)
	c.advance(5 * time.Second)
	c.waitFor("back online", func() bool { return !c.c.Offline().Visible() })
}
