package core

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
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

// sendTemplate renders the named email for prog and sends it to one address.
func (s *Service) sendTemplate(ctx context.Context, prog *Programme, to, name string, data map[string]any) error {
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
		ProgrammeID: prog.ID, FromName: from, To: to, Subject: strings.TrimSpace(subject),
		Text: strings.TrimLeft(body, "\n"), HTML: html.String(),
	})
	if err != nil {
		return fmt.Errorf("send %s email: %w", name, err)
	}
	return nil
}

// sendLater sends a templated email in the background, so that the request
// answers without waiting for the mail server: an operation that must take the
// same time whether or not it had someone to write to (LostPasswordStart) uses
// it. A failure is logged, without the message. WaitForMail waits for the
// emails in flight.
func (s *Service) sendLater(ctx context.Context, prog *Programme, to, name string, data map[string]any) {
	s.mailing.RLock()
	go func() {
		defer s.mailing.RUnlock()
		if err := s.sendTemplate(context.WithoutCancel(ctx), prog, to, name, data); err != nil {
			s.log.ErrorContext(ctx, "background email", slog.String("template", name), slog.String("error", err.Error()))
		}
	}()
}

// WaitForMail returns once every email sent in the background so far has been
// handed to the email sender: deputy serve calls it when shutting down, and
// the sandbox outbox before it is read, so that a reader sees every message of
// the requests already answered.
func (s *Service) WaitForMail() {
	s.mailing.Lock()
	s.mailing.Unlock() //nolint:staticcheck // an empty critical section: it waits for the senders' read locks
}
