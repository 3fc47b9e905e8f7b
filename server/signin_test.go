package server_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAPIKeyHeader(t *testing.T) {
	e := newEnv(t)
	r := e.call("POST", "/multi/login_with_password", map[string]any{"email": "a@b.co", "password": map[string]any{"value": "x"}})
	require.Equal(t, http.StatusBadRequest, r.status)
	fieldsOf := r.json(t)["syntaxErrors"].(map[string]any)["invalidFields"].([]any)
	assert.Equal(t, "api-key", fieldsOf[0].(map[string]any)["fieldName"])
	assert.Equal(t, "REQUIRED", fieldsOf[0].(map[string]any)["error"])

	r = e.call("POST", "/multi/login_with_password", map[string]any{"email": "a@b.co", "password": map[string]any{"value": "x"}}, "api-key", "dsk_unknown")
	assert.Equal(t, http.StatusUnauthorized, r.status)
}

func TestLoginResponseAndFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	rootID, _ := e.corporate("root@acme.test")

	r := e.login("ROOT@acme.test", testPassword)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	body := r.json(t)
	assert.NotEmpty(t, body["token"])
	assert.Equal(t, map[string]any{"type": "CORPORATE", "id": rootID}, body["identity"])
	assert.Equal(t, map[string]any{"type": "ROOT", "id": rootID}, body["credentials"])

	// A corporate whose root never set a password.
	assert.Equal(t, 200, e.key("POST", "/multi/corporates", corporateBody("nopass@acme.test")).status)

	wrong := e.login("root@acme.test", "Wr0ng-Password")
	unknown := e.login("nobody@acme.test", testPassword)
	noPassword := e.login("nopass@acme.test", testPassword)
	for name, got := range map[string]resp{"wrong password": wrong, "unknown email": unknown, "no password": noPassword} {
		assert.Equal(t, http.StatusForbidden, got.status, name)
		assert.Equal(t, string(wrong.body), string(got.body), "%s: every failure has the same body", name)
	}
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	e := newEnv(t)
	e.corporate("root@acme.test")
	for i := range 5 {
		assert.Equal(t, http.StatusForbidden, e.login("root@acme.test", "Wr0ng-Password").status, "attempt %d", i+1)
	}
	r := e.login("root@acme.test", testPassword)
	require.Equal(t, http.StatusLocked, r.status, "the right password is refused while locked")
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	e.advance(29 * time.Minute)
	assert.Equal(t, http.StatusLocked, e.login("root@acme.test", testPassword).status)
	e.advance(time.Minute)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", testPassword).status)
}

func TestLockoutCountsExactlyUnderParallelAttempts(t *testing.T) {
	e := newEnv(t)
	e.corporate("root@acme.test")
	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = e.login("root@acme.test", "Wr0ng-Password").status })
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusForbidden: 5, http.StatusLocked: n - 5}, count)
}

// A session ends 12 hours after its sign-in however busy it is kept, and
// an access token exchanged late in a sign-in's life ends with it: a
// stolen token kept active does not live for ever. GET /multi/session says
// when.
func TestSessionLifetime(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	auth := e.loginToken(l.a.email)
	signedIn := e.svc.Now()
	r := e.auth(e.accessToken(auth, l.a.id), "GET", "/multi/session", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	assert.EqualValues(t, 12*3600, got["lifetimeSeconds"])
	assert.InDelta(t, signedIn.Add(12*time.Hour).UnixMilli(), got["expiresAt"], 1000)
	left := func() float64 { return signedIn.Add(12 * time.Hour).Sub(e.svc.Now()).Seconds() } // the clock runs on meanwhile
	assert.InDelta(t, left(), got["expiresInSeconds"], 1)
	for range 178 { // 11 h 52 min, a call every 4 minutes
		e.advance(4 * time.Minute)
		require.Equal(t, http.StatusOK, e.auth(auth, "GET", identitiesPath, nil).status, "kept active")
	}
	late := e.accessToken(auth, l.b)
	got = e.auth(late, "GET", "/multi/session", nil).json(t)
	assert.InDelta(t, signedIn.Add(12*time.Hour).UnixMilli(), got["expiresAt"], 1000, "an access token's life is its sign-in's")
	assert.InDelta(t, left(), got["expiresInSeconds"], 1)
	e.advance(4 * time.Minute)
	for name, token := range map[string]string{"sign-in": auth, "access token": late} {
		require.Equal(t, http.StatusOK, e.auth(token, "GET", identitiesPath, nil).status, "%s at 11 h 56 min", name)
	}
	e.advance(4 * time.Minute)
	unknown := e.auth("dst_never-issued", "GET", identitiesPath, nil)
	for name, token := range map[string]string{"sign-in": auth, "access token": late} {
		r := e.auth(token, "GET", identitiesPath, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s at 12 h: %s", name, r.body)
		assert.Equal(t, unknown.body, r.body, "%s at 12 h answers as a token never issued", name)
	}
	assert.Equal(t, http.StatusOK, e.auth(e.loginToken(l.a.email), "GET", identitiesPath, nil).status, "a new sign-in starts a new life")
}

func TestSessionIdleTimeoutAndLogout(t *testing.T) {
	e := newEnv(t)
	_, _ = e.corporate("root@acme.test")
	token := e.login("root@acme.test", testPassword).json(t)["token"].(string)

	e.advance(4*time.Minute + 59*time.Second)
	require.Equal(t, http.StatusOK, e.auth(token, "GET", "/multi/corporates", nil).status, "activity keeps the session alive")
	e.advance(4*time.Minute + 59*time.Second)
	require.Equal(t, http.StatusOK, e.auth(token, "GET", "/multi/corporates", nil).status)
	e.advance(5 * time.Minute)
	assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", "/multi/corporates", nil).status, "idle for 5 minutes")

	token = e.login("root@acme.test", testPassword).json(t)["token"].(string)
	assert.Equal(t, http.StatusNoContent, e.auth(token, "POST", "/multi/logout", nil).status)
	assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", "/multi/corporates", nil).status)
	assert.Equal(t, http.StatusUnauthorized, e.auth(token, "POST", "/multi/logout", nil).status)
	assert.Equal(t, http.StatusUnauthorized, e.key("GET", "/multi/corporates", nil).status, "no bearer token")
}
