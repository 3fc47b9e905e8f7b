package tui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// eventsPage is how many security events one read fetches.
const eventsPage = 50

// eventsMsg answers a read of a user's security events (Deputy
// userSecurityEvents); older marks a page appended after those shown.
type eventsMsg struct {
	outcome
	page  *client.SecurityEventPage
	older bool
}

type eventsKeys struct {
	Up, Down, Older, Reload, Back key.Binding
}

func (k eventsKeys) ShortHelp() []key.Binding { return []key.Binding{k.Up, k.Older, k.Reload, k.Back} }
func (k eventsKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down}, {k.Older, k.Reload, k.Back}}
}

// eventsScreen lists one user's security events, newest first, as the server
// records them (the audit log's actions and details), with the selected one
// in full below.
type eventsScreen struct {
	deps
	w, h    int
	keys    eventsKeys
	user    client.User
	events  []client.SecurityEvent
	next    string // before of the next older page; "" when there is none
	loaded  bool
	loadErr string
	cursor  int
}

func newEvents(d deps, u client.User) (screen, tea.Cmd) {
	s := eventsScreen{deps: d, user: u, keys: eventsKeys{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "choose")),
		Down:   key.NewBinding(key.WithKeys("down", "j")),
		Older:  key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "older")),
		Reload: key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "reload")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	}}
	return s, s.load("")
}

// load reads the page of events older than before ("" for the newest).
func (s eventsScreen) load(before string) tea.Cmd {
	id := s.user.ID
	return do(op{name: "read the security events of " + s.user.Email, label: "Reading security events…",
		run: func(ctx context.Context, a api) result {
			page, err := a.s.SecurityEvents(ctx, id, before, eventsPage)
			return eventsMsg{outcome: outcome{err}, page: page, older: before != ""}
		}})
}

func (s eventsScreen) Title() string {
	return "Security events · " + strings.TrimSpace(s.user.Name+" "+s.user.Surname)
}
func (s eventsScreen) Editing() bool { return false }
func (s eventsScreen) Keys() help.KeyMap {
	k := s.keys
	k.Older.SetEnabled(s.next != "")
	return k
}

func (s eventsScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	return s
}

func (s eventsScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case eventsMsg:
		if err := msg.failure(); err != nil {
			s.loadErr = describe(err)
			return s, nil
		}
		if msg.older {
			s.events = append(s.events, msg.page.Events...)
		} else {
			s.events, s.cursor = msg.page.Events, 0
		}
		s.next, s.loaded, s.loadErr = msg.page.Next, true, ""
		return s, nil
	case reloadMsg:
		return s, s.load("")
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, s.keys.Back):
			return s, back("")
		case key.Matches(msg, s.keys.Reload):
			return s, s.load("")
		case key.Matches(msg, s.keys.Older):
			if s.next != "" {
				return s, s.load(s.next)
			}
		case key.Matches(msg, s.keys.Up):
			s.cursor = max(0, s.cursor-1)
		case key.Matches(msg, s.keys.Down):
			s.cursor = max(0, min(len(s.events)-1, s.cursor+1))
		}
	}
	return s, nil
}

// actorText names who did an event: you, the user, the embedder's backend
// ("api"), Deputy itself ("system") or another user by id.
func (s eventsScreen) actorText(actor string) string {
	switch actor {
	case s.self:
		return "you"
	case s.user.ID:
		return "the user"
	case "api":
		return "backend"
	}
	return actor
}

// orAction is the event's summary, or its action from a server that gives
// none.
func orAction(e client.SecurityEvent) string {
	if e.Summary != "" {
		return e.Summary
	}
	return e.Action
}

func detailsText(d map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, k+"="+d[k])
	}
	return strings.Join(parts, " ")
}

func (s eventsScreen) View() string {
	lines := strings.Split(s.st.hint("", "Sign-ins, step-ups, factors, devices, roles, email, lockouts; newest first.", s.w), "\n")
	switch {
	case s.loadErr != "":
		return strings.Join(append(lines, "", "  "+s.st.errLine("Could not read the events: "+s.loadErr+".")), "\n")
	case !s.loaded:
		return strings.Join(append(lines, s.st.dim.Render("  Loading…")), "\n")
	case len(s.events) == 0:
		return strings.Join(append(lines, "", "  Nothing recorded yet."), "\n")
	}
	sel := s.events[min(s.cursor, len(s.events)-1)]
	// The selected event's sentence, where it came from and its details,
	// wrapped rather than cut on a narrow terminal, and shown in full: the
	// list gives up rows for them, down to two, then the blank line above
	// them, then rows down to one, then the subtitle.
	summary := s.st.header.Render(wrapText(orAction(sel), s.w-2))
	source := s.st.hint("  ", sel.Action+" · "+sel.At().In(s.loc).Format("2 Jan 2006 15:04:05")+" · by "+s.actorText(sel.Actor)+" · request "+orDash(sel.RequestRef), s.w)
	var details []string
	for _, l := range strings.Split(wrapText(detailsText(sel.Details), s.w-4), "\n") {
		if l != "" {
			details = append(details, "  "+l)
		}
	}
	gap := []string{""}
	room := func() int { // the list's rows: what the rest leaves of the height
		return s.h - len(lines) - 2 - len(gap) - lineCount(summary) - lineCount(source) - len(details) // 2: its heading and count
	}
	if room() < min(2, len(s.events)) {
		gap = nil
	}
	if room() < 1 {
		lines = nil
	}
	listRows := max(1, min(len(s.events), room()))
	first := max(0, min(s.cursor-listRows/2, len(s.events)-listRows))
	// WHAT is the server's sentence (SecurityEvent.Summary); the action and
	// its details are below, for the selected event.
	row := func(mark, when, by, what string) string {
		return mark + fit(when, 16) + fit(by, 12) + fit(what, max(0, s.w-2-16-12))
	}
	lines = append(lines, s.st.header.Render(row("  ", "TIME", "BY", "WHAT")))
	for i := first; i < min(len(s.events), first+listRows); i++ {
		e := s.events[i]
		when := e.At().In(s.loc).Format("2 Jan 15:04:05")
		if i == s.cursor {
			lines = append(lines, s.st.selected.Render(row("› ", when, s.actorText(e.Actor), orAction(e))))
			continue
		}
		lines = append(lines, row("  ", when, s.actorText(e.Actor), orAction(e)))
	}
	more := "the oldest shown"
	if s.next != "" {
		more = "o reads older ones"
	}
	lines = append(append(lines, s.st.dim.Render(fit(fmt.Sprintf("%d of %d · %s", s.cursor+1, len(s.events), more), s.w))), gap...)
	for _, l := range strings.Split(summary, "\n") {
		lines = append(lines, "  "+l)
	}
	lines = append(lines, strings.Split(source, "\n")...)
	return strings.Join(append(lines, details...), "\n")
}
