package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// rateLimited returns the rate-limit error of err, failing unless it is one.
func rateLimited(t *testing.T, err error, msgAndArgs ...any) *core.Error {
	t.Helper()
	require.ErrorIs(t, err, core.ErrRateLimited, msgAndArgs...)
	var ce *core.Error
	require.True(t, errors.As(err, &ce))
	return ce
}

func TestCheckRate(t *testing.T) {
	ctx := context.Background()
	perIP := core.RateLimit{Requests: 2, Window: time.Minute}
	perProg := core.RateLimit{Requests: 3, Window: time.Hour}
	e := newCoreEnv(t, func(c *core.Config) {
		c.RateLimits = &core.RateLimits{LoginPerIP: perIP, LoginPerProgramme: perProg}
	})
	other := e.programme("Other", core.ProgrammeSettings{})
	// Start one second into an hour, so that both windows lie ahead.
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(time.Hour).Add(time.Hour + time.Second).Sub(now))

	require.NoError(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1"))
	require.NoError(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1"))
	ce := rateLimited(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1"))
	assert.Equal(t, 2, ce.Limit, "the per-address limit was exceeded")
	assert.Equal(t, []core.RateLimit{perIP, perProg}, ce.Limits, "the limits in force")
	assert.True(t, ce.RetryAfter > 50*time.Second && ce.RetryAfter <= 59*time.Second, "retry after %v: the rest of the minute", ce.RetryAfter)

	// The call refused for its address did not count towards the programme's
	// budget: one address cannot use it up.
	require.NoError(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.2"), "the programme's third")
	for range 5 {
		rateLimited(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1"))
	}
	ce = rateLimited(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.3"))
	assert.Equal(t, 3, ce.Limit, "the per-programme limit")
	assert.True(t, ce.RetryAfter > 58*time.Minute, "retry after %v: the rest of the hour", ce.RetryAfter)

	assert.NoError(t, e.svc.CheckRate(ctx, core.RateLogin, other, "203.0.113.1"), "another programme")
	assert.NoError(t, e.svc.CheckRate(ctx, core.RateTokenise, e.prog, "203.0.113.1"), "another action (no limits set)")

	e.clock.Advance(time.Minute)
	rateLimited(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1")) // the hour is not over
	e.clock.Advance(time.Hour)
	assert.NoError(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1"), "new windows")
}

// TestCheckRateFixedWindowBoundary pins what README's Budgets says of fixed
// windows: a budget spent at the end of one window and again at the start
// of the next lets twice the limit through within two seconds, and no more.
func TestCheckRateFixedWindowBoundary(t *testing.T) {
	ctx := context.Background()
	e := newCoreEnv(t, func(c *core.Config) {
		c.RateLimits = &core.RateLimits{LoginPerIP: core.RateLimit{Requests: 3, Window: time.Minute}}
	})
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(time.Minute).Add(2*time.Minute - time.Second).Sub(now)) // a second before a window ends
	passed := 0
	for range 10 {
		if e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1") == nil {
			passed++
		}
	}
	e.clock.Advance(2 * time.Second)
	for range 10 {
		if e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1") == nil {
			passed++
		}
	}
	assert.Equal(t, 6, passed, "twice the limit of 3 within two seconds")
}

func TestCheckRateWithoutLimits(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.RateLimits = &core.RateLimits{} })
	for range 100 {
		require.NoError(t, e.svc.CheckRate(context.Background(), core.RateTokenise, e.prog, "203.0.113.1"))
	}
}

// Tokenise counts its limits in the same commit as it stores the token; a
// call over a limit stores nothing.
func TestTokeniseIsRateLimited(t *testing.T) {
	ctx := context.Background()
	e := newCoreEnv(t, func(c *core.Config) {
		c.RateLimits = &core.RateLimits{TokenisePerIP: core.RateLimit{Requests: 2, Window: time.Hour}}
	})
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(time.Hour).Add(time.Hour + time.Second).Sub(now))
	for range 2 {
		token, err := e.svc.Tokenise(ctx, e.prog, testPassword, "203.0.113.1")
		require.NoError(t, err)
		require.True(t, core.IsPasswordToken(token))
	}
	token, err := e.svc.Tokenise(ctx, e.prog, testPassword, "203.0.113.1")
	ce := rateLimited(t, err)
	assert.Empty(t, token)
	assert.Equal(t, 2, ce.Limit)
	assert.Equal(t, []core.RateLimit{{Requests: 2, Window: time.Hour}}, ce.Limits)
	_, err = e.svc.Tokenise(ctx, e.prog, "", "203.0.113.2")
	assert.True(t, errors.Is(err, core.ErrInvalid), "an invalid password is refused before it counts: %v", err)
	_, err = e.svc.Tokenise(ctx, e.prog, testPassword, "203.0.113.2")
	assert.NoError(t, err, "another address")
	assert.NoError(t, e.svc.CheckRate(ctx, core.RateLogin, e.prog, "203.0.113.1"), "sign-in has its own counters")
}
