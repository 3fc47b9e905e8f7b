package server

import "github.com/deputyhq/deputy/core"

// securityEventJSON is one audit event about a user (Deputy extension).
type securityEventJSON struct {
	ID         string            `json:"id"`        // opaque: a page's before
	Timestamp  int64             `json:"timestamp"` // epoch milliseconds, as Weavr's timestamps
	Action     string            `json:"action"`
	Summary    string            `json:"summary"` // the action in words
	Actor      string            `json:"actor"`   // a user id, "api" or "system"
	RequestRef string            `json:"requestRef,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

type securityEventsResponse struct {
	Events []securityEventJSON `json:"events"`
	// Next is the before of the next (older) page: its last event's id;
	// absent on the last page.
	Next string `json:"next,omitempty"`
}

// userSecurityEvents serves the Deputy extension GET
// /multi/users/{user_id}/security_events: the user's audit events, newest first.
func (s *Server) userSecurityEvents(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	var f fields
	q := r.URL.Query()
	limit := queryInt(&f, q, "limit", 20, 1, core.MaxSecurityEventsPage)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	es, err := s.svc.SecurityEvents(r.Context(), r.caller, id, q.Get("before"), limit)
	if err != nil {
		return reply{}, err
	}
	out := securityEventsResponse{Events: make([]securityEventJSON, len(es))}
	for i, e := range es {
		out.Events[i] = securityEventJSON{ID: e.ID, Timestamp: e.At.UnixMilli(),
			Action: e.Action, Summary: e.Summary, Actor: e.Actor, RequestRef: e.RequestRef, Details: e.Details}
	}
	if len(es) == limit {
		out.Next = out.Events[len(es)-1].ID
	}
	return ok(out)
}
