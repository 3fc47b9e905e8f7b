package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// GET /multi/session carries the server's numbers (idle timeout, the
// programme's attempts per code, a code's life, the resend interval, the
// pending step-up challenge) and the roles the rank rule lets the caller grant.
func TestSessionGet(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.UpdateProgrammeSettings(context.Background(), e.prog.ID, nil, core.ProgrammeSettings{OTPAttempts: 3})
	require.NoError(t, err)
	root := e.adminRoot("root@acme.test")
	am := e.newMember(root.token, "am@acme.test", core.RoleAccessManagement)

	r := e.auth(root.token, "GET", "/multi/session", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	assert.EqualValues(t, 300, got["idleTimeoutSeconds"])
	assert.Equal(t, map[string]any{"codeLength": 6.0, "ttlSeconds": 300.0, "attempts": 3.0, "resendAfterSeconds": 15.0}, got["challenges"])
	assert.Equal(t, []any{"ADMIN", "ACCESS_MANAGEMENT_ROLE", "FUNDS_MANAGEMENT_ROLE", "CARDS_MANAGEMENT_ROLE", "CARD_ASSIGNEE"}, got["grantableRoles"])
	assert.Equal(t, true, got["mayGrantAll"])
	assert.NotContains(t, got, "stepUp", "no code is waiting")

	r = e.auth(am.token, "GET", "/multi/session", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got = r.json(t)
	assert.Equal(t, []any{"ACCESS_MANAGEMENT_ROLE", "CARD_ASSIGNEE"}, got["grantableRoles"], "an access manager grants no role holding a permission it lacks")
	assert.Equal(t, false, got["mayGrantAll"])

	// A pending step-up code: its expiry, attempts left and resend time.
	fresh := e.loginToken(am.email)
	wantNoContent(t, e.auth(fresh, "POST", stepUpPath, nil), "step-up challenge")
	r = e.auth(fresh, "POST", stepUpVerifyPath, codeBody("000000"))
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	got = e.auth(fresh, "GET", "/multi/session", nil).json(t)
	now := e.svc.Now().UnixMilli()
	stepUp := got["stepUp"].(map[string]any)
	assert.EqualValues(t, 2, stepUp["attemptsLeft"])
	assert.InDelta(t, now+300_000, stepUp["expiresAt"], 2000)
	assert.InDelta(t, now+15_000, stepUp["resendAt"], 2000)
	assert.InDelta(t, now+300_000, got["idleExpiresAt"], 11_000)

	assert.Equal(t, http.StatusUnauthorized, e.key("GET", "/multi/session", nil).status)
}

// idleExpiresAt is when the session ends unless another call is made: near
// the end of the session's lifetime, that is expiresAt, not the idle
// timeout's end after it, which the session never reaches however idle. A
// client that trusted idleExpiresAt would count on a session already gone.
func TestSessionGetIdleEndWithinLifetime(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.SessionLifetime = 6 * time.Minute })
	_, token := e.corporate("root@acme.test")
	e.advance(4 * time.Minute)
	r := e.auth(token, "GET", "/multi/session", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	assert.EqualValues(t, 360, got["lifetimeSeconds"])
	assert.Equal(t, got["expiresAt"], got["idleExpiresAt"], "the lifetime ends (in 2 minutes) before the idle timeout would (in 5)")
	e.advance(2*time.Minute - 5*time.Second)
	require.Equal(t, http.StatusOK, e.auth(token, "GET", "/multi/corporates", nil).status, "seconds before its end")
	e.advance(5 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", "/multi/corporates", nil).status, "ended at expiresAt, idle or not")
}
