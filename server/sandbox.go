package server

import (
	"strconv"
	"time"

	"github.com/deputyhq/deputy/core"
)

type outboxMessage struct {
	Channel   string `json:"channel"`
	To        string `json:"to"`
	Subject   string `json:"subject,omitempty"`
	Text      string `json:"text"`
	CreatedAt int64  `json:"createdAt"`
}

type outboxResponse struct {
	Messages []outboxMessage `json:"messages"`
}

// sandboxOutbox lists the messages the sandbox would have sent, newest first:
// all of the programme's with the secret key, the caller's own with a user's token.
func (s *Server) sandboxOutbox(r *request) (reply, error) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return reply{}, core.Invalid("limit", core.ReasonRange, "1", "100")
		}
		limit = n
	}
	msgs, err := s.svc.Outbox(r.Context(), r.prog.ID, r.caller, limit)
	if err != nil {
		return reply{}, err
	}
	out := outboxResponse{Messages: make([]outboxMessage, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, outboxMessage{Channel: m.Channel, To: m.To, Subject: m.Subject, Text: m.Text, CreatedAt: m.At.UnixMilli()})
	}
	return ok(out)
}

type clockRequest struct {
	AdvanceSeconds *int64 `json:"advanceSeconds"`
}

type clockResponse struct {
	Now int64 `json:"now"`
}

// maxClockAdvance bounds one move of the sandbox clock (a year).
const maxClockAdvance = 365 * 24 * 3600

// sandboxClock moves the sandbox's test clock forward.
func (s *Server) sandboxClock(r *request) (reply, error) {
	var in clockRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	switch {
	case in.AdvanceSeconds == nil:
		return reply{}, core.Invalid("advanceSeconds", core.ReasonRequired)
	case *in.AdvanceSeconds < 0 || *in.AdvanceSeconds > maxClockAdvance:
		return reply{}, core.Invalid("advanceSeconds", core.ReasonRange, "0", strconv.Itoa(maxClockAdvance))
	}
	s.clock.Advance(time.Duration(*in.AdvanceSeconds) * time.Second)
	return ok(clockResponse{Now: s.clock.Now().UnixMilli()})
}
