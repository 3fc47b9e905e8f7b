package tui

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/tui/stepup"
)

// Push step-up ("Approve on my phone") against a real Deputy whose programme
// has biometrics on; the test plays the admin's phone with the companion's
// pure-Go authenticator, as the companion app does.

// webAuthnOrigin is the origin the test server expects (its default).
const webAuthnOrigin = "https://localhost"

// startBiometricDeputy is startDeputy with biometrics on for the programme.
func startBiometricDeputy(t *testing.T) *deputy {
	t.Helper()
	return startDeputyWith(t, testserver.Options{Programme: core.NewProgramme{
		Name: "Acme Pay", Settings: core.ProgrammeSettings{Biometrics: true},
	}})
}

// phone is the admin's companion device: its own session and a WebAuthn
// credential in memory that always verifies the user.
type phone struct {
	s        *client.Session
	auth     *authenticator.Authenticator
	deviceID string
}

// enrolPhone signs the admin in on a phone and enrols it for push, with the
// sandbox's SMS code and a WebAuthn registration.
func (d *deputy) enrolPhone(t *testing.T) *phone {
	t.Helper()
	ctx := context.Background()
	l, err := d.c.LoginWithPassword(ctx, adminEmail, adminPassword)
	require.NoError(t, err)
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	auth, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	require.NoError(t, err)
	p := &phone{s: d.c.Session(l.Token), auth: auth, deviceID: "ada-phone"}
	options, err := p.s.BeginBiometricEnrolment(ctx, p.deviceID, "Ada's phone")
	require.NoError(t, err)
	reg, err := authenticator.ParseCreationOptions(options, webAuthnOrigin)
	require.NoError(t, err)
	att, err := auth.Register(ctx, reg)
	require.NoError(t, err)
	_, err = p.s.FinishBiometricEnrolment(ctx, sandboxCode, att)
	require.NoError(t, err)
	return p
}

// pending returns the one challenge waiting on the phone.
func (p *phone) pending(t *testing.T) client.PushChallenge {
	t.Helper()
	list, err := p.s.PendingPush(context.Background(), p.deviceID, 0)
	require.NoError(t, err)
	require.Len(t, list, 1, "one challenge waits on the phone")
	return list[0]
}

// approve approves the waiting challenge, picking number, and returns what
// the phone showed.
func (p *phone) approve(t *testing.T, number int) client.PushChallenge {
	t.Helper()
	ctx := context.Background()
	ch := p.pending(t)
	require.Contains(t, ch.Choices, number, "the phone offers the number the admin sees")
	options, err := p.s.PushOptions(ctx, ch.ID)
	require.NoError(t, err)
	req, err := authenticator.ParseRequestOptions(options, webAuthnOrigin)
	require.NoError(t, err)
	assertion, err := p.auth.Assert(ctx, req)
	require.NoError(t, err)
	require.NoError(t, p.s.ApprovePush(ctx, ch.ID, number, assertion))
	return ch
}

var pickNumber = regexp.MustCompile(`Pick (\d\d) on your phone`)

// shownNumber reads the number the screen asks the admin to pick.
func shownNumber(t *testing.T, screen string) int {
	t.Helper()
	m := pickNumber.FindStringSubmatch(screen)
	require.NotNil(t, m, "no number on the screen:\n%s", screen)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// newHedy fills the new-user form for Hedy Lamarr and saves it.
func (d *driver) newHedy() {
	d.t.Helper()
	d.keys("n")
	d.fillUser("Hedy", "Lamarr", "hedy@acme.test")
	d.keys("ctrl+s")
}

func TestCreateUserThroughPush(t *testing.T) {
	dep := startBiometricDeputy(t)
	ph := dep.enrolPhone(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()

	d.newHedy()
	d.requireScreen("Confirm it's you", "Create user hedy@acme.test with roles", "> Text me a code", "Approve on my phone")
	d.keys("down", "enter")
	d.requireScreen("to approve “Create user hedy@acme.test with roles", "Waiting for your approval", "expires in 5:00", "esc cancel")
	number := shownNumber(t, d.screen())
	assert.Zero(t, dep.count(t, client.UserFilter{}), "nothing created before the approval")

	// Nothing happens while the phone has not answered.
	d.fire(stepup.PollEvery)
	d.fire(stepup.PollEvery)
	d.requireScreen("Waiting for your approval", "expires in 4:58")

	shown := ph.approve(t, number)
	assert.Equal(t, "Create user hedy@acme.test with roles CARD_ASSIGNEE", shown.Summary, "the phone shows the whole operation, roles included")
	assert.Equal(t, client.PushKindStepUp, shown.Kind)
	d.fire(stepup.PollEvery)

	d.requireNotScreen("Confirm it's you")
	d.requireScreen("✓ Created Hedy Lamarr <hedy@acme.test>.", "Page 1 of 1 · 1 user")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "created exactly once")

	// The session is stepped up: the next sensitive call needs no phone.
	d.keys("n")
	d.fillUser("Hedy", "Two", "hedy2@acme.test")
	d.keys("ctrl+s")
	d.requireNotScreen("Confirm it's you")
	assert.Equal(t, 2, dep.count(t, client.UserFilter{}))
}

func TestPushDeclinedThenSMS(t *testing.T) {
	dep := startBiometricDeputy(t)
	ph := dep.enrolPhone(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()

	d.newHedy()
	d.keys("down", "enter")
	d.requireScreen("Waiting for your approval")
	require.NoError(t, ph.s.DeclinePush(context.Background(), ph.pending(t).ID, client.DeclineCancelled))
	d.fire(stepup.PollEvery)
	d.requireScreen("Declined on your phone", "Nothing was done.", "> Text me a code")
	assert.Zero(t, dep.count(t, client.UserFilter{}))

	// The other method, at once: the cursor is on it.
	d.keys("enter")
	d.requireScreen("Type the code texted to your mobile")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Created Hedy Lamarr <hedy@acme.test>.")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "created exactly once")
}

func TestPushWrongNumberOnThePhone(t *testing.T) {
	dep := startBiometricDeputy(t)
	ph := dep.enrolPhone(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()

	d.newHedy()
	d.keys("down", "enter")
	number := shownNumber(t, d.screen())
	ctx := context.Background()
	ch := ph.pending(t)
	wrong := 0
	for _, n := range ch.Choices {
		if n != number {
			wrong = n
			break
		}
	}
	options, err := ph.s.PushOptions(ctx, ch.ID)
	require.NoError(t, err)
	req, err := authenticator.ParseRequestOptions(options, webAuthnOrigin)
	require.NoError(t, err)
	assertion, err := ph.auth.Assert(ctx, req)
	require.NoError(t, err)
	require.Error(t, ph.s.ApprovePush(ctx, ch.ID, wrong, assertion), "a wrong number is refused")

	d.fire(stepup.PollEvery)
	d.requireScreen("Declined on your phone (or a different number was picked", "> Text me a code")
	assert.Zero(t, dep.count(t, client.UserFilter{}), "nothing created")
}

func TestPushCancelWithdrawsFromThePhone(t *testing.T) {
	dep := startBiometricDeputy(t)
	ph := dep.enrolPhone(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()

	d.newHedy()
	d.keys("down", "enter")
	ph.pending(t)
	d.keys("esc")
	d.requireNotScreen("Confirm it's you")
	d.requireScreen("Step-up cancelled. Nothing was done.", "New user")
	list, err := ph.s.PendingPush(context.Background(), ph.deviceID, 0)
	require.NoError(t, err)
	assert.Empty(t, list, "the phone no longer asks")
	d.fire(stepup.PollEvery) // nothing left to poll
	assert.Zero(t, dep.count(t, client.UserFilter{}))
}

func TestPushNotOfferedWithoutAPhone(t *testing.T) {
	// Biometrics on, but the admin enrolled no phone.
	dep := startBiometricDeputy(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()
	d.newHedy()
	d.requireScreen("Confirm it's you", "> Text me a code")
	d.requireNotScreen("Approve on my phone")
}

// TestEndToEndPush drives the real program (event loop, renderer, timers,
// the system clock: the modal polls every second) through a create user
// approved on the phone.
func TestEndToEndPush(t *testing.T) {
	dep := startBiometricDeputy(t)
	ph := dep.enrolPhone(t)
	screen := &screenLog{}
	tm := teatest.NewTestModel(t, recorder{m: newModel(Options{Client: dep.ui, Sandbox: true}, systemClock{}, time.Local), log: screen},
		teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(
			tea.WithColorProfile(colorprofile.ASCII),
			tea.WithEnvironment([]string{"TERM=xterm-256color", "NO_COLOR=1"}),
		))
	var last []byte
	waitFor := func(want string) {
		t.Helper()
		teatest.WaitFor(t, screen, func(b []byte) bool {
			last = bytes.Clone(b)
			return bytes.Contains(b, []byte(want))
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	enter := func() { tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter}) }

	waitFor("Sign in to Deputy")
	tm.Type(adminEmail)
	enter()
	tm.Type(adminPassword)
	enter()
	waitFor("No users yet")

	tm.Type("n")
	waitFor("New user")
	tm.Type("Hedy")
	enter()
	tm.Type("Lamarr")
	enter()
	tm.Type("hedy@acme.test")
	tm.Send(tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})
	waitFor("Approve on my phone")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	enter()
	waitFor("Waiting for your approval")
	number := shownNumber(t, string(last))
	assert.Zero(t, dep.count(t, client.UserFilter{}), "nothing created before the approval")

	ph.approve(t, number)
	waitFor("Created Hedy Lamarr")
	waitFor("1 user")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "created exactly once")

	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "still exactly once")
}

// TestSessionEndsDuringStepUp: the session ends while the modal is open (the
// phone said "I did not do this", or the admin walked away). After signing in
// again the form is back as it was, not stuck "Saving…", and saving again
// works.
func TestSessionEndsDuringStepUp(t *testing.T) {
	dep := startBiometricDeputy(t)
	ph := dep.enrolPhone(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 80, 24)
	d.signIn()

	d.newHedy()
	d.keys("down", "enter")
	require.NoError(t, ph.s.DeclinePush(context.Background(), ph.pending(t).ID, client.DeclineNotMe))
	d.fire(stepup.PollEvery) // 401: every session of the admin ended
	d.requireScreen("Sign in to Deputy", "Your session ended. Sign in again")
	d.typeText(adminPassword)
	d.keys("enter")
	d.requireScreen("New user", "Not saved: the step-up did not complete. Press ctrl+s to try again.")
	d.requireNotScreen("Saving…")
	l, err := dep.c.LoginWithPassword(context.Background(), adminEmail, adminPassword)
	require.NoError(t, err)
	dep.admin = dep.c.Session(l.Token) // "not me" ended the test's session too
	assert.Zero(t, dep.count(t, client.UserFilter{}))

	d.keys("ctrl+s")
	d.requireScreen("Confirm it's you")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Created Hedy Lamarr <hedy@acme.test>.")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "created exactly once")
}
