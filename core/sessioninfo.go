package core

import (
	"context"
	"errors"
	"time"
)

// SessionInfo is what a signed-in client is told about its session and the
// limits it works within (a Deputy extension, sessionGet), so that the admin
// UI and the companion show the server's numbers instead of typing them in
// (GUIDE "One source of numbers and codes").
type SessionInfo struct {
	// IdleTimeout ends the session after this long without a call.
	IdleTimeout time.Duration
	// IdleExpiresAt is when the session ends unless another call is made:
	// the idle timeout's end, or ExpiresAt when that comes first.
	IdleExpiresAt time.Time
	// Lifetime ends the session this long after its sign-in, however active.
	Lifetime time.Duration
	// ExpiresAt is when the session ends at the latest, and ExpiresIn how
	// long until then: what a client whose clock differs can count down.
	ExpiresAt time.Time
	ExpiresIn time.Duration
	// Challenges are the limits of a one-time code challenge.
	Challenges ChallengeLimits
	// StepUp is the session's pending SMS step-up challenge, nil when none is
	// waiting for a code.
	StepUp *PendingChallenge
	// GrantableRoles are the roles the caller may give a user (the rank rule:
	// each holds no permission the caller lacks), in the role table's order.
	GrantableRoles []Role
	// MayGrantAll says whether the caller may leave a user without roles,
	// who then holds every permission.
	MayGrantAll bool
}

// ChallengeLimits are the numbers of one-time code challenges.
type ChallengeLimits struct {
	CodeLength  int           // digits in a code
	TTL         time.Duration // a code's life
	Attempts    int           // wrong codes one code allows (the programme's setting)
	ResendAfter time.Duration // the least time between two codes
}

// PendingChallenge is where a pending challenge stands.
type PendingChallenge struct {
	ExpiresAt    time.Time
	AttemptsLeft int
	ResendAt     time.Time // when a new code may be asked for
}

// SessionInfo describes the caller's session (Deputy extension sessionGet).
func (s *Service) SessionInfo(ctx context.Context, c *Caller) (*SessionInfo, error) {
	info := &SessionInfo{
		IdleTimeout:   s.cfg.SessionIdle,
		IdleExpiresAt: c.Session.LastSeen.Add(s.cfg.SessionIdle),
		Lifetime:      s.cfg.SessionLifetime,
		ExpiresAt:     c.Session.CreatedAt.Add(s.cfg.SessionLifetime),
		Challenges: ChallengeLimits{CodeLength: CodeLength, TTL: s.cfg.ChallengeTTL,
			Attempts: c.Programme.Settings.AttemptsPerChallenge(), ResendAfter: s.cfg.ReissueInterval},
		MayGrantAll: requireRank(c, &User{}) == nil,
	}
	for _, ri := range roleTable {
		if requireRank(c, &User{Roles: []Role{ri.Role}}) == nil {
			info.GrantableRoles = append(info.GrantableRoles, ri.Role)
		}
	}
	if info.ExpiresAt.Before(info.IdleExpiresAt) { // near its end, the session never idles out
		info.IdleExpiresAt = info.ExpiresAt
	}
	now := s.clock.Now()
	info.ExpiresIn = max(info.ExpiresAt.Sub(now), 0) // the clock may have moved past it since admission
	err := s.store.View(ctx, func(tx ReadTx) error {
		ch, err := tx.Challenge(c.Session.TokenHash, PurposeStepUpSMS)
		switch {
		case errors.Is(err, ErrRecordNotFound):
			return nil
		case err != nil:
			return err
		}
		if ch.State == ChallengePending && now.Before(ch.ExpiresAt) && ch.Attempts < ch.MaxAttempts {
			info.StepUp = &PendingChallenge{ExpiresAt: ch.ExpiresAt, AttemptsLeft: ch.MaxAttempts - ch.Attempts,
				ResendAt: ch.IssuedAt.Add(s.cfg.ReissueInterval)}
		}
		return nil
	})
	if err != nil {
		return nil, internal("read session", err)
	}
	return info, nil
}
