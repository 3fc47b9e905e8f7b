package server_test

// Issue 13, points 1 and 2: auth and access tokens (Weavr requestAccessToken)
// and root users' credentials linked to several identities (userIdentities).

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
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/client"
)

const (
	identitiesPath  = "/multi/identities"
	accessTokenPath = "/multi/access_token"
)

// identityBody is an access-token request for an identity.
func identityBody(typ core.IdentityType, id string) map[string]any {
	return map[string]any{"identity": map[string]any{"type": string(typ), "id": id}}
}

// exchange exchanges token for an access token of identity id (a corporate;
// "" for the only one) and returns the answer's body.
func (e *env) exchange(token string, body any) map[string]any {
	e.t.Helper()
	r := e.auth(token, "POST", accessTokenPath, body)
	require.Equal(e.t, http.StatusOK, r.status, "exchange: %s", r.body)
	return r.json(e.t)
}

// accessToken exchanges token for an access token of the corporate id.
func (e *env) accessToken(token, id string) string {
	e.t.Helper()
	return str(e.t, e.exchange(token, identityBody(core.Corporate, id)), "token")
}

// linkCorporate creates a corporate named company linked to the credentials
// of owner, whose token must be stepped up, and returns its id.
func (e *env) linkCorporate(owner member, company string) string {
	e.t.Helper()
	body := corporateBody(owner.email)
	body["company"].(map[string]any)["name"] = company
	r := e.auth(owner.token, "POST", "/multi/corporates", body)
	require.Equal(e.t, http.StatusOK, r.status, "link: %s", r.body)
	return str(e.t, r.json(e.t), "id", "id")
}

// linkedRoot is a root user whose credentials reach two more identities: the
// corporates b ("Beta Ltd") and c ("Gamma Ltd").
type linkedRoot struct {
	a    member // the credentials' own identity, corporate "Acme Ltd"
	b, c string
}

func (e *env) linkedRoot(email string) linkedRoot {
	e.t.Helper()
	a := e.adminRoot(email)
	return linkedRoot{a: a, b: e.linkCorporate(a, "Beta Ltd"), c: e.linkCorporate(a, "Gamma Ltd")}
}

// identityIDs lists the ids of identities answered by GET /multi/identities.
func identityIDs(t *testing.T, r resp) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ids []string
	for _, it := range r.json(t)["identities"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(map[string]any)["id"].(string))
	}
	return ids
}

// A root user with one identity: the login token works directly (Weavr's e2e
// suite) and exchanges too (Weavr's documentation); an access token acts in
// that identity and cannot be exchanged again.
func TestAccessTokenOneIdentity(t *testing.T) {
	e := newEnv(t)
	id, _ := e.corporate("ada@acme.test")
	login := e.loginToken("ada@acme.test")
	assert.Equal(t, http.StatusOK, e.auth(login, "GET", "/multi/corporates", nil).status, "the login token works directly")
	assert.Equal(t, []string{id}, identityIDs(t, e.auth(login, "GET", identitiesPath, nil)))

	for name, body := range map[string]any{"no body": nil, "no identity": map[string]any{}, "the identity": identityBody(core.Corporate, id)} {
		t.Run(name, func(t *testing.T) {
			out := e.exchange(login, body)
			assert.Equal(t, "STANDARD", out["status"])
			assert.Equal(t, map[string]any{"type": "CORPORATE", "id": id}, out["identity"])
			assert.Equal(t, map[string]any{"type": "ROOT", "id": id}, out["credentials"])
			token := str(t, out, "token")
			assert.NotEqual(t, login, token)
			r := e.auth(token, "GET", "/multi/corporates", nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			assert.Equal(t, id, str(t, r.json(t), "id", "id"))
			r = e.auth(token, "POST", accessTokenPath, nil)
			assert.Equal(t, http.StatusForbidden, r.status, "an access token is not exchanged again: %s", r.body)
			assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t))
		})
	}

	other, _ := e.corporate("bob@acme.test")
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"another's identity", identityBody(core.Corporate, other), http.StatusForbidden, ""},
		{"no such identity", identityBody(core.Corporate, "999999999"), http.StatusForbidden, ""},
		{"its own, as a consumer", identityBody(core.Consumer, id), http.StatusForbidden, ""},
		{"type missing", map[string]any{"identity": map[string]any{"id": id}}, http.StatusBadRequest, "identity.type:REQUIRED"},
		{"bad type", identityBody("PERSON", id), http.StatusBadRequest, "identity.type:IN"},
		{"bad id", identityBody(core.Corporate, "12a"), http.StatusBadRequest, "identity.id:REGEX"},
		{"unknown field", map[string]any{"identityId": id}, http.StatusBadRequest, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.auth(login, "POST", accessTokenPath, c.body)
			require.Equal(t, c.status, r.status, "%s", r.body)
			if c.status == http.StatusForbidden {
				assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t))
			}
			if c.field != "" {
				assert.Equal(t, []string{c.field}, r.invalidFields(t))
			}
		})
	}
	r := e.key("POST", accessTokenPath, nil)
	assert.Equal(t, http.StatusUnauthorized, r.status, "a token is needed: %s", r.body)
}

// Weavr's clientAssertion and token are accepted: the first grants nothing,
// the second may only repeat the bearer token.
func TestAccessTokenWeavrFields(t *testing.T) {
	e := newEnv(t)
	id, _ := e.corporate("ada@acme.test")
	login, other := e.loginToken("ada@acme.test"), e.loginToken("ada@acme.test")

	body := identityBody(core.Corporate, id)
	body["clientAssertion"], body["token"] = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", login
	out := e.exchange(login, body)
	assert.Equal(t, "STANDARD", out["status"], "a client assertion steps nothing up")

	body["token"] = other
	r := e.auth(login, "POST", accessTokenPath, body)
	require.Equal(t, http.StatusForbidden, r.status, "another sign-in's token: %s", r.body)
	assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t))
	assert.NotContains(t, string(r.body), other, "the token is not echoed")
}

// Linking: only the stepped-up session of a root user's own credentials, with
// the secret key and the credentials' email, links a new identity.
func TestLinkIdentity(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	a := e.adminRoot("ada@acme.test")
	member := e.newMember(a.token, "bea@acme.test") // stepped up, every permission
	notSteppedUp := e.loginToken("ada@acme.test")
	created := count(e.auditActions(), "identity.create")

	for _, c := range []struct {
		name   string
		token  string
		email  string
		key    string
		status int
		code   string
		field  string
	}{
		{"without step-up", notSteppedUp, a.email, e.apiKey, http.StatusForbidden, core.CodeStepUpRequired, ""},
		{"another email", a.token, "someone@acme.test", e.apiKey, http.StatusBadRequest, "", "rootUser.email:IN"},
		{"the same email, other case", a.token, "Ada@Acme.test", e.apiKey, http.StatusOK, "", ""},
		{"an authorised user's credentials", member.token, member.email, e.apiKey, http.StatusForbidden, core.CodeInsufficientPermissions, ""},
		{"the ui key", a.token, a.email, uiKey, http.StatusForbidden, core.CodeInsufficientPermissions, ""},
		{"a bogus token", "dst_" + strings.Repeat("b", 43), a.email, e.apiKey, http.StatusUnauthorized, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.call("POST", "/multi/corporates", corporateBody(c.email), "api-key", c.key, "Authorization", "Bearer "+c.token)
			require.Equal(t, c.status, r.status, "%s", r.body)
			if c.code != "" {
				assert.Equal(t, c.code, r.errorCode(t))
			}
			if c.field != "" {
				assert.Equal(t, []string{c.field}, r.invalidFields(t))
			}
			if c.status == http.StatusOK {
				created++
				assert.Equal(t, true, r.json(t)["rootUser"].(map[string]any)["passwordAlreadySet"], "it signs in with the credentials' password")
			}
		})
	}
	assert.Equal(t, created, count(e.auditActions(), "identity.create"), "refused links created nothing")
	assert.Equal(t, 1, count(e.auditActions(), "identity.link"))

	// Without a token, the email stays a root's: Weavr's 409.
	r := e.key("POST", "/multi/corporates", corporateBody(a.email))
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, core.CodeRootEmailNotUnique, r.errorCode(t))

	// The linked root has no password of its own, and gets none.
	ids := identityIDs(t, e.auth(e.loginToken(a.email), "GET", identitiesPath, nil))
	require.Len(t, ids, 2)
	r = e.key("POST", "/multi/passwords/"+ids[1]+"/create", map[string]any{"password": pw("An0ther-Passw0rd")})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, core.CodePasswordAlreadyCreated, r.errorCode(t))
	r = e.login(a.email, "An0ther-Passw0rd")
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
}

// With several identities the login token is an auth token: it lists them,
// exchanges itself and logs out, and nothing else.
func TestAuthTokenOfLinkedCredentials(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	login := e.login(l.a.email, testPassword)
	require.Equal(t, http.StatusOK, login.status, "%s", login.body)
	auth := str(t, login.json(t), "token")

	r := e.auth(auth, "GET", "/multi/corporates", nil)
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, core.CodeAccessTokenRequired, r.errorCode(t))

	assert.Equal(t, []string{l.a.id, l.b, l.c}, identityIDs(t, e.auth(auth, "GET", identitiesPath, nil)))
	r = e.auth(auth, "GET", identitiesPath+"?offset=1&limit=1", nil)
	assert.Equal(t, []string{l.b}, identityIDs(t, r))
	page := r.json(t)
	assert.EqualValues(t, 3, page["count"])
	assert.EqualValues(t, 1, page["responseCount"])
	assert.Equal(t, "Beta Ltd", page["identities"].([]any)[0].(map[string]any)["name"])
	assert.Empty(t, identityIDs(t, e.auth(auth, "GET", identitiesPath+"?offset=3", nil)))
	for _, q := range []string{"?limit=0", "?limit=101", "?offset=-1", "?limit=x"} {
		r := e.auth(auth, "GET", identitiesPath+q, nil)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", q, r.body)
	}

	r = e.auth(auth, "POST", accessTokenPath, nil)
	require.Equal(t, http.StatusBadRequest, r.status, "several identities: name one: %s", r.body)
	assert.Equal(t, []string{"identity:REQUIRED"}, r.invalidFields(t))

	out := e.exchange(auth, identityBody(core.Corporate, l.b))
	assert.Equal(t, map[string]any{"type": "ROOT", "id": l.b}, out["credentials"], "the access token acts as b's root user")
	b := str(t, out, "token")
	r = e.auth(b, "GET", "/multi/corporates", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, l.b, str(t, r.json(t), "id", "id"))
	assert.Equal(t, "Beta Ltd", str(t, r.json(t), "company", "name"))
	assert.Equal(t, []string{l.b}, identityIDs(t, e.auth(b, "GET", identitiesPath, nil)), "an access token lists its own identity only")
	r = e.auth(b, "POST", accessTokenPath, identityBody(core.Corporate, l.a.id))
	assert.Equal(t, http.StatusForbidden, r.status, "an access token never reaches another identity: %s", r.body)

	a := e.accessToken(auth, l.a.id)
	r = e.auth(a, "GET", "/multi/corporates", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, l.a.id, str(t, r.json(t), "id", "id"))

	other := e.loginToken(l.a.email)
	otherB := e.accessToken(other, l.b)
	wantNoContent(t, e.auth(auth, "POST", "/multi/logout", nil), "an auth token logs out")
	for name, token := range map[string]string{"the auth token": auth, "its access token of b": b, "its access token of a": a} {
		assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", identitiesPath, nil).status, "logout ends the sign-in: %s", name)
	}
	assert.Equal(t, http.StatusOK, e.auth(otherB, "GET", "/multi/corporates", nil).status, "another sign-in goes on")
	assert.Equal(t, http.StatusOK, e.auth(other, "GET", identitiesPath, nil).status)
}

// Every operation but the three an auth token may call refuses it with 403
// ACCESS_TOKEN_REQUIRED, in the shape the API description declares.
func TestAuthTokenRefusedEverywhereElse(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	l := e.linkedRoot("ada@acme.test")
	f := &accessFixture{e: e, member: l.a, target: e.createUser(l.a.token, userBody("target@acme.test"))}
	for _, rt := range accessTable {
		if rt.access != userToken && rt.access != secretOrUser && rt.access != authToken {
			continue
		}
		method, _, _ := strings.Cut(rt.pattern, " ")
		t.Run(rt.pattern, func(t *testing.T) {
			auth := e.loginToken(l.a.email) // a fresh one: logout ends it
			r := e.accessCall(method, rt.call(f), []string{"api-key", uiKey, "Authorization", "Bearer " + auth})
			if rt.access == authToken {
				assert.Contains(t, []int{http.StatusOK, http.StatusNoContent, http.StatusBadRequest}, r.status, "%s", r.body)
				return
			}
			require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
			assert.Equal(t, core.CodeAccessTokenRequired, r.errorCode(t))
		})
	}
}

// An access token of identity A never reaches identity B's users, and the
// other way round: every users route on the other's user is 404.
func TestAccessTokenNeverReachesAnotherIdentity(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	auth := e.loginToken(l.a.email)
	a, b := e.accessToken(auth, l.a.id), e.accessToken(auth, l.b)
	e.stepUpAgain(a) // the factor a.token enrolled: step-up is not why a call fails
	e.stepUp(b)      // b's root enrols its own mobile
	users := map[string]string{
		a: e.createUser(a, userBody("a-user@acme.test")),
		b: e.createUser(b, userBody("b-user@acme.test")),
	}
	for token, other := range map[string]string{a: b, b: a} {
		f := &accessFixture{e: e, target: users[other]}
		for _, rt := range accessTable {
			if rt.access != userToken || !strings.Contains(rt.pattern, "{user_id}") {
				continue
			}
			method, _, _ := strings.Cut(rt.pattern, " ")
			r := e.accessCall(method, rt.call(f), []string{"api-key", e.apiKey, "Authorization", "Bearer " + token})
			assert.Equal(t, http.StatusNotFound, r.status, "%s on the other identity's user: %s", rt.pattern, r.body)
		}
		r := e.auth(token, "GET", usersPath, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.NotContains(t, string(r.body), users[other])
		assert.Contains(t, string(r.body), users[token])
	}
}

// Access tokens follow the session rules: idle expiry, logout, deactivation,
// revocation of the credentials; a step-up raises the token it was made on.
func TestAccessTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	auth := e.loginToken(l.a.email)

	t.Run("step-up raises its own token", func(t *testing.T) {
		b1, b2 := e.accessToken(auth, l.b), e.accessToken(auth, l.b)
		e.stepUp(b1)
		assert.Equal(t, http.StatusOK, e.auth(b1, "POST", usersPath, userBody("c1@acme.test")).status)
		r := e.auth(b2, "POST", usersPath, userBody("c2@acme.test"))
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, core.CodeStepUpRequired, r.errorCode(t))
		assert.Equal(t, "STANDARD", e.exchange(auth, identityBody(core.Corporate, l.b))["status"], "nor the sign-in it came from")
	})
	t.Run("idle expiry", func(t *testing.T) {
		b := e.accessToken(auth, l.b)
		e.advance(4 * time.Minute)
		assert.Equal(t, http.StatusOK, e.auth(b, "GET", "/multi/corporates", nil).status)
		auth = e.loginToken(l.a.email) // the sign-in idled meanwhile
		e.advance(5 * time.Minute)
		assert.Equal(t, http.StatusUnauthorized, e.auth(b, "GET", "/multi/corporates", nil).status)
		auth = e.loginToken(l.a.email)
	})
	t.Run("logout", func(t *testing.T) {
		b, c := e.accessToken(auth, l.b), e.accessToken(auth, l.c)
		other := e.loginToken(l.a.email)
		wantNoContent(t, e.auth(b, "POST", "/multi/logout", nil))
		for name, token := range map[string]string{"b": b, "its sign-in": auth, "c of the same sign-in": c} {
			assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", identitiesPath, nil).status, "logout with an access token ends %s", name)
		}
		assert.Equal(t, http.StatusOK, e.auth(other, "GET", identitiesPath, nil).status, "another sign-in goes on")
		auth = other
	})
	t.Run("a linked root deactivated", func(t *testing.T) {
		c := e.accessToken(auth, l.c)
		e.deactivate(l.c)
		assert.Equal(t, http.StatusUnauthorized, e.auth(c, "GET", "/multi/corporates", nil).status)
		assert.Equal(t, []string{l.a.id, l.b}, identityIDs(t, e.auth(auth, "GET", identitiesPath, nil)), "no longer listed")
		r := e.auth(auth, "POST", accessTokenPath, identityBody(core.Corporate, l.c))
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t))
	})
	t.Run("the credentials' password changed", func(t *testing.T) {
		a, b := e.accessToken(auth, l.a.id), e.accessToken(auth, l.b)
		r := e.auth(b, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Passw0rd!")})
		require.Equal(t, http.StatusForbidden, r.status, "a linked identity's token does not change the credentials: %s", r.body)
		r = e.auth(a, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Passw0rd!")})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		for name, token := range map[string]string{"auth token": auth, "access token of b": b, "access token of a": a, "step-up made on b": l.a.token} {
			assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", identitiesPath, nil).status, name)
		}
	})
}

// Many parallel exchanges of one auth token each get a distinct, working
// access token of the identity they asked for.
func TestAccessTokenParallelExchanges(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	auth := e.loginToken(l.a.email)
	const n = 24
	ids := []string{l.a.id, l.b, l.c}
	results := make([]resp, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.auth(auth, "POST", accessTokenPath, identityBody(core.Corporate, ids[i%3]))
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range results {
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		token := str(t, r.json(t), "token")
		assert.False(t, seen[token], "tokens are distinct")
		seen[token] = true
		got := e.auth(token, "GET", "/multi/corporates", nil)
		require.Equal(t, http.StatusOK, got.status, "%s", got.body)
		assert.Equal(t, ids[i%3], str(t, got.json(t), "id", "id"))
	}
	assert.Equal(t, n, count(e.auditActions(), "user.access_token"))
}

// A biometric sign-in gives stepped-up access tokens (as Weavr documents),
// through the Go client: for the credentials' own identity and for a
// linked one.
func TestAccessTokenOfBiometricSignIn(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1") // the enrolment stepped its session up
	own, err := e.ui.Session(phone.s.Token()).Corporate(ctx)
	require.NoError(t, err)
	linked := e.linkBeta(phone.s, "7700900123")

	bl, err := e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
	require.NoError(t, err)
	require.NoError(t, phone.approve(bl.ChallengeID, bl.Number))
	login, err := e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
	require.NoError(t, err)
	auth := e.ui.Session(login.Token)
	_, err = auth.Corporate(ctx)
	requireAPIError(t, err, http.StatusForbidden, core.CodeAccessTokenRequired, "an auth token")

	page, err := auth.Identities(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, page.Count)
	require.Len(t, page.Identities, 2)
	assert.Equal(t, []client.LinkedIdentity{{ID: own.ID, Name: "Acme Ltd"}, {ID: linked.ID, Name: "Beta Ltd"}}, page.Identities)

	for _, id := range []client.IdentityID{own.ID, linked.ID} {
		at, err := auth.AccessToken(ctx, &id)
		require.NoError(t, err)
		assert.Equal(t, client.AccessTokenSteppedUp, at.Status)
		assert.Equal(t, id, at.Identity)
		user, err := e.ui.Session(at.Token).CreateUser(ctx, client.UserCreate{Name: "Bea", Surname: "Smith", Email: "bea-" + id.ID + "@acme.test"})
		require.NoError(t, err, "the access token is stepped up")
		assert.Equal(t, id, user.Identity)
	}
	_, err = auth.AccessToken(ctx, nil)
	requireAPIError(t, err, http.StatusBadRequest, "", "two identities: name one")
}

// Each exchange stores a session: a sign-in makes a bounded number a window.
func TestAccessTokensPerSignInBudget(t *testing.T) {
	e := newEnv(t, func(c *core.Config) {
		c.RateLimits = &core.RateLimits{AccessTokensPerSignIn: core.RateLimit{Requests: 3, Window: time.Minute}}
	})
	e.corporate("ada@acme.test")
	auth := e.loginToken("ada@acme.test")
	for range 3 {
		e.exchange(auth, nil)
	}
	r := e.auth(auth, "POST", accessTokenPath, nil)
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	e.exchange(e.loginToken("ada@acme.test"), nil) // another sign-in has its own budget
	e.advance(time.Minute)
	e.exchange(auth, nil)
}

// The push routes too: an access token of one identity neither reads,
// approves nor declines a push challenge of the other identity's root user,
// nor sees it pending.
func TestAccessTokenNeverReachesAnotherIdentitysPush(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	l := e.linkedDevices()
	a, b := l.phone.signedIn(l.a), l.b // a speaks for identity A's phone
	up, err := l.exchange(l.linked).StepUpPush(ctx, "")
	require.NoError(t, err)

	_, err = a.PushStatus(ctx, up.ID)
	require.ErrorIs(t, err, client.ErrNotFound, "read")
	_, err = a.PushOptions(ctx, up.ID)
	require.ErrorIs(t, err, client.ErrNotFound, "options")
	require.ErrorIs(t, a.ApprovePush(ctx, up.ID, up.Number, l.bPhone.assertion(up.ID)), client.ErrNotFound, "approve, even with b's signature")
	require.ErrorIs(t, a.DeclinePush(ctx, up.ID, client.DeclineCancelled), client.ErrNotFound, "decline")
	pending, err := a.PendingPush(ctx, "", 0)
	require.NoError(t, err)
	assert.Empty(t, pending)
	pending, err = b.PendingPush(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, pending, 1, "b's root sees it")
	assert.Equal(t, up.ID, pending[0].ID)
}

// Exchanges racing a password change: whichever commits first, no access
// token outlives the revocation (the exchange re-reads its sign-in in its
// transaction, the revocation ends the sessions of every linked identity in
// its own).
func TestNoAccessTokenOutlivesRevocation(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	auth := e.loginToken(l.a.email)
	a := e.accessToken(auth, l.a.id)
	const workers, each = 8, 6
	ids := []string{l.a.id, l.b, l.c}
	got := make([][]resp, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				got[w] = append(got[w], e.auth(auth, "POST", accessTokenPath, identityBody(core.Corporate, ids[(w+i)%3])))
			}
		})
	}
	close(start)
	r := e.auth(a, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Passw0rd!")})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	wg.Wait()
	issued := 0
	for _, rs := range got {
		for _, r := range rs {
			if r.status == http.StatusUnauthorized {
				continue // after the revocation
			}
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			issued++
			token := str(t, r.json(t), "token")
			assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", "/multi/corporates", nil).status, "an access token issued before the revocation ended with it")
		}
	}
	t.Logf("%d of %d exchanges were issued before the revocation", issued, workers*each)
}

// A consumer links like a corporate, through the Go client, and its access
// token acts as the consumer.
func TestLinkConsumer(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1") // a stepped-up session of Ada's credentials
	consumer, err := e.api.Session(phone.s.Token()).LinkConsumer(ctx, client.ConsumerCreate{
		RootUser: client.ConsumerRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test",
			Mobile:      client.Mobile{CountryCode: "+44", Number: "7700900123"},
			DateOfBirth: &client.Date{Year: 1990, Month: 12, Day: 10}, Address: &client.Address{Country: "GB"}},
		ProfileID: "1", IPAddress: "192.0.2.1",
	})
	require.NoError(t, err)
	assert.Equal(t, client.IdentityConsumer, consumer.ID.Type)
	auth := e.login("ada@acme.test")
	_, err = auth.AccessToken(ctx, &client.IdentityID{Type: client.IdentityCorporate, ID: consumer.ID.ID})
	requireAPIError(t, err, http.StatusForbidden, core.CodeInsufficientPermissions, "the wrong type")
	at, err := auth.AccessToken(ctx, &consumer.ID)
	require.NoError(t, err)
	got, err := e.ui.Session(at.Token).Consumer(ctx)
	require.NoError(t, err)
	assert.Equal(t, consumer.ID, got.ID)
	assert.Equal(t, "Ada Lovelace", got.RootUser.Name+" "+got.RootUser.Surname)

	// What the admin TUI and the headless companion do on signing in.
	login, err := e.ui.LoginWithPassword(ctx, "ada@acme.test", bioPassword)
	require.NoError(t, err)
	acc, err := e.ui.AccessLogin(ctx, login)
	require.NoError(t, err)
	assert.Equal(t, client.TokenTypeAccess, acc.TokenType)
	assert.Equal(t, login.Identity, acc.Identity)
	_, err = e.ui.Session(acc.Token).Factors(ctx)
	require.NoError(t, err, "the access token of the credentials' own identity works where the auth token does not")
	_, err = e.ui.Session(login.Token).Factors(ctx)
	requireAPIError(t, err, http.StatusForbidden, core.CodeAccessTokenRequired)
}

// "I did not do this" on the device of a linked identity's root user ends the
// whole sign-in, not only that identity's tokens: the auth token, the access
// tokens of every identity the credentials reach, and the credentials' own
// sessions, and it cancels the push challenges pending on the other
// identity's device. Whoever approved nothing may hold any of those tokens.
func TestNotMeOnLinkedIdentityEndsTheSignIn(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	l := e.linkedDevices()
	onA, err := l.a.StepUpPush(ctx, "")
	require.NoError(t, err)
	onB, err := l.exchange(l.linked).StepUpPush(ctx, "Create user mallory@example.com with role ADMIN")
	require.NoError(t, err)

	require.NoError(t, l.bPhone.s.DeclinePush(ctx, onB.ID, client.DeclineNotMe))
	for name, s := range map[string]*client.Session{"auth token": l.auth, "access token of a": l.a, "access token of b": l.b, "a's own sign-in": l.phone.s} {
		_, err := s.Identities(ctx, 0, 0)
		require.ErrorIs(t, err, client.ErrUnauthorized, name)
	}
	assert.Equal(t, core.PushReasonNotMe, e.pushRecord(onB.ID).Reason)
	assert.Equal(t, core.PushCancelled, e.pushRecord(onA.ID).State, "the challenge pending on a's device was cancelled too")
}

// Wrong one-time codes are counted per person, not per identity: guesses on
// the challenges of two linked identities add up to one SCA lock, which ends
// the whole sign-in and holds every identity of the credentials.
func TestWrongCodesOnLinkedIdentitiesShareOneBudget(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.SCAFailureLimit = 3 })
	l := e.linkedRoot("ada@acme.test")
	auth := e.loginToken(l.a.email)
	enrolled := func(id string) string { // an access token of id whose root has an ACTIVE SMS factor
		token := e.accessToken(auth, id)
		e.stepUp(token)
		return e.accessToken(auth, id)
	}
	b, c := enrolled(l.b), enrolled(l.c)
	a := e.accessToken(auth, l.a.id)
	wantNoContent(t, e.auth(b, "POST", stepUpPath, nil), "challenge on b")
	wantNoContent(t, e.auth(c, "POST", stepUpPath, nil), "challenge on c")
	wantConflict(t, e.auth(b, "POST", stepUpVerifyPath, codeBody(wrongCode(0))), core.CodeCodeInvalid, "first guess, on b")
	wantConflict(t, e.auth(b, "POST", stepUpVerifyPath, codeBody(wrongCode(1))), core.CodeCodeInvalid, "second guess, on b")
	wantConflict(t, e.auth(c, "POST", stepUpVerifyPath, codeBody(wrongCode(2))), core.CodeChallengeLimitExceeded, "third guess, on c: the person's limit")
	for name, token := range map[string]string{"auth token": auth, "a": a, "b": b, "c": c, "a's own sign-in": l.a.token} {
		assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", identitiesPath, nil).status, name)
	}
	again := e.loginToken(l.a.email)
	for _, id := range []string{l.a.id, l.b, l.c} {
		wantConflict(t, e.auth(e.accessToken(again, id), "POST", stepUpPath, nil), core.CodeChallengeLimitExceeded, "identity %s is locked with its credentials", id)
	}
}

// linkedDevices is a root user with an enrolled device whose credentials
// reach a second corporate, linked, whose root user enrolled a device of
// its own; signed in again, with an access token of each identity.
type linkedDevices struct {
	phone, bPhone *device
	own, linked   client.IdentityID
	auth          *client.Session // the sign-in's auth token
	a, b          *client.Session // access tokens of own and linked
	exchange      func(id client.IdentityID) *client.Session
}

// linkBeta has the root user of s (Ada) link the corporate "Beta Ltd", its
// root user's mobile +44 number, through the secret key.
func (e *bioEnv) linkBeta(s *client.Session, number string) *client.Corporate {
	e.t.Helper()
	linked, err := e.api.Session(s.Token()).LinkCorporate(context.Background(), client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test",
			Mobile: client.Mobile{CountryCode: "+44", Number: number}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Beta Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(e.t, err)
	return linked
}

func (e *bioEnv) linkedDevices() linkedDevices {
	t, ctx := e.t, context.Background()
	l := linkedDevices{phone: e.enrolledRoot("ada@acme.test", "phone-a")}
	linked := e.linkBeta(l.phone.s, "7700900777")
	own, err := l.phone.s.Corporate(ctx)
	require.NoError(t, err)
	l.own, l.linked, l.auth = own.ID, linked.ID, e.login("ada@acme.test")
	l.exchange = func(id client.IdentityID) *client.Session {
		at, err := l.auth.AccessToken(ctx, &id)
		require.NoError(t, err)
		return e.ui.Session(at.Token)
	}
	l.a, l.b = l.exchange(l.own), l.exchange(l.linked)
	l.bPhone = newDeviceWith(t, "phone-b", l.b, authenticator.NewMemoryStore(), yes)
	l.bPhone.enrol() // b's root enrols a device of its own
	return l
}

// TestStepUpStaysOnItsToken: a step-up made by SMS on a session of identity
// A from before the link raises that session only. Exchanged for linked
// identity B, whose root user never stepped up, it gives a STANDARD token, as
// a fresh sign-in does, and creating an admin in B asks for a step-up there.
func TestStepUpStaysOnItsToken(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test") // l.a.token: A's session, stepped up by an SMS code to A's mobile
	fresh := e.exchange(e.loginToken(l.a.email), identityBody(core.Corporate, l.b))
	require.Equal(t, "STANDARD", fresh["status"])

	out := e.exchange(l.a.token, identityBody(core.Corporate, l.b))
	assert.Equal(t, "STANDARD", out["status"], "A's step-up stays on A's token")
	r := e.auth(str(t, out, "token"), "POST", usersPath, userBody("mallory@acme.test", "ADMIN"))
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
}
