package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type tokenizeRequest struct {
	Password *passwordJSON `json:"password"`
}

// tokenize turns a password into a single-use token (Deputy's counterpart of
// Weavr's secure UI components): browsers and apps send the password here with
// the public ui key, and only the token travels through the embedder's backend.
func (s *Server) tokenize(r *request) (reply, error) {
	if err := s.checkBrowserOrigin(r.Request); err != nil {
		return reply{}, err
	}
	var in tokenizeRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.password("password", in.Password)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	// The rate limits are counted in the same commit as the token is stored.
	token, err := s.svc.Tokenise(r.Context(), r.prog, in.Password.Value, s.clientIP(r.Request))
	if err != nil {
		return reply{}, err
	}
	return ok(tokenResponse{Token: token})
}

// plainPassword resolves a checked password field that signs in or proves
// the current password: a tokenised password is redeemed (once), plaintext
// passes unless the programme requires tokens.
func (s *Server) plainPassword(r *request, field string, p *passwordJSON) (string, error) {
	return s.svc.Password(r.Context(), r.prog, field+".value", p.Value)
}

// passwordToSet resolves a checked password field being set: a tokenised
// password then serves one sign-in more (core.Service.PasswordToSet).
func (s *Server) passwordToSet(r *request, field string, p *passwordJSON) (string, error) {
	return s.svc.PasswordToSet(r.Context(), r.prog, field+".value", p.Value)
}

// clientIP is the caller's address: the connection's peer, or, when the peer
// is a trusted proxy, the right-most address in X-Forwarded-For that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
