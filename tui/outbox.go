package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// outboxLimit is how many of the newest captured messages the view reads.
const outboxLimit = 50

// outboxMsg answers the sandbox outbox (Deputy sandboxOutboxGet).
type outboxMsg struct {
	outcome
	msgs []client.Message
}

type outboxKeys struct {
	Up, Down, Reload, Back key.Binding
}

func (k outboxKeys) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Reload, k.Back} }
func (k outboxKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down}, {k.Reload, k.Back}}
}

// outboxScreen lists the emails and texts a sandbox server captured instead
// of sending, newest first, with the selected one in full below.
type outboxScreen struct {
	deps
	w, h    int
	keys    outboxKeys
	msgs    []client.Message
	loaded  bool
	loadErr string
	cursor  int
}

func newOutbox(d deps) (screen, tea.Cmd) {
	s := outboxScreen{deps: d, keys: outboxKeys{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "choose")),
		Down:   key.NewBinding(key.WithKeys("down", "j")),
		Reload: key.NewBinding(key.WithKeys("ctrl+r", "g"), key.WithHelp("ctrl+r", "reload")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	}}
	return s, s.load()
}

// load reads the outbox on the signed-in admin's behalf with the public ui
// key: the server answers only the messages sent to the admin's own email
// address and mobile number (GET /multi/sandbox/outbox).
func (s outboxScreen) load() tea.Cmd {
	return do(op{name: "read the outbox", label: "Reading the outbox…",
		run: func(ctx context.Context, a api) result {
			msgs, err := a.s.Outbox(ctx, outboxLimit)
			return outboxMsg{outcome: outcome{err}, msgs: msgs}
		}})
}

func (s outboxScreen) Title() string     { return "Sandbox outbox" }
func (s outboxScreen) Editing() bool     { return false }
func (s outboxScreen) Keys() help.KeyMap { return s.keys }

func (s outboxScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s outboxScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case outboxMsg:
		if err := msg.failure(); err != nil {
			s.loadErr = describe(err)
			return s, nil
		}
		s.msgs, s.loaded, s.loadErr = msg.msgs, true, ""
		s.cursor = min(s.cursor, max(0, len(s.msgs)-1))
		return s, nil
	case reloadMsg:
		return s, s.load()
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, s.keys.Back):
			return s, back("")
		case key.Matches(msg, s.keys.Reload):
			return s, s.load()
		case key.Matches(msg, s.keys.Up):
			s.cursor = max(0, s.cursor-1)
		case key.Matches(msg, s.keys.Down):
			s.cursor = min(len(s.msgs)-1, s.cursor+1)
		}
	}
	return s, nil
}

func (s outboxScreen) View() string {
	lines := []string{s.st.dim.Render(fit(firstFit(s.w, "Messages the sandbox kept for you and the users you manage, newest first.",
		"Kept by the sandbox for you and your users; newest first."), s.w))}
	switch {
	case !s.loaded && s.loadErr != "":
		return strings.Join(append(lines, "", "  "+s.st.errLine("Could not read the outbox: "+s.loadErr+".")), "\n")
	case !s.loaded:
		return strings.Join(append(lines, s.st.dim.Render("  Loading…")), "\n")
	}
	if len(s.msgs) == 0 {
		return strings.Join(append(lines, "", "  Nothing was sent yet."), "\n")
	}
	listRows := max(3, min(len(s.msgs), s.h/2-2))
	first := max(0, min(s.cursor-listRows/2, len(s.msgs)-listRows))
	toW := 26
	row := func(mark, when, ch, to, what string) string {
		return mark + fit(when, 9) + fit(ch, 6) + fit(to, toW) + " " + fit(what, max(10, s.w-2-9-6-toW-1))
	}
	lines = append(lines, s.st.header.Render(row("  ", "TIME", "VIA", "TO", "SUBJECT / TEXT")))
	for i := first; i < min(len(s.msgs), first+listRows); i++ {
		m := s.msgs[i]
		what := m.Subject
		if what == "" {
			what = firstLine(m.Text)
		}
		line := row("  ", m.CreatedAt.In(s.loc).Format("15:04:05"), m.Channel, m.To, what)
		if i == s.cursor {
			line = s.st.selected.Render(row("› ", m.CreatedAt.In(s.loc).Format("15:04:05"), m.Channel, m.To, what))
		}
		lines = append(lines, line)
	}
	sel := s.msgs[s.cursor]
	lines = append(lines, s.st.dim.Render(fmt.Sprintf("%d of %d", s.cursor+1, len(s.msgs))), "")
	head := sel.Channel + " to " + sel.To + " at " + sel.CreatedAt.In(s.loc).Format("2 Jan 2006 15:04:05")
	lines = append(lines, "  "+s.st.header.Render(head))
	if sel.Subject != "" {
		lines = append(lines, "  Subject: "+sel.Subject)
	}
	for _, l := range strings.Split(wrapText(sel.Text, s.w-4), "\n") {
		lines = append(lines, "  "+l)
	}
	return strings.Join(lines, "\n")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
