package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"runtime/debug"
	"strings"
	texttemplate "text/template"

	"github.com/deputyhq/deputy/assets"
)

// mailTemplates are the parsed email templates of assets/templates.
type mailTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

func loadMailTemplates() (*mailTemplates, error) {
	fsys := assets.Templates()
	text, err := texttemplate.New("").Option("missingkey=error").ParseFS(fsys, "*.txt")
	if err != nil {
		return nil, fmt.Errorf("email templates: %w", err)
	}
	html, err := htmltemplate.New("").Option("missingkey=error").ParseFS(fsys, "*.html")
	if err != nil {
		return nil, fmt.Errorf("email templates: %w", err)
	}
	return &mailTemplates{text: text, html: html}, nil
}

// spendEmail spends one email to address to from programme's budget
// (RateLimits.EmailPerAddress), and one of each further budget also, in tx.
// Operations that store a code for the email spend it in the transaction
// that stores it and then call deliverTemplate (now, or later), so that a
// refused email leaves no code behind.
func (s *Service) spendEmail(tx Tx, programmeID, to string, also ...budget) error {
	return s.spend(tx, append([]budget{newBudget("email", programmeID, mailboxKey(to), s.cfg.RateLimits.EmailPerAddress)}, also...)...)
}

// mailboxKey is what per-address email budgets count an address under: its
// mailbox, the canonical email without a "+tag" in its local part. Most
// providers deliver ada+1@example.com and ada+2@example.com to the one
// inbox of ada@example.com, so counting each form apart would let whoever
// creates users (or identities) with such addresses flood that inbox with
// invites, codes or notices, each address within its own budget. Users with
// those addresses stay distinct accounts: only the budget is shared.
func mailboxKey(to string) string {
	email := NormaliseEmail(to)
	at := strings.LastIndexByte(email, '@')
	if plus := strings.IndexByte(email, '+'); plus > 0 && plus < at {
		email = email[:plus] + email[at:]
	}
	return "to:" + email
}

// emailCodesBudget is the budget of one-time codes emailed to an address
// (RateLimits.EmailCodesPerAddress), which a code also spends beside the
// address's email budget.
func (s *Service) emailCodesBudget(programmeID, to string) budget {
	return newBudget("email-codes", programmeID, mailboxKey(to), s.cfg.RateLimits.EmailCodesPerAddress)
}

// deliverTemplate renders the named email for prog and sends it to one
// address, for the user rcpt; the caller has spent the address's budget.
func (s *Service) deliverTemplate(ctx context.Context, prog *Programme, rcpt Recipient, to, name string, data map[string]any) error {
	data["Programme"] = prog.Name
	var text, html bytes.Buffer
	if err := s.mail.text.ExecuteTemplate(&text, name+".txt", data); err != nil {
		return fmt.Errorf("render %s email: %w", name, err)
	}
	if err := s.mail.html.ExecuteTemplate(&html, name+".html", data); err != nil {
		return fmt.Errorf("render %s email: %w", name, err)
	}
	subject, body, _ := strings.Cut(text.String(), "\n")
	from := prog.Settings.SenderName
	if from == "" {
		from = prog.Name
	}
	err := s.send.Email.SendEmail(ctx, Email{
		ProgrammeID: prog.ID, For: rcpt, FromName: from, To: to, Subject: strings.TrimSpace(subject),
		Text: strings.TrimLeft(body, "\n"), HTML: html.String(),
	})
	if err != nil {
		return fmt.Errorf("send %s email: %w", name, err)
	}
	return nil
}

// noticeBudget names which of an address's notice budgets (each
// RateLimits.NoticesPerAddress) a notice spends.
type noticeBudget string

const (
	// ownNotices: notices about the addressee's own account.
	ownNotices noticeBudget = "notice"
	// adminNotices: alerts to an admin about another user, which any
	// member may provoke ("I did not do this" on their own phone, again
	// and again): a budget apart, so that spending it keeps no notice of
	// a change to the admin's own account from them.
	adminNotices noticeBudget = "admin-notice"
)

// noticeLater sends a notice in the background, spending one of the
// address's notice budgets (which) first; over it the notice is dropped and
// logged. Notices follow changes an attacker may provoke (a lockout), whose
// answer must not wait for, nor depend on, a mail server.
func (s *Service) noticeLater(ctx context.Context, prog *Programme, which noticeBudget, rcpt Recipient, to, name string, data map[string]any) {
	s.later(ctx, name, func(ctx context.Context) error {
		if err := s.store.Update(ctx, func(tx Tx) error { return s.spendNotice(tx, which, prog.ID, to) }); err != nil {
			return internal("notice budget", err)
		}
		return s.deliverTemplate(ctx, prog, rcpt, to, name, data)
	})
}

// spendNotice spends one notice to address to from programme's budget
// which, in tx.
func (s *Service) spendNotice(tx Tx, which noticeBudget, programmeID, to string) error {
	return s.spend(tx, newBudget(string(which), programmeID, mailboxKey(to), s.cfg.RateLimits.NoticesPerAddress))
}

// spendLater spends a notice of the address's budget in the background and
// sends nothing: the store work of a notice, for a change that has no one to
// tell (an unknown email's lockout), so that it looks like a known one's.
func (s *Service) spendLater(ctx context.Context, programmeID, to string) {
	s.later(ctx, "decoy notice", func(ctx context.Context) error {
		err := s.store.Update(ctx, func(tx Tx) error { return s.spendNotice(tx, ownNotices, programmeID, to) })
		if errors.Is(err, ErrRateLimited) {
			return nil
		}
		return err
	})
}

// later runs work that follows a request's answer in the background: an
// email's, or a password reset's lookup, codes and emails. It logs a failure
// (never a message or a code) or a panic, which the answer no longer
// catches, and counts it (Observer.BackgroundFailed); WaitForMail waits for
// it.
func (s *Service) later(ctx context.Context, what string, run func(context.Context) error) {
	s.background.RLock()
	go func() {
		defer s.background.RUnlock()
		defer func() {
			if p := recover(); p != nil {
				s.obs.BackgroundFailed(ctx)
				s.log.ErrorContext(ctx, "background work panicked", slog.String("work", what), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			}
		}()
		if err := run(context.WithoutCancel(ctx)); err != nil {
			if !errors.Is(err, ErrRateLimited) {
				s.obs.BackgroundFailed(ctx)
			}
			s.log.ErrorContext(ctx, "background work failed", slog.String("work", what), slog.String("error", err.Error()))
		}
	}()
}

// WaitForMail returns once every email sent in the background so far has been
// handed to the email sender, and every push event to the push relay (relay):
// deputy serve calls it when shutting down, and the sandbox outbox before it
// is read, so that a reader sees every message of the requests already
// answered.
func (s *Service) WaitForMail() {
	s.background.Lock()
	//lint:ignore SA2001 an empty critical section: taking the lock waits for the senders' read locks
	s.background.Unlock()
}
