package core

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
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

// sendTemplate spends one email of to's budget (RateLimits.EmailPerAddress)
// in its own transaction, then renders the named email for prog and sends it.
// Over budget it sends nothing and fails with ErrRateLimited. Operations that
// store a code for the email spend the budget in the transaction that stores
// it (spendEmail) and then call deliverTemplate, so that a refused email
// leaves no code behind.
func (s *Service) sendTemplate(ctx context.Context, prog *Programme, to, name string, data map[string]any) error {
	err := s.store.Update(ctx, func(tx Tx) error { return s.spendEmail(tx, prog, to) })
	if err != nil {
		return internal("email budget", err)
	}
	return s.deliverTemplate(ctx, prog, to, name, data)
}

// spendEmail spends one email to address to from prog's budget, in tx.
func (s *Service) spendEmail(tx Tx, prog *Programme, to string) error {
	return s.spend(tx, newBudget("email", prog.ID, "to:"+NormaliseEmail(to), s.cfg.RateLimits.EmailPerAddress))
}

// deliverTemplate renders the named email for prog and sends it to one
// address; the caller has spent the address's budget.
func (s *Service) deliverTemplate(ctx context.Context, prog *Programme, to, name string, data map[string]any) error {
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
