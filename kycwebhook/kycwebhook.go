// Package kycwebhook is a KYC provider that hands each case to the operator's
// KYC service over HTTP. Deputy POSTs the case as JSON, signed like the
// callbacks (package kycsig: "deputy-signature: t=...,v1=...") with the secret
// both sides share; the service answers 2xx to take the case, and later sends
// its decision, signed the same way, to POST /multi/kyc/callback.
package kycwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/kycsig"
)

// MinSecretLen is the shortest shared secret New accepts (256 bits of hex or base64 text).
const MinSecretLen = 32

// Config describes the KYC service.
type Config struct {
	// URL receives a POST per case.
	URL string
	// Secret signs the cases Deputy sends and verifies the decisions it receives.
	Secret []byte
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration
	// Client is the HTTP client (default a new one with Timeout). Redirects
	// are not followed unless it sets a CheckRedirect of its own.
	Client *http.Client
	// Now is the clock signatures are dated with (default time.Now).
	Now func() time.Time
}

// Provider sends cases to the KYC service.
type Provider struct {
	cfg Config
}

var _ core.KYCProvider = (*Provider)(nil)

// New validates cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// Not quoted: a mistyped URL still holds its credentials.
		return nil, errors.New("kyc webhook: the URL must be an absolute http(s) URL such as https://kyc.example/cases")
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("kyc webhook: the shared secret must be at least %d characters", MinSecretLen)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Client.CheckRedirect == nil {
		c := *cfg.Client
		c.CheckRedirect = stayPut
		cfg.Client = &c
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Provider{cfg: cfg}, nil
}

// stayPut answers a redirect with the redirect itself, which StartKYC then
// refuses as any answer but 2xx: followed, a 307 or 308 would post the
// person's details and a fresh signature wherever it points (plain HTTP
// included), and a 301, 302 or 303 would turn the POST into a GET whose 2xx
// passed for a case taken that the service never received.
func stayPut(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Name is "webhook".
func (*Provider) Name() string { return "webhook" }

// Case is the JSON body of a case.
type Case struct {
	Reference   string   `json:"reference"`
	ProgrammeID string   `json:"programmeId"`
	User        CaseUser `json:"user"`
}

// CaseUser is the person to check.
type CaseUser struct {
	ID          string       `json:"id"`
	IdentityID  string       `json:"identityId"`
	Name        string       `json:"name"`
	Surname     string       `json:"surname"`
	Email       string       `json:"email"`
	Mobile      *core.Mobile `json:"mobile,omitempty"`
	DateOfBirth *core.Date   `json:"dateOfBirth,omitempty"`
}

// StartKYC posts the case; any answer but 2xx is an error, and the case is
// then withdrawn by core.
func (p *Provider) StartKYC(ctx context.Context, r core.KYCRequest) error {
	body, err := json.Marshal(Case{Reference: r.Reference, ProgrammeID: r.ProgrammeID, User: CaseUser{
		ID: r.User.ID, IdentityID: r.User.IdentityID, Name: r.User.Name, Surname: r.User.Surname,
		Email: r.User.Email, Mobile: r.User.Mobile, DateOfBirth: r.User.DateOfBirth,
	}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(kycsig.Header, kycsig.Sign(p.cfg.Secret, p.cfg.Now(), body))
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may carry credentials
		}
		return fmt.Errorf("kyc webhook: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("kyc webhook: the service answered %d", res.StatusCode)
	}
	return nil
}
