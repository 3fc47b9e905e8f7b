package server

import (
	"github.com/deputyhq/deputy/core"
)

type passwordCreateRequest struct {
	Password *passwordJSON `json:"password"`
}

type passwordUpdateRequest struct {
	OldPassword *passwordJSON `json:"oldPassword"`
	NewPassword *passwordJSON `json:"newPassword"`
}

type lostPasswordStartRequest struct {
	Email string `json:"email"`
}

type lostPasswordResumeRequest struct {
	Nonce       string        `json:"nonce"`
	Email       string        `json:"email"`
	NewPassword *passwordJSON `json:"newPassword"`
}

type passwordInfoJSON struct {
	IdentityID identityIDJSON `json:"identityId"`
	ExpiryDate int64          `json:"expiryDate"`
}

type passwordResponse struct {
	PasswordInfo passwordInfoJSON `json:"passwordInfo"`
	Token        string           `json:"token"`
}

type tokenResponse struct {
	Token string `json:"token"`
}

func passwordSetResponse(out *core.PasswordSet) passwordResponse {
	return passwordResponse{
		PasswordInfo: passwordInfoJSON{IdentityID: identityIDJSON{Type: string(out.User.IdentityType), ID: out.User.IdentityID}},
		Token:        out.Token,
	}
}

// userIDParam reads and checks the {user_id} path parameter.
func userIDParam(r *request) (string, error) {
	id := r.PathValue("user_id")
	if !reDigits.MatchString(id) || len(id) > 20 {
		return "", core.Invalid("user_id", core.ReasonRegex, reDigits.String())
	}
	return id, nil
}

// passwordCreate implements Weavr passwordCreate.
func (s *Server) passwordCreate(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	var in passwordCreateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.password("password", in.Password)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	plain, err := s.passwordToSet(r, "password", in.Password)
	if err != nil {
		return reply{}, err
	}
	out, err := s.svc.CreatePassword(r.Context(), r.prog, id, plain)
	if err != nil {
		return reply{}, err
	}
	return ok(passwordSetResponse(out))
}

// passwordUpdate implements Weavr passwordUpdate.
func (s *Server) passwordUpdate(r *request) (reply, error) {
	var in passwordUpdateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.password("oldPassword", in.OldPassword)
	f.password("newPassword", in.NewPassword)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	oldPlain, err := s.plainPassword(r, "oldPassword", in.OldPassword)
	if err != nil {
		return reply{}, err
	}
	newPlain, err := s.passwordToSet(r, "newPassword", in.NewPassword)
	if err != nil {
		return reply{}, err
	}
	out, err := s.svc.UpdatePassword(r.Context(), r.caller, oldPlain, newPlain)
	if err != nil {
		return reply{}, err
	}
	return ok(passwordSetResponse(out))
}

// passwordValidate implements Weavr passwordValidate.
func (s *Server) passwordValidate(r *request) (reply, error) {
	var in passwordCreateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.password("password", in.Password)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	plain := in.Password.Value
	if !s.fromCapturePage(r.Request) || core.IsPasswordToken(plain) {
		var err error
		if plain, err = s.svc.PeekPassword(r.Context(), r.prog, "password.value", plain); err != nil { // validate, then update: one token
			return reply{}, err
		}
	}
	if err := s.svc.ValidatePassword(r.Context(), r.prog, plain); err != nil {
		return reply{}, err
	}
	return noContent()
}

// emailBody decodes and checks an {"email"} body (Weavr EmailRequest).
func emailBody(r *request) (string, error) {
	var in lostPasswordStartRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return "", err
	}
	var f fields
	f.email("email", in.Email)
	return in.Email, f.err()
}

// lostPasswordStart implements Weavr lostPasswordInitiate.
func (s *Server) lostPasswordStart(r *request) (reply, error) {
	email, err := emailBody(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.svc.LostPasswordStart(r.Context(), r.prog, email); err != nil {
		return reply{}, err
	}
	return noContent()
}

// lostPasswordResume implements Weavr lostPasswordResume.
func (s *Server) lostPasswordResume(r *request) (reply, error) {
	var in lostPasswordResumeRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("nonce", in.Nonce) {
		f.pattern("nonce", in.Nonce, reNonce)
	}
	f.email("email", in.Email)
	f.password("newPassword", in.NewPassword)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	plain, err := s.passwordToSet(r, "newPassword", in.NewPassword)
	if err != nil {
		return reply{}, err
	}
	out, err := s.svc.LostPasswordResume(r.Context(), r.prog, in.Email, in.Nonce, plain)
	if err != nil {
		return reply{}, err
	}
	return ok(tokenResponse{Token: out.Token})
}
