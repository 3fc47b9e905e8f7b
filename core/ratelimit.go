package core

import (
	"context"
	"strconv"
	"time"
)

// CounterWriter keeps expiring counters, the shared state behind rate limits:
// every replica increments the same counter in the store.
type CounterWriter interface {
	// IncrementCounter adds one to the counter under key, starting from zero when
	// it does not exist or expired before now, and returns the new count.
	IncrementCounter(key string, expiresAt, now time.Time) (int, error)
	// DeleteCountersExpired removes counters that expired before t.
	DeleteCountersExpired(t time.Time) (int, error)
}

// RateLimit allows Requests per Window (fixed windows). Zero Requests means no limit.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// RateLimits are the limits on the endpoints that take passwords.
type RateLimits struct {
	LoginPerIP           RateLimit
	LoginPerProgramme    RateLimit
	TokenisePerIP        RateLimit
	TokenisePerProgramme RateLimit
}

// DefaultRateLimits are generous enough for busy programmes and tight enough
// to stop password guessing from one address.
var DefaultRateLimits = RateLimits{
	LoginPerIP:           RateLimit{Requests: 30, Window: time.Minute},
	LoginPerProgramme:    RateLimit{Requests: 60000, Window: time.Minute},
	TokenisePerIP:        RateLimit{Requests: 120, Window: time.Minute},
	TokenisePerProgramme: RateLimit{Requests: 600000, Window: time.Minute},
}

// RateAction names what is being limited.
type RateAction string

// Limited actions.
const (
	RateLogin    RateAction = "login"
	RateTokenise RateAction = "tokenise"
)

// CheckRate counts one request of action from clientIP for prog and fails with
// ErrRateLimited (RetryAfter until the window ends) when a limit is exceeded.
func (s *Service) CheckRate(ctx context.Context, action RateAction, prog *Programme, clientIP string) error {
	perIP, perProg := s.cfg.RateLimits.LoginPerIP, s.cfg.RateLimits.LoginPerProgramme
	if action == RateTokenise {
		perIP, perProg = s.cfg.RateLimits.TokenisePerIP, s.cfg.RateLimits.TokenisePerProgramme
	}
	now := s.clock.Now()
	type check struct {
		key   string
		limit RateLimit
		end   time.Time
	}
	var checks []check
	for _, c := range []struct {
		scope string
		limit RateLimit
	}{{"ip:" + clientIP, perIP}, {"programme", perProg}} {
		if c.limit.Requests <= 0 {
			continue
		}
		start := now.Truncate(c.limit.Window)
		checks = append(checks, check{
			key:   string(action) + "|" + prog.ID + "|" + c.scope + "|" + strconv.FormatInt(start.Unix(), 10),
			limit: c.limit, end: start.Add(c.limit.Window),
		})
	}
	if len(checks) == 0 {
		return nil
	}
	var exceeded *Error
	err := s.store.Update(ctx, func(tx Tx) error {
		exceeded = nil
		for _, c := range checks {
			n, err := tx.IncrementCounter(c.key, c.end, now)
			if err != nil {
				return err
			}
			if n > c.limit.Requests && exceeded == nil {
				exceeded = &Error{Class: ErrRateLimited, Limit: c.limit.Requests, RetryAfter: c.end.Sub(now)}
			}
		}
		return nil
	})
	if err != nil {
		return internal("rate limit", err)
	}
	if exceeded != nil {
		return exceeded
	}
	return nil
}
