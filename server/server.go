// Package server is Deputy's HTTP API over core: routing, the api-key and bearer
// checks, idempotency, request decoding and the one mapping of core errors to
// HTTP. Paths and bodies follow Weavr's Multi API (see assets/openapi.yaml).
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/slots"
	"github.com/deputyhq/deputy/telemetry/requestspan"
)

// Options configure the HTTP layer.
type Options struct {
	// Logger receives one line per request (never bodies, keys or tokens).
	Logger *slog.Logger
	// Clock is the sandbox's movable clock; required when the service runs in sandbox mode.
	Clock *core.OffsetClock
	// TrustedProxies are the networks whose X-Forwarded-For is believed when
	// working out a caller's address for rate limits.
	TrustedProxies []netip.Prefix
	// KYCCallbackSecret verifies KYC providers' signed callbacks; without it the
	// callback endpoint refuses every call.
	KYCCallbackSecret []byte
}

// Server serves Deputy's HTTP API.
type Server struct {
	svc       *core.Service
	log       *slog.Logger
	clock     *core.OffsetClock
	kycSecret []byte
	proxies   []netip.Prefix
	mux       *http.ServeMux
	// bulkBodies admits the bulk submissions being received.
	bulkBodies *slots.Slots
}

// New returns the API handler over svc.
func New(svc *core.Service, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if svc.Sandbox() && opts.Clock == nil {
		return nil, errors.New("server: sandbox mode needs the sandbox clock")
	}
	s := &Server{svc: svc, log: opts.Logger, clock: opts.Clock, kycSecret: opts.KYCCallbackSecret, proxies: opts.TrustedProxies, mux: http.NewServeMux(),
		bulkBodies: newBulkSlots()}
	s.routes()
	return s, nil
}

// access says which credentials an endpoint needs. The route table in routes
// is Deputy's access table: the one place deciding which key may call what.
type access int

const (
	// public endpoints need no credentials (health, the OpenAPI document).
	public access = iota
	// secretKey endpoints act for the embedder's backend, often on a user without
	// that user's token: only the programme's secret api key may call them.
	secretKey
	// eitherKey endpoints may be called with the secret key or the public ui key
	// (sign-in, invite acceptance, tokenisation): they carry the user's own secret.
	eitherKey
	// userToken endpoints need a user's bearer token with either key: the token
	// authorises them. An auth token (a sign-in of credentials linked to several
	// identities) is refused with ACCESS_TOKEN_REQUIRED.
	userToken
	// secretOrUser endpoints take the secret key alone, or the ui key with a user's
	// token (the sandbox outbox, which the admin TUI shows).
	secretOrUser
	// authToken endpoints are userToken endpoints that an auth token may call
	// too: listing identities, exchanging the token, logging out.
	authToken
	// secretWithUser endpoints need the secret key and take a user's token
	// besides, which the endpoint then acts with (linking a new identity to
	// the credentials whose stepped-up token it is).
	secretWithUser
)

// idempotent marks endpoints that honour the idempotency-ref header.
type idempotent bool

// reply is what an endpoint answers on success.
type reply struct {
	status int
	body   any         // nil for no content
	header http.Header // added to the response's headers
}

func ok(body any) (reply, error) { return reply{status: http.StatusOK, body: body}, nil }

func noContent() (reply, error) { return reply{status: http.StatusNoContent}, nil }

// request is an incoming call with its authenticated parties and its body.
type request struct {
	*http.Request
	prog   *core.Programme
	key    core.KeyKind
	caller *core.Caller // nil unless the endpoint needs a user token
	body   []byte
	idem   *core.IdempotentCall // the claimed idempotency-ref, if the request has one
}

// endpoint handles one operation.
type endpoint func(r *request) (reply, error)

func (s *Server) routes() {
	s.handle("GET /healthz", public, false, s.healthz)
	s.handle("GET /readyz", public, false, s.readyz)
	s.mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(assets.OpenAPI())
	})
	s.captureRoutes() // GET /secure/...: the browser capture component (capture.go), public

	s.handle("POST /multi/login_with_password", eitherKey, false, s.loginWithPassword)
	s.handle("POST /multi/logout", authToken, false, s.logout)
	s.handle("GET /multi/identities", authToken, false, s.userIdentities)
	s.handle("POST /multi/access_token", authToken, false, s.requestAccessToken)
	s.handle("POST /multi/tokenize", eitherKey, false, s.tokenize)

	s.handle("POST /multi/passwords/{user_id}/create", secretKey, false, s.passwordCreate)
	s.handle("POST /multi/passwords/update", userToken, false, s.passwordUpdate)
	s.handle("POST /multi/passwords/validate", eitherKey, false, s.passwordValidate)
	s.handle("POST /multi/passwords/lost_password/start", secretKey, false, s.lostPasswordStart)
	s.handle("POST /multi/passwords/lost_password/resume", secretKey, false, s.lostPasswordResume)

	s.handle("POST /multi/corporates", secretWithUser, true, s.corporateCreate)
	s.handle("GET /multi/corporates", userToken, false, s.corporateGet)
	s.handle("PATCH /multi/corporates", userToken, true, s.corporateUpdate)
	s.handle("POST /multi/consumers", secretWithUser, true, s.consumerCreate)
	s.handle("GET /multi/consumers", userToken, false, s.consumerGet)
	s.handle("PATCH /multi/consumers", userToken, true, s.consumerUpdate)

	s.handle("GET /multi/authentication_factors", userToken, false, s.authFactorsGet)
	s.handle("POST /multi/authentication_factors/otp/{channel}", userToken, true, s.enrolOTP)
	s.handle("POST /multi/authentication_factors/otp/{channel}/verify", userToken, true, s.enrolOTPVerify)
	s.handle("POST /multi/stepup/challenges/otp/{channel}", userToken, true, s.stepUpOTP)
	s.handle("POST /multi/stepup/challenges/otp/{channel}/verify", userToken, true, s.stepUpOTPVerify)
	s.pushRoutes()    // biometric enrolment, push step-up, the companion's stream, biometric sign-in (push.go)
	s.confirmRoutes() // confirmation challenges and the resources they confirm (confirm.go)
	s.bulkRoutes()    // bulk processes of user creations and invites (bulks.go)

	s.handle("POST /multi/users", userToken, true, s.userCreate)
	s.handle("GET /multi/users", userToken, false, s.usersGet)
	s.handle("GET /multi/users/{user_id}", userToken, false, s.userGetByID)
	s.handle("PATCH /multi/users/{user_id}", userToken, true, s.userUpdate)
	s.handle("GET /multi/users/{user_id}/status", userToken, false, s.userStatus)
	s.handle("POST /multi/users/{user_id}/activate", userToken, false, s.userSetActive(true))
	s.handle("POST /multi/users/{user_id}/deactivate", userToken, false, s.userSetActive(false))
	s.handle("POST /multi/users/{user_id}/invite", userToken, true, s.userInviteSend)
	s.handle("POST /multi/users/{user_id}/device/reset", userToken, true, s.userDeviceReset)
	s.handle("GET /multi/users/{user_id}/security_events", userToken, false, s.userSecurityEvents)
	s.handle("POST /multi/users/{user_id}/invite/validate", eitherKey, false, s.userInviteValidate)
	s.handle("POST /multi/users/{user_id}/invite/consume", eitherKey, true, s.userInviteConsume)
	s.handle("POST /multi/users/verification/email/send", secretKey, true, s.emailVerificationSend(core.EmailScope{}))
	s.handle("POST /multi/users/verification/email/verify", secretKey, false, s.emailVerify(core.EmailScope{}))
	corporateRoot, consumerRoot := core.EmailScope{RootOf: core.Corporate}, core.EmailScope{RootOf: core.Consumer}
	s.handle("POST /multi/corporates/verification/email/send", secretKey, true, s.emailVerificationSend(corporateRoot))
	s.handle("POST /multi/corporates/verification/email/verify", secretKey, false, s.emailVerify(corporateRoot))
	s.handle("POST /multi/consumers/verification/email/send", secretKey, true, s.emailVerificationSend(consumerRoot))
	s.handle("POST /multi/consumers/verification/email/verify", secretKey, false, s.emailVerify(consumerRoot))
	s.handle("POST /multi/users/kyc", userToken, false, s.userKYC)
	s.handle("GET /multi/roles", userToken, false, s.rolesGet)
	s.handle("GET /multi/session", userToken, false, s.sessionGet)
	s.handle("POST /multi/kyc/callback", secretKey, false, s.kycCallback)

	if s.svc.Sandbox() {
		s.handle("GET /multi/sandbox/outbox", secretOrUser, false, s.sandboxOutbox)
		s.handle("POST /multi/sandbox/clock", secretKey, false, s.sandboxClock)
		s.handle("POST /multi/sandbox/kyc/{reference}", secretKey, false, s.sandboxKYC)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allowed := s.allowedMethods(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeError(w, r, errMethodNotAllowed)
			return
		}
		s.writeError(w, r, errRouteNotFound)
	})
}

// allowedMethods lists the methods r's path has routes for (for 405 and Allow).
func (s *Server) allowedMethods(r *http.Request) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// handle registers an endpoint behind the credential checks it needs.
func (s *Server) handle(pattern string, need access, idem idempotent, ep endpoint) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, hr *http.Request) {
		r := &request{Request: hr}
		if err := s.authenticate(r, need); err != nil {
			s.writeError(w, hr, err)
			return
		}
		if err := checkRequestText(hr); err != nil {
			s.writeError(w, hr, err)
			return
		}
		if hr.Method != http.MethodGet {
			limit := bodyLimit(hr, r.caller)
			if limit > maxBodyBytes {
				uploader := "programme " + r.prog.ID // a call without a session: its programme's
				if r.caller != nil {
					uploader = "identity " + r.caller.User.IdentityID
				}
				release, ok := s.bulkBodies.Take(hr.Context(), uploader)
				if !ok {
					s.writeError(w, hr, errBulkBodiesBusy)
					return
				}
				defer release()
			}
			body, err := readBody(w, hr, limit)
			if err != nil {
				s.writeError(w, hr, err)
				return
			}
			r.body = body
		}
		if idem {
			s.serveIdempotent(w, r, ep)
			return
		}
		rep, err := ep(r)
		if err != nil {
			s.writeError(w, hr, err)
			return
		}
		for k, v := range rep.header {
			w.Header()[k] = v
		}
		writeJSON(w, rep.status, rep.body)
	})
}

// listParams are the query parameters that assets/openapi.yaml declares as
// arrays, the only ones that may be given more than once.
var listParams = map[string]bool{"roles": true} // usersGet

// checkRequestText refuses a request whose path values or query parameters
// are not text (core.TextRule), naming the first: as bodies' strings are
// (decodeJSON), for they reach the store as well (a tag filter is a
// statement's parameter, which PostgreSQL refuses, NUL or invalid UTF-8,
// with an error). A parameter whose very name is not text is named "query".
// A parameter given twice that is not a list is refused too, as a name
// repeated in a body is: the handlers read only the first.
func checkRequestText(r *http.Request) error {
	for seg := range strings.SplitSeq(r.Pattern, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
			if err := core.CheckText(name, r.PathValue(name)); err != nil {
				return err
			}
		}
	}
	q := r.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		field := name
		if !core.ValidText(name) {
			field = "query"
		}
		for _, v := range append(q[name], name) {
			if err := core.CheckText(field, v); err != nil {
				return err
			}
		}
		if len(q[name]) > 1 && !listParams[name] {
			return repeatedName(field)
		}
	}
	return nil
}

// authenticate resolves the api-key header and, where needed, the bearer token,
// enforcing the access level of the endpoint.
func (s *Server) authenticate(r *request, need access) error {
	switch need {
	case public:
		return nil
	case userToken, authToken:
		c, kind, err := s.svc.AuthenticateCall(r.Context(), r.Header.Get("api-key"), bearerToken(r.Request))
		if err != nil {
			return err
		}
		if need == userToken && c.Session.AuthOnly {
			return core.ErrAccessTokenRequired
		}
		c.DeviceSecret = r.Header.Get("device-secret") // the companion's (core.Service.deviceAccess)
		r.prog, r.key, r.caller = c.Programme, kind, c
		return nil
	}
	prog, kind, err := s.svc.AuthenticateKey(r.Context(), r.Header.Get("api-key"))
	if err != nil {
		return err
	}
	r.prog, r.key = prog, kind
	token := bearerToken(r.Request)
	switch {
	case (need == secretKey || need == secretWithUser) && kind != core.SecretKey,
		need == secretOrUser && kind != core.SecretKey && token == "":
		return errSecretKeyOnly
	case need == secretOrUser && kind != core.SecretKey,
		need == secretWithUser && token != "":
		c, err := s.svc.Authenticate(r.Context(), prog, token)
		if err != nil {
			return err
		}
		if c.Session.AuthOnly {
			return core.ErrAccessTokenRequired
		}
		r.caller = c
	}
	return nil
}

// errSecretKeyOnly answers a public ui key used where only the secret key may go.
var errSecretKeyOnly = &core.Error{Class: core.ErrPermissionDenied, Code: core.CodeInsufficientPermissions,
	Message: "this operation needs the programme's secret api key"}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// serveIdempotent runs ep once per (caller, idempotency-ref): the same ref and
// payload replay the first success; failures are not remembered. The claim
// travels into core with ep's operation (answering), whose transaction
// records the answer together with the change, so that a crash between the
// commit and the answer still leaves the answer to replay.
func (s *Server) serveIdempotent(w http.ResponseWriter, r *request, ep endpoint) {
	ref, err := idempotencyRef(r.Request)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	if ref == "" {
		rep, err := ep(r)
		if err != nil {
			s.writeError(w, r.Request, err)
			return
		}
		writeJSON(w, rep.status, rep.body)
		return
	}
	ctx := r.Context()
	key := idempotencyKey(r, ref)
	replay, err := s.svc.BeginIdempotent(ctx, key, payloadHash(r))
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	if replay != nil {
		writeRaw(w, replay.Status, replay.Body)
		return
	}
	r.idem = &core.IdempotentCall{Key: key}
	rep, err := ep(r)
	// The outcome must be recorded even if the client went away meanwhile.
	bg := context.WithoutCancel(ctx)
	if err != nil {
		if aerr := s.svc.AbandonIdempotent(bg, r.idem); aerr != nil {
			s.log.ErrorContext(ctx, "abandon idempotency-ref", slog.String("error", aerr.Error()))
		}
		s.writeError(w, r.Request, err)
		return
	}
	if status, body, ok := r.idem.Answered(); ok {
		writeRaw(w, status, body) // recorded with the change, in its transaction
		return
	}
	// The operation committed no change of its own: record the answer now.
	body, err := marshalBody(rep.body)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	if ferr := s.svc.FinishIdempotent(bg, key, rep.status, body); ferr != nil {
		s.log.ErrorContext(ctx, "record idempotency-ref", slog.String("error", ferr.Error()))
	}
	writeRaw(w, rep.status, body)
}

// idempotencyRef returns r's idempotency-ref, "" when it has none (an empty
// header is absent). A ref over maxIdempotencyRef bytes is a 413; one that is
// not text (core.TextRule) a 400 naming the header: the ref is part of the
// key its record is stored under, which the store (PostgreSQL's text) takes
// as UTF-8, and a header value may hold any byte but controls.
func idempotencyRef(r *http.Request) (string, error) {
	ref := strings.TrimSpace(r.Header.Get("idempotency-ref"))
	if len(ref) > maxIdempotencyRef {
		return "", errRefTooLong
	}
	if err := core.CheckText("idempotency-ref", ref); err != nil {
		return "", err
	}
	return ref, nil
}

// maxIdempotencyRef is the longest idempotency-ref Deputy keeps, in bytes.
// Weavr documents no maximum, and its gateway answers an 8,000-character ref
// with 413: any ref over this one threshold is a 413 here, whatever its
// length, so that a client meets one rule rather than a 400 then a 413.
const maxIdempotencyRef = 255

// answering returns the context for the core call of an idempotent
// endpoint. With an idempotency-ref, it carries the claimed call, so that the
// operation finishes the record in the transaction of its change with
// answer(result), the answer the endpoint gives: endpoints build their reply
// with the same answer function.
func answering[T any](r *request, answer func(T) (reply, error)) context.Context {
	if r.idem == nil {
		return r.Context()
	}
	r.idem.Answer = func(result any) (int, []byte, error) {
		v, ok := result.(T)
		if !ok && result != nil {
			return 0, nil, fmt.Errorf("idempotent answer: result is %T, want %T", result, v)
		}
		rep, err := answer(v)
		if err != nil {
			return 0, nil, err
		}
		body, err := marshalBody(rep.body)
		return rep.status, body, err
	}
	return core.WithIdempotentCall(r.Context(), r.idem)
}

// noResult answers an operation without a result: 204.
func noResult(any) (reply, error) { return noContent() }

// idempotencyKey scopes a ref to the programme and the calling credential: the
// session for calls with a user's token (challenges and step-up belong to a
// session, so a ref must not replay across sessions), else the key. The public
// ui key has refs of its own, so that its holders can neither take a ref from
// the embedder's backend nor learn which refs the backend used.
func idempotencyKey(r *request, ref string) string {
	who := core.ActorAPI
	switch {
	case r.caller != nil:
		who = "session:" + hex.EncodeToString(r.caller.Session.TokenHash)
	case r.key != core.SecretKey:
		who = "key:" + r.key.String()
	}
	return r.prog.ID + "|" + who + "|" + ref
}

// payloadHash identifies a request's operation and body.
func payloadHash(r *request) []byte {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(r.body)
	return h.Sum(nil)
}

func marshalBody(body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	return jsonv2.Marshal(body, jsonv1.DefaultOptionsV1())
}

// writeJSON writes body as JSON with status (no body for nil).
func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := marshalBody(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"`+core.CodeInternalError+`","message":"There is a problem with the server. Please try again later."}`)
	}
	writeRaw(w, status, b)
}

// writeRaw writes a JSON body with status. Every API answer is
// Cache-Control: no-store: answers carry password and session tokens and
// personal data, which no browser or shared cache may keep (OWASP REST
// Security Cheat Sheet, "Security headers").
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Cache-Control", "no-store")
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	if body != nil {
		_, _ = w.Write(body)
	}
}

// hsts is the Strict-Transport-Security of answers served over TLS: a year,
// for this host only (Deputy does not know what its subdomains serve).
const hsts = "max-age=31536000"

// ServeHTTP adds the request-ref header and the security headers of every
// answer (X-Content-Type-Options: nosniff; Strict-Transport-Security when
// served over TLS, OWASP REST Security Cheat Sheet "Security headers"),
// recovers panics and logs one line per request. It refuses a declared body over its bodyLimit before any route runs.
// Like http.ServeMux, it sets the Pattern of the request it is given to the
// route that matched, for instrumentation wrapping it (http.route).
func (s *Server) ServeHTTP(w http.ResponseWriter, given *http.Request) {
	start := time.Now()
	ref := newRequestRef()
	h := w.Header()
	h.Set("request-ref", ref)
	h.Set("X-Content-Type-Options", "nosniff")
	if s.overTLS(given) {
		h.Set("Strict-Transport-Security", hsts)
	}
	client := core.Client{IP: s.clientIP(given), Agent: given.UserAgent()}
	requestspan.SetClientAddress(given.Context(), client.IP)
	ctx := core.WithClient(core.WithRequestRef(given.Context(), ref), client)
	r := given.WithContext(ctx)
	defer func() { given.Pattern = r.Pattern }()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(r.Context(), "panic serving request", slog.String("request_ref", ref), slog.Any("panic", p))
			if !rec.wrote {
				s.writeError(rec, r, errors.New("panic"))
			}
		}
		// The route that matched, not the path: paths hold users' ids
		// (/multi/users/100000002) and, on unknown routes, whatever an
		// outsider sent; the method only when it is one of HTTP's own. The
		// request-ref leads to the trace and to the audit log for the rest.
		s.log.InfoContext(r.Context(), "request",
			slog.String("method", logMethod(r.Method)), slog.String("route", requestspan.Route(r.Pattern)), slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)), slog.String("request_ref", ref))
	}()
	if r.ContentLength > bodyLimit(r, nil) {
		// Refused before the mux serves it, but named by its route all the
		// same: the log line, the span and the http_route metric label.
		_, r.Pattern = s.mux.Handler(r)
		s.writeError(rec, r, errBodyTooLarge)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// logMethod is method when HTTP defines it, else "_OTHER" (as OpenTelemetry
// names it): the server lets any token through as a method, up to the
// megabyte of header it reads.
func logMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "_OTHER"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Flush lets streaming endpoints flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func newRequestRef() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) healthz(*request) (reply, error) { return ok(map[string]string{"status": "ok"}) }

// readyz answers 503 with Retry-After while the service cannot take traffic
// (its store unreachable or out of space), 200 again once it can.
func (s *Server) readyz(r *request) (reply, error) {
	err := s.svc.Ready(r.Context())
	if err == nil {
		return ok(map[string]string{"status": "ok"})
	}
	s.log.ErrorContext(r.Context(), "not ready", slog.String("error", err.Error()))
	return reply{status: http.StatusServiceUnavailable, body: map[string]string{"status": "unavailable"},
		header: http.Header{"Retry-After": {retryAfter(core.UnavailableRetry)}}}, nil
}
