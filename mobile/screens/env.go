package screens

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
)

// Clock tells the time and schedules callbacks. The app uses [SystemClock];
// tests move a manual clock.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f, on a goroutine of the clock's choosing, once d has
	// passed. f must hand any widget change to the UI goroutine.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled callback that can be cancelled.
type Timer interface {
	// Stop cancels the callback; it reports whether it did so before f ran.
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Env is what every screen is built with besides its own dependencies.
type Env struct {
	// UI hands a function to the UI goroutine: fyne.Do in the app, a queue
	// that the test goroutine drains in tests. Nil means fyne.Do.
	UI func(func())
	// Clock tells the time and moves the countdowns. Nil means SystemClock.
	Clock Clock
}

// withDefaults fills in the nil fields.
func (e Env) withDefaults() Env {
	if e.UI == nil {
		e.UI = fyne.Do
	}
	if e.Clock == nil {
		e.Clock = SystemClock{}
	}
	return e
}

// callTimeout bounds each API call a screen makes; the client's own timeout
// is the same, this one also covers the ceremonies around it.
const callTimeout = 30 * time.Second

// promptTimeout bounds work that waits for the user to verify themselves
// (the passcode or biometric prompt) as well as for the server.
const promptTimeout = 3 * time.Minute

// run calls work on a new goroutine and hands its result to done on the UI
// goroutine.
func run[T any](e Env, work func(ctx context.Context) (T, error), done func(T, error)) {
	runFor(e, callTimeout, work, done)
}

// runFor is run with its own time limit.
func runFor[T any](e Env, limit time.Duration, work func(ctx context.Context) (T, error), done func(T, error)) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		v, err := work(ctx)
		cancel()
		e.UI(func() { done(v, err) })
	}()
}

// run0 is run for work without a result.
func run0(e Env, work func(ctx context.Context) error, done func(error)) {
	runFor0(e, callTimeout, work, done)
}

// runFor0 is runFor for work without a result.
func runFor0(e Env, limit time.Duration, work func(ctx context.Context) error, done func(error)) {
	runFor(e, limit, func(ctx context.Context) (struct{}, error) { return struct{}{}, work(ctx) }, func(_ struct{}, err error) { done(err) })
}

// countdown calls tick on the UI goroutine every second until until, then
// once more at until; Stop ends it early. It is how the resend, expiry and
// approval countdowns move.
type countdown struct {
	e     Env
	until time.Time
	tick  func(left time.Duration)
	timer Timer
	gen   int // bumped by stop and start, so a callback already queued does nothing
}

// start (re)starts the countdown towards until; it calls tick at once.
func (c *countdown) start(until time.Time) {
	c.stop()
	c.until = until
	c.step(c.gen)
}

func (c *countdown) step(gen int) {
	if gen != c.gen {
		return
	}
	left := c.until.Sub(c.e.Clock.Now())
	if left < 0 {
		left = 0
	}
	c.tick(left)
	if left == 0 {
		return
	}
	next := left % time.Second
	if next == 0 {
		next = time.Second
	}
	c.timer = c.e.Clock.AfterFunc(next, func() { c.e.UI(func() { c.step(gen) }) })
}

// stop ends the countdown without a final tick.
func (c *countdown) stop() {
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// running reports whether the countdown has time left.
func (c *countdown) running() bool {
	return c.timer != nil && c.e.Clock.Now().Before(c.until)
}
