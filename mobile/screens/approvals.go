package screens

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// Answer is how a push challenge was answered.
type Answer int

const (
	// Approved: the user picked the number and signed.
	Approved Answer = iota + 1
	// Declined: the user refused.
	Declined
	// NotMe: the user said "I did not do this"; the server ended their sessions.
	NotMe
	// Refused: the wrong number was picked and the server declined the challenge.
	Refused
	// Gone: the challenge was over when the user answered it.
	Gone
)

// ApprovalsScreen shows the push step-ups waiting for this device (issue 6,
// stepupSCAChallengePush): what is being approved, the number shown on the
// requesting screen to pick among three, and approve, decline or "I did not
// do this". Approving signs a WebAuthn assertion bound to the challenge
// after the user verifies themselves.
type ApprovalsScreen struct {
	Empty *widget.Label
	// Kind says what is asked (kindText): a sign-in, a confirmation or a
	// step-up, and whose words the summary is.
	Kind     *widget.Label
	Summary  *widget.Label
	From     *widget.Label // when and from where it was asked for
	Expires  *widget.Label
	Question *widget.Label
	Choices  []*widget.Button
	Approve  *widget.Button
	Decline  *widget.Button
	NotMe    *widget.Button
	// Dismiss takes a request that can no longer be answered off the
	// screen; it is shown only then, in place of the answers.
	Dismiss *widget.Button
	// The "I did not do this" confirmation.
	ConfirmNotMe *widget.Button
	CancelNotMe  *widget.Button
	Result       *widget.Label
	Others       *fyne.Container
	Back         *widget.Button
	Problem      *ProblemBox
	busy         busy
	detail       *fyne.Container
	numbers      *fyne.Container
	notMeText    *widget.Label
	notMeBox     *fyne.Container
	content      fyne.CanvasObject

	env       Env
	api       PushAPI
	auth      Authenticator
	origin    string
	answered  func(id string, a Answer)
	expired   func(Problem)
	unlinked  func()
	pending   []client.PushChallenge
	current   *client.PushChallenge
	picked    int    // index into current.Choices, -1 for none
	answering string // the id of the challenge whose answer is being sent
	timer     countdown
}

// ApprovalsActions are what the approvals screen reports.
type ApprovalsActions struct {
	// Answered runs once a challenge is settled: answered here, found over
	// when answered, or dismissed here once over (Gone).
	Answered func(id string, a Answer)
	Back     func()
	// Expired runs when the session has ended.
	Expired func(Problem)
	// Unlinked runs when the server says this device is no longer linked.
	Unlinked func()
}

// ApprovalsDeps are what the approvals screen is built from.
type ApprovalsDeps struct {
	API  PushAPI
	Auth Authenticator
	// Origin is the WebAuthn origin to act for; "" for https://<RP ID>.
	Origin string
}

// NewApprovalsScreen builds the screen over the challenges pending now.
func NewApprovalsScreen(e Env, d ApprovalsDeps, pending []client.PushChallenge, do ApprovalsActions) *ApprovalsScreen {
	s := &ApprovalsScreen{env: e.withDefaults(), api: d.API, auth: d.Auth, origin: d.Origin, answered: do.Answered, expired: do.Expired, unlinked: do.Unlinked, picked: -1}
	back := do.Back
	s.Empty = para("Nothing is waiting for your approval. When someone starts a sensitive operation on your account, it appears here.")
	s.Kind = para("")
	s.Summary = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.Summary.Wrapping = fyne.TextWrapWord
	s.Summary.SizeName = "subHeadingText"
	s.From = para("")
	s.Expires = para("")
	s.Question = para("Which number is shown on the screen that asked for this?")
	for i := range 3 {
		b := widget.NewButton("", func() { s.pick(i) })
		s.Choices = append(s.Choices, b)
	}
	s.Approve = primary("Approve", s.approve)
	s.Approve.Disable()
	s.Decline = widget.NewButton("Decline", func() { s.decline(false) })
	// Picking a number and approving is the prominent path; "I did not do
	// this" is there but never the loudest button on the screen.
	s.NotMe = widget.NewButton("I did not do this", s.askNotMe)
	s.NotMe.Importance = widget.LowImportance
	s.Dismiss = widget.NewButton("Dismiss", s.dismiss)
	s.Dismiss.Hide()
	s.ConfirmNotMe = widget.NewButton("Yes, I did not do this", func() { s.decline(true) })
	s.ConfirmNotMe.Importance = widget.DangerImportance
	s.CancelNotMe = widget.NewButton("Cancel", func() { s.notMeBox.Hide(); s.NotMe.Show() })
	s.notMeText = para("")
	s.notMeBox = container.NewVBox(
		s.notMeText,
		container.NewGridWithColumns(2, s.CancelNotMe, s.ConfirmNotMe),
	)
	s.notMeBox.Hide()
	s.Result = para("")
	s.Result.Hide()
	s.Others = container.NewVBox()
	s.Back = widget.NewButton("Back", back)
	s.Back.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()
	s.timer = countdown{e: s.env, tick: s.expiryTick}
	s.numbers = container.NewGridWithColumns(3, tall(s.Choices[0]), tall(s.Choices[1]), tall(s.Choices[2]))
	s.detail = container.NewVBox(
		s.Kind, s.Summary, s.From, s.Expires, s.Question,
		s.numbers,
		s.Approve,
		// Two of the three at a time (the grid skips what is hidden):
		// Decline and "I did not do this" while the request can be
		// answered, "I did not do this" and Dismiss once it cannot.
		container.NewGridWithColumns(2, s.Decline, s.NotMe, s.Dismiss),
		s.notMeBox,
	)
	s.content = page("Approvals",
		s.Result, s.Empty, s.detail, s.busy, s.Problem.Object(), s.Others, s.Back,
	)
	s.SetPending(pending)
	return s
}

// Content implements Screen.
func (s *ApprovalsScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *ApprovalsScreen) Close() { s.timer.stop() }

// SetPending replaces the list of waiting challenges, keeping the one shown
// when it is still waiting.
func (s *ApprovalsScreen) SetPending(pending []client.PushChallenge) {
	s.pending = pending
	keep := -1
	if s.current != nil {
		for i := range pending {
			if pending[i].ID == s.current.ID {
				keep = i
			}
		}
	}
	if s.current != nil && keep < 0 && s.answering == s.current.ID {
		s.redrawOthers() // this screen's own answer is on its way; its result tells
		return
	}
	if s.current != nil && keep < 0 {
		// Expired, withdrawn or replaced by whoever asked, or cancelled by
		// the server while shown here: the server still takes "I did not do
		// this" for it (core notMeReportable), so it stays, with that button
		// and Dismiss, until the user reports it, dismisses it or leaves.
		// Otherwise an attacker who withdraws each prompt before the user
		// reacts, or a request the user was slow to recognise, could not be
		// reported.
		if !s.expiredOnScreen() {
			s.ended("This request was withdrawn before you answered. Nothing was approved. If you did not start it, tell us: “I did not do this”.")
		}
		s.redrawOthers()
		return
	}
	switch {
	case len(pending) == 0:
		s.show(nil)
	case keep < 0:
		s.show(&pending[0])
	default:
		s.current = &pending[keep]
		s.redrawOthers()
	}
}

// expiredOnScreen reports whether the challenge shown has run out of time by
// this device's clock.
func (s *ApprovalsScreen) expiredOnScreen() bool {
	return !s.current.ExpiresAt.IsZero() && !s.env.Clock.Now().Before(s.current.ExpiresAt)
}

// Current is the challenge shown, or nil.
func (s *ApprovalsScreen) Current() *client.PushChallenge { return s.current }

func (s *ApprovalsScreen) show(ch *client.PushChallenge) {
	s.timer.stop()
	s.current, s.picked = ch, -1
	s.notMeBox.Hide()
	s.notMeText.SetText("We will stop this request, sign you out on every device and alert your admin. Change your password afterwards.")
	s.NotMe.Show()
	s.Dismiss.Hide()
	s.Problem.Hide()
	if ch == nil {
		s.detail.Hide()
		s.Empty.Show()
		s.redrawOthers()
		s.layoutAgain()
		return
	}
	s.Empty.Hide()
	s.Result.Hide()
	s.Kind.SetText(kindText(ch))
	s.Summary.SetText(summaryText(*ch))
	s.From.SetText(fromText(ch, s.env.Clock.Now()))
	for i, b := range s.Choices {
		if i < len(ch.Choices) {
			b.SetText(strconv.Itoa(ch.Choices[i]))
			b.Show()
		} else {
			b.Hide()
		}
		b.Importance = widget.MediumImportance
		b.Enable()
		b.Refresh()
	}
	s.Question.Show()
	s.numbers.Show()
	s.Approve.SetText("Approve")
	s.Approve.Disable()
	s.Approve.Show()
	s.Decline.Enable()
	s.Decline.Show()
	s.NotMe.Enable()
	s.detail.Show()
	if !ch.ExpiresAt.IsZero() {
		s.timer.start(ch.ExpiresAt)
	} else {
		s.Expires.SetText("")
	}
	s.redrawOthers()
	s.layoutAgain()
}

// redrawOthers lists the other waiting challenges.
func (s *ApprovalsScreen) redrawOthers() {
	s.Others.RemoveAll()
	for i := range s.pending {
		ch := s.pending[i]
		if s.current != nil && ch.ID == s.current.ID {
			continue
		}
		// The summary wraps beside a short button: a button's text does not
		// wrap, and a long summary on one would widen the page past a
		// phone's screen.
		show := widget.NewButton("Show", func() { s.show(&ch) })
		s.Others.Add(container.NewBorder(nil, nil, nil, show, para("Also waiting: "+summaryText(ch))))
	}
}

func (s *ApprovalsScreen) expiryTick(left time.Duration) {
	if s.current != nil {
		s.From.SetText(fromText(s.current, s.env.Clock.Now()))
	}
	if left > 0 {
		s.Expires.Importance = widget.MediumImportance
		s.Expires.SetText("Answer within " + clockText(left) + ".")
		return
	}
	s.ended("This request has expired. If you still want to do this, start again on the other screen.")
}

// ended shows why the challenge on screen can no longer be answered. The
// question and the answers go (disabled, they would still read as asked):
// what stays is what it was, "I did not do this", which the server takes
// for it, and Dismiss.
func (s *ApprovalsScreen) ended(why string) {
	s.timer.stop()
	s.Expires.Importance = widget.DangerImportance
	s.Expires.SetText(why)
	for _, b := range s.Choices {
		b.Disable()
	}
	s.Approve.Disable()
	s.Decline.Disable()
	s.Question.Hide()
	s.numbers.Hide()
	s.Approve.Hide()
	s.Decline.Hide()
	s.notMeText.SetText("We will report this request, sign you out on every device and alert your admin. Change your password afterwards.")
	s.Dismiss.Show()
	s.layoutAgain()
}

// layoutAgain closes the room left by what show or ended hid.
func (s *ApprovalsScreen) layoutAgain() {
	if s.content != nil {
		layoutAgain(s.content)
	}
}

// dismiss takes the ended challenge off the screen, showing the next one
// waiting, if any, and reports it over so that it is not shown again.
func (s *ApprovalsScreen) dismiss() {
	if s.current == nil {
		return
	}
	id := s.current.ID
	s.timer.stop()
	s.current = nil
	s.Result.Hide()
	s.SetPending(without(s.pending, id))
	s.answered(id, Gone)
}

// without is pending less challenge id.
func without(pending []client.PushChallenge, id string) []client.PushChallenge {
	rest := make([]client.PushChallenge, 0, len(pending))
	for _, p := range pending {
		if p.ID != id {
			rest = append(rest, p)
		}
	}
	return rest
}

func (s *ApprovalsScreen) pick(i int) {
	if s.current == nil {
		return
	}
	s.picked = i
	for j, b := range s.Choices {
		if j == i {
			b.Importance = widget.HighImportance
		} else {
			b.Importance = widget.MediumImportance
		}
		b.Refresh()
	}
	s.Approve.SetText(fmt.Sprintf("Approve with %d", s.current.Choices[i]))
	s.Approve.Enable()
}

func (s *ApprovalsScreen) setBusy(on bool) {
	s.answering = ""
	if on {
		s.answering = s.current.ID
		s.busy.on()
		s.Approve.Disable()
		s.Decline.Disable()
		s.NotMe.Disable()
		s.ConfirmNotMe.Disable()
		return
	}
	s.busy.off()
	if s.picked >= 0 {
		s.Approve.Enable()
	}
	s.Decline.Enable()
	s.NotMe.Enable()
	s.ConfirmNotMe.Enable()
}

func (s *ApprovalsScreen) approve() {
	if s.current == nil || s.picked < 0 {
		return
	}
	ch, number := *s.current, s.current.Choices[s.picked]
	s.Problem.Hide()
	s.setBusy(true)
	runFor0(s.env, promptTimeout, func(ctx context.Context) error {
		// The options are derived from the challenge and its exact summary,
		// so the signature approves this operation and no other.
		options, err := s.api.PushOptions(ctx, ch.ID)
		if err != nil {
			return err
		}
		req, err := authenticator.ParseRequestOptions(options, originFor(s.origin, options))
		if err != nil {
			return fmt.Errorf("reading the challenge: %w", err)
		}
		req.Reason = "Approve: " + summaryText(ch)
		as, err := s.auth.Assert(ctx, req)
		if err != nil {
			return err
		}
		return s.api.ApprovePush(ctx, ch.ID, number, as)
	}, func(err error) {
		s.setBusy(false)
		if err != nil {
			s.fail(ch, err, s.approve)
			return
		}
		s.done(ch, Approved, "Approved: "+summaryText(ch)+".")
	})
}

func (s *ApprovalsScreen) askNotMe() {
	s.NotMe.Hide()
	s.notMeBox.Show()
}

func (s *ApprovalsScreen) decline(notMe bool) {
	if s.current == nil {
		return
	}
	ch := *s.current
	s.Problem.Hide()
	s.setBusy(true)
	reason := client.DeclineCancelled
	if notMe {
		reason = client.DeclineNotMe
	}
	run0(s.env, func(ctx context.Context) error {
		return s.api.DeclinePush(ctx, ch.ID, reason)
	}, func(err error) {
		s.setBusy(false)
		if err != nil {
			s.fail(ch, err, func() { s.decline(notMe) })
			return
		}
		if notMe {
			s.done(ch, NotMe, "Stopped. You have been signed out on every device and your admin has been alerted.")
			return
		}
		s.done(ch, Declined, "Declined: "+summaryText(ch)+".")
	})
}

func (s *ApprovalsScreen) done(ch client.PushChallenge, a Answer, text string) {
	s.timer.stop()
	s.current = nil
	s.SetPending(without(s.pending, ch.ID))
	s.settled(ch, a, text)
}

// resultImportance is how each outcome is shown: only an approval in
// success green; a decline plainly; what the user should look at twice
// (refused, gone, "I did not do this") as a warning.
var resultImportance = map[Answer]widget.Importance{
	Approved: widget.SuccessImportance,
	Declined: widget.MediumImportance,
	NotMe:    widget.WarningImportance,
	Refused:  widget.WarningImportance,
	Gone:     widget.WarningImportance,
}

// settled shows how a challenge ended and reports it.
func (s *ApprovalsScreen) settled(ch client.PushChallenge, a Answer, text string) {
	s.Result.SetText(text)
	s.Result.Importance = resultImportance[a]
	s.Result.Refresh()
	s.Result.Show()
	s.answered(ch.ID, a)
}

// fail shows why an answer did not go through. A challenge that is over
// (answered, expired, or refused for the wrong number, the last time with
// the SCA lock) leaves the list.
func (s *ApprovalsScreen) fail(ch client.PushChallenge, err error, retry func()) {
	var ae *client.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case client.CodeCodeInvalid:
			s.done(ch, Refused, "That was not the number on the screen that asked. For your safety the request was refused. If you started it, start again and pick the number shown there.")
			return
		case client.CodeChallengeLimitExceeded: // the wrong number once too often: the SCA lock
			s.done(ch, Refused, "That was not the number on the screen that asked, too many times in a row. For your safety you were signed out everywhere and approvals are paused for a while.")
			return
		case client.CodeAlreadyVerified:
			s.done(ch, Gone, "This request was already answered.")
			return
		case client.CodeCodeExpired:
			s.done(ch, Gone, "This request has expired. If you still want to do this, start again on the other screen.")
			return
		case client.CodeStateInvalid:
			s.done(ch, Gone, "This request is no longer waiting for an answer.")
			return
		case client.CodeChannelNotRegistered:
			s.Close()
			s.unlinked()
			return
		}
	}
	p := describe(err)
	if p.SessionEnded {
		s.Close()
		s.expired(p)
		return
	}
	s.Problem.Show(p, retry)
}

// choiceHeight makes the number buttons large touch targets.
const choiceHeight = 64

// tall stretches b to choiceHeight.
func tall(b *widget.Button) fyne.CanvasObject {
	space := canvas.NewRectangle(color.Transparent)
	space.SetMinSize(fyne.NewSize(0, choiceHeight))
	return container.NewStack(space, b)
}

// kindText says what a challenge asks for. A step-up that named no
// operation carries the requester's own words as its summary, which could
// read like a payment or a sign-in: it says so.
func kindText(ch *client.PushChallenge) string {
	switch {
	case ch.Kind == client.PushKindLogin:
		return "Sign-in request"
	case ch.Kind == client.PushKindConfirm:
		return "Confirm these details"
	case ch.SummaryFromRequester:
		return "Confirm it is you. The app that asked describes it, in its own words, as:"
	default:
		return "Confirm it is you"
	}
}

// summaryText is a challenge's summary as the companion names it anywhere
// (the request on screen, the others waiting, the approval prompt, a
// notification): a requester's own words quoted, as theirs.
func summaryText(ch client.PushChallenge) string {
	if ch.SummaryFromRequester {
		return "“" + ch.Summary + "”"
	}
	return ch.Summary
}

// fromText says when and from where a challenge was asked for, as the server
// saw the request: "Asked 2 min ago from 203.0.113.7 (Deputy-Admin/1)."
func fromText(ch *client.PushChallenge, now time.Time) string {
	text := "Asked "
	switch ago := now.Sub(ch.CreatedAt); {
	case ago < time.Minute:
		text += "just now"
	case ago < time.Hour:
		text += fmt.Sprintf("%d min ago", int(ago/time.Minute))
	default:
		text += "at " + ch.CreatedAt.Local().Format("15:04")
	}
	if ch.FromIP != "" {
		text += " from " + ch.FromIP
	}
	if ch.FromAgent != "" {
		text += " (" + ch.FromAgent + ")"
	}
	return text + "."
}
