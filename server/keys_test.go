package server_test

// Key rotation (issue 5, point 1): either key of a programme can be replaced;
// the old one keeps working, as the same kind of key, until its grace period
// ends on the sandbox clock.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// keyStatus is the status of a call only the secret key may make (the sandbox
// outbox): 200 for a secret key, 403 for a ui key, 401 for a dead key.
func (e *env) keyStatus(key string) int {
	e.t.Helper()
	return e.call("GET", "/multi/sandbox/outbox", nil, "api-key", key).status
}

// tokeniseStatus is the status of POST /multi/tokenize, which takes either key.
func (e *env) tokeniseStatus(key string) int {
	e.t.Helper()
	return e.call("POST", "/multi/tokenize", map[string]any{"password": pw(testPassword)}, "api-key", key).status
}

func TestRotateSecretKeyWithGrace(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	ctx := context.Background()
	old := e.apiKey

	fresh, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, time.Hour)
	require.NoError(t, err)
	require.Regexp(t, `^dsk_[A-Za-z0-9_-]{43}$`, fresh)
	assert.NotEqual(t, old, fresh)
	e.apiKey = fresh // e.advance moves the clock through the API with the new key

	assert.Equal(t, http.StatusOK, e.keyStatus(fresh), "the new key works at once")
	assert.Equal(t, http.StatusOK, e.keyStatus(old), "the old key works during the grace period, still as a secret key")
	assert.Equal(t, http.StatusForbidden, e.keyStatus(uiKey), "the ui key is untouched: still a ui key")

	e.advance(time.Hour - 10*time.Second)
	assert.Equal(t, http.StatusOK, e.keyStatus(old), "shortly before the grace period ends")
	e.advance(10 * time.Second)
	r := e.call("GET", "/multi/sandbox/outbox", nil, "api-key", old)
	require.Equal(t, http.StatusUnauthorized, r.status, "after the grace period: %s", r.body)
	assert.Equal(t, "UNAUTHORIZED", r.json(t)["code"])
	assert.Equal(t, http.StatusOK, e.keyStatus(fresh))
	assert.Equal(t, http.StatusOK, e.tokeniseStatus(uiKey), "the ui key never stopped working")

	assert.Contains(t, e.auditActions(), "programme.rotate_key")
	assert.NotContains(t, e.logs.String(), fresh, "keys are never logged")
	assert.NotContains(t, e.logs.String(), old)
}

func TestRotateKeyWithoutGraceEndsTheOldKeyAtOnce(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	ctx := context.Background()
	old := e.apiKey
	fresh, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, 0)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, e.keyStatus(old))
	assert.Equal(t, http.StatusOK, e.keyStatus(fresh))

	freshUI, err := e.svc.RotateKey(ctx, e.prog.ID, core.UIKey, 0)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, e.tokeniseStatus(uiKey))
	assert.Equal(t, http.StatusOK, e.tokeniseStatus(freshUI))
}

func TestRotateUIKeyLeavesTheSecretKeyAlone(t *testing.T) {
	e, oldUI := newEnvWithKeys(t, server.Options{})
	ctx := context.Background()
	root := e.adminRoot("root@acme.test")

	freshUI, err := e.svc.RotateKey(ctx, e.prog.ID, core.UIKey, 10*time.Minute)
	require.NoError(t, err)
	require.Regexp(t, `^dpk_[A-Za-z0-9_-]{43}$`, freshUI)

	for name, key := range map[string]string{"new ui key": freshUI, "old ui key in its grace period": oldUI} {
		assert.Equal(t, http.StatusOK, e.tokeniseStatus(key), name)
		assert.Equal(t, http.StatusForbidden, e.keyStatus(key), "%s: still a ui key, not promoted", name)
		assert.Equal(t, http.StatusOK, e.call("GET", "/multi/corporates", nil, "api-key", key, "Authorization", "Bearer "+root.token).status, name)
	}

	e.advance(10 * time.Minute)
	assert.Equal(t, http.StatusUnauthorized, e.tokeniseStatus(oldUI), "after the grace period")
	assert.Equal(t, http.StatusOK, e.tokeniseStatus(freshUI))
	assert.Equal(t, http.StatusOK, e.keyStatus(e.apiKey), "the secret key was never touched")
}

func TestRotateKeyTwiceKeepsBothOldKeysForTheirGrace(t *testing.T) {
	e, _ := newEnvWithKeys(t, server.Options{})
	ctx := context.Background()
	k0 := e.apiKey
	k1, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, 2*time.Hour)
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	k2, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, 2*time.Hour)
	require.NoError(t, err)
	for _, k := range []string{k0, k1, k2} {
		assert.Equal(t, http.StatusOK, e.keyStatus(k))
	}
	e.clock.Advance(time.Hour) // k0's grace is over, k1's has an hour to go
	assert.Equal(t, http.StatusUnauthorized, e.keyStatus(k0))
	assert.Equal(t, http.StatusOK, e.keyStatus(k1))
	assert.Equal(t, http.StatusOK, e.keyStatus(k2))
	e.clock.Advance(time.Hour)
	assert.Equal(t, http.StatusUnauthorized, e.keyStatus(k1))
	assert.Equal(t, http.StatusOK, e.keyStatus(k2))
}

// TestRotateKeyWithoutGraceRevokesKeysStillInGrace: a leaked key is revoked
// by a rotation with --grace 0 even when it is an older key still in an
// earlier rotation's grace period; the other kind's old keys keep their grace.
func TestRotateKeyWithoutGraceRevokesKeysStillInGrace(t *testing.T) {
	e, oldUI := newEnvWithKeys(t, server.Options{})
	ctx := context.Background()
	k0 := e.apiKey
	k1, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, time.Hour)
	require.NoError(t, err)
	newUI, err := e.svc.RotateKey(ctx, e.prog.ID, core.UIKey, time.Hour)
	require.NoError(t, err)
	k2, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, 0)
	require.NoError(t, err)

	assert.Equal(t, http.StatusUnauthorized, e.keyStatus(k0), "the key retired first, still in its grace period")
	assert.Equal(t, http.StatusUnauthorized, e.keyStatus(k1), "the key replaced now")
	assert.Equal(t, http.StatusOK, e.keyStatus(k2))
	assert.Equal(t, http.StatusOK, e.tokeniseStatus(oldUI), "the old ui key keeps its own grace period")
	assert.Equal(t, http.StatusOK, e.tokeniseStatus(newUI))
}

func TestRotateKeyRefusals(t *testing.T) {
	e, _ := newEnvWithKeys(t, server.Options{})
	ctx := context.Background()
	for _, grace := range []time.Duration{-time.Second, 30*24*time.Hour + time.Second} {
		_, err := e.svc.RotateKey(ctx, e.prog.ID, core.SecretKey, grace)
		assert.True(t, errors.Is(err, core.ErrInvalid), "grace %v: %v", grace, err)
	}
	_, err := e.svc.RotateKey(ctx, "999999999", core.UIKey, time.Hour)
	assert.True(t, errors.Is(err, core.ErrNotFound), "%v", err)
	assert.Equal(t, http.StatusOK, e.keyStatus(e.apiKey), "nothing changed")
}
