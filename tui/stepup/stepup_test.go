package stepup_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/tui/stepup"
)

// clock stands still until the test moves it. What it schedules does not
// fire by itself: the harness keeps it until the test calls fire.
type clock struct{ now time.Time }

// timer is a scheduled message, kept by the harness.
type timer struct {
	every time.Duration
	fn    func(time.Time) tea.Msg
}

func (c *clock) Now() time.Time { return c.now }
func (c *clock) Tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
	return func() tea.Msg { return timer{every: d, fn: fn} }
}

// challenger answers with the errors and states the test queues, and
// counts the calls.
type challenger struct {
	mu          sync.Mutex
	sendErrs    []error
	verifyErrs  []error
	sent, tried int
	codes       []string

	pushErrs  []error
	pushed    []string // the summaries the phone was asked to approve
	states    []string // what PushStatus answers, one per call; PENDING when none are left
	statusErr []error
	polled    int
	declined  []string // "id reason"
	offline   bool     // the phone is not connected to the server
}

func (c *challenger) StepUpPush(_ context.Context, summary string, _ ...client.CallOption) (*client.PushStepUp, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushed = append(c.pushed, summary)
	if len(c.pushErrs) > 0 {
		err := c.pushErrs[0]
		c.pushErrs = c.pushErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	return &client.PushStepUp{ID: fmt.Sprint(100 + len(c.pushed)), Number: 42, Device: c.device()}, nil
}

// device is how the server would see the phone.
func (c *challenger) device() client.DeviceReach {
	if c.offline {
		return client.DeviceReach{LastSeen: time.Date(2026, 3, 14, 9, 12, 0, 0, time.Local)}
	}
	return client.DeviceReach{Reachable: true}
}

func (c *challenger) PushStatusWait(_ context.Context, id string, _ time.Duration) (*client.PushStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.polled++
	if len(c.statusErr) > 0 {
		err := c.statusErr[0]
		c.statusErr = c.statusErr[1:]
		if err != nil {
			return nil, err
		}
	}
	state := client.PushPending
	if len(c.states) > 0 {
		state, c.states = c.states[0], c.states[1:]
	}
	return &client.PushStatus{ID: id, State: state, Summary: c.pushed[len(c.pushed)-1], Device: c.device()}, nil
}

func (c *challenger) DeclinePush(_ context.Context, id, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.declined = append(c.declined, id+" "+reason)
	return nil
}

func (c *challenger) StepUpSMS(context.Context, ...client.CallOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	if len(c.sendErrs) == 0 {
		return nil
	}
	err := c.sendErrs[0]
	c.sendErrs = c.sendErrs[1:]
	return err
}

func (c *challenger) VerifyStepUpSMS(_ context.Context, code string, _ ...client.CallOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tried++
	c.codes = append(c.codes, code)
	if len(c.verifyErrs) == 0 {
		return nil
	}
	err := c.verifyErrs[0]
	c.verifyErrs = c.verifyErrs[1:]
	return err
}

// retried is the message the operation's Retry command answers with.
type retried struct{}

// harness drives a Model: it runs the commands it returns, collecting the
// messages meant for its owner and keeping the timers it schedules.
type harness struct {
	t      *testing.T
	m      stepup.Model
	clock  *clock
	ch     *challenger
	out    []tea.Msg // VerifiedMsg, CancelledMsg, retried
	timers []timer
}

// smsOnly are the factors of an admin without a phone for approvals.
var smsOnly = []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}}

// withPhone are the factors of an admin whose phone is enrolled too.
var withPhone = append([]client.Factor{{Type: "PUSH", Channel: client.ChannelBiometric, Status: client.FactorActive}}, smsOnly...)

// defaults is what the server says of a session under Deputy's defaults.
func defaults() *client.SessionInfo {
	return &client.SessionInfo{IdleTimeout: 5 * time.Minute,
		Challenges: client.ChallengeLimits{CodeLength: 6, TTL: 5 * time.Minute, Attempts: 5, ResendAfter: 15 * time.Second}}
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, smsOnly) }

func newHarnessWith(t *testing.T, factors []client.Factor) *harness {
	return newHarnessInfo(t, factors, defaults())
}

func newHarnessInfo(t *testing.T, factors []client.Factor, info *client.SessionInfo) *harness {
	h := &harness{t: t, clock: &clock{now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}, ch: &challenger{}}
	h.m = stepup.New(h.ch, h.clock, stepup.Operation{
		Summary: "Create user grace@acme.test",
		Retry:   func() tea.Msg { return retried{} },
	}, factors, info)
	return h
}

// fire delivers the messages of the timers scheduled every d, as if d had
// passed.
func (h *harness) fire(d time.Duration) {
	h.t.Helper()
	h.clock.now = h.clock.now.Add(d)
	var due []timer
	kept := h.timers[:0]
	for _, tm := range h.timers {
		if tm.every == d {
			due = append(due, tm)
		} else {
			kept = append(kept, tm)
		}
	}
	h.timers = kept
	for _, tm := range due {
		h.send(tm.fn(h.clock.now))
	}
}

func (h *harness) send(msg tea.Msg) {
	var cmd tea.Cmd
	h.m, cmd = h.m.Update(msg)
	h.run(cmd)
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case timer:
		h.timers = append(h.timers, msg)
	case stepup.VerifiedMsg, stepup.CancelledMsg, retried:
		h.out = append(h.out, msg)
	default:
		h.send(msg)
	}
}

func (h *harness) key(k string) {
	switch k {
	case "enter":
		h.send(tea.KeyPressMsg{Code: tea.KeyEnter})
	case "esc":
		h.send(tea.KeyPressMsg{Code: tea.KeyEscape})
	default:
		for _, r := range k {
			h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
	}
}

// view is the modal's text without its border, on one line: the wrapping
// depends on the width, the words do not.
func (h *harness) view() string {
	v := ansi.Strip(h.m.View())
	v = strings.NewReplacer("│", " ", "╭", " ", "╮", " ", "╰", " ", "╯", " ", "─", "").Replace(v)
	return strings.Join(strings.Fields(v), " ")
}

func (h *harness) requireView(want ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range want {
		require.Contains(h.t, v, w, "view:\n%s", v)
	}
}

func conflict(code string) error {
	return &client.Error{Status: http.StatusConflict, Code: code}
}

func TestVerifiedRetriesOnce(t *testing.T) {
	h := newHarness(t)
	h.requireView("Confirm it's you", "Create user grace@acme.test needs a second factor.", "> Text me a code")
	assert.NotContains(t, h.view(), "phone", "push is not offered until the server has it")

	h.key("enter")
	assert.Equal(t, 1, h.ch.sent)
	h.requireView("Type the code texted to your mobile", "expires in 5:00", "5 attempts left", "new code in 0:15")

	h.key("12ab3456") // letters are not typed into a code
	h.key("enter")
	assert.Equal(t, []string{"123456"}, h.ch.codes)
	require.Len(t, h.out, 2)
	assert.Contains(t, h.out, stepup.VerifiedMsg{Summary: "Create user grace@acme.test"})
	assert.Contains(t, h.out, retried{}, "the operation is retried")
}

func TestShortCodeIsNotSent(t *testing.T) {
	h := newHarness(t)
	h.key("enter")
	h.key("123")
	h.key("enter")
	assert.Zero(t, h.ch.tried)
	h.requireView("The code has 6 digits.")
}

func TestAttemptsLeft(t *testing.T) {
	h := newHarness(t)
	h.ch.verifyErrs = []error{
		conflict(client.CodeCodeInvalid), conflict(client.CodeCodeInvalid), conflict(client.CodeCodeInvalid),
		conflict(client.CodeOneChallengeLimitRemain), conflict(client.CodeChallengeLimitExceeded),
	}
	h.key("enter")
	for _, want := range []string{"Wrong code. 4 attempts left.", "Wrong code. 3 attempts left.", "Wrong code. 2 attempts left.", "1 attempt left"} {
		h.key("000000")
		h.key("enter")
		h.requireView(want)
	}
	h.key("000000")
	h.key("enter")
	h.requireView("This code cannot be used any more.", "no attempts are left", "A new code can be sent in 0:15.")
	assert.Empty(t, h.out, "nothing retried, nothing cancelled")

	// r does nothing until the 15 seconds are over.
	h.key("r")
	assert.Equal(t, 1, h.ch.sent)
	h.clock.now = h.clock.now.Add(15 * time.Second)
	h.send(tea.KeyPressMsg{Code: 'r', Text: "r"})
	assert.Equal(t, 2, h.ch.sent)
	h.requireView("5 attempts left", "expires in 5:00")
}

// The numbers shown are the server's: a programme with 3 attempts per code,
// a shorter life, a longer resend interval, longer codes.
func TestServerNumbers(t *testing.T) {
	info := defaults()
	info.Challenges = client.ChallengeLimits{CodeLength: 8, TTL: 2 * time.Minute, Attempts: 3, ResendAfter: 30 * time.Second}
	h := newHarnessInfo(t, smsOnly, info)
	h.ch.verifyErrs = []error{conflict(client.CodeCodeInvalid)}
	h.key("enter")
	h.requireView("expires in 2:00 · 3 attempts left · new code in 0:30")
	h.key("123456")
	h.key("enter")
	h.requireView("The code has 8 digits.")
	h.key("78")
	h.key("enter")
	h.requireView("Wrong code. 2 attempts left.")

	// A code this session asked for moments ago has its own attempts left.
	info.StepUp = &client.PendingChallenge{AttemptsLeft: 1}
	h = newHarnessInfo(t, smsOnly, info)
	h.ch.sendErrs = []error{&client.Error{Status: http.StatusConflict, Code: client.CodeRetryIn15Sec, RetryAfter: 20 * time.Second}}
	h.key("enter")
	h.requireView("1 attempt left · new code in 0:20")

	// Without the server's numbers, none are made up.
	h = newHarnessInfo(t, smsOnly, nil)
	h.key("enter")
	h.requireView("r: new code")
	assert.NotContains(t, h.view(), "attempts left")
	assert.NotContains(t, h.view(), "expires in")
	h.key("1234567")
	h.key("enter")
	assert.Equal(t, 1, h.ch.tried, "the server checks the code's length")
}

func TestResendCountdownHonoursRetryIn15Sec(t *testing.T) {
	h := newHarness(t)
	// This session asked for a code 9 seconds ago: the server says wait 6.
	h.ch.sendErrs = []error{&client.Error{Status: http.StatusConflict, Code: client.CodeRetryIn15Sec, RetryAfter: 6 * time.Second}}
	h.key("enter")
	h.requireView("A code was sent moments ago", "new code in 0:06", "expires in 4:51")

	h.key("r")
	assert.Equal(t, 1, h.ch.sent, "no new code before the server allows one")
	h.requireView("You can ask for a new code in 0:06.")

	h.clock.now = h.clock.now.Add(6 * time.Second)
	h.requireView("r: new code", "expires in 4:45")
	h.key("r")
	assert.Equal(t, 2, h.ch.sent)
}

func TestExpiry(t *testing.T) {
	h := newHarness(t)
	h.key("enter")
	h.clock.now = h.clock.now.Add(4*time.Minute + 30*time.Second)
	h.requireView("expires in 0:30")
	h.clock.now = h.clock.now.Add(30 * time.Second)
	h.requireView("expired")
	h.key("123456")
	h.key("enter")
	assert.Zero(t, h.ch.tried, "an expired code is not sent")
	h.requireView("The code has expired.", "Press r for a new code.")

	// The server can say so too.
	h = newHarness(t)
	h.ch.verifyErrs = []error{conflict(client.CodeCodeExpired)}
	h.key("enter")
	h.key("123456")
	h.key("enter")
	h.requireView("The code has expired.")
}

func TestCancel(t *testing.T) {
	for _, state := range []string{"choosing", "entering"} {
		t.Run(state, func(t *testing.T) {
			h := newHarness(t)
			if state == "entering" {
				h.key("enter")
			}
			h.key("esc")
			assert.Equal(t, []tea.Msg{stepup.CancelledMsg{}}, h.out, "cancelled, nothing retried")
		})
	}
}

func TestFailures(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"no factor", conflict(client.CodeChannelNotRegistered), "you have no active SMS factor"},
		{"locked", &client.Error{Status: http.StatusConflict, Code: client.CodeChallengeLimitExceeded, RetryAfter: 29 * time.Minute}, "codes are locked for 29m0s"},
		{"server", &client.Error{Status: http.StatusInternalServerError, RequestRef: "r-1"}, "internal server error (request-ref r-1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.ch.sendErrs = []error{tt.err}
			h.key("enter")
			h.requireView("The step-up failed:", tt.want, "Nothing was done.")
			assert.Empty(t, h.out, "the reason stays on screen until esc")
			h.key("esc")
			require.Len(t, h.out, 1)
			assert.Equal(t, stepup.CancelledMsg{Err: tt.err}, h.out[0])

			// enter starts again instead.
			h = newHarness(t)
			h.ch.sendErrs = []error{tt.err}
			h.key("enter")
			h.key("enter")
			h.requireView("> Text me a code")
		})
	}
}

func TestSessionEndedIsReportedAtOnce(t *testing.T) {
	h := newHarness(t)
	ended := &client.Error{Status: http.StatusUnauthorized}
	h.ch.verifyErrs = []error{ended}
	h.key("enter")
	h.key("123456")
	h.key("enter")
	require.Len(t, h.out, 1)
	assert.Equal(t, stepup.CancelledMsg{Err: ended}, h.out[0])
}

func TestNetworkErrorKeepsTheCode(t *testing.T) {
	h := newHarness(t)
	h.ch.verifyErrs = []error{context.DeadlineExceeded}
	h.key("enter")
	h.key("123456")
	h.key("enter")
	h.requireView("Could not check the code: the server did not answer in time.", "5 attempts left")
	h.key("123456")
	h.key("enter")
	assert.Len(t, h.out, 2, "verified and retried")
}

func TestAlreadyVerifiedCountsAsSuccess(t *testing.T) {
	h := newHarness(t)
	h.ch.verifyErrs = []error{conflict(client.CodeAlreadyVerified)}
	h.key("enter")
	h.key("123456")
	h.key("enter")
	assert.Contains(t, h.out, retried{})
}

func TestKeyMapAndWidth(t *testing.T) {
	h := newHarness(t)
	var keys []string
	for _, b := range h.m.KeyMap().ShortHelp() {
		keys = append(keys, b.Help().Key)
	}
	assert.Equal(t, []string{"enter", "esc"}, keys)
	h.key("enter")
	keys = keys[:0]
	for _, b := range h.m.KeyMap().ShortHelp() {
		keys = append(keys, b.Help().Key)
	}
	assert.Equal(t, []string{"enter", "esc"}, keys, "no resend while the countdown runs")

	h.m = h.m.SetWidth(40)
	for _, l := range strings.Split(h.m.View(), "\n") {
		assert.LessOrEqual(t, ansi.StringWidth(l), 40)
	}
}

func TestPushIsOfferedOnlyWithAnActivePhone(t *testing.T) {
	for _, tt := range []struct {
		name    string
		factors []client.Factor
		offered bool
	}{
		{"no factors read", nil, false},
		{"sms only", smsOnly, false},
		{"phone being enrolled", append([]client.Factor{{Type: "PUSH", Channel: client.ChannelBiometric, Status: client.FactorPendingVerification}}, smsOnly...), false},
		{"phone inactive", append([]client.Factor{{Type: "PUSH", Channel: client.ChannelBiometric, Status: client.FactorInactive}}, smsOnly...), false},
		{"phone active", withPhone, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessWith(t, tt.factors)
			h.requireView("> Text me a code")
			assert.Equal(t, tt.offered, strings.Contains(h.view(), "Approve on my phone"), "view: %s", h.view())
		})
	}
}

// A texted code is offered only with an active SMS factor: with a phone
// alone the phone is the one method, and with no factor at all the modal says
// what to enrol rather than offer what the server would refuse.
func TestSMSIsOfferedOnlyWithAnActiveSMSFactor(t *testing.T) {
	phone := []client.Factor{{Type: "PUSH", Channel: client.ChannelBiometric, Status: client.FactorActive}}
	h := newHarnessWith(t, phone)
	h.requireView("> Approve on my phone")
	assert.NotContains(t, h.view(), "Text me a code")

	for _, factors := range [][]client.Factor{{}, {{Type: "OTP", Channel: "SMS", Status: client.FactorInactive}}} {
		h = newHarnessWith(t, factors)
		h.requireView("you have no active SMS factor. Enrol your mobile under My factors first.")
		assert.NotContains(t, h.view(), "> Text me a code")
		assert.Zero(t, h.ch.sent, "nothing asked of the server")
	}
}

func TestPushApprovedRetriesOnce(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	h.requireView("> Text me a code", "Approve on my phone", "pick a number in the Deputy app")
	h.key("j")
	h.requireView("> Approve on my phone")
	h.key("enter")
	assert.Equal(t, []string{"Create user grace@acme.test"}, h.ch.pushed, "the phone is asked to approve the operation's summary")
	assert.Zero(t, h.ch.sent, "no code texted")
	h.requireView("Pick 42 on your phone", "to approve “Create user grace@acme.test”.", "Waiting for your approval", "expires in 5:00")
	assert.True(t, h.m.Busy())
	assert.Equal(t, 42, h.m.Number())
	assert.Empty(t, h.out)

	// Every second the modal asks how the challenge stands.
	h.fire(stepup.PollEvery)
	assert.Equal(t, 1, h.ch.polled)
	h.requireView("Waiting for your approval", "expires in 4:59")
	h.fire(stepup.PollEvery)
	assert.Equal(t, 2, h.ch.polled)

	h.ch.states = []string{client.PushApproved}
	h.fire(stepup.PollEvery)
	require.Len(t, h.out, 2)
	assert.Contains(t, h.out, stepup.VerifiedMsg{Summary: "Create user grace@acme.test"})
	assert.Contains(t, h.out, retried{}, "the operation is retried")
	assert.False(t, h.m.Busy())

	// Nothing more is scheduled: the poll ended with the approval.
	h.fire(stepup.PollEvery)
	assert.Equal(t, 3, h.ch.polled)
	assert.Len(t, h.out, 2, "retried once")
	assert.Empty(t, h.ch.declined)
}

func TestPushRefusedOffersTheOtherMethod(t *testing.T) {
	for _, tt := range []struct {
		state, want string
	}{
		{client.PushDeclined, "Declined on your phone (or a different number was picked there). Nothing was done."},
		{client.PushExpired, "Nobody approved on the phone within 5 minutes. Nothing was done."},
		{client.PushCancelled, "Deputy withdrew the request"},
	} {
		t.Run(tt.state, func(t *testing.T) {
			h := newHarnessWith(t, withPhone)
			h.key("j")
			h.key("enter")
			h.ch.states = []string{client.PushPending, tt.state}
			h.fire(stepup.PollEvery)
			h.fire(stepup.PollEvery)
			h.requireView(tt.want, "> Text me a code", "Approve on my phone")
			assert.Empty(t, h.out, "nothing verified, nothing retried, still open")
			assert.Zero(t, h.m.Number())

			// The poll has stopped.
			h.fire(stepup.PollEvery)
			assert.Equal(t, 2, h.ch.polled)

			// The other method is a key away.
			h.key("enter")
			assert.Equal(t, 1, h.ch.sent)
			h.requireView("Type the code texted to your mobile")
			h.key("123456")
			h.key("enter")
			assert.Contains(t, h.out, retried{})

			// Or the phone again: a new challenge.
			h = newHarnessWith(t, withPhone)
			h.key("j")
			h.key("enter")
			h.ch.states = []string{tt.state}
			h.fire(stepup.PollEvery)
			h.key("j") // the cursor is on SMS: down to the phone
			h.key("enter")
			assert.Len(t, h.ch.pushed, 2)
			h.requireView("Pick 42 on your phone")
		})
	}
}

func TestPushCancelWithdrawsTheRequest(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	h.key("j")
	h.key("enter")
	h.fire(stepup.PollEvery)
	h.key("esc")
	assert.Equal(t, []tea.Msg{stepup.CancelledMsg{}}, h.out, "cancelled, nothing retried")
	assert.Equal(t, []string{"101 CANCELLED"}, h.ch.declined, "the phone stops asking")

	// A poll already on its way changes nothing, and schedules nothing.
	polled := h.ch.polled
	h.fire(stepup.PollEvery)
	assert.Equal(t, polled, h.ch.polled)
	h.send(stepup.PushStatusMsg{ID: "101", Status: &client.PushStatus{ID: "101", State: client.PushApproved}})
	assert.Len(t, h.out, 1, "a late approval does not retry the operation")
}

func TestPushStaleAnswersAreIgnored(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	h.key("j")
	h.key("enter")
	h.send(stepup.PushStatusMsg{ID: "99", Status: &client.PushStatus{ID: "99", State: client.PushApproved}})
	assert.Empty(t, h.out, "another challenge's approval is not this one's")
	h.send(stepup.PushSentMsg{Push: &client.PushStepUp{ID: "7", Number: 11}})
	h.requireView("Pick 42 on your phone")
}

func TestPushStartFailures(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"no phone any more", conflict(client.CodeChannelNotRegistered), "no phone is enrolled for approvals any more"},
		{"biometrics off", conflict(client.CodeChannelNotSupported), "this programme does not take approvals on a phone"},
		{"too many waiting", conflict(client.CodeChallengeLimitExceeded), "too many approvals are waiting on your phone"},
		{"locked", &client.Error{Status: http.StatusConflict, Code: client.CodeChallengeLimitExceeded, RetryAfter: 10 * time.Minute}, "too many failed step-ups: they are locked for 10m0s"},
		{"prompts over budget", &client.Error{Status: http.StatusTooManyRequests, RetryAfter: 41*time.Minute + time.Second}, "your phone was asked too often: approvals pause for 42m0s"},
		{"network", context.DeadlineExceeded, "the server did not answer in time"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessWith(t, withPhone)
			h.ch.pushErrs = []error{tt.err}
			h.key("j")
			h.key("enter")
			h.requireView("Could not ask your phone: "+tt.want, "> Text me a code")
			assert.Empty(t, h.out)
		})
	}
}

func TestPushWaitSurvivesNetworkErrors(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	h.key("j")
	h.key("enter")
	h.ch.statusErr = []error{context.DeadlineExceeded}
	h.fire(stepup.PollEvery)
	h.requireView("Pick 42 on your phone", "the server did not answer in time. Still waiting.")
	h.ch.states = []string{client.PushApproved}
	h.fire(stepup.PollEvery)
	assert.Contains(t, h.out, retried{})
}

func TestPushSessionEnded(t *testing.T) {
	ended := &client.Error{Status: http.StatusUnauthorized}
	h := newHarnessWith(t, withPhone)
	h.key("j")
	h.key("enter")
	h.ch.statusErr = []error{ended}
	h.fire(stepup.PollEvery)
	require.Len(t, h.out, 1)
	assert.Equal(t, stepup.CancelledMsg{Err: ended}, h.out[0], "e.g. \"I did not do this\" on the phone ended every session")
}

func TestPushKeyMap(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	keys := func() []string {
		var out []string
		for _, b := range h.m.KeyMap().ShortHelp() {
			out = append(out, b.Help().Key)
		}
		return out
	}
	assert.Equal(t, []string{"↑/↓", "enter", "esc"}, keys())
	h.key("j")
	h.key("enter")
	assert.Equal(t, []string{"t", "esc"}, keys(), "waiting: a texted code instead, or cancel")
}

// TestPushUnreachablePhoneOffersACode: when the server says the phone is not
// connected, the modal says so at once, with when it was last seen, and t
// withdraws the request and texts a code instead.
func TestPushUnreachablePhoneOffersACode(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	h.ch.offline = true
	h.key("j")
	h.key("enter")
	h.requireView("Pick 42 on your phone", "Your phone is not connected to Deputy (last seen 09:12): open the", "Or press t to have a code texted")
	h.key("t")
	assert.Equal(t, []string{"101 CANCELLED"}, h.ch.declined, "the phone request is withdrawn")
	assert.Equal(t, 1, h.ch.sent, "a code is texted")
	h.requireView("Type the code texted to your mobile")
}

func TestPushAnswerAfterCancelIsWithdrawn(t *testing.T) {
	h := newHarnessWith(t, withPhone)
	h.key("j")
	var cmd tea.Cmd
	h.m, cmd = h.m.Update(tea.KeyPressMsg{Code: tea.KeyEnter}) // the call is on its way
	h.key("esc")
	assert.Equal(t, []tea.Msg{stepup.CancelledMsg{}}, h.out)
	h.run(cmd) // its answer arrives after esc
	assert.Equal(t, []string{"101 CANCELLED"}, h.ch.declined, "nobody waits for it: the phone stops asking")
	assert.Zero(t, h.ch.polled)
}
