package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server"
)

// testParams keep argon2id cheap under -race; one test uses the real defaults.
var testParams = testserver.FastPasswords

// env is a real Deputy: a bbolt file (or a PostgreSQL database, see
// internal/teststore), the core service and the HTTP API on loopback.
type env struct {
	t      *testing.T
	url    string
	client *http.Client
	svc    *core.Service
	store  core.Store // for the few checks no API offers yet (deactivation, audit)
	clock  *core.OffsetClock
	logs   *syncBuffer
	apiKey string
	prog   *core.Programme
	kyc    *failingKYC // the KYC provider, which a test can make refuse cases
}

type envOption func(*core.Config)

// kycCallbackSecret is the secret every test server shares with its KYC
// provider; tests sign callbacks with it (kycsig.Sign).
var kycCallbackSecret = []byte("test-kyc-callback-secret")

// newEnv starts a sandbox server with one programme (see newEnvWithKeys).
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e, _ := newEnvWithKeys(t, server.Options{}, opts...)
	return e
}

// resp is a finished HTTP exchange.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// errorCode returns the errorCode of a 403/409 body.
func (r resp) errorCode(t *testing.T) string {
	t.Helper()
	code, _ := r.json(t)["errorCode"].(string)
	return code
}

// call sends one request; headers alternate name, value. body may be a string, []byte or a value to marshal.
func (e *env) call(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.callWith(e.client, method, path, body, headers...)
}

// callWith is call through client.
func (e *env) callWith(client *http.Client, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, res.Header.Get("request-ref"), "%s %s: every response carries request-ref", method, path)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// key calls with the programme's api key.
func (e *env) key(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.call(method, path, body, append([]string{"api-key", e.apiKey}, headers...)...)
}

// auth calls with the api key and a bearer token.
func (e *env) auth(token, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.key(method, path, body, append([]string{"Authorization", "Bearer " + token}, headers...)...)
}

// corporateBody is a minimal valid corporateCreate request: the fields Weavr
// requires, which Deputy requires too and its Corporate answer echoes.
func corporateBody(email string) map[string]any {
	return map[string]any{
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP",
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": email, "companyPosition": "DIRECTOR",
			"mobile": map[string]any{"countryCode": "+44", "number": "7700900123"}},
		"company": map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
	}
}

// testPassword satisfies the default (Weavr) profile.
const testPassword = "Str0ng-Passw0rd"

// corporate creates a corporate whose root user has testPassword; it returns the root id and a token.
func (e *env) corporate(email string) (rootID, token string) {
	e.t.Helper()
	return e.identity("corporates", corporateBody(email))
}

// identity creates a corporate or consumer (kind, as its path says) from
// body, and gives its root user testPassword; it returns the root id and a token.
func (e *env) identity(kind string, body map[string]any) (rootID, token string) {
	e.t.Helper()
	r := e.key("POST", "/multi/"+kind, body)
	require.Equal(e.t, 200, r.status, "%s", r.body)
	rootID = r.json(e.t)["id"].(map[string]any)["id"].(string)
	r = e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": map[string]any{"value": testPassword}})
	require.Equal(e.t, 200, r.status, "%s", r.body)
	return rootID, r.json(e.t)["token"].(string)
}

// login signs in and returns the token.
func (e *env) login(email, pw string) resp {
	e.t.Helper()
	return e.key("POST", "/multi/login_with_password", map[string]any{"email": email, "password": map[string]any{"value": pw}})
}

// advance moves the sandbox clock through the API.
func (e *env) advance(d time.Duration) {
	e.t.Helper()
	r := e.key("POST", "/multi/sandbox/clock", map[string]any{"advanceSeconds": int64(d / time.Second)})
	require.Equal(e.t, 200, r.status, "%s", r.body)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// atOnce makes n calls at the same moment, call(i) for each i, and returns
// their answers in order: for the tests of what parallel requests leave.
func atOnce(n int, call func(i int) resp) []resp {
	out := make([]resp, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}
