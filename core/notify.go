package core

import (
	"context"
	"fmt"
)

// SMS is a text message to one mobile number.
type SMS struct {
	ProgrammeID string
	UserID      string // the user it is for
	To          Mobile
	Text        string
}

// Email is a message to one address, with a plain-text and an optional HTML body.
type Email struct {
	ProgrammeID string
	UserID      string // the user it is for
	FromName    string
	To          string
	Subject     string
	Text        string
	HTML        string
}

// SMSSender delivers text messages (a carrier gateway, or the sandbox outbox).
type SMSSender interface {
	SendSMS(ctx context.Context, m SMS) error
}

// EmailSender delivers emails (SMTP, or the sandbox outbox).
type EmailSender interface {
	SendEmail(ctx context.Context, m Email) error
}

// Outbox is the sandbox's sender: it keeps messages in the store instead of
// sending them, where GET /multi/sandbox/outbox can read them.
type Outbox struct {
	store Store
	clock Clock
}

var (
	_ SMSSender   = (*Outbox)(nil)
	_ EmailSender = (*Outbox)(nil)
)

// NewOutbox returns a sandbox sender writing to store.
func NewOutbox(store Store, clock Clock) *Outbox { return &Outbox{store: store, clock: clock} }

// SendSMS appends the text message to the outbox.
func (o *Outbox) SendSMS(ctx context.Context, m SMS) error {
	return o.append(ctx, &Message{ProgrammeID: m.ProgrammeID, UserID: m.UserID, Channel: "SMS", To: m.To.E164(), Text: m.Text})
}

// SendEmail appends the email (its text body) to the outbox.
func (o *Outbox) SendEmail(ctx context.Context, m Email) error {
	return o.append(ctx, &Message{ProgrammeID: m.ProgrammeID, UserID: m.UserID, Channel: "EMAIL", To: m.To, Subject: m.Subject, Text: m.Text})
}

func (o *Outbox) append(ctx context.Context, m *Message) error {
	m.At = o.clock.Now()
	err := o.store.Update(ctx, func(tx Tx) error {
		c := *m
		return tx.AppendOutbox(&c)
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Outbox returns up to limit sandbox messages of a programme, newest first.
// A signed-in user (c not nil: the public ui key with the user's token) sees
// only the messages sent for them, not those to an address or number they
// share with someone, or gave themselves; the secret api key (c nil) sees
// them all. Outside sandbox mode there is no outbox.
func (s *Service) Outbox(ctx context.Context, programmeID string, c *Caller, limit int) ([]*Message, error) {
	if !s.cfg.Sandbox {
		return nil, NotFound("outbox")
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	var userID string
	if c != nil {
		userID = c.User.ID
	}
	s.WaitForMail()
	var out []*Message
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		out, err = tx.Outbox(programmeID, userID, limit)
		return err
	})
	return out, internal("read outbox", err)
}
