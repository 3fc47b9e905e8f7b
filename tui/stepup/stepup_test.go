package stepup_test

import (
	"context"
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

// clock stands still until the test moves it and schedules nothing.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time                                      { return c.now }
func (c *clock) Tick(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }

// challenger answers with the errors the test queues, and counts the calls.
type challenger struct {
	mu          sync.Mutex
	sendErrs    []error
	verifyErrs  []error
	sent, tried int
	codes       []string
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
// messages meant for its owner.
type harness struct {
	t     *testing.T
	m     stepup.Model
	clock *clock
	ch    *challenger
	out   []tea.Msg // VerifiedMsg, CancelledMsg, retried
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, clock: &clock{now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}, ch: &challenger{}}
	h.m = stepup.New(h.ch, h.clock, stepup.Operation{
		Summary: "Create user grace@acme.test",
		Retry:   func() tea.Msg { return retried{} },
	})
	return h
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
		conflict("VERIFICATION_CODE_INVALID"), conflict("VERIFICATION_CODE_INVALID"), conflict("VERIFICATION_CODE_INVALID"),
		conflict("ONE_CHALLENGE_LIMIT_REMAINING"), conflict("CHALLENGE_LIMIT_EXCEEDED"),
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

func TestResendCountdownHonoursRetryIn15Sec(t *testing.T) {
	h := newHarness(t)
	// This session asked for a code 9 seconds ago: the server says wait 6.
	h.ch.sendErrs = []error{&client.Error{Status: http.StatusConflict, Code: "RETRY_IN_15SEC", RetryAfter: 6 * time.Second}}
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
	h.ch.verifyErrs = []error{conflict("VERIFICATION_CODE_EXPIRED")}
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
		{"no factor", conflict("CHANNEL_NOT_REGISTERED"), "you have no active SMS factor"},
		{"locked", &client.Error{Status: http.StatusConflict, Code: "CHALLENGE_LIMIT_EXCEEDED", RetryAfter: 29 * time.Minute}, "codes are locked for 29m0s"},
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
	h.ch.verifyErrs = []error{conflict("ALREADY_VERIFIED")}
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
