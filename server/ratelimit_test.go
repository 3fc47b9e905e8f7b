package server_test

// Rate limits (issue 5, point 5) on sign-in and tokenisation, per client
// address and per programme, driven by the sandbox clock; X-Forwarded-For is
// believed only from trusted proxies.

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// loopbackProxy trusts the test client's own address as a proxy.
var loopbackProxy = server.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// loginFrom signs in with X-Forwarded-For set to xff (none when "").
func (e *env) loginFrom(xff, email, password string) resp {
	e.t.Helper()
	var h []string
	if xff != "" {
		h = []string{"X-Forwarded-For", xff}
	}
	return e.key("POST", "/multi/login_with_password", map[string]any{"email": email, "password": pw(password)}, h...)
}

// wantRateLimited requires a 429 with Weavr's headers and Retry-After; it
// returns the seconds until the window resets.
func wantRateLimited(t *testing.T, r resp, limitHeader string, msgAndArgs ...any) int {
	t.Helper()
	return wantRateLimitedWithin(t, r, limitHeader, time.Minute, msgAndArgs...)
}

// wantRateLimitedWithin is wantRateLimited for a limit whose window is w.
func wantRateLimitedWithin(t *testing.T, r resp, limitHeader string, w time.Duration, msgAndArgs ...any) int {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, r.status, "body: %s %v", r.body, msgAndArgs)
	assert.Equal(t, "TOO_MANY_REQUESTS", r.json(t)["code"], msgAndArgs...)
	assert.Equal(t, limitHeader, r.header.Get("x-ratelimit-limit"), msgAndArgs...)
	reset, err := strconv.Atoi(r.header.Get("x-ratelimit-reset"))
	require.NoError(t, err, "x-ratelimit-reset %q", r.header.Get("x-ratelimit-reset"))
	assert.Equal(t, strconv.Itoa(reset), r.header.Get("Retry-After"), "Retry-After agrees with x-ratelimit-reset")
	assert.True(t, reset >= 1 && reset <= int(w/time.Second), "reset %d within the %v window", reset, w)
	return reset
}

func TestLoginRateLimitPerIP(t *testing.T) {
	e, _ := newEnvWithKeys(t, server.Options{}, withRateLimits(core.RateLimits{LoginPerIP: core.RateLimit{Requests: 3, Window: time.Minute}}))
	e.corporate("root@acme.test")
	e.alignClock(time.Minute)

	for i := range 3 {
		require.Equal(t, http.StatusOK, e.login("root@acme.test", testPassword).status, "sign-in %d", i+1)
	}
	reset := wantRateLimited(t, e.login("root@acme.test", testPassword), "3, 3;w=60")
	assert.GreaterOrEqual(t, reset, 50, "the window began a second or so ago")

	// reset rounds up, so the window ends in the last of those seconds.
	e.advance(time.Duration(reset-2) * time.Second)
	wantRateLimited(t, e.login("root@acme.test", testPassword), "3, 3;w=60", "a second or two before the reset")
	e.advance(2 * time.Second)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", testPassword).status, "a new window")
}

func TestLoginRateLimitPerProgramme(t *testing.T) {
	e, _ := newEnvWithKeys(t, loopbackProxy, withRateLimits(core.RateLimits{LoginPerProgramme: core.RateLimit{Requests: 3, Window: time.Minute}}))
	e.corporate("root@acme.test")
	other := e.asProgramme(t, e.otherProgramme("Other"), nil)
	other.corporate("root@other.test")
	e.alignClock(time.Minute)

	for i, client := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		require.Equal(t, http.StatusOK, e.loginFrom(client, "root@acme.test", testPassword).status, "sign-in %d", i+1)
	}
	wantRateLimited(t, e.loginFrom("203.0.113.4", "root@acme.test", testPassword), "3, 3;w=60", "a fourth address, the same programme")
	assert.Equal(t, http.StatusOK, other.loginFrom("203.0.113.4", "root@other.test", testPassword).status, "another programme has its own budget")
}

func TestTokeniseRateLimitPerIP(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, loopbackProxy, withRateLimits(core.RateLimits{
		TokenisePerIP:        core.RateLimit{Requests: 3, Window: time.Minute},
		TokenisePerProgramme: core.RateLimit{Requests: 1000, Window: time.Minute},
	}))
	browser := e.withKey(uiKey)
	e.alignClock(time.Minute)
	tokenise := func(c *env, client string) resp {
		return c.key("POST", "/multi/tokenize", map[string]any{"password": pw(testPassword)}, "X-Forwarded-For", client)
	}

	for i := range 3 {
		require.Equal(t, http.StatusOK, tokenise(browser, "203.0.113.1").status, "tokenisation %d", i+1)
	}
	reset := wantRateLimited(t, tokenise(browser, "203.0.113.1"), "3, 3;w=60, 1000;w=60")
	wantRateLimited(t, tokenise(e, "203.0.113.1"), "3, 3;w=60, 1000;w=60", "the secret key from the same address")
	assert.Equal(t, http.StatusOK, tokenise(browser, "203.0.113.2").status, "another address")
	e.advance(time.Duration(reset) * time.Second)
	assert.Equal(t, http.StatusOK, tokenise(browser, "203.0.113.1").status, "a new window")
}

// Behind a trusted proxy each forwarded client has its own budget, and only
// the address the proxy saw counts: entries a client adds on the left of
// X-Forwarded-For change nothing.
func TestForwardedForFromTrustedProxies(t *testing.T) {
	e, _ := newEnvWithKeys(t, loopbackProxy, withRateLimits(core.RateLimits{LoginPerIP: core.RateLimit{Requests: 2, Window: time.Minute}}))
	e.corporate("root@acme.test")
	e.alignClock(time.Minute)

	for range 2 {
		require.Equal(t, http.StatusOK, e.loginFrom("203.0.113.1", "root@acme.test", testPassword).status)
	}
	wantRateLimited(t, e.loginFrom("203.0.113.1", "root@acme.test", testPassword), "2, 2;w=60")
	wantRateLimited(t, e.loginFrom("198.51.100.7, 203.0.113.1", "root@acme.test", testPassword), "2, 2;w=60", "a spoofed hop on the left")
	wantRateLimited(t, e.loginFrom("198.51.100.8,203.0.113.1, 127.0.0.1", "root@acme.test", testPassword), "2, 2;w=60", "through two trusted hops")
	assert.Equal(t, http.StatusOK, e.loginFrom("203.0.113.2", "root@acme.test", testPassword).status, "another client")
	assert.Equal(t, http.StatusOK, e.loginFrom("2001:db8::1", "root@acme.test", testPassword).status, "an IPv6 client")
	assert.Equal(t, http.StatusOK, e.loginFrom("", "root@acme.test", testPassword).status, "the proxy itself")
}

// Without trusted proxies X-Forwarded-For is ignored: a client cannot buy a
// new budget by inventing addresses.
func TestForwardedForIgnoredWithoutTrustedProxies(t *testing.T) {
	for name, opts := range map[string]server.Options{
		"none":                      {},
		"a proxy elsewhere trusted": {TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := newEnvWithKeys(t, opts, withRateLimits(core.RateLimits{LoginPerIP: core.RateLimit{Requests: 2, Window: time.Minute}}))
			e.corporate("root@acme.test")
			e.alignClock(time.Minute)
			require.Equal(t, http.StatusOK, e.loginFrom("203.0.113.1", "root@acme.test", testPassword).status)
			require.Equal(t, http.StatusOK, e.loginFrom("203.0.113.2", "root@acme.test", testPassword).status)
			wantRateLimited(t, e.loginFrom("203.0.113.3", "root@acme.test", testPassword), "2, 2;w=60", "a spoofed address")
			wantRateLimited(t, e.loginFrom("", "root@acme.test", testPassword), "2, 2;w=60")
		})
	}
}

// A sign-in refused by the rate limit never reaches the password check, so it
// is not a failed attempt: it brings the lockout no nearer.
func TestRateLimitedLoginIsNotAFailedAttempt(t *testing.T) {
	e, _ := newEnvWithKeys(t, server.Options{}, withRateLimits(core.RateLimits{LoginPerIP: core.RateLimit{Requests: 3, Window: time.Minute}}))
	e.corporate("root@acme.test")
	e.alignClock(time.Minute)

	for range 3 {
		require.Equal(t, http.StatusForbidden, e.login("root@acme.test", "Wr0ng-Passw0rd").status)
	}
	for range 10 {
		require.Equal(t, http.StatusTooManyRequests, e.login("root@acme.test", "Wr0ng-Passw0rd").status)
	}
	assert.Equal(t, 3, count(e.auditActions(), "login.failed"), "only the attempts that got through")
	e.advance(time.Minute)
	require.Equal(t, http.StatusForbidden, e.login("root@acme.test", "Wr0ng-Passw0rd").status, "the fourth failure")
	r := e.login("root@acme.test", testPassword)
	require.Equal(t, http.StatusOK, r.status, "not locked: five failures lock, and there were four: %s", r.body)
}
