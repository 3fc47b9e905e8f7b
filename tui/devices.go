package tui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// devicesMsg answers the devices view's load (Deputy userStatusGet).
type devicesMsg struct {
	outcome
	status *client.UserStatus
}

type devicesKeys struct {
	Reset, Reload, Back key.Binding
}

func (k devicesKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Reset, k.Reload, k.Back} }
func (k devicesKeys) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// devicesScreen shows what a user's phone is to Deputy (their SMS factor and
// the companion app) and resets it when the phone is lost or stolen (Deputy
// userDeviceReset): the app is unlinked, SMS must be enrolled again, their
// sessions end and they are told.
type devicesScreen struct {
	deps
	w, h    int
	keys    devicesKeys
	user    client.User
	status  *client.UserStatus
	loadErr string
	confirm *confirmBox
}

func newDevices(d deps, u client.User) (screen, tea.Cmd) {
	s := devicesScreen{deps: d, user: u, keys: devicesKeys{
		Reset:  key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "reset device")),
		Reload: key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "reload")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	}}
	return s, s.load()
}

func (s devicesScreen) load() tea.Cmd {
	id := s.user.ID
	return do(op{name: "read the devices of " + s.user.Email, label: "Loading devices…",
		run: func(ctx context.Context, a api) result {
			st, err := a.s.UserStatus(ctx, id)
			return devicesMsg{outcome: outcome{err}, status: st}
		}})
}

// resetDeviceOp resets u's device, with one idempotency-ref for the call and
// its retry after a step-up.
func resetDeviceOp(u client.User) op {
	ref := client.NewIdempotencyRef()
	return op{name: "reset the device of " + u.Email, label: "Resetting the device of " + u.Email + "…",
		run: func(ctx context.Context, a api) result {
			err := a.s.ResetUserDevice(ctx, u.ID, client.IdempotencyRef(ref))
			return userActionMsg{outcome: outcome{err}, notice: "Reset the device of " + displayName(u) +
				": the app is unlinked, SMS needs enrolling again, their sessions ended, and they were told."}
		}}
}

func (s devicesScreen) Title() string { return "Devices · " + s.user.Email }
func (s devicesScreen) Editing() bool { return false }

func (s devicesScreen) Keys() help.KeyMap {
	if s.confirm != nil {
		return bindingList(s.confirm.keys())
	}
	return s.keys
}

func (s devicesScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s devicesScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case devicesMsg:
		if err := msg.failure(); err != nil {
			s.loadErr = describe(err)
			return s, nil
		}
		s.status, s.loadErr = msg.status, ""
		return s, nil
	case userActionMsg:
		if msg.failure() != nil {
			return s, nil
		}
		return s, tea.Batch(tell(msg.notice), s.load())
	case reloadMsg:
		return s, s.load()
	case tea.KeyPressMsg:
		if s.confirm != nil {
			var cmd tea.Cmd
			s.confirm, cmd = s.confirm.update(msg)
			return s, cmd
		}
		switch {
		case key.Matches(msg, s.keys.Back):
			return s, back("")
		case key.Matches(msg, s.keys.Reload):
			return s, s.load()
		case key.Matches(msg, s.keys.Reset):
			s.confirm = newConfirm("Reset the device of "+displayName(s.user)+"? Use it when their phone is lost or stolen: "+
				"the Deputy app is unlinked, SMS codes need enrolling again, their sessions end, and they are told.",
				do(resetDeviceOp(s.user)))
		}
	}
	return s, nil
}

// factor returns the user's factor on channel, if any.
func (s devicesScreen) factor(channel string) (client.Factor, bool) {
	for _, f := range s.status.Factors {
		if f.Channel == channel {
			return f, true
		}
	}
	return client.Factor{}, false
}

func (s devicesScreen) View() string {
	row := func(label, value string) string {
		return "  " + s.st.label.Render(fit(label, 16)) + value
	}
	lines := []string{"  " + s.st.header.Render("Phone and devices of "+displayName(s.user)), ""}
	switch {
	case s.loadErr != "":
		lines = append(lines, "  "+s.st.errLine("Could not load: "+s.loadErr))
	case s.status == nil:
		lines = append(lines, s.st.dim.Render("  Loading…"))
	default:
		sms := "not enrolled"
		if f, ok := s.factor(client.ChannelSMS); ok {
			sms = factorStatus(f.Status)
		}
		app := "not linked"
		if f, ok := s.factor(client.ChannelBiometric); ok {
			app = factorStatus(f.Status)
		}
		lines = append(lines,
			row("Mobile", mobileText(s.user.Mobile)),
			row("SMS codes", sms),
			row("Deputy app", app+s.st.dim.Render("  (approves step-ups with a fingerprint or passcode)")),
			"",
			"  "+s.st.dim.Render("Lost or stolen phone? x resets it; the user enrols again on the new one."),
		)
	}
	return s.confirm.over(strings.Join(lines, "\n"), s.st, s.w, s.h)
}
