package tui

import (
	"context"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// screen is one page of the admin UI: a model, its key map and its size. The
// root model keeps a stack of them; the top one gets the keys and the answers
// of the calls it asked for.
type screen interface {
	Update(msg tea.Msg) (screen, tea.Cmd)
	View() string
	// Keys are the screen's bindings, shown by the help bubble.
	Keys() help.KeyMap
	// SetSize gives the screen the area it may draw in.
	SetSize(width, height int) screen
	// Title names the screen in the title bar.
	Title() string
	// Editing reports whether a text field has the focus: then q and ? are
	// typed into it instead of quitting or showing the help.
	Editing() bool
}

// unsaved is a screen that can hold changes not yet saved: q asks before it
// quits while one does.
type unsaved interface {
	// Unsaved names what would be lost ("the new user"), "" when nothing.
	Unsaved() string
}

// leave is esc on a screen that may hold unsaved changes: a box asking
// first (as quitting does), or, with nothing unsaved, the way back.
func leave(u unsaved) (*confirmBox, tea.Cmd) {
	if what := u.Unsaved(); what != "" {
		return newConfirm("Leave without saving "+what+"?", back("")), nil
	}
	return nil, back("")
}

// Navigation between screens, asked for with messages so that screens never
// touch the stack themselves.
type (
	// pushMsg opens s on top of the current screen and runs init.
	pushMsg struct {
		s    screen
		init tea.Cmd
	}
	// popMsg goes back to the screen below, which reloads its data; notice,
	// when set, tells the admin what was done, and focus names the user the
	// screen below should put its cursor on (one just created).
	popMsg struct{ notice, focus string }
	// reloadMsg asks the top screen to fetch its data again, with its cursor
	// on user focus when it lists them.
	reloadMsg struct{ focus string }
	// noticeMsg shows a line of information in the status area.
	noticeMsg struct{ text string }
)

func push(s screen, init tea.Cmd) tea.Cmd {
	return func() tea.Msg { return pushMsg{s: s, init: init} }
}

func back(notice string) tea.Cmd { return func() tea.Msg { return popMsg{notice: notice} } }

// backTo goes back and puts the cursor of the screen below on user id.
func backTo(notice, id string) tea.Cmd {
	return func() tea.Msg { return popMsg{notice: notice, focus: id} }
}

func tell(text string) tea.Cmd { return func() tea.Msg { return noticeMsg{text: text} } }

// api is what an operation calls the server with: the client for calls made
// with the api key alone, the session for the signed-in admin's calls.
type api struct {
	c *client.Client
	s *client.Session
}

// op is one API call a screen asks the root model to make. The root runs it
// in a tea.Cmd, shows a spinner while it runs, resets the session's idle
// timer when it succeeds, opens the step-up modal when it answers
// client.ErrStepUpRequired (and repeats it, same closure and so the same
// idempotency-ref, once the session has stepped up) and sends the admin back
// to sign in when the session has ended.
type op struct {
	name  string // what is done, for errors and the step-up modal: "create user grace@acme.test"
	label string // what is shown while it runs: "Creating user…"
	// quiet: the screen shows the call's errors itself (forms, sign-in).
	quiet bool
	// signIn: a call made before there is a session; a 401 is the api key's.
	signIn bool
	run    func(ctx context.Context, a api) result
}

// result is the message an op's call answers with: its screen-specific
// content plus the call's error.
type result interface {
	tea.Msg
	failure() error
}

// outcome is embedded in every result message.
type outcome struct{ err error }

func (o outcome) failure() error { return o.err }

// do asks the root model to run o.
func do(o op) tea.Cmd { return func() tea.Msg { return o } }

// doneMsg carries an op's result back to the root model.
type doneMsg struct {
	op  op
	res result
}

// callTimeout bounds each API call made by the UI.
const callTimeout = 20 * time.Second
