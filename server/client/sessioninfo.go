package client

import (
	"context"
	"net/http"
	"time"
)

// SessionInfo is the signed-in session and the limits it works within
// (Deputy sessionGet): the numbers a UI shows instead of typing them in.
type SessionInfo struct {
	IdleTimeout   time.Duration // the session ends after this long without a call
	IdleExpiresAt time.Time     // when it ends unless another call is made (never after ExpiresAt)
	ExpiresAt     time.Time     // when it ends at the latest, however active (its sign-in's lifetime)
	ExpiresIn     time.Duration // how long until then, by the server's clock when it answered
	Challenges    ChallengeLimits
	// StepUp is the session's SMS step-up challenge still waiting for a
	// code, nil when none is.
	StepUp *PendingChallenge
	// GrantableRoles are the roles the caller may give a user (the rank
	// rule), in the order of [Session.Roles].
	GrantableRoles []string
	// MayGrantAll says whether the caller may leave a user without roles,
	// who then holds every permission.
	MayGrantAll bool
}

// ChallengeLimits are the numbers of a one-time code challenge.
type ChallengeLimits struct {
	CodeLength  int           // digits in a code
	TTL         time.Duration // a code's life
	Attempts    int           // wrong codes one code allows (the programme's setting)
	ResendAfter time.Duration // the least time between two codes
}

// PendingChallenge is where a challenge waiting for a code stands.
type PendingChallenge struct {
	ExpiresAt    time.Time
	AttemptsLeft int
	ResendAt     time.Time // when a new code may be asked for
}

type sessionResponse struct {
	IdleTimeoutSeconds int64 `json:"idleTimeoutSeconds"`
	IdleExpiresAt      int64 `json:"idleExpiresAt"`
	ExpiresAt          int64 `json:"expiresAt"`
	ExpiresInSeconds   int64 `json:"expiresInSeconds"`
	Challenges         struct {
		CodeLength         int   `json:"codeLength"`
		TTLSeconds         int64 `json:"ttlSeconds"`
		Attempts           int   `json:"attempts"`
		ResendAfterSeconds int64 `json:"resendAfterSeconds"`
	} `json:"challenges"`
	StepUp *struct {
		ExpiresAt    int64 `json:"expiresAt"`
		AttemptsLeft int   `json:"attemptsLeft"`
		ResendAt     int64 `json:"resendAt"`
	} `json:"stepUp"`
	GrantableRoles []string `json:"grantableRoles"`
	MayGrantAll    bool     `json:"mayGrantAll"`
}

// Info reads the session's idle timeout, the limits of its challenges and
// the roles its user may grant (Deputy sessionGet).
func (s *Session) Info(ctx context.Context) (*SessionInfo, error) {
	var in sessionResponse
	if err := s.do(ctx, &call{op: "read the session", method: http.MethodGet, path: "/multi/session", out: &in}); err != nil {
		return nil, err
	}
	c := in.Challenges
	out := &SessionInfo{
		IdleTimeout:   time.Duration(in.IdleTimeoutSeconds) * time.Second,
		IdleExpiresAt: millis(in.IdleExpiresAt),
		ExpiresAt:     millis(in.ExpiresAt),
		ExpiresIn:     time.Duration(in.ExpiresInSeconds) * time.Second,
		Challenges: ChallengeLimits{CodeLength: c.CodeLength, TTL: time.Duration(c.TTLSeconds) * time.Second,
			Attempts: c.Attempts, ResendAfter: time.Duration(c.ResendAfterSeconds) * time.Second},
		GrantableRoles: in.GrantableRoles,
		MayGrantAll:    in.MayGrantAll,
	}
	if st := in.StepUp; st != nil {
		out.StepUp = &PendingChallenge{ExpiresAt: millis(st.ExpiresAt), AttemptsLeft: st.AttemptsLeft, ResendAt: millis(st.ResendAt)}
	}
	return out, nil
}
