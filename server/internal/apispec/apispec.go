// Package apispec checks HTTP traffic against Deputy's OpenAPI description
// (assets/openapi.yaml), so that the description stays true to what the server
// actually answers, and against Weavr's own description of the operations
// Deputy shares with it, so that a Weavr client keeps working.
//
// Server and client tests route their requests through a Validator's Transport.
// Every response is then matched to the operation it answers and validated with
// kin-openapi's openapi3filter: status code, the request-ref header and other
// declared headers, content type and body schema. Requests are not validated:
// tests send malformed requests on purpose.
package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/weavrspec"
)

// Spec is the loaded and validated description with its router.
type Spec struct {
	// Doc is the parsed description. Treat it as read-only: it is shared.
	Doc *openapi3.T
	// checked is Doc as the router hands it to the checks (checkedAs30).
	checked *openapi3.T
	router  routers.Router
	// unrouted answers for requests that name no operation: the server's 404 for
	// an unknown path and 405 for an unknown method must still be Error bodies.
	unrouted *openapi3.Operation
}

var (
	loadOnce   sync.Once
	loadedSpec *Spec
	errLoad    error
)

// Load parses and validates assets/openapi.yaml once per process and returns it.
func Load() (*Spec, error) {
	loadOnce.Do(func() { loadedSpec, errLoad = parse(assets.OpenAPI()) })
	return loadedSpec, errLoad
}

// parse loads data as an OpenAPI document, validates it and builds its router.
func parse(data []byte) (*Spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	checked := checkedAs30(doc)
	router, err := gorillamux.NewRouter(checked)
	if err != nil {
		return nil, fmt.Errorf("route openapi.yaml: %w", err)
	}
	errResp := doc.Components.Responses["Error"]
	if errResp == nil || errResp.Value == nil {
		return nil, errors.New("openapi.yaml: components.responses.Error is missing")
	}
	unrouted := openapi3.NewOperation()
	unrouted.Responses = openapi3.NewResponses()
	unrouted.Responses.Set("default", errResp)
	return &Spec{Doc: doc, checked: checked, router: router, unrouted: unrouted}, nil
}

// checkedAs30 returns a copy of doc, sharing all else, that kin-openapi
// checks with its OpenAPI 3.0 validator. For a 3.1 document it compiles a
// JSON Schema validator anew for every value it checks (v0.152), which took
// about 40 % of the server tests' CPU. Deputy's and Weavr's descriptions use
// no keyword that 3.1 added or dropped (TestDescriptionsNeedNo31Checks), so
// the 3.0 validator, which compiles nothing, judges them alike.
func checkedAs30(doc *openapi3.T) *openapi3.T {
	c := *doc
	c.OpenAPI = "3.0.3"
	return &c
}

// options are the openapi3filter settings for response checks: security is not
// re-checked (the server did that), requests are not validated, and a status that
// is not declared is an error.
var options = func() *openapi3filter.Options {
	o := &openapi3filter.Options{
		AuthenticationFunc:        openapi3filter.NoopAuthenticationFunc,
		ExcludeRequestBody:        true,
		ExcludeRequestQueryParams: true,
		IncludeResponseStatus:     true,
		MultiError:                true,
	}
	o.WithCustomSchemaErrorFunc(schemaErrorMessage)
	return o
}()

// schemaErrorMessage says where a body breaks its schema and how, without
// kin-openapi's dump of the whole schema; the report shows the body anyway.
func schemaErrorMessage(err *openapi3.SchemaError) string {
	reason := err.Reason
	if reason == "" {
		reason = "does not match schema keyword " + strconv.Quote(err.SchemaField)
	}
	if ptr := err.JSONPointer(); len(ptr) > 0 {
		return "at /" + strings.Join(ptr, "/") + ": " + reason
	}
	return reason
}

// ValidateResponse checks that resp is an answer the description allows to req.
// body is resp's body, already read. An unknown path answered with 404, or a known
// path with an undeclared method answered with 405, must carry an Error body; any
// other request that matches no operation is an error.
func (s *Spec) ValidateResponse(ctx context.Context, req *http.Request, resp *http.Response, body []byte) error {
	route, params, err := s.router.FindRoute(req)
	switch {
	case err == nil:
	case errors.Is(err, routers.ErrPathNotFound) && resp.StatusCode == http.StatusNotFound,
		errors.Is(err, routers.ErrMethodNotAllowed) && resp.StatusCode == http.StatusMethodNotAllowed:
		route = &routers.Route{Spec: s.checked, Path: req.URL.Path, Method: req.Method, Operation: s.unrouted}
	default:
		return fmt.Errorf("operation not in openapi.yaml: %w", err)
	}
	return validateRoute(ctx, route, params, req, resp, body)
}

// validateRoute checks resp, with its body already read, against the operation
// route names.
func validateRoute(ctx context.Context, route *routers.Route, params map[string]string, req *http.Request, resp *http.Response, body []byte) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
			Options:    options,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: options,
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, in)
}

// Weavr routes requests to the operations of Weavr's Multi description, as
// Deputy serves them: under /multi.
type Weavr struct {
	router routers.Router
}

var (
	weavrOnce   sync.Once
	loadedWeavr *Weavr
	errWeavr    error
)

// LoadWeavr parses Weavr's Multi description once per process. It returns
// weavrspec.ErrNotFound when the description is absent.
func LoadWeavr() (*Weavr, error) {
	weavrOnce.Do(func() {
		doc, err := weavrspec.Open(weavrspec.Multi)
		if err != nil {
			errWeavr = err
			return
		}
		// Weavr's server is https://sandbox.weavr.io/multi; Deputy serves the
		// same paths under /multi on any host. The copy shares everything else.
		routed := checkedAs30(doc)
		routed.Servers = openapi3.Servers{{URL: "/multi"}}
		router, err := gorillamux.NewRouter(routed)
		if err != nil {
			errWeavr = fmt.Errorf("route %s: %w", weavrspec.Multi, err)
			return
		}
		loadedWeavr = &Weavr{router: router}
	})
	return loadedWeavr, errWeavr
}

// ValidateResponse checks that resp is an answer Weavr's description allows
// to req, with body already read. Requests Weavr has no operation for
// (Deputy's extensions, unknown paths) and the answers weavrExceptions
// names pass unchecked.
func (w *Weavr) ValidateResponse(ctx context.Context, req *http.Request, resp *http.Response, body []byte) error {
	route, params, err := w.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return nil
	}
	if err != nil {
		return err
	}
	a := answerOf(req.Method, route.Path, resp.StatusCode, body)
	if weavrExceptions[a] || weavrExceptionsEverywhere[weavrAnswer{status: a.status, errorCode: a.errorCode}] {
		return nil
	}
	if a.status == http.StatusConflict && a.errorCode == core.CodeIdempotencyInFlight &&
		route.Operation.Parameters.GetByInAndName("header", "idempotency-ref") != nil {
		// idempotency-ref (GUIDE): a repeat while the first is still running,
		// on every operation for which Weavr declares the header, none of
		// whose 409 lists can name it.
		return nil
	}
	return validateRoute(ctx, route, params, req, resp, body)
}

// weavrAnswer names one answer to one of Weavr's operations: path is Weavr's
// template (without /multi), errorCode the body's, if any.
type weavrAnswer struct {
	method, path string
	status       int
	errorCode    string
}

func answerOf(method, path string, status int, body []byte) weavrAnswer {
	var b struct {
		ErrorCode string `json:"errorCode"`
	}
	_ = json.Unmarshal(body, &b) // a body that is no such object has no errorCode
	return weavrAnswer{method, path, status, b.ErrorCode}
}

// weavrExceptions are the answers Deputy gives on purpose that Weavr's
// description cannot express; assets/openapi.yaml declares each of them.
var weavrExceptions = map[weavrAnswer]bool{
	// Rank (GUIDE, "Rules that keep Deputy trustworthy"): acting on a user
	// needs every permission that user holds. Weavr has no such rule, so its
	// 403 bodies name INSUFFICIENT_PERMISSIONS or STEP_UP_REQUIRED only.
	{"POST", "/users", 403, core.CodeRankInsufficient}:                      true,
	{"PATCH", "/users/{user_id}", 403, core.CodeRankInsufficient}:           true,
	{"POST", "/users/{user_id}/activate", 403, core.CodeRankInsufficient}:   true,
	{"POST", "/users/{user_id}/deactivate", 403, core.CodeRankInsufficient}: true,
	{"POST", "/users/{user_id}/invite", 403, core.CodeRankInsufficient}:     true,
	// An authorised user changing the identity (its root user and its own
	// fields) is acting on the root user, who holds every permission.
	{"PATCH", "/corporates", 403, core.CodeRankInsufficient}: true,
	{"PATCH", "/consumers", 403, core.CodeRankInsufficient}:  true,
	// A bulk's rows are its submitter's userCreate calls too.
	{"POST", "/bulks/users", 403, core.CodeRankInsufficient}:                  true,
	{"POST", "/bulks/users/_user_id_/invite", 403, core.CodeRankInsufficient}: true,
	// Only an admin (or a root user) creates users; Weavr's userCreate names
	// no 403 but STEP_UP_REQUIRED.
	{"POST", "/users", 403, core.CodeInsufficientPermissions}: true,
	// Privilege changes need a stepped-up session (GUIDE): changing a user's
	// email, mobile, roles or active state, and linking a new identity to
	// one's credentials, where Weavr asks for no step-up.
	{"PATCH", "/users/{user_id}", 403, core.CodeStepUpRequired}:         true,
	{"PATCH", "/corporates", 403, core.CodeStepUpRequired}:              true,
	{"POST", "/users/{user_id}/activate", 403, core.CodeStepUpRequired}: true,
	{"POST", "/corporates", 403, core.CodeStepUpRequired}:               true,
	{"POST", "/consumers", 403, core.CodeStepUpRequired}:                true,
	{"POST", "/bulks/{bulk_id}/execute", 403, core.CodeStepUpRequired}:  true,
	{"POST", "/bulks/{bulk_id}/resume", 403, core.CodeStepUpRequired}:   true,
	// Enrolling SMS while another factor is ACTIVE and SMS is not: the code
	// would prove only the number (core.unprovenNumberStepUp).
	{"POST", "/authentication_factors/otp/{channel}", 403, core.CodeStepUpRequired}: true,
	// A KYC case's details stay what it checked while it is pending, and
	// the person it vouches for once approved (core.kycDetailsFixed);
	// Weavr's userUpdate has no code for it.
	{"PATCH", "/users/{user_id}", 409, core.CodeKYCPending}:         true,
	{"PATCH", "/users/{user_id}", 409, core.CodeKYCAlreadyApproved}: true,
	// Wrong codes are counted across challenges (GUIDE, "Budgets"): a new
	// enrolment challenge is refused once they are spent.
	{"POST", "/authentication_factors/otp/{channel}", 409, core.CodeChallengeLimitExceeded}: true,
	// Credentials reach at most 100 identities (core.maxLinkedIdentities):
	// one more link is refused, which Weavr, whose links are made elsewhere,
	// does not describe.
	{"POST", "/corporates", 409, core.CodeIdentityLimitExceeded}: true,
	{"POST", "/consumers", 409, core.CodeIdentityLimitExceeded}:  true,
	// A mobile given with a consume must be one someone can have, as
	// wherever a mobile is set (core.checkMobile); Weavr's consume, which
	// takes a mobile too, lists no code for one that is not.
	{"POST", "/users/{user_id}/invite/consume", 409, core.CodeMobileOrCountryCodeInvalid}: true,
	// An invite to a deactivated user could never be consumed; Weavr's
	// inviteSend names no code for it, and uses this one for acting on a
	// deactivated user elsewhere.
	{"POST", "/users/{user_id}/invite", 409, core.CodeUserInactive}: true,
	// Nor does a deactivated user get a first password (and with it a
	// session); Weavr's passwordCreate names no code for it either.
	{"POST", "/passwords/{user_id}/create", 409, core.CodeUserInactive}: true,
	// Weavr's bulk user operations declare 201 and no error at all; Deputy
	// answers bad input, a missing or unknown key, a missing permission, an
	// oversized batch and a spent daily budget as everywhere else, and a
	// server busy receiving other bulks (maxBulkBodiesAtOnce) with 503.
	{"POST", "/bulks/users", 503, ""}:                                                true,
	{"POST", "/bulks/users/_user_id_/invite", 503, ""}:                               true,
	{"POST", "/bulks/users", 400, ""}:                                                true,
	{"POST", "/bulks/users", 401, ""}:                                                true,
	{"POST", "/bulks/users", 403, core.CodeInsufficientPermissions}:                  true,
	{"POST", "/bulks/users", 413, ""}:                                                true,
	{"POST", "/bulks/users", 429, ""}:                                                true,
	{"POST", "/bulks/users/_user_id_/invite", 400, ""}:                               true,
	{"POST", "/bulks/users/_user_id_/invite", 401, ""}:                               true,
	{"POST", "/bulks/users/_user_id_/invite", 403, core.CodeInsufficientPermissions}: true,
	{"POST", "/bulks/users/_user_id_/invite", 413, ""}:                               true,
	{"POST", "/bulks/users/_user_id_/invite", 429, ""}:                               true,
	// An identity keeps its last 100 bulks (core.keepBulks): a submission
	// beyond them while none has finished is refused as bulkIdExecute's
	// INVALID_STATE is.
	{"POST", "/bulks/users", 409, core.CodeBulkInvalidState}:                  true,
	{"POST", "/bulks/users/_user_id_/invite", 409, core.CodeBulkInvalidState}: true,
}

// weavrExceptionsEverywhere are the answers, by status and errorCode only,
// that Deputy may give to any of Weavr's operations on purpose.
var weavrExceptionsEverywhere = map[weavrAnswer]bool{
	// A sign-in reaching several identities (linked identities, access.go)
	// holds an auth token, which only lists identities, asks for an access
	// token (requestAccessToken) and logs out; everywhere else it is refused
	// until the user has picked one identity. Weavr lists this 403 for some
	// operations only.
	{status: 403, errorCode: core.CodeAccessTokenRequired}: true,
}

// Validator reports every response that does not match the description as a
// test error.
type Validator struct {
	t     testing.TB
	spec  *Spec
	weavr *Weavr // nil when Weavr's description is absent
}

// NewValidator returns a Validator reporting to t. It fails t at once when a
// description does not load; where Weavr's is absent, only Deputy's is checked.
func NewValidator(t testing.TB) *Validator {
	t.Helper()
	spec, err := Load()
	if err != nil {
		t.Fatalf("apispec: %v", err)
	}
	weavr, err := LoadWeavr()
	if err != nil && !errors.Is(err, weavrspec.ErrNotFound) {
		t.Fatalf("apispec: %v", err)
	}
	return &Validator{t: t, spec: spec, weavr: weavr}
}

// DeputyOnly returns a Validator that checks answers against Deputy's
// description alone, for the few answers Weavr's cannot hold (an identity
// written before Deputy required Weavr's fields).
func (v *Validator) DeputyOnly() *Validator { return &Validator{t: v.t, spec: v.spec} }

// Transport wraps base (http.DefaultTransport when nil) so that every response
// passing through is validated. The response body is read in full and then
// restored, so callers read it as usual. Use it as an http.Client's Transport.
func (v *Validator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, base: base}
}

// Client returns an http.Client whose transport validates every response.
func (v *Validator) Client() *http.Client {
	return &http.Client{Transport: v.Transport(nil)}
}

type transport struct {
	v    *Validator
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tr.base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	body, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if readErr != nil {
		// Hand the caller what arrived, followed by the same read error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{readErr}))
		tr.v.t.Errorf("apispec: %s %s -> %d: reading the body: %v", req.Method, req.URL.Path, resp.StatusCode, readErr)
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := tr.v.validate(req, resp, body); err != nil {
		tr.v.t.Errorf("apispec: %s %s -> %d (request-ref %q): %v\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("request-ref"), err, truncate(body, 2048))
	}
	return resp, nil
}

// validate checks resp against Deputy's description and, where it is
// present, Weavr's, and says which each mismatch breaks.
func (v *Validator) validate(req *http.Request, resp *http.Response, body []byte) error {
	var errs []error
	if err := v.spec.ValidateResponse(req.Context(), req, resp, body); err != nil {
		errs = append(errs, fmt.Errorf("does not match openapi.yaml: %w", err))
	}
	if v.weavr != nil {
		if err := v.weavr.ValidateResponse(req.Context(), req, resp, body); err != nil {
			errs = append(errs, fmt.Errorf("does not match Weavr's description: %w", err))
		}
	}
	return errors.Join(errs...)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// truncate keeps error reports readable when a body is large.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
