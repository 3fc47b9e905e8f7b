package server

import (
	"bytes"
	"crypto/subtle"

	"github.com/deputyhq/deputy/core"
)

// Weavr's identity and access-token shapes (UserIdentitiesGetResponseSchema,
// AccessTokenRequest, AccessTokenResponse).
type (
	userIdentityJSON struct {
		ID   identityIDJSON `json:"id"`
		Name string         `json:"name"`
	}
	userIdentitiesResponse struct {
		Identities    []userIdentityJSON `json:"identities"`
		Count         int                `json:"count"`
		ResponseCount int                `json:"responseCount"`
	}
	accessTokenRequest struct {
		Identity *identityIDJSON `json:"identity"`
		// ClientAssertion is Weavr's proof of a delegated API client. Deputy
		// has no delegation: it is accepted and ignored, which grants nothing.
		ClientAssertion string `json:"clientAssertion,omitempty"`
		// Token is Weavr's one-time token to exchange. Deputy exchanges the
		// bearer's sign-in only, so a token may only repeat the bearer token.
		Token string `json:"token,omitempty"`
	}
	accessTokenResponse struct {
		Token       string          `json:"token"`
		Identity    identityIDJSON  `json:"identity"`
		Credentials credentialsJSON `json:"credentials"`
		Status      string          `json:"status"`
	}
)

// userIdentities implements Weavr userIdentities: the identities the
// caller's token reaches, paged.
func (s *Server) userIdentities(r *request) (reply, error) {
	q := r.URL.Query()
	var f fields
	offset := queryOffset(&f, q)
	limit := queryInt(&f, q, "limit", 100, 1, 100)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	page, total, err := s.svc.Identities(r.Context(), r.caller, offset, limit)
	if err != nil {
		return reply{}, err
	}
	out := userIdentitiesResponse{Identities: make([]userIdentityJSON, len(page)), Count: total, ResponseCount: len(page)}
	for i, li := range page {
		out.Identities[i] = userIdentityJSON{ID: identityIDJSON{Type: string(li.Ref.Type), ID: li.Ref.ID}, Name: li.Name}
	}
	return ok(out)
}

// requestAccessToken implements Weavr requestAccessToken: the sign-in's token
// for an access token of one identity (identity may be left out when the
// credentials reach only one, which Weavr requires but Deputy does not).
func (s *Server) requestAccessToken(r *request) (reply, error) {
	var in accessTokenRequest
	if len(bytes.TrimSpace(r.body)) > 0 {
		if err := decodeJSON(r.body, &in); err != nil {
			return reply{}, err
		}
	}
	var f fields
	f.identityID("identity", in.Identity)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if in.Token != "" && subtle.ConstantTimeCompare([]byte(in.Token), []byte(bearerToken(r.Request))) != 1 {
		return reply{}, errOtherToken
	}
	at, err := s.svc.ExchangeToken(r.Context(), r.caller, in.Identity.core())
	if err != nil {
		return reply{}, err
	}
	signedIn := signedInResponse(at.Token, at.User)
	status := "STANDARD"
	if at.SteppedUp {
		status = "STEPPED_UP"
	}
	return ok(accessTokenResponse{Token: at.Token, Identity: signedIn.Identity, Credentials: signedIn.Credentials, Status: status})
}

// errOtherToken refuses an exchange whose body names a token other than the
// bearer's: Deputy never exchanges a token the caller does not sign in with.
var errOtherToken = &core.Error{Class: core.ErrPermissionDenied, Code: core.CodeInsufficientPermissions,
	Message: "token must be the bearer token: Deputy exchanges the signed-in token only"}

// identityID checks an optional Weavr IdentityId: both members required.
func (f *fields) identityID(field string, id *identityIDJSON) {
	if id == nil {
		return
	}
	if f.required(field+".type", id.Type) {
		f.oneOf(field+".type", id.Type, string(core.Corporate), string(core.Consumer))
	}
	if f.required(field+".id", id.ID) {
		f.pattern(field+".id", id.ID, reDigits)
	}
}
