// Package client is the typed Go client of Deputy's HTTP API (assets/openapi.yaml),
// the one way the admin TUI, the mobile companion and tests talk to a Deputy server.
//
// It owns the HTTP side of a caller: building requests (the api-key and bearer
// headers, idempotency-ref, JSON bodies), decoding answers into Go types, and the
// single mapping of HTTP failures back to Go errors ([Error] and the sentinel
// classes [ErrInvalid] ... [ErrServer], matched with errors.Is). It imports only
// the standard library, never core or server, so the apps that use it stay light.
//
// A [Client] holds the server's address and the programme's api key and makes
// the calls that need no signed-in user (sign-in, identity creation, passwords,
// invites, the sandbox helpers). [Client.Session] binds a user's bearer token
// and makes the calls on that user's behalf. Both are safe for concurrent use.
//
// Sensitive operations answer [ErrStepUpRequired] until the session has passed a
// second-factor challenge. Callers show the challenge, step up and repeat the
// call; passing the same [IdempotencyRef] on the repeat makes it safe even if
// the first attempt did go through (GUIDE convention 4).
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent sent unless [WithUserAgent] says otherwise.
const DefaultUserAgent = "deputy-go-client/1"

// DefaultTimeout bounds every call made with the default HTTP client.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes caps the bodies the client reads; the largest answer the
// API gives (a page of 100 users) is far below it.
const maxResponseBytes = 4 << 20

// Client calls a Deputy server with one programme's api key. It is safe for
// concurrent use and cheap to share.
type Client struct {
	base      *url.URL
	key       string
	http      *http.Client
	userAgent string
}

// Option configures a [Client].
type Option func(*Client)

// WithHTTPClient makes the client send its requests through h (for timeouts,
// proxies, TLS settings or test transports). A nil h keeps the default, an
// [http.Client] with [DefaultTimeout].
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithUserAgent sets the User-Agent header of every request, e.g.
// "deputy-admin/0.3". An empty agent keeps [DefaultUserAgent].
func WithUserAgent(agent string) Option {
	return func(c *Client) {
		if agent != "" {
			c.userAgent = agent
		}
	}
}

// New returns a client of the Deputy server at baseURL (http or https, with an
// optional path prefix when the server sits behind a proxy, e.g.
// "https://auth.example.com/deputy") using the programme's api key. The server
// decides what each key may call: first-party apps hold the public ui key, an
// embedder's backend the secret key.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("client: base URL %q: scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("client: base URL %q has no host", baseURL)
	case u.User != nil:
		return nil, errors.New("client: base URL must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("client: base URL %q must not have a query or fragment", baseURL)
	}
	if strings.TrimSpace(key) == "" {
		return nil, errors.New("client: api key is required")
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return nil, errors.New("client: api key must be printable ASCII without spaces")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, key: key, http: &http.Client{Timeout: DefaultTimeout}, userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(c)
	}
	if c.http.CheckRedirect == nil {
		h := *c.http
		h.CheckRedirect = refuseRedirect
		c.http = &h
	}
	return c, nil
}

// refuseRedirect stops a redirect: Deputy's API never answers with one, and
// following it would take the api key and device secret headers, and a 307's
// body (a password), to wherever it points.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("client: the server redirected to %s; the API does not redirect", req.URL.Redacted())
}

// BaseURL returns the server address the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// Key returns the api key the client sends (for the admin UI and the
// companion, the programme's public ui key).
func (c *Client) Key() string { return c.key }

// Session returns a view of the client that calls on behalf of the user whose
// bearer token this is (from [Client.LoginWithPassword], a password operation
// or an accepted invite). It makes no call; an empty, expired or revoked token
// shows up as [ErrUnauthorized] on the first call.
func (c *Client) Session(token string) *Session {
	return &Session{c: c, token: token}
}

// CallOption adjusts one call. Only the operations that the API lets repeat
// safely (those declaring the idempotency-ref header) accept CallOptions.
type CallOption func(*call)

// IdempotencyRef sends ref as the idempotency-ref header. For at least 24 hours,
// repeating the call with the same ref and the same input replays the first
// successful answer instead of acting twice; the same ref with different input
// fails with [ErrInvalid], and a repeat while the first call still runs with
// [ErrConflict]. Failed calls are not remembered, so a call that failed (say,
// with [ErrStepUpRequired]) can be retried with the same ref. An empty ref
// sends no header.
func IdempotencyRef(ref string) CallOption {
	return func(c *call) { c.idempotencyRef = ref }
}

// NewIdempotencyRef returns a fresh random reference (128 bits, hex) for
// [IdempotencyRef]. Make one per logical operation and reuse it on every retry
// of that operation.
func NewIdempotencyRef() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// call is one API request.
type call struct {
	op             string     // what the caller asked for, for error texts ("list users")
	method, path   string     // path below the base URL, already escaped
	query          url.Values // nil for none
	in             any        // JSON request body; nil for none
	out            any        // where to decode a JSON answer; nil to ignore it
	noKey          bool       // public endpoints (health probes) take no api key
	token          string     // bearer token; "" for key-level calls
	deviceSecret   string     // the companion device's secret; "" for none
	idempotencyRef string
	operation      string // ForOperation: read by the step-ups, which send it in their body
}

// do performs one call. Every error it returns names the operation: an API
// failure wraps an *Error, anything else (network, context, a malformed
// answer) wraps the underlying error.
func (c *Client) do(ctx context.Context, r *call, opts ...CallOption) error {
	for _, o := range opts {
		o(r)
	}
	u := *c.base
	// r.path is already escaped (see pathID); keep it as sent.
	u.RawPath = c.base.EscapedPath() + r.path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("%s: %w", r.op, err)
	}
	u.Path = p
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	if r.in != nil {
		b, err := json.Marshal(r.in)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s: %w", r.op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.noKey {
		req.Header.Set("api-key", c.key)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.deviceSecret != "" {
		req.Header.Set(DeviceSecretHeader, r.deviceSecret)
	}
	if r.idempotencyRef != "" {
		req.Header.Set("idempotency-ref", r.idempotencyRef)
	}
	res, err := c.http.Do(req)
	if err != nil {
		// The *url.Error repeats the method and URL; the operation name says more.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", r.op, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s: read response: %w", r.op, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("%s: response larger than %d bytes", r.op, maxResponseBytes)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("%s: %w", r.op, fromResponse(res, data, time.Now()))
	}
	if r.out == nil || res.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, r.out); err != nil {
		return fmt.Errorf("%s: decode response: %w", r.op, err)
	}
	return nil
}

// pathID escapes one path segment, refusing those that would change the path's
// shape. The server checks the segment's format.
func pathID(field, id string) (string, error) {
	switch id {
	case "":
		return "", localInvalid(field, ReasonRequired)
	case ".", "..":
		return "", localInvalid(field, ReasonRegex, "^[0-9]+$")
	}
	return url.PathEscape(id), nil
}
