// Package apispec checks HTTP traffic against Deputy's OpenAPI description
// (assets/openapi.yaml), so that the description stays true to what the server
// actually answers.
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
)

// Spec is the loaded and validated description with its router.
type Spec struct {
	// Doc is the parsed description. Treat it as read-only: it is shared.
	Doc    *openapi3.T
	router routers.Router
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
	router, err := gorillamux.NewRouter(doc)
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
	return &Spec{Doc: doc, router: router, unrouted: unrouted}, nil
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
		route = &routers.Route{Spec: s.Doc, Path: req.URL.Path, Method: req.Method, Operation: s.unrouted}
	default:
		return fmt.Errorf("operation not in openapi.yaml: %w", err)
	}
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

// Validator reports every response that does not match the description as a
// test error.
type Validator struct {
	t    testing.TB
	spec *Spec
}

// NewValidator returns a Validator reporting to t. It fails t at once when the
// description does not load.
func NewValidator(t testing.TB) *Validator {
	t.Helper()
	spec, err := Load()
	if err != nil {
		t.Fatalf("apispec: %v", err)
	}
	return &Validator{t: t, spec: spec}
}

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
	if err := tr.v.spec.ValidateResponse(req.Context(), req, resp, body); err != nil {
		tr.v.t.Errorf("apispec: %s %s -> %d does not match openapi.yaml (request-ref %q): %v\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("request-ref"), err, truncate(body, 2048))
	}
	return resp, nil
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
