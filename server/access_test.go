package server_test

// The access table (issue 5, point 2): which of a programme's two keys may
// call what, with and without a user's token, walked over every route.

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/kycsig"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// Access levels, as server.go names them in its route table.
const (
	public         = "public"
	secretKey      = "secretKey"
	eitherKey      = "eitherKey"
	userToken      = "userToken"
	secretOrUser   = "secretOrUser"
	authToken      = "authToken"
	secretWithUser = "secretWithUser"
)

// accessFixture is the data the access table's calls act on.
type accessFixture struct {
	e        *env
	member   member // an authorised user without roles (so every permission), with a password
	consumer string // a consumer's root user, with a password: the /consumers routes act on its identity
	target   string // another authorised user, without a password
	n        int    // makes emails unique
}

// call is one request of the access table, without credentials.
type call struct {
	path    string
	body    any
	headers []string
	as      string // the email whose token a call with a valid token carries ("": the fixture's member)
}

// accessRoute is one row of the access table: a route of server.go with its
// access level and a request valid enough that, once past authentication, the
// answer is never a 400, a 401 or a 403 INSUFFICIENT_PERMISSIONS.
type accessRoute struct {
	pattern string // "METHOD /path", exactly as registered in server.go
	access  string
	call    func(f *accessFixture) call
}

// streamHeader, among a call's headers, marks a call whose accepted answer is
// an open event stream: only its status is read, and the marker is not sent.
const streamHeader = "X-Test-Stream"

func fixed(path string, body any) func(*accessFixture) call {
	return func(*accessFixture) call { return call{path: path, body: body} }
}

// asConsumer is fixed with a consumer's token: the /consumers routes of
// one identity refuse a corporate's (403 INSUFFICIENT_PERMISSIONS).
func asConsumer(path string, body any) func(*accessFixture) call {
	return func(f *accessFixture) call { return call{path: path, body: body, as: f.consumer} }
}

func onTarget(rest string, body any) func(*accessFixture) call {
	return func(f *accessFixture) call { return call{path: userPath(f.target) + rest, body: body} }
}

// accessTable mirrors the route table in server.go; TestAccessTableMirrorsServerAndSpec
// keeps it complete.
var accessTable = []accessRoute{
	{"GET /healthz", public, fixed("/healthz", nil)},
	{"GET /readyz", public, fixed("/readyz", nil)},
	{"GET /openapi.yaml", public, fixed("/openapi.yaml", nil)},

	{"POST /multi/login_with_password", eitherKey, func(f *accessFixture) call {
		return call{path: "/multi/login_with_password", body: map[string]any{"email": f.member.email, "password": pw(testPassword)}}
	}},
	{"POST /multi/logout", authToken, fixed("/multi/logout", nil)},
	{"GET /multi/identities", authToken, fixed("/multi/identities", nil)},
	{"POST /multi/access_token", authToken, fixed("/multi/access_token", nil)},
	{"POST /multi/tokenize", eitherKey, fixed("/multi/tokenize", map[string]any{"password": pw(testPassword)})},

	{"POST /multi/passwords/{user_id}/create", secretKey, func(f *accessFixture) call {
		return call{path: "/multi/passwords/" + f.member.id + "/create", body: map[string]any{"password": pw(testPassword)}} // 409: already set
	}},
	{"POST /multi/passwords/update", userToken, fixed("/multi/passwords/update",
		map[string]any{"oldPassword": pw("Wr0ng-Passw0rd"), "newPassword": pw("N3w-Passw0rd!")})}, // 409: incorrect
	{"POST /multi/passwords/validate", eitherKey, fixed("/multi/passwords/validate", map[string]any{"password": pw(testPassword)})},
	{"POST /multi/passwords/lost_password/start", secretKey, fixed("/multi/passwords/lost_password/start", map[string]any{"email": "nobody@acme.test"})},
	{"POST /multi/passwords/lost_password/resume", secretKey, fixed("/multi/passwords/lost_password/resume",
		map[string]any{"nonce": "654321", "email": "nobody@acme.test", "newPassword": pw("N3w-Passw0rd!")})},

	{"POST /multi/corporates", secretWithUser, func(f *accessFixture) call {
		f.n++
		return call{path: "/multi/corporates", body: corporateBody("corporate" + strconv.Itoa(f.n) + "@acme.test")}
	}},
	{"GET /multi/corporates", userToken, fixed("/multi/corporates", nil)},
	{"PATCH /multi/corporates", userToken, fixed("/multi/corporates", map[string]any{"locale": "en"})},
	{"POST /multi/consumers", secretWithUser, func(f *accessFixture) call {
		f.n++
		return call{path: "/multi/consumers", body: consumerBody("consumer" + strconv.Itoa(f.n) + "@acme.test")}
	}},
	{"GET /multi/consumers", userToken, asConsumer("/multi/consumers", nil)},
	{"PATCH /multi/consumers", userToken, asConsumer("/multi/consumers", map[string]any{"locale": "en"})},

	{"GET /multi/authentication_factors", userToken, fixed("/multi/authentication_factors", nil)},
	{"POST /multi/authentication_factors/otp/{channel}", userToken, fixed(enrolPath, nil)},
	{"POST /multi/authentication_factors/otp/{channel}/verify", userToken, fixed(enrolVerifyPath, codeBody(sandboxCode))},
	{"POST /multi/stepup/challenges/otp/{channel}", userToken, fixed(stepUpPath, nil)},
	{"POST /multi/stepup/challenges/otp/{channel}/verify", userToken, fixed(stepUpVerifyPath, codeBody(sandboxCode))},

	{"POST /multi/challenges/otp/{channel}", userToken, fixed("/multi/challenges/otp/SMS", confirmBody("sends", "1"))}, // 409: no SMS factor
	{"POST /multi/challenges/{scaChallengeId}/otp/{channel}/verify", userToken, fixed("/multi/challenges/1/otp/SMS/verify",
		map[string]any{"verificationCode": sandboxCode, "resourceType": "sends"})}, // 404: no such challenge
	{"POST /multi/challenges/push/{channel}", userToken, fixed("/multi/challenges/push/AUTHY", confirmBody("sends", "1"))}, // 409: biometrics off
	{"POST /multi/challenges/resources/{resource_type}/{resource_id}", secretKey, func(f *accessFixture) call {
		return call{path: "/multi/challenges/resources/sends/1", body: resourceBody(f.member.id, 1250, "Alice Example")}
	}},
	{"GET /multi/challenges/resources/{resource_type}/{resource_id}", secretKey, fixed("/multi/challenges/resources/sends/1", nil)},

	{"POST /multi/bulks/users", userToken, fixed("/multi/bulks/users", []any{map[string]any{"requestBody": userBody("bulk@acme.test", core.RoleCardAssignee)}})},
	{"POST /multi/bulks/users/_user_id_/invite", userToken, func(f *accessFixture) call {
		return call{path: "/multi/bulks/users/_user_id_/invite", body: []any{map[string]any{"pathParams": map[string]any{"_user_id_": f.target}}}}
	}},
	{"GET /multi/bulks", userToken, fixed("/multi/bulks", nil)},
	{"GET /multi/bulks/{bulk_id}", userToken, fixed("/multi/bulks/1", nil)}, // 404
	{"GET /multi/bulks/{bulk_id}/operations", userToken, fixed("/multi/bulks/1/operations", nil)},
	{"POST /multi/bulks/{bulk_id}/execute", userToken, fixed("/multi/bulks/1/execute", nil)},
	{"POST /multi/bulks/{bulk_id}/pause", userToken, fixed("/multi/bulks/1/pause", nil)},
	{"POST /multi/bulks/{bulk_id}/resume", userToken, fixed("/multi/bulks/1/resume", nil)},
	{"POST /multi/bulks/{bulk_id}/cancel", userToken, fixed("/multi/bulks/1/cancel", nil)},

	{"POST /multi/users", userToken, func(f *accessFixture) call {
		f.n++
		return call{path: usersPath, body: userBody("user"+strconv.Itoa(f.n)+"@acme.test", core.RoleCardAssignee)} // 403 STEP_UP_REQUIRED
	}},
	{"GET /multi/users", userToken, fixed(usersPath, nil)},
	{"GET /multi/users/{user_id}", userToken, onTarget("", nil)},
	{"PATCH /multi/users/{user_id}", userToken, onTarget("", map[string]any{"tag": "access"})},
	{"GET /multi/users/{user_id}/status", userToken, onTarget("/status", nil)},
	{"POST /multi/users/{user_id}/activate", userToken, onTarget("/activate", nil)},
	{"POST /multi/users/{user_id}/deactivate", userToken, onTarget("/deactivate", nil)},
	{"POST /multi/users/{user_id}/invite", userToken, onTarget("/invite", nil)},
	{"POST /multi/users/{user_id}/device/reset", userToken, onTarget("/device/reset", nil)}, // 403 STEP_UP_REQUIRED
	{"GET /multi/users/{user_id}/security_events", userToken, onTarget("/security_events", nil)},
	{"POST /multi/users/{user_id}/invite/validate", eitherKey, onTarget("/invite/validate", map[string]any{"inviteCode": "654321"})},
	{"POST /multi/users/{user_id}/invite/consume", eitherKey, onTarget("/invite/consume", map[string]any{"inviteCode": "654321", "password": pw(testPassword)})},
	{"POST /multi/users/verification/email/send", secretKey, func(f *accessFixture) call {
		return call{path: emailSendPath, body: map[string]any{"email": f.member.email}}
	}},
	{"POST /multi/users/verification/email/verify", secretKey, func(f *accessFixture) call {
		return call{path: emailVerifyPath, body: map[string]any{"email": f.member.email, "verificationCode": "654321"}}
	}},
	{"POST /multi/corporates/verification/email/send", secretKey, fixed("/multi/corporates/verification/email/send", map[string]any{"email": "nobody@acme.test"})},
	{"POST /multi/corporates/verification/email/verify", secretKey, fixed("/multi/corporates/verification/email/verify", map[string]any{"email": "nobody@acme.test", "verificationCode": "654321"})},
	{"POST /multi/consumers/verification/email/send", secretKey, fixed("/multi/consumers/verification/email/send", map[string]any{"email": "nobody@acme.test"})},
	{"POST /multi/consumers/verification/email/verify", secretKey, fixed("/multi/consumers/verification/email/verify", map[string]any{"email": "nobody@acme.test", "verificationCode": "654321"})},
	{"POST /multi/users/kyc", userToken, fixed(kycPath, nil)}, // 409: email not verified
	{"GET /multi/roles", userToken, fixed("/multi/roles", nil)},
	{"GET /multi/session", userToken, fixed("/multi/session", nil)},
	{"POST /multi/kyc/callback", secretKey, func(f *accessFixture) call {
		body := `{"reference":"999999999","status":"APPROVED"}` // 404: no such case
		return call{path: kycCallbackPath, body: body, headers: []string{kycsig.Header, kycsig.Sign(kycCallbackSecret, f.e.svc.Now(), []byte(body))}}
	}},

	// Biometrics and push (server/push.go, pushstream.go).
	{"POST /multi/authentication_factors/push/{channel}", userToken, fixed("/multi/authentication_factors/push/BIOMETRIC", map[string]any{})},
	{"POST /multi/authentication_factors/push/{channel}/begin", userToken, fixed("/multi/authentication_factors/push/BIOMETRIC/begin", map[string]any{})},
	{"POST /multi/authentication_factors/push/{channel}/finish", userToken, fixed("/multi/authentication_factors/push/BIOMETRIC/finish", map[string]any{})},
	{"DELETE /multi/authentication_factors/push/{channel}", userToken, fixed("/multi/authentication_factors/push/BIOMETRIC", nil)},
	{"POST /multi/stepup/challenges/push/{channel}", userToken, fixed("/multi/stepup/challenges/push/BIOMETRIC", nil)},
	{"GET /multi/stepup/challenges/push/{channel}/{id}", userToken, fixed("/multi/stepup/challenges/push/BIOMETRIC/999999999", nil)},
	{"GET /multi/push/stream", userToken, func(*accessFixture) call {
		return call{path: "/multi/push/stream", headers: []string{streamHeader, "1"}}
	}},
	{"GET /multi/push/pending", userToken, fixed("/multi/push/pending", nil)},
	{"POST /multi/push/challenges/{id}/options", userToken, fixed("/multi/push/challenges/999999999/options", map[string]any{})},
	{"POST /multi/push/challenges/{id}/approve", userToken, fixed("/multi/push/challenges/999999999/approve", map[string]any{})},
	{"POST /multi/push/challenges/{id}/decline", userToken, fixed("/multi/push/challenges/999999999/decline", nil)},
	{"PUT /multi/push/token", userToken, fixed("/multi/push/token", map[string]any{})},
	{"POST /multi/login_via_biometrics", eitherKey, func(f *accessFixture) call {
		return call{path: "/multi/login_via_biometrics", body: map[string]any{"email": f.member.email}}
	}},
	{"POST /multi/login_via_biometrics/{id}/token", eitherKey, fixed("/multi/login_via_biometrics/999999999/token", map[string]any{})},

	{"GET /multi/sandbox/outbox", secretOrUser, fixed("/multi/sandbox/outbox", nil)},
	{"POST /multi/sandbox/clock", secretKey, fixed("/multi/sandbox/clock", map[string]any{"advanceSeconds": 0})},
	{"POST /multi/sandbox/kyc/{reference}", secretKey, fixed("/multi/sandbox/kyc/999999999", map[string]any{"status": "APPROVED"})},
}

// credentials is one way of calling: which key, and which bearer token.
type credentials struct {
	name  string
	key   string // "", "unknown", "secret" or "ui"
	token string // "", "valid" (a fresh session of the member) or "bogus"
}

var allCredentials = []credentials{
	{"no key", "", ""},
	{"no key with a token", "", "valid"},
	{"unknown key", "unknown", ""},
	{"secret key", "secret", ""},
	{"ui key", "ui", ""},
	{"secret key and token", "secret", "valid"},
	{"ui key and token", "ui", "valid"},
	{"secret key and bogus token", "secret", "bogus"},
	{"ui key and bogus token", "ui", "bogus"},
}

// outcome is the class of answer the access table predicts.
type outcome int

const (
	accepted     outcome = iota // got past authentication
	missingKey                  // 400 naming api-key
	unauthorized                // 401
	uiKeyRefused                // 403 INSUFFICIENT_PERMISSIONS
)

func (o outcome) String() string {
	return [...]string{"accepted", "400 api-key REQUIRED", "401", "403 INSUFFICIENT_PERMISSIONS"}[o]
}

// predict is the access table itself, written out independently of server.go.
func predict(access string, c credentials) outcome {
	switch {
	case access == public:
		return accepted
	case c.key == "":
		return missingKey
	case c.key == "unknown":
		return unauthorized
	}
	switch access {
	case secretKey:
		if c.key == "ui" {
			return uiKeyRefused
		}
	case secretWithUser:
		switch {
		case c.key == "ui":
			return uiKeyRefused
		case c.token == "bogus":
			return unauthorized
		}
	case userToken, authToken:
		if c.token != "valid" {
			return unauthorized
		}
	case secretOrUser:
		switch {
		case c.key == "secret":
		case c.token == "":
			return uiKeyRefused
		case c.token != "valid":
			return unauthorized
		}
	}
	return accepted
}

func TestPredictedAccessTable(t *testing.T) {
	// The rules of issue 5 and the GUIDE, for the cases that matter most.
	assert.Equal(t, uiKeyRefused, predict(secretKey, credentials{key: "ui", token: "valid"}), "the ui key never calls secret-key operations, token or not")
	assert.Equal(t, accepted, predict(eitherKey, credentials{key: "ui"}))
	assert.Equal(t, unauthorized, predict(userToken, credentials{key: "secret"}), "the secret key does not replace a user's token")
	assert.Equal(t, unauthorized, predict(secretWithUser, credentials{key: "secret", token: "bogus"}), "a token given is checked")
	assert.Equal(t, accepted, predict(secretWithUser, credentials{key: "secret"}))
	assert.Equal(t, accepted, predict(secretOrUser, credentials{key: "secret"}))
	assert.Equal(t, uiKeyRefused, predict(secretOrUser, credentials{key: "ui"}))
	assert.Equal(t, accepted, predict(secretOrUser, credentials{key: "ui", token: "valid"}))
}

// Every route, called every way: the answer is exactly the class the access
// table predicts, and the calls refused did nothing.
func TestAccessTable(t *testing.T) {
	e, uiKey := newEnvWithKeys(t, server.Options{})
	root := e.adminRoot("root@acme.test")
	f := &accessFixture{
		e:      e,
		member: e.withPassword(root.token, "member@acme.test"),
		target: e.createUser(root.token, userBody("target@acme.test", core.RoleCardAssignee)),
	}
	f.consumer = e.weavrRoot("/consumers", "consumer@acme.test").email
	created := count(e.auditActions(), "identity.create")
	keys := map[string]string{"": "", "unknown": "dsk_" + strings.Repeat("u", 43), "secret": e.apiKey, "ui": uiKey}
	routes := withSecureRoutes(t, accessTable)

	accepts := map[string]int{}   // pattern -> calls accepted
	succeeded := map[string]int{} // pattern -> calls answered 200
	for _, rt := range routes {
		method, _, _ := strings.Cut(rt.pattern, " ")
		t.Run(rt.pattern, func(t *testing.T) {
			statuses := map[int]bool{}
			for _, c := range allCredentials {
				want := predict(rt.access, c)
				cl := rt.call(f)
				var h []string
				if keys[c.key] != "" {
					h = append(h, "api-key", keys[c.key])
				}
				switch c.token {
				case "valid":
					as := cmp.Or(cl.as, f.member.email)
					h = append(h, "Authorization", "Bearer "+e.loginToken(as))
				case "bogus":
					h = append(h, "Authorization", "Bearer dst_"+strings.Repeat("b", 43))
				}
				r := e.accessCall(method, cl, h)
				statuses[r.status] = true
				what := rt.pattern + " with " + c.name
				switch want {
				case missingKey:
					assert.Equal(t, []string{"api-key:REQUIRED"}, r.invalidFields(t), "%s: %s", what, r.body)
				case unauthorized:
					if assert.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", what, r.body) {
						assert.Equal(t, "UNAUTHORIZED", r.json(t)["code"], what)
					}
				case uiKeyRefused:
					if assert.Equal(t, http.StatusForbidden, r.status, "%s: %s", what, r.body) {
						assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t), what)
					}
				case accepted:
					accepts[rt.pattern]++
					if r.status == http.StatusOK {
						succeeded[rt.pattern]++
					}
					if rt.access == public {
						break // the same answer every time, checked below
					}
					// Authentication comes before anything else: any other answer,
					// even a 400 about the body, came from past it.
					refused := r.status == http.StatusUnauthorized ||
						(r.status == http.StatusBadRequest && slices.Contains(r.invalidFields(t), "api-key:REQUIRED")) ||
						(r.status == http.StatusForbidden && r.errorCode(t) == core.CodeInsufficientPermissions)
					assert.False(t, refused, "%s: want it past authentication, got %d %s", what, r.status, r.body)
					assert.NotEqual(t, http.StatusMethodNotAllowed, r.status, "%s: the route exists", what)
					assert.NotContains(t, string(r.body), "No such endpoint", "%s: the route exists", what)
				}
			}
			if rt.access == public {
				assert.Len(t, statuses, 1, "a public route answers the same whatever the credentials: %v", statuses)
				assert.NotContains(t, statuses, http.StatusUnauthorized)
				assert.NotContains(t, statuses, http.StatusForbidden)
			}
		})
	}

	// Calls refused at authentication did nothing: only the corporateCreate
	// and consumerCreate calls answered 200 created identities. With the
	// member's token, not stepped up, a create would link: refused (403).
	assert.Equal(t, 2, accepts["POST /multi/corporates"], "secret key; with a token")
	assert.Equal(t, 1, succeeded["POST /multi/corporates"], "secret key")
	assert.Equal(t, created+succeeded["POST /multi/corporates"]+succeeded["POST /multi/consumers"], count(e.auditActions(), "identity.create"))
}

// accessCall sends one request of the access table; routes outside the OpenAPI
// description (the capture component's static files) bypass the validator.
func (e *env) accessCall(method string, c call, headers []string) resp {
	e.t.Helper()
	stream := slices.Contains(c.headers, streamHeader)
	if !stream && !strings.HasPrefix(c.path, "/secure/") {
		return e.call(method, c.path, c.body, append(slices.Clone(c.headers), headers...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.url+c.path, nil)
	require.NoError(e.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	if stream && res.StatusCode == http.StatusOK {
		return resp{status: res.StatusCode, header: res.Header} // an open stream: leave it
	}
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// registered is a route as the server's source registers it.
type registered struct {
	pattern, access string
}

var (
	reHandle       = regexp.MustCompile(`s\.handle\("([A-Z]+ [^"]+)",\s*(\w+),`)
	reHandleStream = regexp.MustCompile(`s\.handleStream\("([A-Z]+ [^"]+)"`)
	reMuxHandle    = regexp.MustCompile(`s\.mux\.Handle(?:Func)?\("([A-Z]+ [^"]+)"`)
)

// serverRoutes reads the routes the server registers from its source: every
// s.handle with its access level, every s.handleStream (userToken), and every
// route registered straight on the mux (public).
func serverRoutes(t *testing.T) []registered {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var out []registered
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, m := range reHandle.FindAllStringSubmatch(string(src), -1) {
			out = append(out, registered{m[1], m[2]})
		}
		for _, m := range reHandleStream.FindAllStringSubmatch(string(src), -1) {
			out = append(out, registered{m[1], userToken}) // handleStream authenticates as userToken
		}
		for _, m := range reMuxHandle.FindAllStringSubmatch(string(src), -1) {
			out = append(out, registered{m[1], public})
		}
	}
	require.NotEmpty(t, out)
	return out
}

// withSecureRoutes adds the browser capture component's static routes
// (GET /secure/..., public, owned by capture.go and its own tests) to table.
func withSecureRoutes(t *testing.T, table []accessRoute) []accessRoute {
	t.Helper()
	out := slices.Clone(table)
	for _, r := range serverRoutes(t) {
		if strings.HasPrefix(r.pattern, "GET /secure/") && !strings.Contains(r.pattern, "{") {
			out = append(out, accessRoute{r.pattern, public, fixed(strings.TrimPrefix(r.pattern, "GET "), nil)})
		}
	}
	return out
}

// The table above cannot fall behind: every route registered in server.go is
// in it with the same access level, and so is every operation of
// assets/openapi.yaml, whose x-deputy-access agrees.
func TestAccessTableMirrorsServerAndSpec(t *testing.T) {
	table := map[string]string{}
	for _, r := range accessTable {
		require.NotContains(t, table, r.pattern, "listed twice")
		table[r.pattern] = r.access
	}
	seen := map[string]bool{}
	for _, r := range serverRoutes(t) {
		seen[r.pattern] = true
		if strings.HasPrefix(r.pattern, "GET /secure/") {
			continue // the capture component's files: public, walked by TestAccessTable all the same
		}
		access, ok := table[r.pattern]
		if !ok {
			t.Errorf("%s (%s) is registered by the server but missing from accessTable in server/access_test.go", r.pattern, r.access)
			continue
		}
		assert.Equal(t, access, r.access, "%s: access level in server.go", r.pattern)
	}
	for p := range table {
		assert.True(t, seen[p], "%s is in accessTable but not registered by the server", p)
	}

	spec, err := apispec.Load()
	require.NoError(t, err)
	inSpec := map[string]bool{}
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			inSpec[pattern] = true
			if _, ok := table[pattern]; !ok {
				t.Errorf("operation %s (%s) is in assets/openapi.yaml but missing from accessTable in server/access_test.go", op.OperationID, pattern)
				continue
			}
			declared, _ := op.Extensions["x-deputy-access"].(string)
			if table[pattern] == public {
				assert.Empty(t, declared, pattern)
			} else {
				assert.Equal(t, table[pattern], declared, "%s: x-deputy-access", pattern)
			}
		}
	}
	for p := range table {
		assert.True(t, inSpec[p], "%s is not described in assets/openapi.yaml", p)
	}
}
