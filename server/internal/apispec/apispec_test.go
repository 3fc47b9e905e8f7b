package apispec

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/weavrspec"
)

func TestLoad(t *testing.T) {
	spec, err := Load()
	require.NoError(t, err)
	require.Equal(t, "3.1.0", spec.Doc.OpenAPI)
	again, err := Load()
	require.NoError(t, err)
	require.Same(t, spec, again, "Load parses the description once")
}

func TestParseRejectsAnInvalidDescription(t *testing.T) {
	_, err := parse([]byte("openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Missing'}}}}\n"))
	require.Error(t, err)
}

// weavrOperations are the Weavr Multi API operations Deputy serves; the
// remaining ones are Deputy's own.
var weavrOperations = []string{
	"consumerCreate", "consumerGet", "corporateCreate", "corporateGet", "consumerUpdate", "corporateUpdate",
	"corporateRootUserEmailVerificationCodeSend", "corporateRootUserEmailVerify",
	"consumerRootUserEmailVerificationCodeSend", "consumerRootUserEmailVerify",
	"authFactorsGet", "enrolDeviceUsingOtpStepOne", "enrolDeviceUsingOtpStepTwo",
	"loginWithPassword", "logout",
	"lostPasswordInitiate", "lostPasswordResume", "passwordCreate", "passwordUpdate", "passwordValidate",
	"stepupSCAChallenge", "stepupSCAVerify",
	"userCreate", "usersGet", "userGetById", "userUpdate", "userActivate", "userDeactivate",
	"userInviteSend", "userInviteValidate", "userInviteConsume",
	"authorisedUserEmailVerificationCodeSend", "authorisedUserEmailVerify",
	"userKyc", "rolesGet",
	"enrolDeviceUsingPush", "unlinkDeviceUsingPush", "stepupSCAChallengePush", "loginViaBiometrics",
	"userIdentities", "requestAccessToken",
	"multipleSCAChallenge", "multipleSCAVerify", "multipleSCAChallengePush",
	"bulksUserCreate", "bulksUserInviteSend", "bulks", "bulkId", "bulkIdOperations",
	"bulkIdExecute", "bulkIdPause", "bulkIdResume", "bulkIdCancel",
}

var deputyOperations = []string{
	"healthz", "openapiGet", "readyz", "sandboxClockAdvance", "sandboxOutboxGet",
	"kycCallback", "sandboxKycDecide", "tokenize", "userStatusGet", "userDeviceReset",
	"biometricEnrolBegin", "biometricEnrolFinish", "stepupSCAChallengePushGet", "pushStream", "pushPending",
	"pushChallengeOptions", "pushChallengeApprove", "pushChallengeDecline", "pushTokenPut", "loginViaBiometricsToken",
	"userSecurityEvents", "sessionGet", "challengeResourceRegister", "challengeResourceGet",
}

// extensionOperations are Deputy's own additions under /multi that a Weavr
// client would not know; they carry the "Deputy extensions" tag.
var extensionOperations = []string{"kycCallback", "sandboxKycDecide", "tokenize", "userStatusGet", "userDeviceReset",
	"biometricEnrolBegin", "biometricEnrolFinish", "stepupSCAChallengePushGet", "pushStream", "pushPending",
	"pushChallengeOptions", "pushChallengeApprove", "pushChallengeDecline", "pushTokenPut", "loginViaBiometricsToken",
	"userSecurityEvents", "sessionGet", "challengeResourceRegister", "challengeResourceGet"}

// idempotentOperations declare idempotency-ref, as Weavr does for them.
var idempotentOperations = []string{
	"consumerCreate", "corporateCreate",
	"enrolDeviceUsingOtpStepOne", "enrolDeviceUsingOtpStepTwo",
	"stepupSCAChallenge", "stepupSCAVerify",
	"userCreate", "userUpdate", "userInviteSend", "userInviteConsume", "userDeviceReset",
	"authorisedUserEmailVerificationCodeSend", "corporateRootUserEmailVerificationCodeSend", "consumerRootUserEmailVerificationCodeSend",
	"corporateUpdate", "consumerUpdate",
	"enrolDeviceUsingPush", "unlinkDeviceUsingPush", "stepupSCAChallengePush", "biometricEnrolBegin", "biometricEnrolFinish",
	"multipleSCAChallenge", "multipleSCAVerify", "multipleSCAChallengePush",
	"bulksUserCreate", "bulksUserInviteSend",
}

type operation struct {
	method, path string
	op           *openapi3.Operation
}

func operations(t *testing.T) []operation {
	t.Helper()
	spec, err := Load()
	require.NoError(t, err)
	var ops []operation
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].op.OperationID < ops[j].op.OperationID })
	return ops
}

func TestOperationIDs(t *testing.T) {
	var got []string
	for _, o := range operations(t) {
		got = append(got, o.op.OperationID)
	}
	want := slices.Concat(weavrOperations, deputyOperations)
	slices.Sort(want)
	assert.Equal(t, want, got)
}

func TestEveryOperationFollowsTheConventions(t *testing.T) {
	for _, o := range operations(t) {
		t.Run(o.op.OperationID, func(t *testing.T) {
			op := o.op
			assert.NotNil(t, op.Responses.Default(), "default response")
			for status, ref := range op.Responses.Map() {
				require.NotNil(t, ref.Value, status)
				assert.Contains(t, ref.Value.Headers, "request-ref", "response %s declares request-ref", status)
			}

			require.NotNil(t, op.Security, "security is declared on every operation")
			if strings.HasPrefix(o.path, "/multi/") {
				require.NotEmpty(t, *op.Security)
				for _, req := range *op.Security {
					assert.Contains(t, req, "api-key")
				}
			} else {
				assert.Empty(t, *op.Security, "probes and the description need no credentials")
			}

			isExtension := slices.Contains(extensionOperations, op.OperationID)
			assert.Equal(t, isExtension, slices.Contains(op.Tags, "Deputy extensions"), "tagged Deputy extensions")
			if isExtension {
				assert.Contains(t, op.Description, "Deputy extension", "the description says it is not Weavr's")
			}

			hasIdempotencyRef := op.Parameters.GetByInAndName("header", "idempotency-ref") != nil
			assert.Equal(t, slices.Contains(idempotentOperations, op.OperationID), hasIdempotencyRef, "idempotency-ref parameter")

			if op.RequestBody != nil {
				for mime, mt := range op.RequestBody.Value.Content {
					assertClosed(t, "request "+mime, mt.Schema, map[*openapi3.Schema]bool{})
				}
			}
			for status, ref := range op.Responses.Map() {
				for mime, mt := range ref.Value.Content {
					if mt.Schema != nil {
						assertClosed(t, "response "+status+" "+mime, mt.Schema, map[*openapi3.Schema]bool{})
					}
				}
			}
		})
	}
}

// assertClosed checks that every object schema under ref forbids unknown properties.
func assertClosed(t *testing.T, where string, ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	t.Helper()
	s := ref.Value
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.Type.Is("object") {
		// A map of strings (additionalProperties: {type: string}) is closed too:
		// nothing but a string goes in.
		ap := s.AdditionalProperties
		stringMap := ap.Schema != nil && ap.Schema.Value != nil && ap.Schema.Value.Type.Is("string") && len(s.Properties) == 0
		if !stringMap && (ap.Has == nil || *ap.Has || ap.Schema != nil) {
			t.Errorf("%s: object schema %s allows additional properties", where, ref.Ref)
		}
	}
	for _, p := range s.Properties {
		assertClosed(t, where, p, seen)
	}
	if s.Items != nil {
		assertClosed(t, where, s.Items, seen)
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			assertClosed(t, where, sub, seen)
		}
	}
}

func TestRateLimitedOperationsDeclareTheHeaders(t *testing.T) {
	spec, err := Load()
	require.NoError(t, err)
	for _, path := range []string{"/multi/login_with_password", "/multi/tokenize"} {
		op := spec.Doc.Paths.Find(path).Post
		tooMany := op.Responses.Status(http.StatusTooManyRequests)
		require.NotNil(t, tooMany, path)
		for _, h := range []string{"request-ref", "x-ratelimit-limit", "x-ratelimit-reset", "Retry-After"} {
			assert.Contains(t, tooMany.Value.Headers, h, path)
		}
	}
}

// recorder is a testing.TB that records errors instead of failing the test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.FailNow()
}

func (r *recorder) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errors)
}

const validLogin = `{"token":"dst_abc","tokenType":"AUTH","identity":{"type":"CORPORATE","id":"100000001"},"credentials":{"type":"ROOT","id":"100000001"}}`

// fakeServer answers each path with a canned response.
func fakeServer(t *testing.T) *httptest.Server {
	t.Helper()
	reply := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("request-ref", "ref-1")
			if body != "" {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /multi/login_with_password", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "wrong-body":
			reply(http.StatusOK, `{"token":"dst_abc","tokenType":"BEARER","identity":{"type":"CORPORATE","id":"100000001"}}`)(w, r)
		case "no-request-ref":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, validLogin)
		case "bad-request":
			reply(http.StatusBadRequest, `{"message":"Payloads do not match for the same idempotency-ref."}`)(w, r)
		case "invalid-fields":
			reply(http.StatusBadRequest, `{"message":"invalid request","syntaxErrors":{"invalidFields":[{"fieldName":"api-key","error":"REQUIRED"}]}}`)(w, r)
		case "locked":
			reply(http.StatusLocked, `{"code":"LOCKED","message":"try later"}`)(w, r)
		case "error-code-on-500":
			reply(http.StatusInternalServerError, `{"errorCode":"BOOM"}`)(w, r)
		default:
			reply(http.StatusOK, validLogin)(w, r)
		}
	})
	mux.HandleFunc("POST /multi/passwords/validate", reply(http.StatusConflict, `{"errorCode":"PASSWORD_TOO_SHORT"}`))
	mux.HandleFunc("POST /multi/passwords/update", reply(http.StatusConflict, `{"errorCode":"NOT_A_CODE"}`))
	mux.HandleFunc("POST /multi/logout", reply(http.StatusNoContent, ""))
	mux.HandleFunc("GET /multi/authentication_factors", reply(http.StatusOK, `{}`))
	mux.HandleFunc("GET /healthz", reply(http.StatusOK, `{"status":"ok"}`))
	mux.HandleFunc("GET /undocumented", reply(http.StatusOK, `{}`))
	mux.HandleFunc("/", reply(http.StatusNotFound, `{"code":"NOT_FOUND","message":"no such path"}`))
	mux.HandleFunc("PUT /multi/logout", reply(http.StatusMethodNotAllowed, `{"code":"METHOD_NOT_ALLOWED","message":"use POST"}`))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestTransport(t *testing.T) {
	srv := fakeServer(t)
	tests := []struct {
		name      string
		method    string
		path      string
		wantBody  string // what the caller reads; empty means do not check
		wantError string // substring of the one recorded error; empty means none
	}{
		{name: "valid sign-in", method: "POST", path: "/multi/login_with_password", wantBody: validLogin},
		{name: "wrong sign-in body", method: "POST", path: "/multi/login_with_password?case=wrong-body", wantError: "POST /multi/login_with_password -> 200"},
		{name: "missing request-ref", method: "POST", path: "/multi/login_with_password?case=no-request-ref", wantError: `"request-ref" missing`},
		{name: "400 with message only", method: "POST", path: "/multi/login_with_password?case=bad-request"},
		{name: "400 naming a field", method: "POST", path: "/multi/login_with_password?case=invalid-fields"},
		{name: "423 Error body", method: "POST", path: "/multi/login_with_password?case=locked"},
		{name: "default must be an Error body", method: "POST", path: "/multi/login_with_password?case=error-code-on-500", wantError: "-> 500"},
		{name: "declared 409 code", method: "POST", path: "/multi/passwords/validate"},
		{name: "undeclared 409 code", method: "POST", path: "/multi/passwords/update", wantError: "NOT_A_CODE"},
		{name: "204 without body", method: "POST", path: "/multi/logout"},
		{name: "no factors", method: "GET", path: "/multi/authentication_factors"},
		{name: "probe", method: "GET", path: "/healthz"},
		{name: "unknown path answered 404", method: "GET", path: "/multi/nothing-here"},
		{name: "unknown method answered 405", method: "PUT", path: "/multi/logout"},
		{name: "route not in the spec", method: "GET", path: "/undocumented", wantError: "operation not in openapi.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			client := NewValidator(rec).Client()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err, "the caller can still read the body")
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, string(body))
			}
			got := rec.recorded()
			if tt.wantError == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tt.wantError)
		})
	}
}

func TestWrongBodyIsStillReadable(t *testing.T) {
	srv := fakeServer(t)
	rec := &recorder{TB: t}
	client := &http.Client{Transport: NewValidator(rec).Transport(http.DefaultTransport)}
	resp, err := client.Post(srv.URL+"/multi/login_with_password?case=wrong-body", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"tokenType":"BEARER"`)
	require.Len(t, rec.recorded(), 1)
}

func TestValidateResponseShapes(t *testing.T) {
	spec, err := Load()
	require.NoError(t, err)
	const user = `"id":"100000002","identity":{"type":"CORPORATE","id":"100000001"},"name":"Grace","surname":"Hopper","email":"grace@example.com","active":true`
	const rootUser = `"id":{"type":"CORPORATE","id":"100000001"},"name":"Ada","surname":"Lovelace","email":"ada@example.com","mobile":{"countryCode":"+44","number":"7700900123"},"active":true,"emailVerified":false,"mobileNumberVerified":false`
	tests := []struct {
		name, method, path string
		status             int
		body               string
		wantErr            bool
	}{
		{"created corporate", "POST", "/multi/corporates", 200,
			`{"id":{"type":"CORPORATE","id":"100000001"},"rootUser":{` + rootUser + `,"passwordAlreadySet":false},"company":{"name":"Acme"},"creationTimestamp":1700000000000}`, false},
		{"created corporate without passwordAlreadySet", "POST", "/multi/corporates", 200,
			`{"id":{"type":"CORPORATE","id":"100000001"},"rootUser":{` + rootUser + `},"company":{"name":"Acme"},"creationTimestamp":1700000000000}`, true},
		{"corporate with a request-only field", "GET", "/multi/corporates", 200,
			`{"id":{"type":"CORPORATE","id":"100000001"},"rootUser":{` + rootUser + `},"company":{"name":"Acme","registrationCountry":"GB"},"creationTimestamp":1700000000000}`, true},
		{"corporate get", "GET", "/multi/corporates", 200,
			`{"id":{"type":"CORPORATE","id":"100000001"},"rootUser":{` + rootUser + `},"company":{"name":"Acme","countryOfRegistration":"GB"},"creationTimestamp":1700000000000}`, false},
		{"empty factors list", "GET", "/multi/authentication_factors", 200, `{"factors":[]}`, true},
		{"outbox", "GET", "/multi/sandbox/outbox", 200,
			`{"messages":[{"channel":"SMS","to":"+447700900123","text":"123456","createdAt":1700000000000}]}`, false},
		{"clock", "POST", "/multi/sandbox/clock", 200, `{"now":1700000000000}`, false},
		{"not ready", "GET", "/readyz", 503, `{"status":"unavailable"}`, false},
		{"enrol needs step-up", "POST", "/multi/authentication_factors/otp/SMS", 403, `{"errorCode":"STEP_UP_REQUIRED"}`, false},
		{"step-up cannot need step-up", "POST", "/multi/stepup/challenges/otp/SMS", 403, `{"errorCode":"STEP_UP_REQUIRED"}`, true},
		{"idempotency in flight", "POST", "/multi/stepup/challenges/otp/SMS/verify", 409, `{"errorCode":"IDEMPOTENCY_REF_IN_FLIGHT"}`, false},
		{"password token", "POST", "/multi/passwords/100000001/create", 200,
			`{"passwordInfo":{"identityId":{"type":"CONSUMER","id":"100000001"}},"token":"dst_x"}`, false},
		{"created user", "POST", "/multi/users", 200, `{` + user + `}`, false},
		{"user with roles", "GET", "/multi/users/100000002", 200, `{` + user + `,"roles":["ADMIN","CARD_ASSIGNEE"],"countryOfResidence":"MT"}`, false},
		{"user with an unknown role", "PATCH", "/multi/users/100000002", 200, `{` + user + `,"roles":["OWNER"]}`, true},
		{"user without active", "GET", "/multi/users/100000002", 200, `{"id":"100000002","identity":{"type":"CORPORATE","id":"100000001"},"name":"Grace","surname":"Hopper","email":"grace@example.com"}`, true},
		{"user create needs step-up", "POST", "/multi/users", 403, `{"errorCode":"STEP_UP_REQUIRED"}`, false},
		{"user create email taken", "POST", "/multi/users", 409, `{"errorCode":"EMAIL_NOT_UNIQUE"}`, false},
		{"user patch mobile limit", "PATCH", "/multi/users/100000002", 409, `{"errorCode":"MOBILE_NO_CHANGE_LIMIT_EXCEEDED"}`, false},
		{"user list", "GET", "/multi/users", 200, `{"users":[{` + user + `}],"count":3,"responseCount":1}`, false},
		{"empty user list", "GET", "/multi/users", 200, `{"users":[],"count":0,"responseCount":0}`, false},
		{"user list without count", "GET", "/multi/users", 200, `{"users":[]}`, true},
		{"unknown user", "GET", "/multi/users/100000009", 404, `{"code":"NOT_FOUND","message":"The requested resource could not be found."}`, false},
		{"deactivated", "POST", "/multi/users/100000002/deactivate", 204, ``, false},
		{"invite already consumed", "POST", "/multi/users/100000002/invite", 409, `{"errorCode":"INVITE_ALREADY_CONSUMED"}`, false},
		{"invite code wrong", "POST", "/multi/users/100000002/invite/validate", 409, `{"errorCode":"INVITE_OR_INVITE_CODE_INVALID"}`, false},
		{"invite consumed", "POST", "/multi/users/100000002/invite/consume", 200, `{"token":"dst_x"}`, false},
		{"invite password weak", "POST", "/multi/users/100000002/invite/consume", 409, `{"errorCode":"PASSWORD_TOO_SIMPLE"}`, false},
		{"verification email unknown", "POST", "/multi/users/verification/email/send", 409, `{"errorCode":"EMAIL_NOT_FOUND"}`, false},
		{"verification code wrong", "POST", "/multi/users/verification/email/verify", 409, `{"errorCode":"VERIFICATION_CODE_INVALID"}`, false},
		{"kyc started", "POST", "/multi/users/kyc", 200, `{"reference":"100000042"}`, false},
		{"kyc needs a verified email", "POST", "/multi/users/kyc", 409, `{"errorCode":"EMAIL_NOT_VERIFIED"}`, false},
		{"kyc for a root user", "POST", "/multi/users/kyc", 403, `{"errorCode":"INSUFFICIENT_PERMISSIONS"}`, false},
		{"roles", "GET", "/multi/roles", 200, `[{"id":"1","name":"ADMIN","description":"Manages the identity."}]`, false},
		{"role with an unknown name", "GET", "/multi/roles", 200, `[{"id":"1","name":"OWNER","description":"x"}]`, true},
		{"fresh user status", "GET", "/multi/users/100000002/status", 200,
			`{"emailVerified":false,"passwordSet":false,"locked":false,"invite":{"state":"PENDING","expiresAt":1702592000000}}`, false},
		{"full user status", "GET", "/multi/users/100000002/status", 200,
			`{"emailVerified":true,"passwordSet":true,"locked":true,"lockedUntil":1700001800000,"invite":{"state":"CONSUMED","expiresAt":1702592000000},"kyc":{"status":"PENDING_REVIEW","reference":"100000042"},"factors":[{"type":"OTP","channel":"SMS","status":"ACTIVE"}]}`, false},
		{"user status with empty factors", "GET", "/multi/users/100000002/status", 200,
			`{"emailVerified":true,"passwordSet":true,"locked":false,"factors":[]}`, true},
		{"kyc callback decided", "POST", "/multi/kyc/callback", 204, ``, false},
		{"kyc callback bad signature", "POST", "/multi/kyc/callback", 401, `{"code":"UNAUTHORIZED","message":"invalid KYC callback signature"}`, false},
		{"kyc callback reversal", "POST", "/multi/kyc/callback", 409, `{"errorCode":"KYC_ALREADY_DECIDED"}`, false},
		{"sandbox kyc unknown case", "POST", "/multi/sandbox/kyc/100000099", 404, `{"code":"NOT_FOUND","message":"kyc case"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://deputy.test"+tt.path, nil)
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			resp.Header.Set("request-ref", "ref-1")
			resp.Header.Set("Content-Type", "application/json")
			if tt.status == http.StatusServiceUnavailable {
				resp.Header.Set("Retry-After", "10") // required there
			}
			err := spec.ValidateResponse(context.Background(), req, resp, []byte(tt.body))
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestTransportIsSafeForConcurrentUse(t *testing.T) {
	srv := fakeServer(t)
	rec := &recorder{TB: t}
	client := NewValidator(rec).Client()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			path := "/multi/login_with_password"
			if i%2 == 1 {
				path += "?case=wrong-body"
			}
			resp, err := client.Post(srv.URL+path, "application/json", nil)
			if !assert.NoError(t, err) {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	assert.Len(t, rec.recorded(), 8, "one report per wrong body")
}

// TestChallengeBudgetsAreDocumented: step-ups and confirmations, by SMS
// (RateLimits.SMSPerUser) and by push (PushPromptsPerUser), answer 429 over
// their budgets, and the spec says so for each.
func TestChallengeBudgetsAreDocumented(t *testing.T) {
	spec, err := Load()
	require.NoError(t, err)
	for _, path := range []string{"/multi/stepup/challenges/otp/{channel}", "/multi/challenges/otp/{channel}", "/multi/stepup/challenges/push/{channel}", "/multi/challenges/push/{channel}"} {
		item := spec.Doc.Paths.Find(path)
		if !assert.NotNil(t, item, path) {
			continue
		}
		assert.NotNil(t, item.Post.Responses.Status(http.StatusTooManyRequests), "%s declares 429", path)
	}
}

// TestWeavrValidateResponse holds answers to Weavr's own description: its
// operations only, under /multi, with the deliberate exceptions passing.
func TestWeavrValidateResponse(t *testing.T) {
	if _, err := weavrspec.Dir(); err != nil {
		t.Skip(err)
	}
	weavr, err := LoadWeavr()
	require.NoError(t, err)
	const corporate = `{"id":{"type":"CORPORATE","id":"100000001"},"rootUser":{"id":{"type":"CORPORATE","id":"100000001"},"name":"Ada","surname":"Lovelace","email":"ada@example.com","mobile":{"countryCode":"+44","number":"7700900123"},"active":true,"emailVerified":false,"mobileNumberVerified":false%s},"company":{"name":"Acme"%s}%s,"creationTimestamp":1700000000000}`
	tests := []struct {
		name, method, path string
		status             int
		body               string
		wantErr            string
	}{
		{"corporate with Weavr's required fields", "GET", "/multi/corporates", 200,
			fmt.Sprintf(corporate, `,"companyPosition":"DIRECTOR"`, `,"type":"LLC","countryOfRegistration":"GB"`, `,"profileId":"1","ipAddress":"192.0.2.1","baseCurrency":"GBP"`), ""},
		{"corporate without them", "GET", "/multi/corporates", 200, fmt.Sprintf(corporate, "", "", ""), `property "profileId" is missing`},
		{"an errorCode Weavr does not list", "POST", "/multi/authentication_factors/otp/SMS", 409, `{"errorCode":"NOT_A_CODE"}`, "value is not one of the allowed values"},
		{"rank, on the exceptions", "PATCH", "/multi/users/100000002", 403, `{"errorCode":"RANK_INSUFFICIENT"}`, ""},
		{"the same code elsewhere", "POST", "/multi/users/100000002/invite/validate", 403, `{"errorCode":"RANK_INSUFFICIENT"}`, "INSUFFICIENT_PERMISSIONS"},
		{"a ref still running, where Weavr declares idempotency-ref", "POST", "/multi/users/100000002/invite", 409, `{"errorCode":"IDEMPOTENCY_REF_IN_FLIGHT"}`, ""},
		{"the same on a step-up", "POST", "/multi/stepup/challenges/otp/SMS/verify", 409, `{"errorCode":"IDEMPOTENCY_REF_IN_FLIGHT"}`, ""},
		{"the same where Weavr declares none", "POST", "/multi/passwords/update", 409, `{"errorCode":"IDEMPOTENCY_REF_IN_FLIGHT"}`, "value is not one of the allowed values"},
		{"a Deputy extension", "GET", "/multi/users/100000002/status", 200, `{"anything":true}`, ""},
		{"outside /multi", "GET", "/users", 200, `{"anything":true}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://deputy.test"+tt.path, nil)
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			resp.Header.Set("request-ref", "ref-1")
			resp.Header.Set("Content-Type", "application/json")
			err := weavr.ValidateResponse(context.Background(), req, resp, []byte(tt.body))
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestDescriptionsNeedNo31Checks holds checkedAs30's premise: no schema of
// Deputy's description or of Weavr's uses a keyword that OpenAPI 3.1 (JSON
// Schema 2020-12) added, or 3.0's nullable, which 3.1 dropped, so that
// kin-openapi's 3.0 validator judges their values as its 3.1 one does. (A
// discriminator, which only the 3.0 validator reads, picks the oneOf branch a
// value must match; the 3.1 one would also refuse a value that matches
// another branch too.)
func TestDescriptionsNeedNo31Checks(t *testing.T) {
	spec, err := Load()
	require.NoError(t, err)
	docs := map[string]*openapi3.T{"openapi.yaml": spec.Doc}
	if weavr, err := weavrspec.Open(weavrspec.Multi); err == nil {
		docs[weavrspec.Multi] = weavr
	} else {
		require.ErrorIs(t, err, weavrspec.ErrNotFound)
	}
	for name, doc := range docs {
		seen := map[*openapi3.Schema]bool{}
		var walk func(where string, ref *openapi3.SchemaRef)
		walk = func(where string, ref *openapi3.SchemaRef) {
			if ref == nil || ref.Value == nil || seen[ref.Value] {
				return
			}
			s := ref.Value
			seen[s] = true
			assert.Empty(t, beyond30(s), "%s: %s", name, where)
			for _, sub := range slices.Concat(s.OneOf, s.AnyOf, s.AllOf, openapi3.SchemaRefs{s.Not, s.Items, s.AdditionalProperties.Schema}) {
				walk(where, sub)
			}
			for k, p := range s.Properties {
				walk(where+"."+k, p)
			}
		}
		for k, s := range doc.Components.Schemas {
			walk("#/components/schemas/"+k, s)
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				where := method + " " + path
				for _, p := range op.Parameters {
					if p.Value != nil {
						walk(where+" "+p.Value.Name, p.Value.Schema)
					}
				}
				if op.RequestBody != nil && op.RequestBody.Value != nil {
					for _, mt := range op.RequestBody.Value.Content {
						walk(where+" body", mt.Schema)
					}
				}
				for status, r := range op.Responses.Map() {
					if r.Value == nil {
						continue
					}
					for _, mt := range r.Value.Content {
						walk(where+" "+status, mt.Schema)
					}
					for h, hr := range r.Value.Headers {
						if hr.Value != nil {
							walk(where+" "+status+" "+h, hr.Value.Schema)
						}
					}
				}
			}
		}
		assert.Greater(t, len(seen), 100, "%s: the schemas were walked", name)
	}
}

// beyond30 names the keywords of s that kin-openapi's 3.0 and 3.1
// validators read differently.
func beyond30(s *openapi3.Schema) []string {
	var used []string
	for name, in := range map[string]bool{
		"type list": s.Type != nil && len(*s.Type) > 1, "nullable": s.Nullable, "const": s.Const != nil,
		"exclusive bound as a number": s.ExclusiveMin.Value != nil || s.ExclusiveMax.Value != nil,
		"prefixItems":                 len(s.PrefixItems) > 0, "contains": s.Contains != nil || s.MinContains != nil || s.MaxContains != nil,
		"patternProperties": len(s.PatternProperties) > 0, "dependentSchemas": len(s.DependentSchemas) > 0,
		"dependentRequired": len(s.DependentRequired) > 0, "propertyNames": s.PropertyNames != nil,
		"unevaluatedItems":      s.UnevaluatedItems.Has != nil || s.UnevaluatedItems.Schema != nil,
		"unevaluatedProperties": s.UnevaluatedProperties.Has != nil || s.UnevaluatedProperties.Schema != nil,
		"if/then/else":          s.If != nil || s.Then != nil || s.Else != nil, "$defs": len(s.Defs) > 0,
		"$dynamicRef": s.DynamicRef != "" || s.DynamicAnchor != "", "content keywords": s.ContentMediaType != "" || s.ContentEncoding != "" || s.ContentSchema != nil,
	} {
		if in {
			used = append(used, name)
		}
	}
	return used
}
