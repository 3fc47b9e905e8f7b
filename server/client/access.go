package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Access tokens and linked identities (Weavr requestAccessToken and
// userIdentities). A sign-in of credentials linked to several identities is
// an auth token: it lists identities and exchanges itself for an access token
// of one of them; anything else fails with [ErrForbidden], code
// ACCESS_TOKEN_REQUIRED.

// LinkedIdentity is one identity a token reaches (Weavr UserIdentity).
type LinkedIdentity struct {
	ID   IdentityID `json:"id"`
	Name string     `json:"name"`
}

// IdentityPage is one page of [Session.Identities].
type IdentityPage struct {
	Identities    []LinkedIdentity `json:"identities"`
	Count         int              `json:"count"`         // every identity the token reaches
	ResponseCount int              `json:"responseCount"` // how many this page holds
}

// AccessToken is an exchanged token (Weavr AccessTokenResponse).
type AccessToken struct {
	Token       string       `json:"token"` // pass it to Client.Session
	Identity    IdentityID   `json:"identity"`
	Credentials CredentialID `json:"credentials"`
	Status      string       `json:"status"` // AccessTokenStandard or AccessTokenSteppedUp
}

// Token types of a Login (Weavr TokenType).
const (
	TokenTypeAuth   = "AUTH"
	TokenTypeAccess = "ACCESS"
)

// Access token states.
const (
	AccessTokenStandard  = "STANDARD"
	AccessTokenSteppedUp = "STEPPED_UP"
)

// Identities lists one page of the identities the session's token reaches
// (Weavr userIdentities); limit 0 means the server's default (100).
func (s *Session) Identities(ctx context.Context, offset, limit int) (*IdentityPage, error) {
	q := url.Values{}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out IdentityPage
	if err := s.do(ctx, &call{op: "list identities", method: http.MethodGet, path: "/multi/identities", query: q, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AccessToken exchanges the session's sign-in token for an access token of
// identity (Weavr requestAccessToken); nil picks the only identity the
// credentials reach. An identity they do not reach is [ErrForbidden].
func (s *Session) AccessToken(ctx context.Context, identity *IdentityID) (*AccessToken, error) {
	in := struct {
		Identity *IdentityID `json:"identity,omitempty"`
	}{identity}
	var out AccessToken
	if err := s.do(ctx, &call{op: "request access token", method: http.MethodPost, path: "/multi/access_token", in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// LinkCorporate creates a corporate whose root user signs in with the
// session's credentials (corporateCreate with the user's token, a Deputy
// extension): the client must hold the secret key, the session must be
// stepped up, and in.RootUser.Email must be the credentials' email.
func (s *Session) LinkCorporate(ctx context.Context, in CorporateCreate, opts ...CallOption) (*Corporate, error) {
	var out Corporate
	err := s.do(ctx, &call{op: "link corporate", method: http.MethodPost, path: "/multi/corporates", in: in, out: &out}, opts...)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// LinkConsumer is [Session.LinkCorporate] for a consumer.
func (s *Session) LinkConsumer(ctx context.Context, in ConsumerCreate, opts ...CallOption) (*Consumer, error) {
	var out Consumer
	err := s.do(ctx, &call{op: "link consumer", method: http.MethodPost, path: "/multi/consumers", in: in, out: &out}, opts...)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AccessLogin exchanges login's token for an access token of login's own
// identity and returns login with that token instead: what a first-party
// client managing the signed-in user's identity does right after signing in,
// so that it works whether or not the credentials reach further identities
// (the sign-in's token of linked credentials is an auth token).
func (c *Client) AccessLogin(ctx context.Context, login *Login) (*Login, error) {
	at, err := c.Session(login.Token).AccessToken(ctx, &login.Identity)
	if err != nil {
		return nil, err
	}
	return &Login{Token: at.Token, TokenType: TokenTypeAccess, Identity: at.Identity, Credentials: at.Credentials}, nil
}
