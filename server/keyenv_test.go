package server_test

// Helpers for the tests of issue 5 (client keys, tokenised passwords, rate
// limits): an env that knows the programme's public ui key and can be started
// with server options such as trusted proxies.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/teststore"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// newEnvWithKeys starts a sandbox server like newEnv, with the server options
// srv (its logger, clock and KYC secret are filled in), and returns it with the
// programme's public ui key.
func newEnvWithKeys(t *testing.T, srv server.Options, opts ...envOption) (e *env, uiKey string) {
	t.Helper()
	return newEnvOverStore(t, srv, nil, opts...)
}

// newEnvOverStore is newEnvWithKeys with the service's store wrapped by wrap
// (nil for none), for tests that watch or break the store's transactions.
func newEnvOverStore(t *testing.T, srv server.Options, wrap func(core.Store) core.Store, opts ...envOption) (e *env, uiKey string) {
	t.Helper()
	store := teststore.Open(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := core.NewOffsetClock(nil)
	outbox := core.NewOutbox(store, clock)
	cfg := core.Config{Sandbox: true, PasswordParams: testParams, Logger: log, RateLimits: &core.RateLimits{}}
	for _, o := range opts {
		o(&cfg)
	}
	ctx := context.Background()
	kyc := &failingKYC{}
	var svcStore core.Store = store
	if wrap != nil {
		svcStore = wrap(store)
	}
	svc, err := core.New(ctx, cfg, svcStore, core.Integrations{SMS: outbox, Email: outbox, KYC: kyc}, clock)
	require.NoError(t, err)
	srv.Logger, srv.Clock = log, clock
	if srv.KYCCallbackSecret == nil {
		srv.KYCCallbackSecret = kycCallbackSecret
	}
	h, err := server.New(svc, srv)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Test Programme"})
	require.NoError(t, err)
	v := apispec.NewValidator(t)
	return &env{
		t: t, url: ts.URL, svc: svc, store: store, clock: clock, logs: logs,
		client: &http.Client{Transport: v.Transport(http.DefaultTransport), Timeout: 30 * time.Second},
		apiKey: prog.APIKey, prog: prog.Programme, kyc: kyc,
	}, prog.UIKey
}

// failingKYC is the sandbox KYC provider, which a test can make refuse cases.
type failingKYC struct {
	core.SandboxKYC
	refusal atomic.Pointer[error]
}

// refuse makes StartKYC fail with err from now on (nil: succeed again).
func (k *failingKYC) refuse(err error) {
	if err == nil {
		k.refusal.Store(nil)
		return
	}
	k.refusal.Store(&err)
}

func (k *failingKYC) StartKYC(ctx context.Context, r core.KYCRequest) error {
	if err := k.refusal.Load(); err != nil {
		return *err
	}
	return k.SandboxKYC.StartKYC(ctx, r)
}

// withRateLimits is an envOption setting the rate limits (the harness turns them off).
func withRateLimits(rl core.RateLimits) envOption {
	return func(c *core.Config) { c.RateLimits = &rl }
}

// withKey returns a view of e that calls with key instead of the secret api key.
func (e *env) withKey(key string) *env {
	c := *e
	c.apiKey = key
	return &c
}

// rePasswordToken is the shape of a password token (TokenizeResponse.token).
var rePasswordToken = regexp.MustCompile(`^dtk_[A-Za-z0-9_-]{43}$`)

// tokenise turns password into a token with POST /multi/tokenize, calling with
// e's key, and fails unless that works.
func (e *env) tokenise(password string) string {
	e.t.Helper()
	r := e.key("POST", "/multi/tokenize", map[string]any{"password": pw(password)})
	require.Equal(e.t, http.StatusOK, r.status, "tokenize: %s", r.body)
	token := str(e.t, r.json(e.t), "token")
	require.Regexp(e.t, rePasswordToken, token)
	return token
}

// alignClock moves the sandbox clock to one second past the start of a window
// of length w, so that a test of fixed-window limits has the whole window
// ahead of it however long it takes to run.
func (e *env) alignClock(w time.Duration) {
	e.t.Helper()
	now := e.svc.Now()
	e.clock.Advance(now.Truncate(w).Add(w + time.Second).Sub(now))
}
