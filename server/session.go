package server

// sessionJSON is the Deputy extension sessionGet's answer; times are epoch
// milliseconds, durations seconds.
type sessionJSON struct {
	IdleTimeoutSeconds int64                 `json:"idleTimeoutSeconds"`
	IdleExpiresAt      int64                 `json:"idleExpiresAt"`
	LifetimeSeconds    int64                 `json:"lifetimeSeconds"`
	ExpiresAt          int64                 `json:"expiresAt"`
	ExpiresInSeconds   int64                 `json:"expiresInSeconds"`
	Challenges         challengeLimitsJSON   `json:"challenges"`
	StepUp             *pendingChallengeJSON `json:"stepUp,omitempty"`
	GrantableRoles     []string              `json:"grantableRoles"`
	MayGrantAll        bool                  `json:"mayGrantAll"`
}

type challengeLimitsJSON struct {
	CodeLength         int   `json:"codeLength"`
	TTLSeconds         int64 `json:"ttlSeconds"`
	Attempts           int   `json:"attempts"`
	ResendAfterSeconds int64 `json:"resendAfterSeconds"`
}

type pendingChallengeJSON struct {
	ExpiresAt    int64 `json:"expiresAt"`
	AttemptsLeft int   `json:"attemptsLeft"`
	ResendAt     int64 `json:"resendAt"`
}

// sessionGet serves the Deputy extension GET /multi/session: the caller's
// session, the limits of its challenges and the roles it may grant.
func (s *Server) sessionGet(r *request) (reply, error) {
	info, err := s.svc.SessionInfo(r.Context(), r.caller)
	if err != nil {
		return reply{}, err
	}
	lim := info.Challenges
	out := sessionJSON{
		IdleTimeoutSeconds: int64(info.IdleTimeout.Seconds()),
		IdleExpiresAt:      info.IdleExpiresAt.UnixMilli(),
		LifetimeSeconds:    int64(info.Lifetime.Seconds()),
		ExpiresAt:          info.ExpiresAt.UnixMilli(),
		ExpiresInSeconds:   int64(info.ExpiresIn.Seconds()),
		Challenges: challengeLimitsJSON{CodeLength: lim.CodeLength, TTLSeconds: int64(lim.TTL.Seconds()),
			Attempts: lim.Attempts, ResendAfterSeconds: int64(lim.ResendAfter.Seconds())},
		GrantableRoles: make([]string, 0, len(info.GrantableRoles)),
		MayGrantAll:    info.MayGrantAll,
	}
	if st := info.StepUp; st != nil {
		out.StepUp = &pendingChallengeJSON{ExpiresAt: st.ExpiresAt.UnixMilli(), AttemptsLeft: st.AttemptsLeft, ResendAt: st.ResendAt.UnixMilli()}
	}
	for _, r := range info.GrantableRoles {
		out.GrantableRoles = append(out.GrantableRoles, string(r))
	}
	return ok(out)
}
