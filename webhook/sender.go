// Package webhook sends Deputy's webhook events over HTTP (core.WebhookSender):
// a slow receiver times out, a redirect is not followed but counted as a
// failure, and a connection to a loopback, private or link-local address is
// refused when it is made, after DNS resolution, so that a name that
// resolves to a public address when an endpoint is added cannot be turned
// against the internal network later (DNS rebinding). No proxy is used.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/escape"
)

// DefaultTimeout is how long a receiver has to answer.
const DefaultTimeout = 10 * time.Second

// maxBody is how much of a receiver's answer is read; the rest is dropped.
const maxBody = 64 << 10

// maxHeader bounds a receiver's status line and headers (net/http's default
// is 10 MB, held for each delivery in flight); a larger answer is a failure.
const maxHeader = 64 << 10

// maxError bounds the text of an attempt's error: it quotes what the
// receiver sent (a Location, a malformed line), and each delivery's log
// keeps it in the database.
const maxError = 512

// Sender posts webhook requests. It is safe for concurrent use.
type Sender struct {
	public  *http.Client // refuses private addresses
	private *http.Client // for endpoints that allow them
	agent   string
}

var _ core.WebhookSender = (*Sender)(nil)

// NewSender returns a sender whose requests time out after timeout
// (DefaultTimeout when 0) and say they come from agent (User-Agent).
func NewSender(timeout time.Duration, agent string) *Sender {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Sender{public: newClient(timeout, refusePrivate), private: newClient(timeout, nil), agent: agent}
}

func newClient(timeout time.Duration, control func(network, address string, c syscall.RawConn) error) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    timeout,
			MaxIdleConnsPerHost:    32,
			MaxResponseHeaderBytes: maxHeader,
			IdleConnTimeout:        90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// errPrivate is the error of a connection refused by refusePrivate.
var errPrivate = errors.New("the address is loopback, private or link-local: refused (the endpoint does not allow private addresses)")

// refusePrivate is a dialer's Control: it sees the address actually dialled.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !core.PublicAddress(ap.Addr()) {
		return errPrivate
	}
	return nil
}

// Send posts r and reports the status and Retry-After of the answer, or the
// error that stopped it. It never follows redirects.
func (s *Sender) Send(ctx context.Context, r *core.WebhookRequest) core.WebhookResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return core.WebhookResult{Err: err}
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", s.agent)
	c := s.public
	if r.AllowPrivate {
		c = s.private
	}
	res, err := c.Do(req)
	if err != nil {
		return core.WebhookResult{Err: bounded(err)}
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	out := core.WebhookResult{Status: res.StatusCode, RetryAfter: retryAfter(res.Header.Get("Retry-After"), time.Now())}
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		out.Err = bounded(fmt.Errorf("redirect to %q not followed", res.Header.Get("Location")))
	}
	return out
}

// bounded returns err, or when its text is longer than maxError or holds a
// character that does not print, an error of the text escaped (Go syntax)
// and cut at maxError. The text may quote a receiver raw (crypto/x509 names
// a certificate's DNS names as they are), and `deputy programme webhooks
// deliveries` prints it on the operator's terminal, in a table.
func bounded(err error) error {
	msg := escape.NonPrinting(err.Error())
	if msg == err.Error() && len(msg) <= maxError {
		return err
	}
	if len(msg) <= maxError {
		return errors.New(msg)
	}
	return fmt.Errorf("%s... (%d bytes more)", strings.ToValidUTF8(msg[:maxError], ""), len(msg)-maxError)
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds, or an HTTP date.
// More seconds than a time.Duration holds are the longest one, never a
// product that wrapped around to a short or negative wait.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 64); (err == nil || errors.Is(err, strconv.ErrRange)) && n > 0 {
		return time.Duration(min(n, uint64(math.MaxInt64/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
