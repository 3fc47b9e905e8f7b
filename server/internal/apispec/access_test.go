package apispec

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The access levels of server.go's route table, as x-deputy-access names them.
var accessLevels = []string{"secretKey", "eitherKey", "userToken", "secretOrUser", "authToken", "secretWithUser"}

// accessOf returns an operation's x-deputy-access ("" when absent).
func accessOf(op *openapi3.Operation) string {
	s, _ := op.Extensions["x-deputy-access"].(string)
	return s
}

// concretePath fills an operation's path parameters with valid values.
func concretePath(path string) string {
	return strings.NewReplacer("{user_id}", "100000001", "{channel}", "SMS", "{reference}", "100000042").Replace(path)
}

// validate checks a canned answer to method path against the description.
func validate(t *testing.T, method, path string, status int, header http.Header, body string) error {
	t.Helper()
	spec, err := Load()
	require.NoError(t, err)
	req := httptest.NewRequest(method, "http://deputy.test"+concretePath(path), nil)
	resp := &http.Response{StatusCode: status, Header: http.Header{}}
	for k, v := range header {
		resp.Header[k] = v
	}
	resp.Header.Set("request-ref", "ref-1")
	if body != "" {
		resp.Header.Set("Content-Type", "application/json")
	}
	return spec.ValidateResponse(context.Background(), req, resp, []byte(body))
}

// Every operation under /multi says which key it takes, and its security
// requirements agree: a user token where the access level needs one, and the
// two alternatives for secretOrUser.
func TestEveryOperationDeclaresItsAccess(t *testing.T) {
	keyOnly := openapi3.SecurityRequirements{{"api-key": []string{}}}
	keyAndToken := openapi3.SecurityRequirements{{"api-key": []string{}, "auth_token": []string{}}}
	for _, o := range operations(t) {
		if !strings.HasPrefix(o.path, "/multi/") {
			assert.Empty(t, accessOf(o.op), "%s: public operations have no x-deputy-access", o.op.OperationID)
			continue
		}
		t.Run(o.op.OperationID, func(t *testing.T) {
			access := accessOf(o.op)
			require.Contains(t, accessLevels, access, "x-deputy-access")
			want := keyOnly
			switch access {
			case "userToken", "authToken":
				want = keyAndToken
			case "secretOrUser", "secretWithUser":
				want = slices.Concat(keyOnly, keyAndToken)
			}
			assert.Equal(t, want, *o.op.Security)
		})
	}
}

// The refusals of the one authenticate step are declared everywhere they can
// happen: 400 naming api-key and 401 on every call under /multi, and 403
// INSUFFICIENT_PERMISSIONS (the ui key) wherever only the secret key goes.
func TestKeyRefusalsAreDeclared(t *testing.T) {
	const (
		missingKey   = `{"message":"Bad request: invalid field api-key (REQUIRED).","syntaxErrors":{"invalidFields":[{"fieldName":"api-key","error":"REQUIRED"}]}}`
		unauthorized = `{"code":"UNAUTHORIZED","message":"unknown api-key"}`
		uiKey        = `{"errorCode":"INSUFFICIENT_PERMISSIONS"}`
	)
	for _, o := range operations(t) {
		if !strings.HasPrefix(o.path, "/multi/") {
			continue
		}
		t.Run(o.op.OperationID, func(t *testing.T) {
			assert.NoError(t, validate(t, o.method, o.path, http.StatusBadRequest, nil, missingKey), "missing api-key")
			assert.NoError(t, validate(t, o.method, o.path, http.StatusUnauthorized, nil, unauthorized), "unknown api-key")
			if a := accessOf(o.op); a == "secretKey" || a == "secretOrUser" {
				assert.NoError(t, validate(t, o.method, o.path, http.StatusForbidden, nil, uiKey), "the ui key on a secret-key operation")
			}
		})
	}
}

// takesPassword reports whether an operation's request body has a SensitivePassword.
func takesPassword(op *openapi3.Operation) bool {
	if op.RequestBody == nil {
		return false
	}
	var walk func(*openapi3.SchemaRef, map[*openapi3.Schema]bool) bool
	walk = func(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) bool {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return false
		}
		seen[ref.Value] = true
		if strings.HasSuffix(ref.Ref, "/SensitivePassword") {
			return true
		}
		for _, p := range ref.Value.Properties {
			if walk(p, seen) {
				return true
			}
		}
		return false
	}
	for _, mt := range op.RequestBody.Value.Content {
		if walk(mt.Schema, map[*openapi3.Schema]bool{}) {
			return true
		}
	}
	return false
}

// Every operation that takes a password also takes a password token, so it
// declares Weavr's TokenError answers: 404 for an unknown or spent token, 410
// for an expired one; and a 400 naming the field when tokens are required.
func TestPasswordOperationsDeclareTokenErrors(t *testing.T) {
	var got []string
	for _, o := range operations(t) {
		if !takesPassword(o.op) || o.op.OperationID == "tokenize" {
			continue
		}
		got = append(got, o.op.OperationID)
		t.Run(o.op.OperationID, func(t *testing.T) {
			assert.NoError(t, validate(t, o.method, o.path, http.StatusNotFound, nil, `{"errorCode":"TOKEN_NOT_FOUND"}`))
			assert.NoError(t, validate(t, o.method, o.path, http.StatusGone, nil, `{"errorCode":"TOKEN_EXPIRED"}`))
			assert.Error(t, validate(t, o.method, o.path, http.StatusGone, nil, `{"errorCode":"GONE"}`))
			assert.NoError(t, validate(t, o.method, o.path, http.StatusBadRequest, nil,
				`{"message":"This programme accepts only tokenised passwords: send the token from POST /multi/tokenize in password.value.","syntaxErrors":{"invalidFields":[{"fieldName":"password.value","error":"REGEX","params":["dtk_..."]}]}}`))
			assert.Contains(t, o.op.Description, "`tokenize`", "the description says a token is accepted")
		})
	}
	slices.Sort(got)
	assert.Equal(t, []string{"loginWithPassword", "lostPasswordResume", "passwordCreate", "passwordUpdate", "passwordValidate", "userInviteConsume"}, got)

	// Where 404 also means an unknown user, both bodies are allowed.
	for _, path := range []string{"/multi/passwords/{user_id}/create", "/multi/users/{user_id}/invite/consume"} {
		assert.NoError(t, validate(t, "POST", path, http.StatusNotFound, nil, `{"code":"NOT_FOUND","message":"user not found"}`), path)
		assert.NoError(t, validate(t, "POST", path, http.StatusNotFound, nil, `{"errorCode":"TOKEN_NOT_FOUND"}`), path)
	}
}

func TestTokenizeShapes(t *testing.T) {
	limited := http.Header{}
	limited.Set("x-ratelimit-limit", "3, 3;w=60")
	limited.Set("x-ratelimit-reset", "42")
	limited.Set("Retry-After", "42")
	noRetry := limited.Clone()
	noRetry.Del("Retry-After")
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		wantErr bool
	}{
		{"token", 200, nil, `{"token":"dtk_` + strings.Repeat("A", 43) + `"}`, false},
		{"a session token is not a password token", 200, nil, `{"token":"dst_` + strings.Repeat("A", 43) + `"}`, true},
		{"short token", 200, nil, `{"token":"dtk_abc"}`, true},
		{"more than the token", 200, nil, `{"token":"dtk_` + strings.Repeat("A", 43) + `","password":"x"}`, true},
		{"rate limited", 429, limited, `{"code":"TOO_MANY_REQUESTS","message":"Too many requests: retry later."}`, false},
		{"rate limited without Retry-After", 429, noRetry, `{"code":"TOO_MANY_REQUESTS","message":"Too many requests: retry later."}`, true},
		{"the ui key is welcome", 403, nil, `{"errorCode":"INSUFFICIENT_PERMISSIONS"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(t, "POST", "/multi/tokenize", tt.status, tt.header, tt.body)
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
