package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// Clock tells the time and schedules the UI's refreshes (the status line's
// session countdown, the spinner, the step-up modal's countdowns). The
// program uses the system clock; tests pass one that stands still and
// schedules nothing, so that every screen renders the same way every time.
type Clock interface {
	Now() time.Time
	Tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd
}

// systemClock is the wall clock with tea.Tick.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Tick(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
	return tea.Tick(d, func(t time.Time) tea.Msg { return fn(t) })
}
