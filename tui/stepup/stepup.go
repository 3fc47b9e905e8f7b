// Package stepup is the admin TUI's step-up prompt: a self-contained Bubble Tea
// model shown when an operation answers [client.ErrStepUpRequired] (GUIDE
// convention 4). It takes the operation to repeat as a value ([Operation]),
// lets the admin pass a second-factor challenge and, once the session is
// stepped up, runs the operation's Retry command, which repeats the original
// call with its original idempotency-ref so that nothing is done twice.
//
// Two methods are offered:
//
//   - "Text me a code" (Weavr stepupSCAChallenge / stepupSCAVerify with an SMS
//     one-time password), when the admin has an active SMS factor (or their
//     factors could not be read: the server then says). Its numbers (digits, life, attempts, the
//     least time between two codes) are the server's, read from the session
//     ([client.Session.Info]), never typed in here;
//   - "Approve on my phone" (Weavr stepupSCAChallengePush), only when the
//     admin has an active PUSH/BIOMETRIC factor: the server sends the
//     operation's summary to the companion app, the modal shows the 2-digit
//     number to pick there and follows the challenge with
//     [client.Session.PushStatus] once a second until it is approved,
//     declined, cancelled or expired. A signature on the phone approves
//     exactly that summary and number (PSD2 RTS Art. 5, dynamic linking).
//     When the phone says no, or nobody answers in time, the modal says why
//     and offers the methods again with the cursor on the other one.
//
// All I/O happens in tea.Cmds, and every wait is a tick of the injected
// clock, so nothing runs once the modal is gone. The model reports its
// outcome with [VerifiedMsg] or [CancelledMsg], and each finished call with
// [SentMsg], [CheckedMsg], [PushSentMsg] or [PushStatusMsg], so that its
// owner can track the session's activity.
package stepup

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"time"
	"unicode"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/deputyhq/deputy/internal/escape"
	"github.com/deputyhq/deputy/server/client"
)

// maxCodeLength bounds what may be typed when the server's code length is
// not known.
const maxCodeLength = 10

// callTimeout bounds each challenge call.
const callTimeout = 20 * time.Second

// spinEvery is how often the spinner moves while a call runs.
const spinEvery = 100 * time.Millisecond

// PollEvery is the pause between two looks at a push challenge; each look
// waits up to PollWait on the server for the answer, so an approval shows
// as it happens.
const (
	PollEvery = time.Second
	PollWait  = 20 * time.Second
)

// Challenger passes step-up challenges, by SMS code or push approval; a
// *client.Session is one.
type Challenger interface {
	StepUpSMS(ctx context.Context, opts ...client.CallOption) error
	VerifyStepUpSMS(ctx context.Context, code string, opts ...client.CallOption) error
	StepUpPush(ctx context.Context, summary string, opts ...client.CallOption) (*client.PushStepUp, error)
	PushStatusWait(ctx context.Context, id string, wait time.Duration) (*client.PushStatus, error)
	DeclinePush(ctx context.Context, id, reason string) error
}

// Clock tells the time and schedules the modal's refreshes. Tests pass one
// that stands still and schedules nothing.
type Clock interface {
	Now() time.Time
	Tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd
}

// Colors are the modal's colours, the owner's palette's: Accent for the
// border, Warn for what went wrong, Dim for hints. Without them (nil) the
// modal draws in the terminal's own colour.
type Colors struct {
	Accent, Warn, Dim color.Color
}

// Operation is what needs the step-up.
type Operation struct {
	// Summary says what will be done, for the admin to recognise it:
	// "Create user grace@acme.test".
	Summary string
	// Reference binds the step-up to the operation when the server asked
	// for one naming it ([client.Error.Operation]; Summary is then the
	// server's): the code or the approval allows that call alone, once.
	// Empty for a step-up of the session.
	Reference string
	// Retry repeats the original call with the same idempotency-ref. It runs
	// once, after the session has stepped up.
	Retry tea.Cmd
}

// VerifiedMsg reports that the session stepped up; the model has issued the
// operation's Retry alongside it. Close the modal on it.
type VerifiedMsg struct{ Summary string }

// CancelledMsg reports that the modal is done without stepping up. Err is nil
// when the admin cancelled; otherwise it is why the step-up cannot go on
// (e.g. client.ErrUnauthorized when the session ended). Close the modal on it.
type CancelledMsg struct{ Err error }

// SentMsg is the answer to asking for a code; Err is nil when one was sent.
type SentMsg struct{ Err error }

// CheckedMsg is the answer to checking a code; Err is nil when it was right.
type CheckedMsg struct{ Err error }

// PushSentMsg is the answer to asking the phone for an approval: the
// challenge's id and the number to show, or why it could not be sent.
type PushSentMsg struct {
	Push *client.PushStepUp
	Err  error
}

// PushStatusMsg is the answer to asking how push challenge ID stands.
type PushStatusMsg struct {
	ID     string
	Status *client.PushStatus
	Err    error
}

type tickMsg struct{}

type spinMsg struct{}

// pollMsg asks how push challenge id stands.
type pollMsg struct{ id string }

// method is one way of stepping up.
type method int

const (
	methodSMS  method = iota // "Text me a code"
	methodPush               // "Approve on my phone"
)

func (m method) label() string {
	switch m {
	case methodSMS:
		return "Text me a code"
	case methodPush:
		return "Approve on my phone"
	}
	return "?"
}

func (m method) hint() string {
	switch m {
	case methodSMS:
		return "a one-time code to your enrolled mobile"
	case methodPush:
		return "pick a number in the Deputy app on your enrolled phone"
	}
	return ""
}

// active reports whether factors include an active one of type and channel.
func active(factors []client.Factor, typ, channel string) bool {
	return slices.ContainsFunc(factors, func(f client.Factor) bool {
		return f.Type == typ && f.Channel == channel && f.Status == client.FactorActive
	})
}

type state int

const (
	choosing  state = iota // picking a method
	sending                // asking the server for a code
	entering               // typing the code
	verifying              // checking the code
	spent                  // the code cannot be used any more: resend or cancel
	failed                 // the step-up cannot go on: the reason is shown until esc
	pushing                // asking the server to send the phone a challenge
	waiting                // the number is shown; waiting for the phone's answer
	closed                 // cancelled: late answers and polls are ignored
)

// KeyMap is the modal's key bindings; it implements help.KeyMap.
type KeyMap struct {
	Up, Down, Choose, Verify, Resend, Retry, Text, Cancel key.Binding
}

// DefaultKeyMap returns the modal's bindings.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "choose")),
		Down:   key.NewBinding(key.WithKeys("down", "j")),
		Choose: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "select")),
		Verify: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "verify")),
		Resend: key.NewBinding(key.WithKeys("r", "ctrl+r"), key.WithHelp("r", "new code")),
		Retry:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "try again")),
		Text:   key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "text me a code instead")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// Model is the step-up modal.
type Model struct {
	ch    Challenger
	clock Clock
	op    Operation
	keys  KeyMap

	methods []method
	cursor  int
	state   state

	limits  client.ChallengeLimits // the server's; zero values when they could not be read
	pending *client.PendingChallenge

	input        textinput.Model
	sentAt       time.Time // when the current code was sent
	resendAt     time.Time // when a new code may be asked for
	attemptsLeft int       // 0 when not known
	notice       string    // the last thing that went wrong, or what happened
	reason       error     // why the step-up failed (state failed)

	push          client.PushStepUp // the challenge being waited for (state waiting)
	pushExpiresAt time.Time         // when it expires, by this clock

	spin     spinner.Model
	spinning bool
	ticking  bool
	width    int
	height   int // the most lines it may take, border included (0: no limit)
	colors   Colors
}

// New returns the modal for op, stepping up through ch. factors are the
// admin's second factors (client.Session.Factors): each method is offered
// when they include its active factor; with neither, the modal says so
// (state failed) rather than offer what the server would refuse. Without
// factors (they could not be read) only SMS is offered. info is the session as the server
// describes it (client.Session.Info): its challenge limits are the numbers
// the modal shows; without it (it could not be read) it shows none.
func New(ch Challenger, clock Clock, op Operation, factors []client.Factor, info *client.SessionInfo) Model {
	var limits client.ChallengeLimits
	var pending *client.PendingChallenge
	if info != nil {
		limits, pending = info.Challenges, info.StepUp
	}
	width := limits.CodeLength
	if width <= 0 {
		width = maxCodeLength
	}
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = width
	in.SetWidth(width + 1)
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	var methods []method
	if factors == nil || active(factors, client.FactorTypeOTP, client.ChannelSMS) {
		methods = append(methods, methodSMS)
	}
	if active(factors, client.FactorTypePush, client.ChannelBiometric) {
		methods = append(methods, methodPush)
	}
	m := Model{
		ch: ch, clock: clock, op: op, keys: DefaultKeyMap(),
		limits: limits, pending: pending,
		methods: methods,
		input:   in,
		spin:    spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		width:   58,
	}
	if len(methods) == 0 {
		m.methods = []method{methodSMS} // what enter tries again once one is enrolled
		m.state, m.reason = failed, &client.Error{Code: client.CodeChannelNotRegistered}
	}
	return m
}

// Init does nothing: the admin chooses a method first.
func (m Model) Init() tea.Cmd { return nil }

// SetColors sets the modal's colours.
func (m Model) SetColors(c Colors) Model {
	m.colors = c
	return m
}

// orNone is c, or no colour when c is nil.
func orNone(c color.Color) color.Color {
	if c == nil {
		return lipgloss.NoColor{}
	}
	return c
}

// SetWidth sets the width the modal may take, border included.
func (m Model) SetWidth(w int) Model {
	m.width = max(30, min(w, 64))
	return m
}

// SetHeight sets the most lines the modal may take, border included: on a
// short terminal it leaves out its blank lines, then the hints of the
// methods not chosen, rather than lose its foot (what happened, what to do)
// below the screen.
func (m Model) SetHeight(h int) Model {
	m.height = h
	return m
}

// Update handles keys and the answers of the modal's calls.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return m.key(msg)
	case SentMsg:
		return m.sent(msg.Err)
	case CheckedMsg:
		return m.checked(msg.Err)
	case PushSentMsg:
		return m.pushSent(msg)
	case pollMsg:
		return m.poll(msg.id)
	case PushStatusMsg:
		return m.pushStatus(msg)
	case tickMsg:
		if m.state != entering && m.state != spent {
			m.ticking = false
			return m, nil
		}
		return m, m.tick()
	case spinMsg:
		if !m.Busy() {
			m.spinning = false
			return m, nil
		}
		m.spin, _ = m.spin.Update(spinner.TickMsg{ID: m.spin.ID()})
		return m, m.clock.Tick(spinEvery, func(time.Time) tea.Msg { return spinMsg{} })
	}
	return m, nil
}

func (m Model) key(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Cancel) {
		reason := m.reason
		cancelled := func() tea.Msg { return CancelledMsg{Err: reason} }
		was := m.state
		m.state = closed
		m.input.Blur()
		if was == waiting {
			return m, tea.Batch(cancelled, m.withdraw())
		}
		return m, cancelled
	}
	switch m.state {
	case choosing:
		switch {
		case key.Matches(msg, m.keys.Up):
			m.cursor = max(0, m.cursor-1)
		case key.Matches(msg, m.keys.Down):
			m.cursor = min(len(m.methods)-1, m.cursor+1)
		case key.Matches(msg, m.keys.Choose):
			if m.methods[m.cursor] == methodPush {
				return m.askPhone()
			}
			return m.send()
		}
	case entering:
		switch {
		case key.Matches(msg, m.keys.Verify):
			return m.verify()
		case key.Matches(msg, m.keys.Resend):
			if m.canResend() {
				return m.send()
			}
			m.notice = fmt.Sprintf("You can ask for a new code in %s.", clockText(m.resendAt.Sub(m.clock.Now())))
			return m, nil
		}
		if msg.Text != "" && strings.IndexFunc(msg.Text, func(r rune) bool { return !unicode.IsDigit(r) }) >= 0 {
			return m, nil // codes are digits only
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	case waiting:
		if key.Matches(msg, m.keys.Text) && m.hasSMS() {
			withdraw := m.withdraw()
			m, cmd := m.send()
			return m, tea.Batch(withdraw, cmd)
		}
	case spent:
		if key.Matches(msg, m.keys.Resend) && m.canResend() {
			return m.send()
		}
	case failed:
		if key.Matches(msg, m.keys.Retry) {
			m.state, m.reason, m.notice = choosing, nil, ""
		}
	}
	return m, nil
}

// send asks for a code.
func (m Model) send() (Model, tea.Cmd) {
	m.state, m.notice = sending, ""
	ch, ref := m.ch, m.op.Reference
	call := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return SentMsg{Err: ch.StepUpSMS(ctx, client.ForOperation(ref))}
	}
	return m, tea.Batch(call, m.startSpin())
}

func (m Model) sent(err error) (Model, tea.Cmd) {
	if m.state != sending {
		return m, nil
	}
	now := m.clock.Now()
	var ae *client.Error
	switch {
	case err == nil:
		m.sentAt, m.resendAt = now, now.Add(m.limits.ResendAfter)
		m.attemptsLeft = m.limits.Attempts
		m.notice = ""
	case errors.As(err, &ae) && ae.Code == client.CodeRetryIn15Sec:
		// A code went out moments ago (this session asked before): it is
		// still the one to type.
		wait := ae.RetryAfter
		if wait <= 0 || wait > m.limits.ResendAfter {
			wait = m.limits.ResendAfter
		}
		m.resendAt = now.Add(wait)
		m.sentAt = m.resendAt.Add(-m.limits.ResendAfter)
		if m.pending != nil {
			m.attemptsLeft = m.pending.AttemptsLeft
		} else if m.attemptsLeft == 0 {
			m.attemptsLeft = m.limits.Attempts
		}
		m.notice = "A code was sent moments ago: type that one."
	default:
		return m.fail(err)
	}
	m.state = entering
	m.input.Reset()
	m.input.Focus()
	return m, m.startTick()
}

func (m Model) verify() (Model, tea.Cmd) {
	code := m.input.Value()
	switch n := m.limits.CodeLength; {
	case n > 0 && len(code) != n:
		m.notice = fmt.Sprintf("The code has %d digits.", n)
		return m, nil
	case code == "":
		m.notice = "Type the code."
		return m, nil
	}
	if m.limits.TTL > 0 && !m.clock.Now().Before(m.expiresAt()) {
		m.state, m.notice = spent, "The code has expired."
		return m, nil
	}
	m.state, m.notice = verifying, ""
	ch := m.ch
	call := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return CheckedMsg{Err: ch.VerifyStepUpSMS(ctx, code)}
	}
	return m, tea.Batch(call, m.startSpin())
}

func (m Model) checked(err error) (Model, tea.Cmd) {
	if m.state != verifying {
		return m, nil
	}
	var ae *client.Error
	if err == nil || (errors.As(err, &ae) && ae.Code == client.CodeAlreadyVerified) {
		m.state = choosing // done; the owner closes the modal
		summary := m.op.Summary
		return m, tea.Batch(func() tea.Msg { return VerifiedMsg{Summary: summary} }, m.op.Retry)
	}
	m.input.Reset()
	if errors.As(err, &ae) {
		switch ae.Code {
		case client.CodeCodeInvalid:
			m.state, m.notice = entering, "Wrong code."
			if m.attemptsLeft > 0 {
				m.attemptsLeft = max(2, m.attemptsLeft-1)
				m.notice = fmt.Sprintf("Wrong code. %s left.", attempts(m.attemptsLeft))
			}
			return m, nil
		case client.CodeOneChallengeLimitRemain:
			m.attemptsLeft = 1
			m.state, m.notice = entering, "Wrong code. 1 attempt left: a wrong code now ends this code."
			return m, nil
		case client.CodeChallengeLimitExceeded:
			m.attemptsLeft = 0
			m.state, m.notice = spent, "Wrong code, and no attempts are left for it."
			return m, m.startTick()
		case client.CodeCodeExpired:
			m.state, m.notice = spent, "The code has expired."
			return m, m.startTick()
		case client.CodeStateInvalid:
			m.state, m.notice = spent, "That code can no longer be used."
			return m, m.startTick()
		}
	}
	if errors.Is(err, client.ErrUnauthorized) {
		return m.fail(err)
	}
	// A network or server failure: the code may still be good.
	m.state, m.notice = entering, "Could not check the code: "+reason(err)
	return m, nil
}

// askPhone asks the server to send the admin's phone a challenge naming the
// operation.
func (m Model) askPhone() (Model, tea.Cmd) {
	m.state, m.notice = pushing, ""
	ch, summary, ref := m.ch, m.op.Summary, m.op.Reference
	call := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		up, err := ch.StepUpPush(ctx, summary, client.ForOperation(ref))
		return PushSentMsg{Push: up, Err: err}
	}
	return m, tea.Batch(call, m.startSpin())
}

func (m Model) pushSent(msg PushSentMsg) (Model, tea.Cmd) {
	if m.state != pushing {
		if msg.Push != nil && msg.Push.ID != m.push.ID {
			return m, Withdraw(m.ch, msg.Push.ID) // asked for before esc: nobody waits for it
		}
		return m, nil
	}
	if msg.Err != nil || msg.Push == nil {
		err := msg.Err
		if err == nil {
			err = errors.New("the server sent no challenge")
		}
		if errors.Is(err, client.ErrUnauthorized) {
			return m.fail(err)
		}
		return m.offerOther(methodPush, "Could not ask your phone: "+pushFailure(err))
	}
	m.state, m.push = waiting, *msg.Push
	m.pushExpiresAt = m.clock.Now().Add(m.limits.TTL)
	return m, tea.Batch(m.schedulePoll(), m.startSpin())
}

// schedulePoll asks how the challenge stands after PollEvery.
func (m Model) schedulePoll() tea.Cmd {
	id := m.push.ID
	return m.clock.Tick(PollEvery, func(time.Time) tea.Msg { return pollMsg{id: id} })
}

func (m Model) poll(id string) (Model, tea.Cmd) {
	if m.state != waiting || id != m.push.ID {
		return m, nil // the modal moved on: the poll ends here
	}
	ch := m.ch
	return m, func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), PollWait+callTimeout)
		defer cancel()
		st, err := ch.PushStatusWait(ctx, id, PollWait)
		return PushStatusMsg{ID: id, Status: st, Err: err}
	}
}

func (m Model) pushStatus(msg PushStatusMsg) (Model, tea.Cmd) {
	if m.state != waiting || msg.ID != m.push.ID {
		return m, nil
	}
	if msg.Err != nil {
		if errors.Is(msg.Err, client.ErrUnauthorized) {
			return m.fail(msg.Err)
		}
		if errors.Is(msg.Err, client.ErrNotFound) {
			return m.offerOther(methodPush, "The approval request is gone from the server.")
		}
		// A network or server failure: the phone may still answer.
		m.notice = "Could not ask how the approval stands: " + reason(msg.Err) + " Still waiting."
		return m, m.schedulePoll()
	}
	m.notice, m.push.Device = "", msg.Status.Device
	switch msg.Status.State {
	case client.PushApproved:
		m.state = choosing // done; the owner closes the modal
		summary := m.op.Summary
		return m, tea.Batch(func() tea.Msg { return VerifiedMsg{Summary: summary} }, m.op.Retry)
	case client.PushDeclined:
		return m.offerOther(methodPush, "Declined on your phone (or a different number was picked there). Nothing was done.")
	case client.PushExpired:
		within := "in time"
		if m.limits.TTL > 0 {
			within = "within " + shortDuration(m.limits.TTL)
		}
		return m.offerOther(methodPush, "Nobody approved on the phone "+within+". Nothing was done.")
	case client.PushCancelled:
		return m.offerOther(methodPush, "Deputy withdrew the request (your phone was replaced or unlinked, or your account was locked). Nothing was done.")
	}
	return m, m.schedulePoll() // PENDING, or a state this client does not know yet
}

// offerOther goes back to the list of methods with notice shown and the
// cursor on a method other than failed.
func (m Model) offerOther(failed method, notice string) (Model, tea.Cmd) {
	m.state, m.notice = choosing, notice
	m.push = client.PushStepUp{}
	for i, me := range m.methods {
		if me != failed {
			m.cursor = i
			break
		}
	}
	return m, nil
}

// withdraw tells the server that the admin no longer waits for the phone.
func (m Model) withdraw() tea.Cmd { return Withdraw(m.ch, m.push.ID) }

// Withdraw declines push challenge id on the admin's behalf (reason
// CANCELLED), so that the phone stops asking for it. The owner calls it for
// a [PushSentMsg] that arrives after the modal was closed. It is best
// effort: its command answers nil, and a challenge left pending expires on
// its own.
func Withdraw(ch Challenger, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_ = ch.DeclinePush(ctx, id, client.DeclineCancelled)
		return nil
	}
}

// fail ends the step-up with err. A session that ended is reported at once,
// so that the owner can send the admin to sign in; anything else is shown
// until the admin presses esc (or enter to start again).
func (m Model) fail(err error) (Model, tea.Cmd) {
	m.state, m.reason, m.notice = failed, err, ""
	m.input.Blur()
	if errors.Is(err, client.ErrUnauthorized) {
		return m, func() tea.Msg { return CancelledMsg{Err: err} }
	}
	return m, nil
}

func (m Model) canResend() bool { return !m.clock.Now().Before(m.resendAt) }

func (m Model) expiresAt() time.Time { return m.sentAt.Add(m.limits.TTL) }

func (m Model) tick() tea.Cmd {
	return m.clock.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *Model) startTick() tea.Cmd {
	if m.ticking {
		return nil
	}
	m.ticking = true
	return m.tick()
}

func (m *Model) startSpin() tea.Cmd {
	if m.spinning {
		return nil
	}
	m.spinning = true
	return m.clock.Tick(spinEvery, func(time.Time) tea.Msg { return spinMsg{} })
}

// Busy reports whether a call is running or the modal waits for the phone.
func (m Model) Busy() bool {
	return m.state == sending || m.state == verifying || m.state == pushing || m.state == waiting
}

// KeyMap returns the bindings that apply now, for the help bubble.
func (m Model) KeyMap() help.KeyMap {
	var b []key.Binding
	switch m.state {
	case choosing:
		if len(m.methods) > 1 {
			b = append(b, m.keys.Up)
		}
		b = append(b, m.keys.Choose)
	case entering:
		b = append(b, m.keys.Verify)
		if m.canResend() {
			b = append(b, m.keys.Resend)
		}
	case spent:
		if m.canResend() {
			b = append(b, m.keys.Resend)
		}
	case failed:
		b = append(b, m.keys.Retry)
	case waiting:
		if m.hasSMS() {
			b = append(b, m.keys.Text)
		}
	}
	return bindings(append(b, m.keys.Cancel))
}

// Number is the number the admin picks on the phone, 0 when the modal is not
// waiting for the phone.
func (m Model) Number() int {
	if m.state != waiting {
		return 0
	}
	return m.push.Number
}

type bindings []key.Binding

func (b bindings) ShortHelp() []key.Binding  { return b }
func (b bindings) FullHelp() [][]key.Binding { return [][]key.Binding{b} }

// View renders the modal, border included, as compact as it must be to fit
// the height it was given.
func (m Model) View() string {
	var box string
	for _, c := range []compactness{roomy, noBlanks, chosenHint} {
		box = m.render(c)
		if m.height <= 0 || lipgloss.Height(box) <= m.height {
			break
		}
	}
	return box
}

// compactness is how much a modal leaves out to fit a short terminal.
type compactness int

const (
	roomy      compactness = iota
	noBlanks               // without the blank lines between parts
	chosenHint             // and the hint of the chosen method alone
)

func (m Model) render(c compactness) string {
	// Plain lipgloss styles: the program's colour profile (NO_COLOR
	// included) decides what reaches the terminal.
	borderColor, warnColor, dimColor := orNone(m.colors.Accent), orNone(m.colors.Warn), orNone(m.colors.Dim)
	inner := m.width - 4
	title := lipgloss.NewStyle().Bold(true).Render("Confirm it's you")
	dim := lipgloss.NewStyle().Foreground(dimColor)
	warn := lipgloss.NewStyle().Foreground(warnColor)
	wrap := lipgloss.NewStyle().Width(inner)

	// The summary may be the server's words: shown escaped, sent as it is.
	summary := escape.NonPrinting(m.op.Summary)
	lines := []string{title, "", wrap.Render(summary + " needs a second factor."), ""}
	now := m.clock.Now()
	switch m.state {
	case choosing:
		for i, me := range m.methods {
			mark := "  "
			label := me.label()
			if i == m.cursor {
				mark = "> "
				label = lipgloss.NewStyle().Bold(true).Render(label)
			}
			lines = append(lines, mark+label)
			if c < chosenHint || i == m.cursor {
				lines = append(lines, lipgloss.NewStyle().PaddingLeft(4).Width(inner).Render(dim.Render(me.hint())))
			}
		}
	case sending:
		lines = append(lines, m.spin.View()+" Sending a code…")
	case entering, verifying:
		lines = append(lines, "Type the code texted to your mobile:", "", "  Code: "+m.input.View(), "")
		if m.state == verifying {
			lines = append(lines, m.spin.View()+" Checking the code…")
		} else {
			lines = append(lines, m.statusLine(now))
		}
	case spent:
		lines = append(lines, "This code cannot be used any more.", "")
		if m.canResend() {
			lines = append(lines, "Press r for a new code.")
		} else {
			lines = append(lines, fmt.Sprintf("A new code can be sent in %s.", clockText(m.resendAt.Sub(now))))
		}
	case failed:
		lines = append(lines, warn.Render(wrap.Render("The step-up failed: "+failure(m.reason))), "",
			wrap.Render("Nothing was done. Press enter to try again or esc to cancel."))
	case pushing:
		lines = append(lines, m.spin.View()+" Asking your phone…")
	case waiting:
		number := lipgloss.NewStyle().Bold(true).Render(fmt.Sprintf("%02d", m.push.Number))
		lines = append(lines,
			"Pick "+number+" on your phone",
			wrap.Render("to approve “"+summary+"”."), "",
			m.spin.View()+" Waiting for your approval · "+m.pushLeft(now),
			dim.Render(wrap.Render("If your phone asks about anything else, decline it there.")))
		if !m.push.Device.Reachable {
			lines = append(lines, "", warn.Render(wrap.Render(m.unreachable())))
		}
	}
	if m.notice != "" {
		lines = append(lines, "", warn.Render(wrap.Render(m.notice)))
	}
	if c >= noBlanks {
		lines = slices.DeleteFunc(lines, func(l string) bool { return l == "" })
	}
	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(borderColor).Padding(0, 1).Width(m.width)
	return box.Render(strings.Join(lines, "\n"))
}

// unreachable says the phone cannot be told now, as the server sees it, and
// what to do instead.
func (m Model) unreachable() string {
	text := "Your phone is not connected to Deputy"
	if seen := m.push.Device.LastSeen; !seen.IsZero() {
		text += " (last seen " + seen.In(time.Local).Format("15:04") + ")"
	}
	text += ": open the companion app on it."
	if m.hasSMS() {
		text += " Or press t to have a code texted instead."
	}
	return text
}

// hasSMS says whether a texted code is among the methods.
func (m Model) hasSMS() bool { return slices.Contains(m.methods, methodSMS) }

// pushLeft says how long the phone has to answer.
func (m Model) pushLeft(now time.Time) string {
	if m.limits.TTL <= 0 {
		return "waiting"
	}
	if left := m.pushExpiresAt.Sub(now); left > 0 {
		return "expires in " + clockText(left)
	}
	return "expiring"
}

// statusLine shows the code's expiry, the attempts left and the resend countdown.
func (m Model) statusLine(now time.Time) string {
	parts := []string{}
	switch left := m.expiresAt().Sub(now); {
	case m.limits.TTL <= 0:
	case left > 0:
		parts = append(parts, "expires in "+clockText(left))
	default:
		parts = append(parts, "expired")
	}
	if m.attemptsLeft > 0 {
		parts = append(parts, attempts(m.attemptsLeft)+" left")
	}
	if wait := m.resendAt.Sub(now); wait > 0 {
		parts = append(parts, "new code in "+clockText(wait))
	} else {
		parts = append(parts, "r: new code")
	}
	return strings.Join(parts, " · ")
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// clockText renders a duration as m:ss, rounding up so that "0:00" is never
// shown while time is left.
func clockText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

// failure explains why asking for or checking a code failed.
func failure(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case client.CodeChannelNotRegistered:
			return "you have no active SMS factor. Enrol your mobile under My factors first."
		case client.CodeMobileNotAvailable:
			return "your account has no mobile number."
		case client.CodeCredentialsInactive:
			return "your account is deactivated."
		case client.CodeChallengeLimitExceeded:
			if ae.RetryAfter > 0 {
				return fmt.Sprintf("too many wrong codes: codes are locked for %s.", roundUp(ae.RetryAfter))
			}
			return "too many codes were asked for in this session. Sign in again to start over."
		}
	}
	return reason(err)
}

// pushFailure explains why the phone could not be asked.
func pushFailure(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case client.CodeChannelNotRegistered:
			return "no phone is enrolled for approvals any more. Enrol one in the Deputy app, or use a code."
		case client.CodeChannelNotSupported:
			return "this programme does not take approvals on a phone."
		case client.CodeCredentialsInactive:
			return "your account is deactivated."
		case client.CodeChallengeLimitExceeded:
			if ae.RetryAfter > 0 {
				return fmt.Sprintf("too many failed step-ups: they are locked for %s.", roundUp(ae.RetryAfter))
			}
			return "too many approvals are waiting on your phone. Answer or dismiss them there first."
		}
		if errors.Is(ae, client.ErrRateLimited) && ae.RetryAfter > 0 {
			return fmt.Sprintf("your phone was asked too often: approvals pause for %s.", roundUp(ae.RetryAfter))
		}
	}
	return reason(err)
}

// shortDuration renders whole minutes as "5 minutes".
func shortDuration(d time.Duration) string {
	if n := int(d / time.Minute); n > 1 && d%time.Minute == 0 {
		return fmt.Sprintf("%d minutes", n)
	}
	return d.String()
}

// reason is the readable part of a call's error, without the operation name
// the client puts in front.
func reason(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		return escape.NonPrinting(ae.Error()) + "."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the server did not answer in time."
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return "cannot reach the server (" + escape.NonPrinting(msg) + ")."
}

func roundUp(d time.Duration) time.Duration {
	return ((d + time.Minute - 1) / time.Minute) * time.Minute
}
