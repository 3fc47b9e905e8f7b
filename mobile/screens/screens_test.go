package screens_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server/client"
)

func noop() {}

func failExpired(t *testing.T) func(screens.Problem) {
	return func(p screens.Problem) { t.Errorf("session ended unexpectedly: %s", p.Text) }
}

func uiClient(t *testing.T, d *deputy, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(d.URL, d.UIKey, opts...)
	require.NoError(t, err)
	return c
}

func TestWelcomeScreen(t *testing.T) {
	h := newHarness(t)
	var tapped []string
	s := screens.NewWelcomeScreen("https://auth.example.com", "", screens.WelcomeActions{
		Invite:     func() { tapped = append(tapped, "invite") },
		SignIn:     func() { tapped = append(tapped, "sign in") },
		Disconnect: func() { tapped = append(tapped, "disconnect") },
	})
	h.show(s)
	h.assertMarkup("welcome.xml")
	test.Tap(s.Invite)
	test.Tap(s.SignIn)
	test.Tap(s.Disconnect)
	assert.Equal(t, []string{"invite", "sign in", "disconnect"}, tapped)
	assert.False(t, s.Notice.Visible())
}

func TestInviteScreen(t *testing.T) {
	d := startDeputy(t)
	userID := d.invite(t, "grace@acme.test")
	h := newHarness(t)
	var token string
	s := screens.NewInviteScreen(h.env(), uiClient(t, d), password.Weavr{}, deeplink.Invite{}, func(tok, _ string) { token = tok }, noop)
	h.show(s)

	// A link that is not an invite is explained, not used.
	h.paste(s.Link, "deputy://connect?server=https://a.example&key=dpk_x")
	assert.Contains(t, s.LinkHint.Text, "This is not an invite link")
	assert.Empty(t, s.UserID.Text)

	// A link with a real (43-character) invite code fills the form, and the
	// server weighs the code: wrong, but well-formed.
	long := deeplink.Invite{UserID: userID, Code: "q0-Zx_9aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4"}
	s.Link.SetText("")
	h.paste(s.Link, long.String())
	assert.Equal(t, "Link read. Tap Continue.", s.LinkHint.Text)
	assert.Equal(t, long.Code, s.Code.Text)
	test.Tap(s.Check)
	h.waitFor("wrong long code", s.Problem.Visible)
	assert.Contains(t, s.Problem.Message.Text, "This invite code is not right")
	s.Link.SetText("")
	s.UserID.SetText("")
	s.Code.SetText("")

	// Typed by hand: a wrong code is refused by the server.
	s.Link.SetText("")
	h.typeInto(s.UserID, userID)
	h.typeInto(s.Code, "654321")
	test.Tap(s.Check)
	h.waitFor("wrong code", s.Problem.Visible)
	assert.Contains(t, s.Problem.Message.Text, "This invite code is not right")
	assert.False(t, s.Checked())

	// Five digits never reach the server.
	s.Code.SetText("12345")
	test.Tap(s.Check)
	assert.Equal(t, "The invite code is 6 to 64 letters, digits, - or _: copy it from your invite email.", s.Problem.Message.Text)

	s.Code.SetText("123456")
	test.Tap(s.Check)
	h.waitFor("invite checked", s.Checked)

	// The policy is ticked as the password is typed.
	h.typeInto(s.Password, "abc")
	assert.Equal(t, []bool{false, true, false, false, false}, met(s.Policy))
	h.typeInto(s.Password, "DEF1")
	assert.Equal(t, []bool{false, true, true, true, false}, met(s.Policy))
	h.assertMarkup("invite_password.xml")
	h.typeInto(s.Password, "!")
	assert.Equal(t, []bool{true, true, true, true, true}, met(s.Policy))

	// Mismatched confirmation, then a bad mobile number, are caught here.
	h.typeInto(s.Confirm, "abcDEF1?")
	assert.Equal(t, "The two passwords are different.", s.ConfirmHint.Text)
	test.Tap(s.Accept)
	assert.Equal(t, "The two passwords are different.", s.Problem.Message.Text)
	s.Confirm.SetText("abcDEF1!")
	assert.False(t, s.ConfirmHint.Visible())
	h.typeInto(s.CountryCode, "44")
	h.typeInto(s.Mobile, "77x")
	test.Tap(s.Accept)
	assert.Equal(t, "Enter your mobile number as digits, without the country code.", s.Problem.Message.Text)
	s.Mobile.SetText("7700 900 999")
	test.Tap(s.Accept)
	h.waitFor("signed in", func() bool { return token != "" })

	// The mobile number was saved with the password.
	u, err := d.admin.GetUser(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, &client.Mobile{CountryCode: "+44", Number: "7700900999"}, u.Mobile)
}

func met(p *screens.PolicyView) []bool {
	var out []bool
	for i := range p.Rules {
		out = append(out, p.Met(i))
	}
	return out
}

func TestInviteScreenNISTPolicy(t *testing.T) {
	h := newHarness(t)
	s := screens.NewInviteScreen(h.env(), nil, password.NIST{}, deeplink.Invite{UserID: "1", Code: "123456"}, func(string, string) {}, noop)
	h.show(s)
	require.Len(t, s.Policy.Rules, 3)
	assert.Equal(t, "8 to 100 characters", s.Policy.Rules[0].Text)
	h.typeInto(s.Password, "password")
	assert.Equal(t, []bool{true, false, true}, met(s.Policy), "a common password is not ticked")
	assert.Equal(t, "1", s.UserID.Text, "the invite link fills the fields")
}

// flaky fails the first n requests as if the network were down.
type flaky struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, syscall.ECONNREFUSED
	}
	return f.next.RoundTrip(r)
}

func TestSignInScreen(t *testing.T) {
	d := startDeputy(t)
	d.userWithPassword(t, "grace@acme.test", gracePassword)
	h := newHarness(t)
	net := &flaky{next: http.DefaultTransport}
	var token, email string
	s := screens.NewSignInScreen(h.env(), uiClient(t, d, client.WithHTTPClient(&http.Client{Transport: net})), "", "", func(tok, em, _ string) { token, email = tok, em }, noop)
	h.show(s)

	test.Tap(s.SignIn)
	assert.Equal(t, "Enter your email and password.", s.Problem.Message.Text)

	h.typeInto(s.Email, "grace@acme.test")
	h.typeInto(s.Password, "wrong-password")
	test.Tap(s.SignIn)
	h.waitFor("refused", s.Problem.Visible)
	assert.Equal(t, "The email or password is not right.", s.Problem.Message.Text)
	assert.False(t, s.Problem.Retry.Visible(), "a wrong password is not worth retrying as is")

	// The network drops: the message says so and offers to try again.
	s.Password.SetText(gracePassword)
	net.n.Store(1)
	test.Tap(s.SignIn)
	h.waitFor("network error", s.Problem.Visible)
	assert.Equal(t, "Cannot reach the server. Check your connection and try again.", s.Problem.Message.Text)
	require.True(t, s.Problem.Retry.Visible())
	h.assertMarkup("signin_network_error.xml")
	test.Tap(s.Problem.Retry)
	h.waitFor("signed in", func() bool { return token != "" })
	assert.Equal(t, "grace@acme.test", email)
	assert.Empty(t, s.Password.Text, "the password is not kept")
}

// signIn returns a session of a user who has accepted their invite.
func signIn(t *testing.T, d *deputy, email string) *client.Session {
	t.Helper()
	d.userWithPassword(t, email, gracePassword)
	c := uiClient(t, d)
	l, err := c.LoginWithPassword(context.Background(), email, gracePassword)
	require.NoError(t, err)
	return c.Session(l.Token)
}

func TestSMSScreen(t *testing.T) {
	d := startDeputy(t)
	sess := signIn(t, d, "grace@acme.test")
	h := newHarness(t)
	finished := false
	s := screens.NewSMSScreen(h.env(), sess, func() { finished = true }, noop, failExpired(t))
	h.show(s)
	h.assertMarkup("sms_start.xml")

	test.Tap(s.Send)
	h.waitFor("code sent", s.CodeSent)
	assert.Equal(t, "The code expires in 5:00.", s.Expiry.Text)
	assert.Equal(t, "Resend code in 15 s", s.Resend.Text)
	assert.True(t, s.Resend.Disabled())
	assert.Equal(t, "You have 5 attempts.", s.Attempts.Text)

	// Wrong codes count down the attempts, from the server's errorCodes.
	for _, want := range []string{"4 attempts left.", "3 attempts left.", "2 attempts left.", "1 attempt left."} {
		h.typeInto(s.Code, "000000")
		test.Tap(s.Verify)
		h.waitFor("attempts "+want, func() bool { return s.Attempts.Text == want })
	}
	assert.Equal(t, "That code is not right. You have one attempt left.", s.Problem.Message.Text)
	h.advance(4 * time.Second)
	assert.Equal(t, "The code expires in 4:56.", s.Expiry.Text)
	assert.Equal(t, "Resend code in 11 s", s.Resend.Text)
	h.assertMarkup("sms_one_attempt_left.xml")
	h.typeInto(s.Code, "000000")
	test.Tap(s.Verify)
	h.waitFor("no attempts", func() bool {
		return s.Attempts.Text == "No attempts left for this code. Tap Resend code for a new one."
	})
	assert.True(t, s.Verify.Disabled())

	// A spent code is replaced at once: the resend countdown ends, and the
	// server sends a new code without waiting.
	require.False(t, s.Resend.Disabled())
	assert.Equal(t, "Resend code", s.Resend.Text)
	test.Tap(s.Resend)
	h.waitFor("new code", func() bool { return s.Attempts.Text == "You have 5 attempts." })
	assert.False(t, s.Verify.Disabled())

	// The code expires on screen after five minutes.
	h.advance(5 * time.Minute)
	assert.Equal(t, "The code has expired. Tap Resend code for a new one.", s.Expiry.Text)

	// Another new code, and the right one.
	_, err := d.key.AdvanceClock(context.Background(), 20*time.Second)
	require.NoError(t, err)
	test.Tap(s.Resend)
	h.waitFor("new code", func() bool { return s.Expiry.Text == "The code expires in 5:00." })
	h.typeInto(s.Code, "123456")
	test.Tap(s.Verify)
	h.waitFor("enrolled", s.Done.Visible)
	h.assertMarkup("sms_done.xml")
	test.Tap(s.Back)
	assert.True(t, finished)
	factors, err := sess.Factors(context.Background())
	require.NoError(t, err)
	assert.Contains(t, factors, client.Factor{Type: "OTP", Channel: "SMS", Status: client.FactorActive})
}

// TestSMSScreenServerNumbers: the attempts shown are the programme's
// setting, as the server says, not a number typed into the app.
func TestSMSScreenServerNumbers(t *testing.T) {
	d := startDeputy(t)
	set := d.Programme.Settings
	set.Biometrics, set.OTPAttempts = true, 3
	_, err := d.Service.UpdateProgrammeSettings(context.Background(), d.Programme.ID, nil, set)
	require.NoError(t, err)
	sess := signIn(t, d, "grace@acme.test")
	h := newHarness(t)
	s := screens.NewSMSScreen(h.env(), sess, noop, noop, failExpired(t))
	h.show(s)
	test.Tap(s.Send)
	h.waitFor("code sent", s.CodeSent)
	assert.Equal(t, "You have 3 attempts.", s.Attempts.Text)
	assert.Equal(t, "The code expires in 5:00.", s.Expiry.Text)
}

func TestSMSScreenNoMobile(t *testing.T) {
	d := startDeputy(t)
	ctx := context.Background()
	u, err := d.admin.CreateUser(ctx, client.UserCreate{Name: "Nomo", Surname: "Bile", Email: "nomo@acme.test"})
	require.NoError(t, err)
	require.NoError(t, d.admin.SendInvite(ctx, u.ID))
	ui := uiClient(t, d)
	token, err := ui.InviteConsume(ctx, u.ID, "123456", gracePassword, nil)
	require.NoError(t, err)
	h := newHarness(t)
	s := screens.NewSMSScreen(h.env(), ui.Session(token), noop, noop, failExpired(t))
	h.show(s)
	test.Tap(s.Send)
	h.waitFor("problem", s.Problem.Visible)
	assert.Equal(t, "Your account has no mobile number. Ask your admin to add one, then try again.", s.Problem.Message.Text)
}

func TestHomeScreenServerError(t *testing.T) {
	h := newHarness(t)
	api := &failingSession{err: &client.Error{Status: http.StatusServiceUnavailable, RequestRef: "ref-123"}}
	s := screens.NewHomeScreen(h.env(), api, screens.HomeInfo{Who: "Signed in as grace@acme.test.", PushOffered: true}, screens.HomeActions{}, failExpired(t))
	h.show(s)
	h.waitFor("problem", s.Problem.Visible)
	assert.Equal(t, "The server had a problem. Try again in a moment. (Reference ref-123)", s.Problem.Message.Text)
	h.assertMarkup("home_server_error.xml")
	api.err = nil
	test.Tap(s.Problem.Retry)
	h.waitFor("factors", func() bool { return s.SMSStatus.Text == "SMS codes: on." })
	assert.Equal(t, "Approvals with biometrics: not set up.", s.BioStatus.Text)
}

// failingSession answers Factors with err, or an active SMS factor when err is nil.
type failingSession struct {
	screens.SessionAPI
	err error
}

func (f *failingSession) Factors(context.Context) ([]client.Factor, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}}, nil
}

// showApprovals shows an approvals screen of push's pending requests (no
// device id), answering with auth, recording each answer in answers; it
// fails t should it ask to relink or report an expired stream.
func showApprovals(t *testing.T, h *harness, push *fakePush, auth *authenticator.Authenticator, answers *[]screens.Answer) *screens.ApprovalsScreen {
	t.Helper()
	pending, err := push.PendingPush(context.Background(), "", 0)
	require.NoError(t, err)
	s := screens.NewApprovalsScreen(h.env(), screens.ApprovalsDeps{API: push, Auth: auth}, pending, screens.ApprovalsActions{
		Answered: func(_ string, a screens.Answer) { *answers = append(*answers, a) }, Back: noop, Expired: failExpired(t),
		Unlinked: func() { t.Error("unlinked") },
	})
	h.show(s)
	return s
}

// newAuth returns an authenticator whose passcode prompt is dlg.
func newAuth(t *testing.T, dlg *screens.PasscodeDialog) (*authenticator.Authenticator, *authenticator.PasscodeVerifier) {
	a, v, _ := newAuthStore(t, dlg)
	return a, v
}

// newAuthStore is newAuth with its key store.
func newAuthStore(t *testing.T, dlg *screens.PasscodeDialog) (*authenticator.Authenticator, *authenticator.PasscodeVerifier, *authenticator.MemoryStore) {
	t.Helper()
	v, err := authenticator.NewPasscodeVerifier("", dlg.Prompt)
	require.NoError(t, err)
	keys := authenticator.NewMemoryStore()
	a, err := authenticator.New(authenticator.Config{}, keys, v)
	require.NoError(t, err)
	return a, v, keys
}

func TestBiometricScreen(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, verifier := newAuth(t, dlg)
	finished := false
	s := screens.NewBiometricScreen(h.env(), screens.BiometricDeps{API: push, Auth: auth, Passcode: verifier, Device: screens.Device{ID: "d1", Name: "Test phone"}},
		func(screens.Enrolment) { finished = true }, noop, failExpired(t))
	h.show(s)
	test.Tap(s.Send)
	h.waitFor("code sent", s.CodeSent)
	h.advance(30 * time.Second)
	assert.Equal(t, "The code expires in 4:30.", s.Expiry.Text)
	h.assertMarkup("biometric_code_sent.xml")

	// Passcodes that differ, or are too short, are caught before anything is sent.
	h.typeInto(s.Code, "123456")
	h.typeInto(s.NewPasscode, "12345")
	h.typeInto(s.ConfirmPasscode, "12345")
	test.Tap(s.Enrol)
	assert.Equal(t, "Choose an app passcode of 6 to 128 characters.", s.Problem.Message.Text)
	s.NewPasscode.SetText(appPasscode)
	s.ConfirmPasscode.SetText("135790")
	test.Tap(s.Enrol)
	assert.Equal(t, "The two passcodes are different.", s.Problem.Message.Text)
	s.ConfirmPasscode.SetText(appPasscode)

	// The passcode typed twice just now is not asked for a third time.
	test.Tap(s.Enrol)
	h.waitFor("enrolled", s.Done.Visible)
	assert.False(t, dlg.Showing(), "no prompt right after choosing the passcode")
	assert.True(t, verifier.IsSet())
	test.Tap(s.Back)
	assert.True(t, finished)
	assert.Equal(t, []string{"begin Test phone", "enrolled"}, push.log)
}

func TestBiometricScreenCancelledPrompt(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, verifier := newAuth(t, dlg)
	require.NoError(t, verifier.Set(context.Background(), appPasscode))
	s := screens.NewBiometricScreen(h.env(), screens.BiometricDeps{API: push, Auth: auth, Passcode: verifier},
		func(screens.Enrolment) {}, noop, failExpired(t))
	h.show(s)
	test.Tap(s.Send)
	h.waitFor("code sent", s.CodeSent)
	assert.False(t, s.PasscodeAsked(), "a passcode is chosen only once")
	h.typeInto(s.Code, "123456")
	test.Tap(s.Enrol)
	h.waitFor("passcode prompt", dlg.Showing)
	test.Tap(dlg.Cancel)
	h.waitFor("cancelled", s.Problem.Visible)
	assert.Equal(t, "You were not verified (wrong passcode, or cancelled).", s.Problem.Message.Text)
	assert.Equal(t, []string{"begin "}, push.log)
}

func TestApprovalsScreenExpiresAndDeclines(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, _ := newAuth(t, dlg)
	push.enrolElsewhere()
	first := push.request("Create user alice@acme.test with role ADMIN", 42, []int{17, 42, 86})
	h.clock.Advance(2 * time.Minute)
	second := push.request("Deactivate user bob@acme.test", 11, []int{11, 64, 35})
	var answers []screens.Answer
	s := showApprovals(t, h, push, auth, &answers)
	assert.Equal(t, first, s.Current().ID)
	assert.Equal(t, "Answer within 3:00.", s.Expires.Text)
	require.Len(t, s.Others.Objects, 1, "the second request is listed")

	// The first runs out of time on screen: its question and answers go.
	h.advance(3 * time.Minute)
	assert.Equal(t, "This request has expired. If you still want to do this, start again on the other screen.", s.Expires.Text)
	assertEnded(t, s)
	h.assertMarkup("approvals_expired.xml")

	// The second is declined without alarm.
	_, show := otherRequest(t, s, 0)
	test.Tap(show)
	require.Equal(t, second, s.Current().ID)
	assert.Equal(t, "Answer within 2:00.", s.Expires.Text)
	test.Tap(s.Decline)
	h.waitFor("declined", s.Result.Visible)
	assert.Equal(t, "Declined: Deactivate user bob@acme.test.", s.Result.Text)
	assert.Equal(t, widget.MediumImportance, s.Result.Importance, "a decline is not shown as a success")
	assert.Equal(t, "DECLINED", push.state(second))
	assert.Equal(t, []screens.Answer{screens.Declined}, answers)
	assert.Equal(t, first, s.Current().ID, "the expired one is still listed until the server drops it")
}

// TestApprovalsScreenReportsWithdrawn: a request withdrawn by whoever asked
// while it is shown stays on screen, says so, and keeps only "I did not do
// this", which the server takes for it (core notMeReportable): an attacker
// who withdraws each prompt before the user reacts is still reported. The
// button is there but never the loudest on the screen.
func TestApprovalsScreenReportsWithdrawn(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, _ := newAuth(t, dlg)
	push.enrolElsewhere()
	id := push.request("Create user alice@acme.test with role ADMIN", 42, []int{17, 42, 86})
	var answers []screens.Answer
	s := showApprovals(t, h, push, auth, &answers)
	assert.NotEqual(t, widget.DangerImportance, s.NotMe.Importance)
	assert.NotEqual(t, widget.HighImportance, s.NotMe.Importance)

	push.withdraw(id)
	s.SetPending(nil)
	require.NotNil(t, s.Current(), "the withdrawn request stays on screen")
	assert.Equal(t, id, s.Current().ID)
	assert.Equal(t, "This request was withdrawn before you answered. Nothing was approved. If you did not start it, tell us: “I did not do this”.", s.Expires.Text)
	assert.Equal(t, widget.DangerImportance, s.Expires.Importance)
	assertEnded(t, s)
	h.assertMarkup("approvals_withdrawn.xml")
	h.advance(10 * time.Minute)
	assert.Contains(t, s.Expires.Text, "withdrawn", "its countdown stopped")

	test.Tap(s.NotMe)
	test.Tap(s.ConfirmNotMe)
	h.waitFor("reported", s.Result.Visible)
	assert.Equal(t, []screens.Answer{screens.NotMe}, answers)
	assert.Contains(t, push.log, "declined "+id+" NOT_ME")
	assert.True(t, s.Empty.Visible())
}

// assertEnded checks that the request on s can no longer be answered and
// looks it: no question, no numbers, no Approve or Decline, only "I did not
// do this" (which the server takes for it) and Dismiss.
func assertEnded(t *testing.T, s *screens.ApprovalsScreen) {
	t.Helper()
	assert.False(t, onScreen(s, s.Question), "the question is gone")
	for _, b := range s.Choices {
		assert.True(t, b.Disabled())
		assert.False(t, onScreen(s, b), "number %s is gone", b.Text)
	}
	assert.False(t, onScreen(s, s.Approve), "Approve is gone")
	assert.True(t, s.Approve.Disabled())
	assert.False(t, onScreen(s, s.Decline), "Decline is gone")
	assert.True(t, s.Decline.Disabled())
	assert.True(t, onScreen(s, s.NotMe))
	assert.False(t, s.NotMe.Disabled())
	assert.True(t, onScreen(s, s.Dismiss))
}

// TestApprovalsScreenDismissesEnded: Dismiss takes a request that can no
// longer be answered off the screen without answering it, shows the next
// one waiting with its answers back, and reports the ended one over (Gone)
// so that the companion drops it.
func TestApprovalsScreenDismissesEnded(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, _ := newAuth(t, dlg)
	push.enrolElsewhere()
	first := push.request("Create user alice@acme.test with role ADMIN", 42, []int{17, 42, 86})
	second := push.request("Deactivate user bob@acme.test", 11, []int{11, 64, 35})
	var answers []screens.Answer
	s := showApprovals(t, h, push, auth, &answers)
	require.Equal(t, first, s.Current().ID)
	assert.False(t, onScreen(s, s.Dismiss), "nothing to dismiss while it can be answered")

	push.withdraw(first)
	pending, err := push.PendingPush(context.Background(), "", 0)
	require.NoError(t, err)
	s.SetPending(pending)
	assertEnded(t, s)
	test.Tap(s.Dismiss)
	require.NotNil(t, s.Current())
	assert.Equal(t, second, s.Current().ID, "the next request is shown")
	assert.Equal(t, []screens.Answer{screens.Gone}, answers)
	assert.Empty(t, s.Others.Objects)
	assert.False(t, s.Result.Visible())
	assert.False(t, onScreen(s, s.Dismiss))
	for _, o := range []fyne.CanvasObject{s.Question, s.Choices[0], s.Approve, s.Decline, s.NotMe} {
		assert.True(t, onScreen(s, o), "%T is back for a request that can be answered", o)
	}
	assert.False(t, s.Decline.Disabled())
	assert.False(t, s.Choices[0].Disabled())

	// The second runs out of time on screen; dismissed, nothing is left.
	h.advance(5 * time.Minute)
	assertEnded(t, s)
	test.Tap(s.Dismiss)
	assert.Nil(t, s.Current())
	assert.True(t, s.Empty.Visible())
	assert.Equal(t, []screens.Answer{screens.Gone, screens.Gone}, answers)
	for _, l := range push.log {
		assert.NotContains(t, l, "declined", "dismissing answers nothing")
	}
}

func TestApprovalsScreenApproves(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, verifier := newAuth(t, dlg)
	require.NoError(t, verifier.Set(context.Background(), appPasscode))
	// This device's key is the enrolled one.
	options, err := push.BeginBiometricEnrolment(context.Background(), "d1", "Test phone")
	require.NoError(t, err)
	req, err := authenticator.ParseCreationOptions(options, "https://localhost")
	require.NoError(t, err)
	register := make(chan error, 1)
	go func() {
		att, err := auth.Register(context.Background(), req)
		if err == nil {
			_, err = push.FinishBiometricEnrolment(context.Background(), "123456", att)
		}
		register <- err
	}()
	h.waitFor("passcode prompt", dlg.Showing)
	test.Type(dlg.Entry, appPasscode)
	test.Tap(dlg.OK)
	require.NoError(t, <-register)

	id := push.request("Create user alice@acme.test with role ADMIN", 42, []int{17, 42, 86})
	pending, err := push.PendingPush(context.Background(), "d1", 0)
	require.NoError(t, err)
	var answered []string
	unlinked := false
	s := screens.NewApprovalsScreen(h.env(), screens.ApprovalsDeps{API: push, Auth: auth}, pending, screens.ApprovalsActions{
		Answered: func(id string, _ screens.Answer) { answered = append(answered, id) }, Back: noop, Expired: failExpired(t),
		Unlinked: func() { unlinked = true },
	})
	h.show(s)
	h.assertMarkup("approvals_pending.xml")
	assert.Equal(t, "Which number is shown on the screen that asked for this?", s.Question.Text)
	test.Tap(s.Choices[1])
	test.Tap(s.Approve)
	h.waitFor("passcode prompt", dlg.Showing)
	test.Type(dlg.Entry, "000000")
	test.Tap(dlg.OK)
	h.waitFor("wrong passcode", s.Problem.Visible)
	assert.Equal(t, "Wrong passcode. 4 more wrong ones in a row lock approvals for 30 min.", s.Problem.Message.Text)
	assert.False(t, s.Problem.Retry.Visible(), "no Try again beside Approve, which asks again")
	assert.Equal(t, client.PushPending, push.state(id), "nothing sent")
	test.Tap(s.Approve)
	h.waitFor("passcode prompt", dlg.Showing)
	assert.Equal(t, "Approve: Create user alice@acme.test with role ADMIN", dlg.Reason.Text, "the prompt says what is approved")
	test.Type(dlg.Entry, appPasscode)
	test.Tap(dlg.OK)
	h.waitFor("approved", s.Result.Visible)
	assert.Equal(t, client.PushApproved, push.state(id))
	assert.Equal(t, []string{id}, answered)
	assert.True(t, s.Empty.Visible())
	assert.Nil(t, s.Current())

	// The same challenge answered elsewhere meanwhile: it leaves the list.
	again := push.request("Deactivate user bob@acme.test", 11, []int{11, 64, 35})
	pending, err = push.PendingPush(context.Background(), "d1", 0)
	require.NoError(t, err)
	s.SetPending(pending)
	require.NoError(t, push.DeclinePush(context.Background(), again, client.DeclineCancelled))
	test.Tap(s.Choices[0])
	test.Tap(s.Approve)
	h.waitFor("gone", s.Result.Visible)
	assert.Equal(t, "This request is no longer waiting for an answer.", s.Result.Text)

	// The wrong number once too often: the SCA lock ends it, and says so.
	push.wrongNumberLimit = 1
	locked := push.request("Unlock user bob@acme.test", 64, []int{64, 12, 93})
	pending, err = push.PendingPush(context.Background(), "d1", 0)
	require.NoError(t, err)
	s.SetPending(pending)
	require.Equal(t, locked, s.Current().ID)
	test.Tap(s.Choices[1])
	test.Tap(s.Approve)
	h.waitFor("passcode prompt or answer", func() bool { return dlg.Showing() || s.Result.Visible() })
	if dlg.Showing() {
		test.Type(dlg.Entry, appPasscode)
		test.Tap(dlg.OK)
	}
	h.waitFor("refused", s.Result.Visible)
	assert.Contains(t, s.Result.Text, "too many times in a row")
	assert.Equal(t, client.PushDeclined, push.state(locked))

	// This device unlinked meanwhile: the server refuses the options.
	third := push.request("Change the mobile of grace@acme.test", 58, []int{58, 23, 71})
	pending, err = push.PendingPush(context.Background(), "d1", 0)
	require.NoError(t, err)
	s.SetPending(pending)
	require.Equal(t, third, s.Current().ID)
	require.NoError(t, push.UnlinkBiometric(context.Background()))
	test.Tap(s.Choices[0])
	test.Tap(s.Approve)
	h.waitFor("unlinked", func() bool { return unlinked })
}

// TestApprovalsScreenReportsExpired: a request that ran out of time on
// screen keeps "I did not do this" after the server drops it from the
// pending list, since the server still takes that report for an expired
// request (core notMeReportable): an attacker's request the user was slow to
// recognise must not take the user's way to stop the attacker with it.
func TestApprovalsScreenReportsExpired(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, _ := newAuth(t, dlg)
	push.enrolElsewhere()
	id := push.request("Create user alice@acme.test with role ADMIN", 42, []int{17, 42, 86})
	var answers []screens.Answer
	s := showApprovals(t, h, push, auth, &answers)
	h.advance(5 * time.Minute)
	s.SetPending(nil) // the server's sweep ended it and told the device

	require.NotNil(t, s.Current(), "the expired request stays on screen")
	assert.Equal(t, id, s.Current().ID)
	assert.True(t, s.NotMe.Visible())
	assert.False(t, s.NotMe.Disabled())
	assert.True(t, s.Approve.Disabled())
	assert.True(t, s.Decline.Disabled())
	test.Tap(s.NotMe)
	test.Tap(s.ConfirmNotMe)
	h.waitFor("reported", s.Result.Visible)
	assert.Equal(t, []screens.Answer{screens.NotMe}, answers)
	assert.Contains(t, push.log, "declined "+id+" NOT_ME")
}

// TestApprovalsScreenSaysWhatIsAsked: each request says what it asks for,
// and a step-up's summary in the requester's own words (which could read
// like a payment or a sign-in) is quoted and said to be theirs.
func TestApprovalsScreenSaysWhatIsAsked(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	auth, _ := newAuth(t, screens.NewPasscodeDialog(h.win, h.ui))
	now := h.clock.Now()
	ask := func(kind, summary string, fromRequester bool) client.PushChallenge {
		return client.PushChallenge{ID: kind + summary, Kind: kind, Summary: summary, SummaryFromRequester: fromRequester,
			Choices: []int{17, 42, 86}, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	}
	for _, tt := range []struct {
		ch            client.PushChallenge
		kind, summary string
	}{
		{ask(client.PushKindLogin, "Sign in to Acme", false), "Sign-in request", "Sign in to Acme"},
		{ask(client.PushKindConfirm, "Pay 900.00 GBP to Bob", false), "Confirm these details", "Pay 900.00 GBP to Bob"},
		{ask(client.PushKindStepUp, "Create user alice@acme.test with role ADMIN", false), "Confirm it is you", "Create user alice@acme.test with role ADMIN"},
		{ask(client.PushKindStepUp, "Sign in to your bank", true), "Confirm it is you. The app that asked describes it, in its own words, as:", "“Sign in to your bank”"},
	} {
		s := screens.NewApprovalsScreen(h.env(), screens.ApprovalsDeps{API: push, Auth: auth}, []client.PushChallenge{tt.ch}, screens.ApprovalsActions{
			Answered: func(string, screens.Answer) {}, Back: noop, Expired: failExpired(t), Unlinked: func() { t.Error("unlinked") },
		})
		assert.Equal(t, tt.kind, s.Kind.Text, tt.ch.Summary)
		assert.Equal(t, tt.summary, s.Summary.Text)
		s.Close()
	}
}

// TestApprovalsScreenQuotesTheRequesterElsewhereToo: a requester's own words
// are quoted wherever the screen names a request, not only in its detail:
// "Also waiting: Pay 900 GBP to Mallory" would read like a payment.
func TestApprovalsScreenQuotesTheRequesterElsewhereToo(t *testing.T) {
	h := newHarness(t)
	push := newFakePush(t, h.clock.Now)
	auth, _ := newAuth(t, screens.NewPasscodeDialog(h.win, h.ui))
	now := h.clock.Now()
	first := client.PushChallenge{ID: "1", Kind: client.PushKindStepUp, Summary: "Create user alice@acme.test with role ADMIN",
		Choices: []int{17, 42, 86}, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	free := client.PushChallenge{ID: "2", Kind: client.PushKindStepUp, Summary: "Pay 900 GBP to Mallory", SummaryFromRequester: true,
		Choices: []int{17, 42, 86}, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	s := screens.NewApprovalsScreen(h.env(), screens.ApprovalsDeps{API: push, Auth: auth}, []client.PushChallenge{first, free}, screens.ApprovalsActions{
		Answered: func(string, screens.Answer) {}, Back: noop, Expired: failExpired(t), Unlinked: func() { t.Error("unlinked") },
	})
	t.Cleanup(s.Close)
	require.Len(t, s.Others.Objects, 1)
	text, _ := otherRequest(t, s, 0)
	assert.Equal(t, "Also waiting: “Pay 900 GBP to Mallory”", text.Text)
}
