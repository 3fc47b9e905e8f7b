package server_test

// Tokenised passwords (issue 5, point 3): POST /multi/tokenize turns a password
// into a single-use, five-minute token bound to the programme, accepted
// wherever a password.value is.

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// wantTokenError requires a TokenError answer: 404 TOKEN_NOT_FOUND or 410 TOKEN_EXPIRED.
func wantTokenError(t *testing.T, r resp, code string, msgAndArgs ...any) {
	t.Helper()
	status := http.StatusNotFound
	if code == core.CodeTokenExpired {
		status = http.StatusGone
	}
	require.Equal(t, status, r.status, "body: %s %v", r.body, msgAndArgs)
	assert.Equal(t, map[string]any{"errorCode": code}, r.json(t), msgAndArgs...)
}

// The web app's sign-in: the browser tokenises with the ui key, the backend
// signs in with the secret key and the token, never seeing the password.
func TestTokenisedLogin(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	e.corporate("root@acme.test")
	browser := e.withKey(uiKey)

	token := browser.tokenise(testPassword)
	r := e.login("root@acme.test", token)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "ROOT", str(t, r.json(t), "credentials", "type"))
	wantTokenError(t, e.login("root@acme.test", token), core.CodeTokenNotFound, "a token works once")

	// The ui key may sign in with a token too (the admin TUI, the companion).
	r = browser.login("root@acme.test", browser.tokenise(testPassword))
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	// A token standing for a wrong password is a failed sign-in like any other.
	r = e.login("root@acme.test", browser.tokenise("Wr0ng-Passw0rd"))
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "INVALID_CREDENTIALS", r.json(t)["code"])
}

func TestTokenisedPasswordCreate(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	rootID := e.newCorporateWithoutPassword("root@acme.test")
	token := e.withKey(uiKey).tokenise(testPassword)

	r := e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw(token)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotEmpty(t, str(t, r.json(t), "token"))
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", testPassword).status, "the password the token stood for was set")
	// One flow's pair of calls (issue 13, point 8): set the password, then sign in with it.
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", token).status, "the token signs in once after setting the password")
	wantTokenError(t, e.login("root@acme.test", token), core.CodeTokenNotFound, "then it is spent")
}

// A token that set a password serves one sign-in within its life, and sets
// no other password: validate, create, sign in is one flow, and no more.
func TestTokenisedPasswordServesOneFlow(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	browser := e.withKey(uiKey)
	create := func(id, token string) resp {
		return e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(token)})
	}
	ada, bob := e.newCorporateWithoutPassword("ada@acme.test"), e.newCorporateWithoutPassword("bob@acme.test")

	token := browser.tokenise(testPassword)
	assert.Equal(t, http.StatusNoContent, browser.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(token)}).status)
	require.Equal(t, http.StatusOK, create(ada, token).status)
	wantTokenError(t, create(bob, token), core.CodeTokenNotFound, "a token sets one password")
	e.advance(5 * time.Minute)
	wantTokenError(t, e.login("ada@acme.test", token), core.CodeTokenExpired, "within its short life only")

	token = browser.tokenise(testPassword)
	require.Equal(t, http.StatusOK, e.login("ada@acme.test", token).status)
	wantTokenError(t, create(bob, token), core.CodeTokenNotFound, "a sign-in spends the token at once")
}

func TestTokenisedPasswordUpdate(t *testing.T) {
	const newPassword = "N3w-Passw0rd!"
	e, uiKey := newEnvWithKeys(t, server.Options{})
	_, session := e.corporate("root@acme.test")
	browser := e.withKey(uiKey)
	oldToken, newToken := browser.tokenise(testPassword), browser.tokenise(newPassword)

	r := browser.auth(session, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(oldToken), "newPassword": pw(newToken)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", newPassword).status)
	assert.Equal(t, http.StatusForbidden, e.login("root@acme.test", testPassword).status)

	// Plaintext and tokens mix.
	session = str(t, e.login("root@acme.test", newPassword).json(t), "token")
	r = browser.auth(session, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(newPassword), "newPassword": pw(browser.tokenise("Th1rd-Passw0rd"))})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", "Th1rd-Passw0rd").status)
}

func TestTokenisedLostPasswordResume(t *testing.T) {
	const newPassword = "Res3t-Password"
	e, uiKey := newEnvWithKeys(t, server.Options{})
	e.corporate("root@acme.test")
	e.startReset("root@acme.test")

	r := e.resume("root@acme.test", sandboxCode, e.withKey(uiKey).tokenise(newPassword))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", newPassword).status)
}

func TestTokenisedInviteConsume(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test", core.RoleCardAssignee))
	e.invite(root.token, bea)
	browser := e.withKey(uiKey) // the invite page calls with the ui key only

	wantTokenError(t, browser.consumeInvite(bea, sandboxCode, "dtk_"+strings.Repeat("x", 43), nil), core.CodeTokenNotFound, "an unknown token")
	wantNoContent(t, browser.validateInvite(bea, sandboxCode), "a refused consume leaves the invite usable")
	r := browser.consumeInvite(bea, sandboxCode, browser.tokenise(testPassword), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, http.StatusOK, e.login("bea@acme.test", testPassword).status)
}

// A token is spent by the first operation that redeems it, even when that
// operation then fails for another reason.
func TestTokenIsSpentByAFailedOperation(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	e.corporate("root@acme.test")
	token := e.withKey(uiKey).tokenise(testPassword)
	assert.Equal(t, http.StatusForbidden, e.login("nobody@acme.test", token).status)
	wantTokenError(t, e.login("root@acme.test", token), core.CodeTokenNotFound)

	// passwordValidate takes a token too, and does not spend it: clients
	// validate a token, then send it to set the password (issue 13).
	token = e.withKey(uiKey).tokenise(testPassword)
	for range 2 {
		assert.Equal(t, http.StatusNoContent, e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(token)}).status)
	}
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", token).status, "the validated token still works once ...")
	wantTokenError(t, e.login("root@acme.test", token), core.CodeTokenNotFound, "... and that use spends it")
	wantTokenError(t, e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(token)}), core.CodeTokenNotFound, "a spent token cannot be validated")
	other := e.otherProgramme("Other")
	token = e.withKey(uiKey).tokenise(testPassword)
	wantTokenError(t, e.call("POST", "/multi/passwords/validate", map[string]any{"password": pw(token)}, "api-key", other), core.CodeTokenNotFound, "never in another programme")
}

func TestTokenExpiresAfterFiveMinutes(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	e.corporate("root@acme.test")
	browser := e.withKey(uiKey)
	early, late := browser.tokenise(testPassword), browser.tokenise(testPassword)

	e.advance(5*time.Minute - 2*time.Second)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", early).status, "just before five minutes")
	e.advance(2 * time.Second)
	wantTokenError(t, e.login("root@acme.test", late), core.CodeTokenExpired, "at five minutes")
	wantTokenError(t, e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(late)}), core.CodeTokenExpired, "still expired")
	require.NoError(t, e.svc.Sweep(context.Background()))
	wantTokenError(t, e.login("root@acme.test", late), core.CodeTokenNotFound, "swept away")
}

func TestTokenIsBoundToItsProgramme(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	e.corporate("root@acme.test")
	other, err := e.svc.CreateProgramme(context.Background(), core.NewProgramme{Name: "Other"})
	require.NoError(t, err)
	otherEnv := e.asProgramme(t, other.APIKey, other.Programme)
	otherEnv.corporate("root@other.test")

	foreign := otherEnv.withKey(other.UIKey).tokenise(testPassword)
	wantTokenError(t, e.login("root@acme.test", foreign), core.CodeTokenNotFound, "another programme's token")
	wantTokenError(t, e.withKey(uiKey).login("root@acme.test", foreign), core.CodeTokenNotFound, "with the ui key too")
	assert.Equal(t, http.StatusOK, otherEnv.login("root@other.test", foreign).status, "the refusal did not spend it in its own programme")
}

// Fifty parallel sign-ins with one token: exactly one is redeemed.
func TestTokenRedeemedOnceUnderParallelUse(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	e.corporate("root@acme.test")
	token := e.withKey(uiKey).tokenise(testPassword)

	const n = 50
	results := make([]resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.login("root@acme.test", token)
		})
	}
	close(start)
	wg.Wait()
	byStatus := map[int]int{}
	for _, r := range results {
		byStatus[r.status]++
		if r.status == http.StatusNotFound {
			assert.Equal(t, core.CodeTokenNotFound, r.errorCode(t))
		}
	}
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusNotFound: n - 1}, byStatus)
	assert.Equal(t, 1, count(e.auditActions(), "user.login"), "one session was opened")
}

// A programme that requires tokens refuses plaintext with a 400 naming the
// field, everywhere a password is taken, and takes tokens.
func TestRequireTokenisedPasswords(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test", core.RoleCardAssignee))
	e.invite(root.token, bea)
	cy := e.newCorporateWithoutPassword("cy@acme.test")
	e.startReset("root@acme.test")
	set := e.prog.Settings
	set.RequireTokenisedPasswords = true
	_, err := e.svc.UpdateProgrammeSettings(context.Background(), e.prog.ID, nil, set)
	require.NoError(t, err)
	browser := e.withKey(uiKey)

	refusals := []struct {
		name  string
		r     resp
		field string
	}{
		{"login", e.login("root@acme.test", testPassword), "password.value"},
		{"login with the ui key", browser.login("root@acme.test", testPassword), "password.value"},
		{"create", e.key("POST", "/multi/passwords/"+cy+"/create", map[string]any{"password": pw(testPassword)}), "password.value"},
		{"update", e.auth(root.token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw(browser.tokenise("N3w-Passw0rd!"))}), "oldPassword.value"},
		{"update, new", e.auth(root.token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(browser.tokenise(testPassword)), "newPassword": pw("N3w-Passw0rd!")}), "newPassword.value"},
		{"validate", e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(testPassword)}), "password.value"},
		{"resume", e.resume("root@acme.test", sandboxCode, "Res3t-Password"), "newPassword.value"},
		{"invite consume", browser.consumeInvite(bea, sandboxCode, testPassword, nil), "password.value"},
	}
	for _, c := range refusals {
		b := c.r.badRequest(t)
		assert.Contains(t, b.Message, "tokenised passwords", c.name)
		assert.Contains(t, b.Message, "POST /multi/tokenize", c.name)
		assert.Equal(t, []string{c.field + ":REGEX"}, c.r.invalidFields(t), c.name)
	}

	r := e.login("root@acme.test", browser.tokenise(testPassword))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.key("POST", "/multi/passwords/"+cy+"/create", map[string]any{"password": pw(browser.tokenise(testPassword))})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = browser.consumeInvite(bea, sandboxCode, browser.tokenise(testPassword), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.resume("root@acme.test", sandboxCode, browser.tokenise("Res3t-Password"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", browser.tokenise("Res3t-Password")).status)
	assert.Zero(t, count(e.auditActions(), "login.failed"), "refused plaintext is not a failed sign-in")
}

func TestTokenizeBadRequests(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	browser := e.withKey(uiKey)
	for name, c := range map[string]struct {
		body any
		want []string
	}{
		"no password":    {map[string]any{}, []string{"password.value:REQUIRED"}},
		"empty password": {map[string]any{"password": pw("")}, []string{"password.value:REQUIRED"}},
		"too long":       {map[string]any{"password": pw(strings.Repeat("x", 101))}, []string{"password.value:SIZE"}},
		"unknown field":  {map[string]any{"password": pw(testPassword), "email": "a@b.test"}, []string{"email:NOT_IN"}},
	} {
		assert.Equal(t, c.want, browser.key("POST", "/multi/tokenize", c.body).invalidFields(t), name)
	}
	assert.Equal(t, http.StatusBadRequest, browser.key("POST", "/multi/tokenize", "").status, "no body")
	assert.Equal(t, http.StatusOK, browser.key("POST", "/multi/tokenize", map[string]any{"password": pw(strings.Repeat("é", 100))}).status,
		"100 characters, not bytes")
}

// secretsIn lists which of secrets appear in a response's body or headers.
func secretsIn(r resp, secrets ...string) []string {
	var found []string
	for _, s := range secrets {
		if strings.Contains(string(r.body), s) {
			found = append(found, s)
			continue
		}
		for _, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					found = append(found, s)
				}
			}
		}
	}
	return found
}

// The plaintext and the token never appear in logs, nor in any response but
// the tokenize response itself, whatever happens to the token.
func TestPasswordAndTokenNeverLeak(t *testing.T) {
	const secret = "Unus3d-Elsewhere!"
	e, uiKey := newEnvWithKeys(t, server.Options{}, withRateLimits(core.RateLimits{
		LoginPerIP: core.RateLimit{Requests: 3, Window: time.Hour}, TokenisePerIP: core.RateLimit{Requests: 5, Window: time.Hour},
	}))
	e.alignClock(time.Hour)
	browser := e.withKey(uiKey)
	rootID := e.newCorporateWithoutPassword("root@acme.test")

	var tokens []string
	var answers []resp
	tokenise := func() string {
		r := browser.key("POST", "/multi/tokenize", map[string]any{"password": pw(secret)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		tok := str(t, r.json(t), "token")
		assert.Empty(t, secretsIn(r, secret), "the tokenize answer carries the token only")
		tokens = append(tokens, tok)
		return tok
	}
	create := tokenise()
	answers = append(answers, e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw(create)}))
	answers = append(answers, e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw(create)})) // spent: 404
	login := tokenise()
	answers = append(answers, e.login("root@acme.test", login), e.login("root@acme.test", login))
	expired := tokenise()
	e.advance(5 * time.Minute)
	answers = append(answers, e.login("root@acme.test", expired))                                                       // 410, and the third sign-in
	answers = append(answers, e.login("root@acme.test", secret))                                                        // 429
	answers = append(answers, browser.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(secret)})) // plaintext 204
	answers = append(answers, e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(tokenise())}))
	answers = append(answers, browser.key("POST", "/multi/tokenize", map[string]any{"password": pw(secret)})) // 5 per hour
	answers = append(answers, browser.key("POST", "/multi/tokenize", map[string]any{"password": pw(secret)})) // 429

	statuses := []int{}
	for _, r := range answers {
		statuses = append(statuses, r.status)
		assert.Empty(t, secretsIn(r, append([]string{secret}, tokens...)...), "%d %s", r.status, r.body)
	}
	assert.Equal(t, []int{200, 404, 200, 404, 410, 429, 204, 204, 200, 429}, statuses)
	logs := e.logs.String()
	require.NotEmpty(t, logs)
	assert.NotContains(t, logs, secret)
	assert.NotContains(t, logs, "dtk_", "no password token is ever logged")
	for _, tok := range tokens {
		assert.NotContains(t, logs, tok[len("dtk_"):])
	}
}
