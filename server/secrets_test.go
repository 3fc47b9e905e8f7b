package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exchange is one recorded response of a flow.
type exchange struct {
	name string
	r    resp
}

// The secret api key, every password, every token and the reset code never
// appear in a response body or a log line, except the token in the very
// response that issues it and the code in the sandbox outbox (GUIDE: Secrets).
func TestSecretsNeverInResponsesOrLogs(t *testing.T) {
	e := newEnv(t)
	const (
		email         = "root@acme.test"
		firstPassword = "F1rst-Secret-Pw"
		wrongPassword = "Wr0ng-Secret-Pw"
		newPassword   = "N3w-Secret-Pw"
		validated     = "Val1d-Secret-Pw"
		resetPassword = "Res3t-Secret-Pw"
		rejected      = "rejected-secret" // too simple
		inBadRequest  = "B4d-Request-Pw"
	)
	var flow []exchange
	do := func(name string, r resp) resp {
		t.Helper()
		flow = append(flow, exchange{name, r})
		return r
	}
	issued := map[string]string{} // token -> the exchange that issued it
	token := func(name string, r resp) string {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, "%s: %s", name, r.body)
		tok := str(t, r.json(t), "token")
		issued[tok] = name
		return tok
	}

	r := do("create corporate", e.key("POST", "/multi/corporates", corporateBody(email)))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rootID := str(t, r.json(t), "id", "id")
	t1 := token("password create", do("password create", e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw(firstPassword)})))
	t2 := token("login", do("login", e.login(email, firstPassword)))
	do("wrong login", e.login(email, wrongPassword))
	do("login bad request", e.key("POST", "/multi/login_with_password", map[string]any{"email": "nope", "password": pw(inBadRequest)}))
	do("login malformed", e.key("POST", "/multi/login_with_password", `{"email":"`+email+`","password":{"value":"`+inBadRequest+`"}`))
	do("login unknown field", e.key("POST", "/multi/login_with_password", `{"email":"`+email+`","password":{"value":"`+inBadRequest+`","x":1}}`))
	do("login wrong type", e.key("POST", "/multi/login_with_password", `{"email":"`+email+`","password":{"value":"`+inBadRequest+`"},"remember":"`+inBadRequest+`"}`))
	do("get corporate", e.auth(t2, "GET", "/multi/corporates", nil))
	do("validate", e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(validated)}))
	do("validate rejected", e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(rejected)}))
	do("update wrong old", e.auth(t2, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(wrongPassword), "newPassword": pw(newPassword)}))
	do("update rejected", e.auth(t2, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(firstPassword), "newPassword": pw(rejected)}))
	t3 := token("update", do("update", e.auth(t2, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(firstPassword), "newPassword": pw(newPassword)})))
	do("old token refused", e.auth(t1, "GET", "/multi/corporates", nil))
	do("lost password start", e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": email}))
	outbox := e.key("GET", "/multi/sandbox/outbox", nil)
	require.Contains(t, string(outbox.body), "123456", "the sandbox outbox is where the code may be read")
	do("resume wrong code", e.resume(email, "654321", resetPassword))
	do("resume rejected", e.resume(email, "123456", rejected))
	t4 := token("resume", do("resume", e.resume(email, "123456", resetPassword)))
	do("logout", e.auth(t4, "POST", "/multi/logout", nil))
	do("after logout", e.auth(t4, "GET", "/multi/corporates", nil))
	do("unknown token", e.auth(t3+"x", "GET", "/multi/corporates", nil))

	require.Len(t, issued, 4)
	passwords := []string{firstPassword, wrongPassword, newPassword, validated, resetPassword, rejected, inBadRequest}
	code := regexp.MustCompile(`(^|[^0-9])123456([^0-9]|$)`)

	for _, x := range flow {
		body := string(x.r.body)
		assert.NotContains(t, body, e.apiKey, "%s: api key in the response", x.name)
		for _, p := range passwords {
			assert.NotContains(t, body, p, "%s: a password in the response", x.name)
		}
		for tok, by := range issued {
			if by != x.name {
				assert.NotContains(t, body, tok, "%s: the token issued by %q", x.name, by)
			}
		}
		assert.NotRegexp(t, code, body, "%s: the reset code in the response", x.name)
		for name, values := range x.r.header {
			for _, v := range values {
				assert.NotContains(t, v, e.apiKey, "%s: header %s", x.name, name)
				for tok := range issued {
					assert.NotContains(t, v, tok, "%s: header %s", x.name, name)
				}
			}
		}
	}

	logs := e.logs.String()
	require.Contains(t, logs, `"msg":"request"`, "the server logged the requests")
	require.Contains(t, logs, "/multi/login_with_password")
	assert.NotContains(t, logs, e.apiKey, "api key in the logs")
	for _, p := range passwords {
		assert.NotContains(t, logs, p, "a password in the logs")
	}
	for tok, by := range issued {
		assert.NotContains(t, logs, tok, "the token issued by %q in the logs", by)
	}
	for _, line := range strings.Split(logs, "\n") {
		assert.NotRegexp(t, code, line, "the reset code in the logs")
	}
}
