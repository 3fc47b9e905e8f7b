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
	// Counter returns the count under key and when it expires: 0 and the zero
	// time when it does not exist or expired before now.
	Counter(key string, now time.Time) (int, time.Time, error)
	// SetCounter stores count under key until expiresAt.
	SetCounter(key string, count int, expiresAt time.Time) error
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
	rc := s.rateCounters(action, prog, clientIP)
	if len(rc.checks) == 0 {
		return nil
	}
	var exceeded *Error
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		exceeded, err = rc.count(tx)
		return err
	})
	if err != nil {
		return internal("rate limit", err)
	}
	if exceeded != nil {
		return exceeded
	}
	return nil
}

// rateCounters are the counters one request increments.
type rateCounters struct {
	now    time.Time
	checks []rateCheck
}

type rateCheck struct {
	key   string
	limit RateLimit
	end   time.Time
}

// rateCounters returns the counters of the limits in force on action for a
// request from clientIP to prog: per address first, then per programme.
func (s *Service) rateCounters(action RateAction, prog *Programme, clientIP string) rateCounters {
	perIP, perProg := s.cfg.RateLimits.LoginPerIP, s.cfg.RateLimits.LoginPerProgramme
	if action == RateTokenise {
		perIP, perProg = s.cfg.RateLimits.TokenisePerIP, s.cfg.RateLimits.TokenisePerProgramme
	}
	rc := rateCounters{now: s.clock.Now()}
	for _, c := range []struct {
		scope string
		limit RateLimit
	}{{"ip:" + clientIP, perIP}, {"programme", perProg}} {
		if c.limit.Requests <= 0 {
			continue
		}
		start := rc.now.Truncate(c.limit.Window)
		rc.checks = append(rc.checks, rateCheck{
			key:   string(action) + "|" + prog.ID + "|" + c.scope + "|" + strconv.FormatInt(start.Unix(), 10),
			limit: c.limit, end: start.Add(c.limit.Window),
		})
	}
	return rc
}

// count increments the counters in tx and returns the rate-limit error of the
// first limit exceeded, or nil. The per-address check comes first and a call it
// refuses stops there: one address hammering away must not use up the whole
// programme's budget.
func (rc rateCounters) count(tx Tx) (*Error, error) {
	for _, c := range rc.checks {
		n, err := tx.IncrementCounter(c.key, c.end, rc.now)
		if err != nil {
			return nil, err
		}
		if n > c.limit.Requests {
			inForce := make([]RateLimit, len(rc.checks))
			for i, c := range rc.checks {
				inForce[i] = c.limit
			}
			return &Error{Class: ErrRateLimited, Limit: c.limit.Requests, Limits: inForce, RetryAfter: c.end.Sub(rc.now)}, nil
		}
	}
	return nil, nil
}
