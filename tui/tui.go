// Package tui is Deputy's admin terminal UI (`deputy admin`), built on Bubble
// Tea: sign-in, the users table with its filters and search, user details,
// create and edit forms, activation, invites, roles, the admin's own factors
// and, in sandbox, the outbox. Sensitive operations open the step-up modal
// (package stepup) and are repeated with the same idempotency-ref once the
// session has stepped up.
//
// It talks to the server only through the typed client (server/client),
// never core or storage. The root model composes screen models through a
// small interface (model, key map, size); every call runs in a tea.Cmd and
// comes back as a message (GUIDE convention 10).
package tui

import (
	"context"
	"errors"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// Options configure [Run].
type Options struct {
	// Client calls the Deputy server, with the programme's public ui key.
	Client *client.Client
	// Email and Password pre-fill the sign-in screen; with both set the UI
	// signs in straight away (the sandbox demo does this).
	Email, Password string
	// Sandbox adds the outbox view (messages the server captured instead of sending).
	Sandbox bool
	// Input and Output default to the terminal (standard input and output).
	Input  io.Reader
	Output io.Writer
}

// Run shows the admin UI until the admin quits or ctx ends. The colour
// profile comes from the terminal and the environment: NO_COLOR turns colour
// off, a non-terminal output gets plain text.
func Run(ctx context.Context, opts Options) error {
	if opts.Client == nil {
		return errors.New("tui: Options.Client is required")
	}
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	final, err := tea.NewProgram(newModel(opts, systemClock{}, time.Local), popts...).Run()
	signOutOf(final)
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // stopped from outside, as asked
	}
	return err
}

// signOutOf ends, on the server, the session the admin UI held when it
// stopped: its token lived only in the ended process, and a session,
// stepped up perhaps, must not live on until it idles out.
func signOutOf(final tea.Model) {
	m, ok := final.(model)
	if !ok || m.sess == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.sess.Logout(ctx) // best effort: it idles out anyway
}
