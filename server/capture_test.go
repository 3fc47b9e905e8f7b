package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/teststore"
	"github.com/deputyhq/deputy/password"
)

// These tests are in package server to reach the capture handlers; they start the
// whole HTTP API over a real bbolt file, as the server_test tests do.

// embedderOrigin is the web origin the test programme allows.
const embedderOrigin = "http://localhost:5555"

type captureEnv struct {
	url           string
	svc           *core.Service
	prog          *core.Programme
	apiKey, uiKey string
	logs          *lockedBuffer
	handler       *Server
}

func newCaptureEnv(t *testing.T, opts Options) *captureEnv {
	t.Helper()
	store := teststore.Open(t)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := core.NewOffsetClock(nil)
	outbox := core.NewOutbox(store, clock)
	ctx := context.Background()
	cfg := core.Config{Sandbox: true, Logger: log, RateLimits: &core.RateLimits{},
		PasswordParams: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	svc, err := core.New(ctx, cfg, store, core.Integrations{SMS: outbox, Email: outbox, KYC: core.SandboxKYC{}}, clock)
	require.NoError(t, err)
	opts.Logger, opts.Clock = log, clock
	h, err := New(svc, opts)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	p, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Capture", Settings: core.ProgrammeSettings{AllowedOrigins: []string{embedderOrigin}}})
	require.NoError(t, err)
	return &captureEnv{url: ts.URL, svc: svc, prog: p.Programme, apiKey: p.APIKey, uiKey: p.UIKey, logs: logs, handler: h}
}

type captureResp struct {
	status int
	header http.Header
	body   string
}

// do sends a request; headers alternate name and value.
func (e *captureEnv) do(t *testing.T, method, path, body string, headers ...string) captureResp {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return captureResp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func capturePath(key, origin, mode string) string {
	q := url.Values{}
	for name, v := range map[string]string{"key": key, "origin": origin, "mode": mode} {
		if v != "" {
			q.Set(name, v)
		}
	}
	return "/secure/capture?" + q.Encode()
}

func TestSecureStaticFiles(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	for _, tc := range []struct{ path, file, contentType, corp string }{
		{"/secure/deputy-secure.js", "deputy-secure.js", "text/javascript; charset=utf-8", "cross-origin"},
		{"/secure/capture.js", "capture.js", "text/javascript; charset=utf-8", "same-origin"},
		{"/secure/capture.css", "capture.css", "text/css; charset=utf-8", "same-origin"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want, err := fs.ReadFile(assets.Secure(), tc.file)
			require.NoError(t, err)
			r := e.do(t, "GET", tc.path, "")
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, string(want), r.body)
			assert.Equal(t, tc.contentType, r.header.Get("Content-Type"))
			assert.Equal(t, "public, max-age=3600", r.header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
			assert.Equal(t, tc.corp, r.header.Get("Cross-Origin-Resource-Policy"))
			assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"), "a script needs no CORS to run")
			etag := r.header.Get("ETag")
			require.NotEmpty(t, etag)
			assert.Equal(t, http.StatusNotModified, e.do(t, "GET", tc.path, "", "If-None-Match", etag).status)
		})
	}
	assert.Equal(t, http.StatusNotFound, e.do(t, "GET", "/secure/capture.html", "").status, "the template is not served raw")
	assert.Equal(t, http.StatusNotFound, e.do(t, "GET", "/secure/error.html", "").status)
}

var (
	reScriptTag = regexp.MustCompile(`<script[^>]*>`)
	reInline    = regexp.MustCompile(`(?i)\s(style|on[a-z]+)\s*=`)
)

func TestCapturePage(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	ctx := context.Background()

	r := e.do(t, "GET", capturePath(e.uiKey, embedderOrigin, "new"), "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors "+embedderOrigin, r.header.Get("Content-Security-Policy"))
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, r.body, `data-origin="`+embedderOrigin+`"`)
	assert.Contains(t, r.body, `data-key="`+e.uiKey+`"`)
	assert.Contains(t, r.body, `autocomplete="new-password"`)
	for _, rule := range (password.Weavr{}).Describe() {
		assert.Contains(t, r.body, `data-rule="`+rule.ID+`"`)
		assert.Contains(t, r.body, rule.Text)
	}
	assert.Contains(t, r.body, `data-rule="length" data-min="8" data-max="30"`)
	assert.Equal(t, []string{`<script src="/secure/capture.js" defer>`}, reScriptTag.FindAllString(r.body, -1), "no inline script")
	assert.Empty(t, reInline.FindAllString(r.body, -1), "no inline style or event handler")

	r = e.do(t, "GET", capturePath(e.uiKey, embedderOrigin, ""), "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, `data-mode="new"`, "new is the default mode")

	r = e.do(t, "GET", capturePath(e.uiKey, embedderOrigin, "current"), "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, `autocomplete="current-password"`)
	assert.NotContains(t, r.body, `data-rule=`, "signing in shows no policy")

	t.Run("origins compare in their serialised form", func(t *testing.T) {
		r := e.do(t, "GET", capturePath(e.uiKey, "HTTP://LocalHost:5555", "new"), "")
		require.Equal(t, http.StatusOK, r.status)
		assert.True(t, strings.HasSuffix(r.header.Get("Content-Security-Policy"), "; frame-ancestors "+embedderOrigin))
		assert.Contains(t, r.body, `data-origin="`+embedderOrigin+`"`)
	})

	t.Run("NIST profile", func(t *testing.T) {
		_, err := e.svc.UpdateProgrammeSettings(ctx, e.prog.ID, nil, core.ProgrammeSettings{
			PasswordProfile: "nist", AllowedOrigins: []string{"https://shop.example:443", embedderOrigin}})
		require.NoError(t, err)
		r := e.do(t, "GET", capturePath(e.uiKey, "https://shop.example", "new"), "")
		require.Equal(t, http.StatusOK, r.status, "a default port in the setting still matches")
		assert.Contains(t, r.body, `data-rule="length" data-min="8" data-max="100"`)
		assert.Contains(t, r.body, `data-rule="common"`)
		assert.Contains(t, r.body, `data-rule="repeated"`)
		assert.NotContains(t, r.body, `data-rule="upper"`)
	})

	t.Run("a rotated ui key works through its grace period", func(t *testing.T) {
		fresh, err := e.svc.RotateKey(ctx, e.prog.ID, core.UIKey, time.Hour)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, e.do(t, "GET", capturePath(e.uiKey, embedderOrigin, "new"), "").status)
		assert.Equal(t, http.StatusOK, e.do(t, "GET", capturePath(fresh, embedderOrigin, "new"), "").status)
	})
}

func TestCapturePageRefusals(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	for _, tc := range []struct {
		name, key, origin, mode string
		status                  int
	}{
		{"unknown key", "dpk_unknown", embedderOrigin, "new", http.StatusForbidden},
		{"secret key", e.apiKey, embedderOrigin, "new", http.StatusForbidden},
		{"origin not allowed", e.uiKey, "http://localhost:5556", "new", http.StatusForbidden},
		{"other scheme", e.uiKey, "https://localhost:5555", "new", http.StatusForbidden},
		{"no key", "", embedderOrigin, "new", http.StatusBadRequest},
		{"no origin", e.uiKey, "", "new", http.StatusBadRequest},
		{"opaque origin", e.uiKey, "null", "new", http.StatusBadRequest},
		{"origin with a path", e.uiKey, embedderOrigin + "/page", "new", http.StatusBadRequest},
		{"origin injecting a CSP source", e.uiKey, embedderOrigin + " https://evil.example", "new", http.StatusBadRequest},
		{"unknown mode", e.uiKey, embedderOrigin, "old", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", capturePath(tc.key, tc.origin, tc.mode), "")
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Equal(t, refusedCSP, r.header.Get("Content-Security-Policy"), "nobody may frame a refusal")
			assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
			assert.NotContains(t, r.body, "data-key", "no capture form")
			if tc.key != "" {
				assert.NotContains(t, r.body, tc.key)
			}
		})
	}
	assert.Contains(t, e.logs.String(), "requested with the secret api key", "the operator hears of a leaked secret key")
	assert.NotContains(t, e.logs.String(), e.apiKey)
}

func TestTokenizeRefusesOtherOrigins(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	self := e.url // http://127.0.0.1:PORT, the capture page's origin
	body := `{"password":{"value":"Tok3n-Secret"}}`
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"no browser", nil, http.StatusOK},
		{"the capture page", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, http.StatusOK},
		{"the capture page, older browser", []string{"Origin", self}, http.StatusOK},
		{"the embedder's page", []string{"Origin", embedderOrigin, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"the embedder's page without fetch metadata", []string{"Origin", embedderOrigin}, http.StatusForbidden},
		{"another port of the same host", []string{"Origin", strings.TrimSuffix(self, self[strings.LastIndex(self, ":"):]) + ":1"}, http.StatusForbidden},
		{"opaque origin", []string{"Origin", "null"}, http.StatusForbidden},
		{"cross-site without Origin", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site", []string{"Origin", self, "Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/multi/tokenize", body, append([]string{"api-key", e.uiKey, "Content-Type", "application/json"}, tc.headers...)...)
			require.Equal(t, tc.status, r.status, r.body)
			if tc.status == http.StatusOK {
				var out struct{ Token string }
				require.NoError(t, json.Unmarshal([]byte(r.body), &out))
				assert.True(t, core.IsPasswordToken(out.Token))
			} else {
				assert.JSONEq(t, `{"errorCode":"ORIGIN_NOT_ALLOWED"}`, r.body)
			}
			assertNoCORS(t, r.header)
		})
	}
	t.Run("preflight", func(t *testing.T) {
		r := e.do(t, "OPTIONS", "/multi/tokenize", "", "Origin", embedderOrigin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "api-key,content-type")
		assert.NotEqual(t, http.StatusOK, r.status)
		assert.NotEqual(t, http.StatusNoContent, r.status)
		assertNoCORS(t, r.header)
	})
	assert.NotContains(t, e.logs.String(), "Tok3n-Secret")
}

// Under --require-tokenised-passwords the capture page still checks what is
// typed with plaintext (its live NIST verdict); everyone else must send a
// token, the embedder's page included.
func TestStrictModeValidatesFromTheCapturePage(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	_, err := e.svc.UpdateProgrammeSettings(context.Background(), e.prog.ID, nil, core.ProgrammeSettings{
		AllowedOrigins: []string{embedderOrigin}, RequireTokenisedPasswords: true, PasswordProfile: "nist"})
	require.NoError(t, err)
	capturePage := []string{"Origin", e.url, "Sec-Fetch-Site", "same-origin"}
	for _, tc := range []struct {
		name, password string
		headers        []string
		status         int
		refusal        string
	}{
		{"the capture page, a good password", "correct horse battery", capturePage, http.StatusNoContent, ""},
		{"the capture page, a common one", "password1234", capturePage, http.StatusConflict, "PASSWORD_TOO_SIMPLE"},
		{"no browser", "correct horse battery", nil, http.StatusBadRequest, "accepts only tokenised passwords"},
		{"the embedder's page", "correct horse battery", []string{"Origin", embedderOrigin, "Sec-Fetch-Site", "cross-site"}, http.StatusBadRequest, "accepts only tokenised passwords"},
		{"same-origin claimed without Origin", "correct horse battery", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusBadRequest, "accepts only tokenised passwords"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/multi/passwords/validate", `{"password":{"value":"`+tc.password+`"}}`,
				append([]string{"api-key", e.uiKey, "Content-Type", "application/json"}, tc.headers...)...)
			require.Equal(t, tc.status, r.status, r.body)
			if tc.refusal != "" {
				assert.Contains(t, r.body, tc.refusal)
			}
		})
	}
}

func TestTokenizeOriginBehindAProxy(t *testing.T) {
	e := newCaptureEnv(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	fwd := []string{"X-Forwarded-Host", "deputy.example", "X-Forwarded-Proto", "https"}
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"https://deputy.example", http.StatusOK},
		{"https://deputy.example:443", http.StatusOK},
		{"http://deputy.example", http.StatusForbidden},
		{e.url, http.StatusForbidden},
	} {
		r := e.do(t, "POST", "/multi/tokenize", `{"password":{"value":"Tok3n-Secret"}}`,
			append([]string{"api-key", e.uiKey, "Content-Type", "application/json", "Origin", tc.origin}, fwd...)...)
		assert.Equal(t, tc.status, r.status, "Origin %s: %s", tc.origin, r.body)
	}
}

func assertNoCORS(t *testing.T, h http.Header) {
	t.Helper()
	for name := range h {
		assert.False(t, strings.HasPrefix(strings.ToLower(name), "access-control-"), "CORS header %s", name)
	}
}

// TestScriptsPostOnlyToCheckedOrigins reads the two scripts: every postMessage
// names its target origin, and the wildcard "*" appears nowhere.
func TestScriptsPostOnlyToCheckedOrigins(t *testing.T) {
	rePost := regexp.MustCompile(`postMessage\(([^;]*)\)`)
	for file, target := range map[string]string{"capture.js": "origin", "deputy-secure.js": "deputyOrigin"} {
		src, err := fs.ReadFile(assets.Secure(), file)
		require.NoError(t, err)
		calls := rePost.FindAllStringSubmatch(string(src), -1)
		require.NotEmpty(t, calls, file)
		for _, c := range calls {
			assert.True(t, strings.HasSuffix(c[1], ", "+target), "%s: postMessage(%s) must target %s", file, c[1], target)
		}
		assert.False(t, strings.Contains(string(src), `"*"`), "%s names the wildcard origin", file)
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTokenAnswersAreNotStored: an answer carrying a password token (or a
// session token) must not be kept by the browser's or any shared cache.
func TestTokenAnswersAreNotStored(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	r := e.do(t, "POST", "/multi/tokenize", `{"password":{"value":"Tok3n-Secret"}}`, "api-key", e.uiKey, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "the tokenize answer")
	r = e.do(t, "POST", "/multi/tokenize", `{"password":{}}`, "api-key", e.uiKey, "Content-Type", "application/json")
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "an error answer")
}

// TestSecurityHeadersOnEveryAnswer: every answer, the API's JSON as well as
// the capture component's pages and files, is X-Content-Type-Options:
// nosniff; and one served over TLS (directly, or by a trusted proxy that
// says so) tells the browser to keep to HTTPS (Strict-Transport-Security,
// RFC 6797), which one over plain HTTP must not (RFC 6797 §7.2).
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	e := newCaptureEnv(t, Options{})
	tlsServer := httptest.NewTLSServer(e.handler)
	t.Cleanup(tlsServer.Close)
	api := []string{"api-key", e.uiKey, "Content-Type", "application/json"}
	for _, rq := range []struct {
		name, method, path, body string
		headers                  []string
	}{
		{"health", "GET", "/healthz", "", nil},
		{"the API description", "GET", "/openapi.yaml", "", nil},
		{"a token", "POST", "/multi/tokenize", `{"password":{"value":"Tok3n-Secret"}}`, api},
		{"a 400", "POST", "/multi/tokenize", `{"password":{}}`, api},
		{"a 401", "GET", "/multi/session", "", []string{"api-key", "dpk_unknown"}},
		{"an unknown route", "GET", "/multi/nothing", "", nil},
		{"a 405", "PUT", "/multi/tokenize", "", nil},
		{"the capture page", "GET", capturePath(e.uiKey, embedderOrigin, "new"), "", nil},
		{"a refused capture page", "GET", capturePath("dpk_unknown", embedderOrigin, "new"), "", nil},
		{"the embedder's script", "GET", "/secure/deputy-secure.js", "", nil},
	} {
		t.Run(rq.name, func(t *testing.T) {
			h := headersOf(t, http.DefaultClient, rq.method, e.url+rq.path, rq.body, append(rq.headers, "X-Forwarded-Proto", "https")...)
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), "plain HTTP")
			assert.Empty(t, h.Get("Strict-Transport-Security"), "plain HTTP, X-Forwarded-Proto from a peer that is no proxy")

			h = headersOf(t, tlsServer.Client(), rq.method, tlsServer.URL+rq.path, rq.body, rq.headers...)
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), "TLS")
			assert.Equal(t, hsts, h.Get("Strict-Transport-Security"), "TLS")
		})
	}
	t.Run("behind a trusted proxy", func(t *testing.T) {
		p := newCaptureEnv(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		for proto, want := range map[string]string{"https": hsts, "http": "", "": ""} {
			h := headersOf(t, http.DefaultClient, "GET", p.url+"/healthz", "", "X-Forwarded-Proto", proto)
			assert.Equal(t, want, h.Get("Strict-Transport-Security"), "X-Forwarded-Proto %q", proto)
		}
	})
}

// headersOf sends a request with client and returns the answer's headers;
// headers alternate name and value.
func headersOf(t *testing.T, client *http.Client, method, target, body string, headers ...string) http.Header {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Header
}
