package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Weavr loginWithPassword: 400 names the field that is missing or malformed.
func TestLoginBadRequestNamesTheField(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		body any
		want []string
	}{
		{"no email", map[string]any{"password": pw(testPassword)}, []string{"email:REQUIRED"}},
		{"blank email", map[string]any{"email": "  ", "password": pw(testPassword)}, []string{"email:REQUIRED"}},
		{"malformed email", map[string]any{"email": "not-an-email", "password": pw(testPassword)}, []string{"email:REGEX"}},
		{"no password", map[string]any{"email": "root@acme.test"}, []string{"password.value:REQUIRED"}},
		{"empty password value", map[string]any{"email": "root@acme.test", "password": pw("")}, []string{"password.value:REQUIRED"}},
		{"password object without value", map[string]any{"email": "root@acme.test", "password": map[string]any{}}, []string{"password.value:REQUIRED"}},
		{"neither", map[string]any{}, []string{"email:REQUIRED", "password.value:REQUIRED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.key("POST", "/multi/login_with_password", tt.body)
			assert.Equal(t, tt.want, r.invalidFields(t))
		})
	}
}

func TestLoginDeactivatedUserLooksLikeWrongPassword(t *testing.T) {
	e := newEnv(t)
	rootID, token := e.corporate("root@acme.test")
	wrong := e.login("root@acme.test", "Wr0ng-Password")
	require.Equal(t, http.StatusForbidden, wrong.status)

	e.deactivate(rootID)
	got := e.login("root@acme.test", testPassword)
	assert.Equal(t, http.StatusForbidden, got.status, "the right password of a deactivated user")
	assert.Equal(t, string(wrong.body), string(got.body), "a deactivated user gets the same body as a wrong password")
	assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", "/multi/corporates", nil).status,
		"a deactivated user's existing session no longer works")
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	_, created := e.corporate("root@acme.test")
	first := e.login("root@acme.test", testPassword).json(t)["token"].(string)
	second := e.login("root@acme.test", testPassword).json(t)["token"].(string)

	r := e.auth(first, "POST", "/multi/logout", nil)
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Empty(t, r.body)
	assert.Equal(t, http.StatusUnauthorized, e.auth(first, "GET", "/multi/corporates", nil).status, "the logged-out token is dead")
	assert.Equal(t, http.StatusUnauthorized, e.auth(first, "POST", "/multi/logout", nil).status, "logging out twice")
	assert.Equal(t, http.StatusOK, e.auth(second, "GET", "/multi/corporates", nil).status, "other sessions live on")
	assert.Equal(t, http.StatusOK, e.auth(created, "GET", "/multi/corporates", nil).status, "the password-create session lives on")

	assert.Equal(t, http.StatusUnauthorized, e.key("POST", "/multi/logout", nil).status, "no bearer token")
	assert.Equal(t, http.StatusBadRequest, e.call("POST", "/multi/logout", nil, "Authorization", "Bearer "+second).status, "no api-key")
}
