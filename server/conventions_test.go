package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// operation is one endpoint with a body good enough to pass decoding.
type operation struct {
	method, path string
	body         any
	token        bool // needs a bearer token
}

func operations(userID string) []operation {
	return []operation{
		{"POST", "/multi/login_with_password", map[string]any{"email": "root@acme.test", "password": pw(testPassword)}, false},
		{"POST", "/multi/logout", nil, true},
		{"POST", "/multi/passwords/" + userID + "/create", map[string]any{"password": pw(testPassword)}, false},
		{"POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Password")}, true},
		{"POST", "/multi/passwords/validate", map[string]any{"password": pw(testPassword)}, false},
		{"POST", "/multi/passwords/lost_password/start", map[string]any{"email": "root@acme.test"}, false},
		{"POST", "/multi/passwords/lost_password/resume", map[string]any{"nonce": "123456", "email": "root@acme.test", "newPassword": pw("N3w-Password")}, false},
		{"POST", "/multi/corporates", corporateBody("new@acme.test"), false},
		{"GET", "/multi/corporates", nil, true},
		{"POST", "/multi/consumers", consumerBody("new@acme.test"), false},
		{"GET", "/multi/consumers", nil, true},
		{"GET", "/multi/sandbox/outbox", nil, false},
		{"POST", "/multi/sandbox/clock", map[string]any{"advanceSeconds": 0}, false},
	}
}

func TestAPIKeyOnEveryOperation(t *testing.T) {
	e := newEnv(t)
	rootID, token := e.corporate("root@acme.test")
	for _, op := range operations(rootID) {
		t.Run(op.method+" "+op.path, func(t *testing.T) {
			var bearer []string
			if op.token {
				bearer = []string{"Authorization", "Bearer " + token}
			}
			r := e.call(op.method, op.path, op.body, bearer...)
			assert.Equal(t, []string{"api-key:REQUIRED"}, r.invalidFields(t), "missing api-key")

			r = e.call(op.method, op.path, op.body, append([]string{"api-key", ""}, bearer...)...)
			assert.Equal(t, []string{"api-key:REQUIRED"}, r.invalidFields(t), "empty api-key")

			r = e.call(op.method, op.path, op.body, append([]string{"api-key", "dsk_unknown"}, bearer...)...)
			require.Equal(t, http.StatusUnauthorized, r.status, "unknown api-key: %s", r.body)
			assert.Equal(t, "UNAUTHORIZED", r.json(t)["code"])
		})
	}
	// None of the refused calls did anything.
	assert.Equal(t, http.StatusOK, e.auth(token, "GET", "/multi/corporates", nil).status)
	assert.Equal(t, []string{"identity.create", "password.create"}, e.auditActions()[1:], "after programme.create")
}

func TestBearerTokenRefusals(t *testing.T) {
	e := newEnv(t)
	_, created := e.corporate("root@acme.test")
	loggedOut := str(t, e.login("root@acme.test", testPassword).json(t), "token")
	require.Equal(t, http.StatusNoContent, e.auth(loggedOut, "POST", "/multi/logout", nil).status)
	expired := str(t, e.login("root@acme.test", testPassword).json(t), "token")
	e.advance(5 * time.Minute)
	fresh := str(t, e.login("root@acme.test", testPassword).json(t), "token")

	otherKey := e.otherProgramme("Other")
	r := e.call("POST", "/multi/corporates", corporateBody("other@acme.test"), "api-key", otherKey)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.call("POST", "/multi/passwords/"+str(t, r.json(t), "id", "id")+"/create", map[string]any{"password": pw(testPassword)}, "api-key", otherKey)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	otherProgrammes := str(t, r.json(t), "token")
	require.Equal(t, http.StatusOK, e.call("GET", "/multi/corporates", nil, "api-key", otherKey, "Authorization", "Bearer "+otherProgrammes).status)

	tests := []struct {
		name, authorization string
	}{
		{"missing", ""},
		{"unknown", "Bearer dst_unknown"},
		{"expired after 5 idle minutes", "Bearer " + expired},
		{"also the password-create session", "Bearer " + created},
		{"logged out", "Bearer " + loggedOut},
		{"another programme's token", "Bearer " + otherProgrammes},
		{"no scheme", fresh},
		{"another scheme", "Basic " + fresh},
		{"scheme without token", "Bearer "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, op := range []operation{{"GET", "/multi/corporates", nil, true}, {"POST", "/multi/logout", nil, true},
				{"POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Password")}, true}} {
				var h []string
				if tt.authorization != "" {
					h = []string{"Authorization", tt.authorization}
				}
				r := e.key(op.method, op.path, op.body, h...)
				require.Equal(t, http.StatusUnauthorized, r.status, "%s %s: %s", op.method, op.path, r.body)
				assert.Equal(t, "UNAUTHORIZED", r.json(t)["code"])
			}
		})
	}
	assert.Equal(t, http.StatusOK, e.auth(fresh, "GET", "/multi/corporates", nil).status, "the fresh token still works")
	assert.Equal(t, http.StatusOK, e.key("GET", "/multi/corporates", nil, "Authorization", "bearer "+fresh).status, "the scheme is case-insensitive")
}

func TestUnknownPathAndWrongMethod(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/multi/nothing-here", http.StatusNotFound, "NOT_FOUND"},
		{"POST", "/multi/passwords/1/nothing", http.StatusNotFound, "NOT_FOUND"},
		{"GET", "/", http.StatusNotFound, "NOT_FOUND"},
		{"GET", "/multi/login_with_password", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{"DELETE", "/multi/corporates", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{"PUT", "/multi/consumers", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{"GET", "/multi/passwords/123/create", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.key(tt.method, tt.path, nil)
			require.Equal(t, tt.status, r.status, "%s", r.body)
			body := r.json(t)
			assert.Equal(t, tt.code, body["code"])
			assert.NotEmpty(t, body["message"])
		})
	}
}

func TestBodySizeCap(t *testing.T) {
	e := newEnv(t)
	const limit = 64 << 10
	// A valid request padded with spaces to exactly the limit is accepted.
	b, err := json.Marshal(corporateBody("root@acme.test"))
	require.NoError(t, err)
	exact := append(b, bytes.Repeat([]byte(" "), limit-len(b))...)
	require.Len(t, exact, limit)
	r := e.key("POST", "/multi/corporates", exact)
	assert.Equal(t, http.StatusOK, r.status, "a body of exactly 64 KiB: %s", r.body)

	over := append(bytes.Clone(exact), ' ')
	r = e.key("POST", "/multi/corporates", over)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s", r.body)
	assert.Equal(t, "PAYLOAD_TOO_LARGE", r.json(t)["code"])

	big := `{"email":"a@b.co","password":{"value":"` + strings.Repeat("x", 1<<20) + `"}}`
	r = e.key("POST", "/multi/login_with_password", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, "a 1 MiB body")
}

func TestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, body string
		message    string   // a part of the message
		fields     []string // invalidFields, when the problem is one field
	}{
		{"empty", "", "a JSON body is required", nil},
		{"only spaces", "  \n", "a JSON body is required", nil},
		{"cut short", `{"email":"a@b.co",`, "ends too early", nil},
		{"missing colon", `{"email" "a@b.co"}`, "malformed JSON at byte", nil},
		{"not JSON", `email=a@b.co`, "malformed JSON at byte 1", nil},
		{"an array", `[]`, "must be a JSON object", nil},
		{"a string", `"hello"`, "must be a JSON object", nil},
		{"trailing object", `{"email":"a@b.co","password":{"value":"x"}} {}`, "unexpected data after the JSON object", nil},
		{"trailing brace", `{"email":"a@b.co","password":{"value":"x"}}}`, "unexpected data after the JSON object", nil},
		{"trailing bracket", `{"email":"a@b.co","password":{"value":"x"}}]`, "unexpected data after the JSON object", nil},
		{"trailing word", `{"email":"a@b.co","password":{"value":"x"}} true`, "unexpected data after the JSON object", nil},
		{"email a boolean", `{"email":true,"password":{"value":"x"}}`, "field email must be a string", []string{"email:IN"}},
		{"password a string", `{"email":"a@b.co","password":"x"}`, "field password must be an object", []string{"password:IN"}},
		{"password value an object", `{"email":"a@b.co","password":{"value":{}}}`, "field password.value must be a string", []string{"password.value:IN"}},
		{"unknown field", `{"email":"a@b.co","password":{"value":"x"},"remember":true}`, `unknown field "remember"`, []string{"remember:NOT_IN"}},
		{"unknown nested field", `{"email":"a@b.co","password":{"value":"x","hint":"y"}}`, `unknown field "password.hint"`, []string{"password.hint:NOT_IN"}},
		// Found by FuzzVerifyBody: the message quoting a field name this long
		// broke the API description's 255 characters.
		{"unknown field with a long name", `{"email":"a@b.co","password":{"value":"x"},"` + strings.Repeat("é", 300) + `":1}`,
			`Bad request: unknown field "éé`, []string{strings.Repeat("é", 300) + ":NOT_IN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.key("POST", "/multi/login_with_password", tt.body)
			b := r.badRequest(t)
			assert.Contains(t, b.Message, tt.message)
			assert.LessOrEqual(t, utf8.RuneCountInString(b.Message), 255)
			assert.Equal(t, tt.fields, r.invalidFields(t))
		})
	}
}

func TestRequestRefIsFreshOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	refs := map[string]bool{}
	for _, r := range []resp{
		e.call("GET", "/healthz", nil),
		e.call("GET", "/readyz", nil),
		e.call("GET", "/openapi.yaml", nil),
		e.key("GET", "/multi/nothing", nil),
		e.call("POST", "/multi/corporates", corporateBody("a@acme.test")),
		e.key("POST", "/multi/corporates", corporateBody("a@acme.test")),
		e.key("POST", "/multi/corporates", corporateBody("a@acme.test")),
		e.key("GET", "/multi/corporates", nil),
	} {
		ref := r.header.Get("request-ref")
		assert.False(t, refs[ref], "request-ref %q repeated", ref)
		refs[ref] = true
	}
}
