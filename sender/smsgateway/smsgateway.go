// Package smsgateway sends text messages through an HTTP SMS gateway. The
// request is a form POST whose URL, credentials and field names are configured,
// so that most carriers' "send SMS" APIs fit without code. Failures are retried
// with exponential backoff on 5xx answers and network errors; the message text
// (which holds a one-time code) is never logged or put in an error.
package smsgateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deputyhq/deputy/core"
)

// Config describes the gateway.
type Config struct {
	// URL receives a POST with an application/x-www-form-urlencoded body.
	URL string
	// Username and Password, when set, are sent as HTTP basic auth.
	Username, Password string
	// BearerToken, when set, is sent as "Authorization: Bearer ...".
	BearerToken string
	// From is the sender id or number, sent in FromField when both are set.
	From string
	// Field names of the form; defaults "To", "From", "Body" (Twilio's names).
	ToField, FromField, TextField string
	// Extra fields sent with every message (e.g. an account id).
	Extra map[string]string
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// Attempts is the total number of tries on retryable failures (default 3).
	Attempts int
	// Backoff is the wait before the first retry, doubled after each (default 500ms).
	Backoff time.Duration
	// Client is the HTTP client (default a new one with Timeout).
	Client *http.Client
}

// Sender delivers SMS through the gateway.
type Sender struct {
	cfg    Config
	wait   func(ctx context.Context, d time.Duration) error
	target *url.URL
}

var _ core.SMSSender = (*Sender)(nil)

// New validates cfg and returns a Sender.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// Not quoted: a mistyped URL still holds its credentials.
		return nil, errors.New("sms gateway: the URL must be an absolute http(s) URL such as https://gateway.example/send")
	}
	if cfg.ToField == "" {
		cfg.ToField = "To"
	}
	if cfg.FromField == "" {
		cfg.FromField = "From"
	}
	if cfg.TextField == "" {
		cfg.TextField = "Body"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	return &Sender{cfg: cfg, wait: sleepCtx, target: u}, nil
}

// SendSMS posts the message, retrying retryable failures.
func (s *Sender) SendSMS(ctx context.Context, m core.SMS) error {
	form := url.Values{}
	for k, v := range s.cfg.Extra {
		form.Set(k, v)
	}
	form.Set(s.cfg.ToField, m.To.CountryCode+m.To.Number)
	if s.cfg.From != "" {
		form.Set(s.cfg.FromField, s.cfg.From)
	}
	form.Set(s.cfg.TextField, m.Text)
	body := form.Encode()

	backoff := s.cfg.Backoff
	var last error
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		retry, err := s.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == s.cfg.Attempts {
			break
		}
		if err := s.wait(ctx, backoff); err != nil {
			return fmt.Errorf("sms gateway: %w (after %d attempts; last: %v)", err, attempt, last)
		}
		backoff *= 2
	}
	return fmt.Errorf("sms gateway %s: %w", s.target.Host, last)
}

// post makes one attempt and says whether a failure is worth retrying.
func (s *Sender) post(ctx context.Context, body string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, strings.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch {
	case s.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	case s.cfg.Username != "":
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		// Network errors carry the URL, never the body; strip it to the cause anyway.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return true, fmt.Errorf("request failed: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return false, nil
	case res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("gateway answered %d", res.StatusCode)
	default:
		// The status code alone: the gateway's reason phrase is its own text,
		// unbounded and unescaped, and this error goes to the logs.
		return false, fmt.Errorf("gateway refused the message: %d", res.StatusCode)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
