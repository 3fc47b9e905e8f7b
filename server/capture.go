package server

// The browser capture component (Deputy's counterpart of Weavr's secure UI
// components): an embedder's page includes GET /secure/deputy-secure.js, which
// mounts an iframe with GET /secure/capture served from Deputy's own origin.
// The password is typed, checked against the policy and tokenised inside that
// iframe; the embedder's page receives only the token, by postMessage to the
// embedder origin that the programme allows (ProgrammeSettings.AllowedOrigins).
//
// Headers: the capture page has a strict Content-Security-Policy (no inline
// script or style, connections only to Deputy, framed only by the allowed
// origin), is never cached and sends no referrer. No /multi endpoint sends
// CORS headers, so other origins cannot call the API from a browser at all;
// tokenisation additionally refuses any browser call whose Origin is not
// Deputy's own (checkBrowserOrigin).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
)

// codeOriginNotAllowed answers a browser call from a web origin that may not make it.
const codeOriginNotAllowed = "ORIGIN_NOT_ALLOWED"

var errForeignOrigin = &core.Error{Class: core.ErrPermissionDenied, Code: codeOriginNotAllowed,
	Message: "browsers may call this only from Deputy's own capture page"}

// Content-Security-Policy of the capture page, completed with its one allowed
// framing origin, and of the page refusing to show it.
const (
	captureCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors "
	refusedCSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// captureRoutes registers the public /secure/ endpoints.
func (s *Server) captureRoutes() {
	sec := assets.Secure()
	page := template.Must(template.ParseFS(sec, "capture.html"))
	refused := template.Must(template.ParseFS(sec, "error.html"))
	// The embedder's script is loaded cross-origin by design; the capture
	// page's own files are for the capture page only.
	s.mux.Handle("GET /secure/deputy-secure.js", staticFile(sec, "deputy-secure.js", "text/javascript; charset=utf-8", "cross-origin"))
	s.mux.Handle("GET /secure/capture.js", staticFile(sec, "capture.js", "text/javascript; charset=utf-8", "same-origin"))
	s.mux.Handle("GET /secure/capture.css", staticFile(sec, "capture.css", "text/css; charset=utf-8", "same-origin"))
	s.mux.HandleFunc("GET /secure/capture", func(w http.ResponseWriter, r *http.Request) {
		s.capturePage(w, r, page, refused)
	})
}

// staticFile serves one embedded file, cacheable for an hour and revalidated by ETag.
func staticFile(fsys fs.FS, name, contentType, corp string) http.Handler {
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err) // embedded at build time
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", etag)
		h.Set("Cross-Origin-Resource-Policy", corp)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// capturePageData fills capture.html.
type capturePageData struct {
	Key, Origin, Mode   string
	Label, Autocomplete string
	Rules               []captureRule
}

// captureRule is one line of the password policy, as password.Profile.Describe
// gives it; Min and Max are set for the length rule, which the page checks itself.
type captureRule struct {
	ID, Text string
	Min, Max int
}

// capturePage serves GET /secure/capture?key=<ui key>&origin=<embedder origin>&mode=new|current,
// only for a programme's public ui key and an origin the programme allows.
func (s *Server) capturePage(w http.ResponseWriter, r *http.Request, page, refused *template.Template) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	refuse := func(status int, text string) {
		h.Set("Content-Security-Policy", refusedCSP)
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = refused.Execute(w, text)
	}
	q := r.URL.Query()
	key, mode := q.Get("key"), q.Get("mode")
	origin, ok := core.NormaliseOrigin(q.Get("origin"))
	if mode == "" {
		mode = "new"
	}
	if key == "" || !ok || (mode != "new" && mode != "current") {
		refuse(http.StatusBadRequest, "This password field was set up wrongly: it needs a ui key, the page's origin and a mode of new or current.")
		return
	}
	const notHere = "This password field is not available on this site."
	prog, kind, err := s.svc.AuthenticateKey(r.Context(), key)
	switch {
	case errors.Is(err, core.ErrUnauthenticated), errors.Is(err, core.ErrInvalid):
		refuse(http.StatusForbidden, notHere)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "capture page", slog.String("request_ref", core.RequestRef(r.Context())), slog.String("error", err.Error()))
		refuse(http.StatusInternalServerError, "Something went wrong. Please try again later.")
		return
	case kind != core.UIKey:
		// The secret key must never reach a browser: refuse, and tell the operator.
		s.log.WarnContext(r.Context(), "a capture page was requested with the secret api key; rotate it",
			slog.String("programme", prog.ID), slog.String("request_ref", core.RequestRef(r.Context())))
		refuse(http.StatusForbidden, notHere)
		return
	case !originAllowed(prog, origin):
		refuse(http.StatusForbidden, notHere)
		return
	}
	data := capturePageData{Key: key, Origin: origin, Mode: mode, Label: "Password", Autocomplete: "current-password"}
	if mode == "new" {
		data.Label, data.Autocomplete = "New password", "new-password"
		profile := s.svc.PasswordProfile(prog)
		for _, rule := range profile.Describe() {
			cr := captureRule{ID: rule.ID, Text: rule.Text}
			if rule.ID == "length" {
				cr.Min, cr.Max = profile.MinLen(), profile.MaxLen()
			}
			data.Rules = append(data.Rules, cr)
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		s.log.ErrorContext(r.Context(), "capture page", slog.String("request_ref", core.RequestRef(r.Context())), slog.String("error", err.Error()))
		refuse(http.StatusInternalServerError, "Something went wrong. Please try again later.")
		return
	}
	h.Set("Content-Security-Policy", captureCSP+origin)
	h.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// originAllowed reports whether origin (normalised) is one of the programme's allowed origins.
func originAllowed(p *core.Programme, origin string) bool {
	for _, a := range p.Settings.AllowedOrigins {
		if n, ok := core.NormaliseOrigin(a); ok && n == origin {
			return true
		}
	}
	return false
}

// checkBrowserOrigin refuses a browser's call from any web origin but
// Deputy's own (the capture page): a request with an Origin header, or with
// Sec-Fetch-Site, must come from the same origin. Clients that are not
// browsers send neither and pass. Deputy's origin is the Host the request was
// sent to (X-Forwarded-Host and -Proto when the peer is a trusted proxy).
func (s *Server) checkBrowserOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errForeignOrigin
	}
	raw := r.Header.Get("Origin")
	if raw == "" {
		return nil
	}
	origin, ok := core.NormaliseOrigin(raw) // "null" (opaque origins) fails here
	if !ok {
		return errForeignOrigin
	}
	host, schemes := r.Host, []string{"http", "https"}
	if r.TLS != nil {
		schemes = []string{"https"}
	}
	if s.fromTrustedProxy(r) {
		if fh := strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Host"), ",")[0]); fh != "" {
			host = fh
		}
		if fp := forwardedProto(r); fp != "" {
			schemes = []string{fp}
		}
	}
	for _, scheme := range schemes {
		if self, ok := core.NormaliseOrigin(scheme + "://" + host); ok && self == origin {
			return nil
		}
	}
	return errForeignOrigin
}

// overTLS reports whether r reached Deputy over TLS: on a TLS connection, or
// through a trusted proxy whose X-Forwarded-Proto says https.
func (s *Server) overTLS(r *http.Request) bool {
	return r.TLS != nil || (s.fromTrustedProxy(r) && forwardedProto(r) == "https")
}

// forwardedProto is the first scheme of r's X-Forwarded-Proto, "http" or
// "https", else "": to be believed only from a trusted proxy.
func forwardedProto(r *http.Request) string {
	if fp := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0])); fp == "http" || fp == "https" {
		return fp
	}
	return ""
}

// fromCapturePage reports whether r comes from a browser on Deputy's own
// origin, the capture page: it checks what is typed before tokenising it,
// so plaintext is its to send to passwordValidate even where a programme
// accepts only tokens from everyone else. A client that is not a browser
// could claim it, and would learn only whether a password of its own meets
// the policy.
func (s *Server) fromCapturePage(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "same-origin" && r.Header.Get("Origin") != "" && s.checkBrowserOrigin(r) == nil
}

// fromTrustedProxy reports whether r's peer is one of the configured proxies.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && s.trusted(a.Unmap())
}
