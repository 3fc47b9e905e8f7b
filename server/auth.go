package server

import (
	"github.com/deputyhq/deputy/core"
)

type loginRequest struct {
	Email    string        `json:"email"`
	Password *passwordJSON `json:"password"`
}

type credentialsJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type loginResponse struct {
	Token       string          `json:"token"`
	TokenType   string          `json:"tokenType"`
	Identity    identityIDJSON  `json:"identity"`
	Credentials credentialsJSON `json:"credentials"`
}

func signedInResponse(token string, u *core.User) loginResponse {
	kind := "USER"
	if u.Root {
		kind = "ROOT"
	}
	return loginResponse{
		Token:       token,
		TokenType:   "AUTH",
		Identity:    identityIDJSON{Type: string(u.IdentityType), ID: u.IdentityID},
		Credentials: credentialsJSON{Type: kind, ID: u.ID},
	}
}

// loginWithPassword implements Weavr loginWithPassword.
func (s *Server) loginWithPassword(r *request) (reply, error) {
	var in loginRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.email("email", in.Email)
	f.password("password", in.Password)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.CheckRate(r.Context(), core.RateLogin, r.prog, s.clientIP(r.Request)); err != nil {
		return reply{}, err
	}
	plain, err := s.plainPassword(r, "password", in.Password)
	if err != nil {
		return reply{}, err
	}
	out, err := s.svc.Login(r.Context(), r.prog, in.Email, plain)
	if err != nil {
		return reply{}, err
	}
	return ok(signedInResponse(out.Token, out.User))
}

// logout implements Weavr logout.
func (s *Server) logout(r *request) (reply, error) {
	if err := s.svc.Logout(r.Context(), r.caller); err != nil {
		return reply{}, err
	}
	return noContent()
}
