package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SecurityEvent is one audit event about a user: what happened, who did it
// (a user id, "api" or "system"), when, under which request.
type SecurityEvent struct {
	ID         string            `json:"id"`        // opaque
	Timestamp  int64             `json:"timestamp"` // epoch milliseconds
	Action     string            `json:"action"`
	Summary    string            `json:"summary"` // the action in words, for people
	Actor      string            `json:"actor"`
	RequestRef string            `json:"requestRef"`
	Details    map[string]string `json:"details"`
}

// At is the event's time.
func (e SecurityEvent) At() time.Time { return time.UnixMilli(e.Timestamp) }

// SecurityEventPage is a page of events, newest first; Next is the before of
// the next, older page, "" on the last.
type SecurityEventPage struct {
	Events []SecurityEvent `json:"events"`
	Next   string          `json:"next"`
}

// SecurityEvents lists a user's security events, newest first, up to limit
// (1-100) older than before ("" for the newest): their own, or of a user the
// session may manage ([ErrForbidden] RANK_INSUFFICIENT otherwise; Deputy
// userSecurityEvents).
func (s *Session) SecurityEvents(ctx context.Context, id, before string, limit int) (*SecurityEventPage, error) {
	const op = "list security events"
	path, err := userPath(op, id, "/security_events")
	if err != nil {
		return nil, err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if before != "" {
		q.Set("before", before)
	}
	var out SecurityEventPage
	if err := s.do(ctx, &call{op: op, method: http.MethodGet, path: path, query: q, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
