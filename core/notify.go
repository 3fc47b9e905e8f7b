package core

import (
	"context"
	"fmt"
	"slices"
)

// SMS is a text message to one mobile number.
type SMS struct {
	ProgrammeID string
	For         Recipient
	To          Mobile
	Text        string
}

// textCode texts u's mobile text, which carries a one-time code, and counts
// the code sent.
func (s *Service) textCode(ctx context.Context, u *User, text string) error {
	if err := s.send.SMS.SendSMS(ctx, SMS{ProgrammeID: u.ProgrammeID, For: recipientOf(u), To: *u.Mobile, Text: text}); err != nil {
		return err
	}
	s.obs.CodeSent(ctx, ChannelSMS)
	return nil
}

// recipientOf is u as a message's recipient now.
func recipientOf(u *User) Recipient { return Recipient{UserID: u.ID, Roles: slices.Clone(u.Roles)} }

// Email is a message to one address, with a plain-text and an optional HTML body.
type Email struct {
	ProgrammeID string
	For         Recipient
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
	return o.append(ctx, &Message{ProgrammeID: m.ProgrammeID, Recipient: m.For, Channel: "SMS", To: m.To.E164(), Text: m.Text})
}

// SendEmail appends the email (its text body) to the outbox.
func (o *Outbox) SendEmail(ctx context.Context, m Email) error {
	return o.append(ctx, &Message{ProgrammeID: m.ProgrammeID, Recipient: m.For, Channel: "EMAIL", To: m.To, Subject: m.Subject, Text: m.Text})
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
// the messages sent for the users outboxReaders gives, whatever address
// they went to, and of another user's only those sent while c outranked
// them (Message.Roles), among the newest maxOutboxScan of those users'; the
// secret api key (c nil) sees them all. Outside sandbox mode there is no
// outbox.
func (s *Service) Outbox(ctx context.Context, programmeID string, c *Caller, limit int) ([]*Message, error) {
	if !s.cfg.Sandbox {
		return nil, NotFound("outbox")
	}
	if limit <= 0 || limit > maxOutboxPage {
		limit = maxOutboxPage
	}
	s.WaitForMail()
	var out []*Message
	err := s.store.View(ctx, func(tx ReadTx) error {
		out = out[:0]
		if c == nil {
			var err error
			out, err = tx.Outbox(programmeID, nil, 0, limit)
			return err
		}
		users, err := outboxReaders(tx, c)
		if err != nil {
			return err
		}
		// Others' messages the rank of their time hides are read and
		// dropped, a page at a time, until limit remain or maxOutboxScan
		// messages were read.
		var before uint64
		for scanned := 0; len(out) < limit && scanned < maxOutboxScan; {
			ms, err := tx.Outbox(programmeID, users, before, maxOutboxPage)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if len(out) < limit && (m.UserID == c.User.ID || holdsAllOf(c.User, &User{Roles: m.Roles})) {
					out = append(out, m)
				}
			}
			if len(ms) < maxOutboxPage {
				break
			}
			scanned, before = scanned+len(ms), ms[len(ms)-1].Seq
		}
		return nil
	})
	return out, internal("read outbox", err)
}

// maxOutboxPage is the most messages one outbox read returns.
const maxOutboxPage = 100

// maxOutboxScan bounds how many messages one outbox read goes through to
// find those its reader may see.
const maxOutboxScan = 10 * maxOutboxPage

// maxOutboxUsers bounds how many users' messages one outbox read covers.
const maxOutboxUsers = 1000

// outboxReaders lists the users whose sandbox messages c reads: c's own,
// and, when c may manage users, those of c's identity within c's rank
// (requireRank), up to maxOutboxUsers: an admin reads the invite they
// sent. Never someone else's because an address or number is shared, or
// was given by its holder to themselves (nobody checks a mobile is its
// user's until it is enrolled).
func outboxReaders(tx ReadTx, c *Caller) ([]string, error) {
	ids := []string{c.User.ID}
	if !c.Can(PermUsersUpdate) {
		return ids, nil
	}
	const page = 100
	for offset := 0; offset < maxOutboxUsers; offset += page {
		users, total, err := tx.ListUsers(c.User.IdentityID, UserFilter{Offset: offset, Limit: page})
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if u.ID != c.User.ID && requireRank(c, u) == nil {
				ids = append(ids, u.ID)
			}
		}
		if len(users) < page || offset+page >= total {
			break
		}
	}
	return ids, nil
}
