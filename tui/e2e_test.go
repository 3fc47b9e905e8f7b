package tui

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
)

// TestEndToEnd drives the real program (Bubble Tea's event loop, renderer
// and timers, the system clock) against an in-process Deputy: sign in,
// create a user through the SMS step-up, find it with /, deactivate it.
func TestEndToEnd(t *testing.T) {
	dep := startDeputy(t)
	ctx := context.Background()
	screen := &screenLog{}
	tm := teatest.NewTestModel(t, recorder{m: newModel(Options{Client: dep.ui, Sandbox: true}, systemClock{}, time.Local), log: screen},
		teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(
			tea.WithColorProfile(colorprofile.ASCII),
			tea.WithEnvironment([]string{"TERM=xterm-256color", "NO_COLOR=1"}),
		))
	// The renderer writes only what changed, so a phrase is not always in
	// the output in one piece: wait on the screen the program last drew.
	waitFor := func(want string) {
		t.Helper()
		teatest.WaitFor(t, screen, func(b []byte) bool {
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
	waitFor("[x] assignee") // the roles the server lets the admin give
	tm.Type("Grace")
	enter()
	tm.Type("Hopper")
	enter()
	tm.Type("grace@acme.test")
	tm.Send(tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})

	waitFor("Confirm it's you")
	assert.Zero(t, dep.count(t, client.UserFilter{}), "nothing created before the step-up")
	enter() // Text me a code
	waitFor("Type the code texted to your mobile")
	tm.Type(sandboxCode)
	enter()
	waitFor("Created Grace Hopper")
	require.Equal(t, 1, dep.count(t, client.UserFilter{}), "the create ran exactly once")

	tm.Type("/")
	waitFor("Filter users")
	tm.Type("grace@acme.test")
	waitFor("part of a name, an email or a tag")
	enter()
	waitFor("Filter: “grace@acme.test”")

	tm.Type("d")
	waitFor("Deactivate Grace Hopper")
	tm.Type("y")
	waitFor("Deactivated Grace Hopper")
	waitFor("inactive") // the reloaded table

	page, err := dep.admin.ListUsers(ctx, client.UserFilter{Email: "grace@acme.test"})
	require.NoError(t, err)
	require.Len(t, page.Users, 1)
	assert.False(t, page.Users[0].Active, "deactivated")
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "still one user")

	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	final := tm.FinalModel(t).(recorder).m
	assert.Contains(t, plain(final.View().Content), "inactive", "the table shows the user inactive")
	out, err := io.ReadAll(tm.FinalOutput(t))
	require.NoError(t, err)
	assert.NotEmpty(t, out, "the program drew on its output")

	// Quitting signs the session out, as Run does with the final model.
	_, err = final.sess.Info(ctx)
	require.NoError(t, err, "the session stands while the UI runs")
	signOutOf(final)
	_, err = final.sess.Info(ctx)
	assert.ErrorIs(t, err, client.ErrUnauthorized, "signed out")
}

// recorder wraps the root model to keep the screen it last drew, as plain text.
type recorder struct {
	m   model
	log *screenLog
}

func (r recorder) Init() tea.Cmd { return r.m.Init() }

func (r recorder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := r.m.Update(msg)
	r.m = m.(model)
	return r, cmd
}

func (r recorder) View() tea.View {
	v := r.m.View()
	r.log.set(plain(v.Content))
	return v
}

// screenLog holds the last screen drawn. As an io.Reader it hands out that
// screen once per read to the end, which is what teatest.WaitFor polls.
type screenLog struct {
	mu      sync.Mutex
	screen  string
	pending []byte // what is left of the screen being read
	served  bool   // the current read has started
}

func (l *screenLog) set(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.screen = s
}

func (l *screenLog) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.served {
		l.served, l.pending = true, []byte(l.screen)
	}
	if len(l.pending) == 0 {
		l.served = false
		return 0, io.EOF
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}
