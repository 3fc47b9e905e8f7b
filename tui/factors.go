package tui

import (
	"context"
	"errors"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// factorsMsg answers the admin's own factors (Weavr authFactorsGet).
type factorsMsg struct {
	outcome
	factors []client.Factor
}

// enrolSentMsg answers the start of an SMS enrolment (enrolDeviceUsingOtpStepOne).
type enrolSentMsg struct{ outcome }

// enrolDoneMsg answers the code check (enrolDeviceUsingOtpStepTwo).
type enrolDoneMsg struct{ outcome }

type factorsKeys struct {
	Enrol, Verify, Cancel, Back, Connect key.Binding
}

// factorsScreen shows the signed-in admin's own second factors and enrols
// their mobile for SMS codes: send a code, type it.
type factorsScreen struct {
	deps
	w, h     int
	keys     factorsKeys
	factors  []client.Factor
	loaded   bool
	entering bool
	code     textinput.Model
	busy     bool
	err      string
	info     string
}

func newFactors(d deps) (screen, tea.Cmd) {
	s := factorsScreen{deps: d, code: newInput("", 10), keys: factorsKeys{
		Enrol:   key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "enrol SMS")),
		Verify:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "verify code")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Back:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Connect: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "connect my phone")),
	}}
	s.code.SetWidth(7)
	return s, s.load()
}

func (s factorsScreen) load() tea.Cmd {
	return do(op{name: "list your factors", label: "Loading your factors…",
		run: func(ctx context.Context, a api) result {
			fs, err := a.s.Factors(ctx)
			return factorsMsg{outcome: outcome{err}, factors: fs}
		}})
}

func (s factorsScreen) Title() string { return "My factors" }
func (s factorsScreen) Editing() bool { return s.entering }

func (s factorsScreen) Keys() help.KeyMap {
	if s.entering {
		return bindingList{s.keys.Verify, s.keys.Enrol, s.keys.Cancel}
	}
	if s.smsActive() {
		return bindingList{s.keys.Connect, s.keys.Back}
	}
	return bindingList{s.keys.Enrol, s.keys.Connect, s.keys.Back}
}

func (s factorsScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s factorsScreen) smsActive() bool {
	for _, f := range s.factors {
		if f.Channel == client.ChannelSMS && f.Status == client.FactorActive {
			return true
		}
	}
	return false
}

func (s factorsScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case factorsMsg:
		if msg.failure() == nil {
			s.factors, s.loaded = msg.factors, true
		}
		return s, nil
	case reloadMsg:
		return s, s.load()
	case enrolSentMsg:
		s.busy = false
		if err := msg.failure(); err != nil {
			s.err = "No code sent: " + describe(err) + "."
			return s, nil
		}
		s.entering, s.err = true, ""
		s.info = "A code was texted to your mobile."
		s.code.Reset()
		s.code.Focus()
		return s, s.load()
	case enrolDoneMsg:
		s.busy = false
		if err := msg.failure(); err != nil {
			s.err = enrolError(err)
			s.code.Reset()
			return s, nil
		}
		s.entering, s.err = false, ""
		s.info = "Your SMS factor is active."
		s.code.Reset() // used: not kept
		s.code.Blur()
		return s, tea.Batch(tell("SMS factor active: step-up codes go to your mobile."), s.load())
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		switch {
		case s.entering && key.Matches(msg, s.keys.Cancel):
			s.entering, s.info, s.err = false, "", ""
			s.code.Reset() // still good for minutes: not kept
			s.code.Blur()
			return s, nil
		case key.Matches(msg, s.keys.Back):
			return s, back("")
		case !s.entering && key.Matches(msg, s.keys.Connect):
			c, init := connectSelf(s.deps)
			return s, push(c, init)
		case key.Matches(msg, s.keys.Enrol):
			if s.smsActive() {
				s.err = "Your SMS factor is already active."
				return s, nil
			}
			s.busy, s.err, s.info = true, "", ""
			ref := client.NewIdempotencyRef()
			return s, do(op{name: "start SMS enrolment", label: "Texting you a code…", quiet: true,
				run: func(ctx context.Context, a api) result {
					return enrolSentMsg{outcome{a.s.EnrolSMS(ctx, client.IdempotencyRef(ref))}}
				}})
		case s.entering && key.Matches(msg, s.keys.Verify):
			code := s.code.Value()
			if code == "" { // its length is the server's to check
				s.err = "Type the code."
				return s, nil
			}
			s.busy, s.err = true, ""
			ref := client.NewIdempotencyRef()
			return s, do(op{name: "verify the SMS code", label: "Checking the code…", quiet: true,
				run: func(ctx context.Context, a api) result {
					return enrolDoneMsg{outcome{a.s.VerifyEnrolSMS(ctx, code, client.IdempotencyRef(ref))}}
				}})
		case s.entering:
			if t := msg.Text; t != "" && strings.Trim(t, "0123456789") != "" {
				return s, nil
			}
			var cmd tea.Cmd
			s.code, cmd = s.code.Update(msg)
			return s, cmd
		}
	}
	return s, nil
}

func enrolError(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		// Sentences of their own: describe's text already says "wrong
		// code" and "ask for a new one", which would read twice.
		switch ae.Code {
		case client.CodeCodeInvalid:
			return "Wrong code."
		case client.CodeOneChallengeLimitRemain:
			return "Wrong code. 1 attempt left."
		case client.CodeChallengeLimitExceeded:
			return "Too many wrong codes: press s for a new code."
		case client.CodeCodeExpired:
			return "The code has expired: press s for a new code."
		case client.CodeStateInvalid:
			return "No code is waiting to be checked: press s for a new code."
		}
	}
	return "Not verified: " + describe(err) + "."
}

func (s factorsScreen) View() string {
	row := func(label, value string) string {
		return "  " + s.st.label.Render(fit(label, 26)) + value
	}
	lines := []string{"  " + s.st.header.Render("Your second factors"), ""}
	if !s.loaded {
		lines = append(lines, s.st.dim.Render("  Loading…"))
	} else {
		sms, push := "not enrolled", firstFit(s.w-28, "not enrolled (enrol it on the mobile companion)", "not enrolled (enrol in the app)")
		for _, f := range s.factors {
			switch f.Channel {
			case client.ChannelSMS:
				sms = factorStatus(f.Status)
			case client.ChannelBiometric:
				push = factorStatus(f.Status)
			}
		}
		lines = append(lines, row("SMS one-time passwords", sms), row("Biometric (mobile app)", push))
	}
	lines = append(lines, "")
	if s.entering {
		lines = append(lines, "  "+s.info, "", "  "+s.st.focus.Render("› Code")+"  "+s.code.View())
	} else if s.loaded && !s.smsActive() {
		lines = append(lines, s.st.hint("  ", "Press s to text a code to your mobile and enrol it for step-up.", s.w))
	} else if s.info != "" {
		lines = append(lines, "  "+s.st.ok.Render("✓ ")+s.info)
	}
	if s.err != "" {
		lines = append(lines, "", s.st.errText("  ", s.err, s.w))
	}
	return strings.Join(lines, "\n")
}
