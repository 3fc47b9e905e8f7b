package core

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Auth tokens, access tokens and linked identities (Weavr requestAccessToken,
// userIdentities).
//
// A root user's credentials (email and password) may be linked to further
// identities of the programme. Each linked identity keeps a root user of its
// own (its id is the identity's id, as for every identity), which has no
// password: User.CredentialsID names the root user whose credentials sign it
// in, and that user's LinkedIdentities list the identities. A link is made
// only when the identity is created (CreateIdentity with LinkTo), with the
// secret api key and the stepped-up session of the credentials: the owner of
// the credentials agrees, and knowing an email is never enough.
//
// Signing in opens a session of the credentials' user. When the credentials
// reach one identity, that session works directly (Weavr's own e2e suite uses
// it) and may also be exchanged; when they reach several, it is an auth token
// (Session.AuthOnly): it may list the identities, be exchanged for an access
// token and log out, nothing else. An access token is a session of the root
// user of the identity it was made for (or of the credentials' user for their
// own identity), so every operation sees exactly one identity through
// Caller.User, as with any session: it never reaches another. It carries the
// step-up of a biometric sign-in (Session.SignedInStepped), never one made
// later on the sign-in's token: a step-up raises only the token it was made
// on. It idles out and is revoked like any session, and a logout with any
// token of a sign-in ends them all (endSignIn). An access token cannot be exchanged
// again, and lists only its own identity.

// maxLinkedIdentities bounds the identities one root user's credentials
// reach, its own included: the list lives in the user's record.
const maxLinkedIdentities = 100

// CodeIdentityLimitExceeded refuses to link one more identity to credentials
// that reach 100 already (maxLinkedIdentities).
const CodeIdentityLimitExceeded = "IDENTITY_LIMIT_EXCEEDED"

// CodeAccessTokenRequired refuses an auth token anywhere but listing
// identities, exchanging it and logging out (Weavr's 403 ACCESS_TOKEN_REQUIRED).
const CodeAccessTokenRequired = "ACCESS_TOKEN_REQUIRED"

var (
	// ErrAccessTokenRequired answers an auth token used for anything else.
	ErrAccessTokenRequired = &Error{Class: ErrPermissionDenied, Code: CodeAccessTokenRequired,
		Message: "these credentials reach several identities: exchange the token at POST /multi/access_token first"}
	// errAuthTokenRequired answers an access token offered for an exchange.
	errAuthTokenRequired = &Error{Class: ErrPermissionDenied, Code: CodeInsufficientPermissions,
		Message: "only the token of a sign-in can be exchanged for an access token"}
	// errNotLinked answers an identity the credentials do not reach, whether
	// or not it exists.
	errNotLinked = &Error{Class: ErrPermissionDenied, Code: CodeInsufficientPermissions,
		Message: "the credentials are not linked to that identity"}
)

// IdentityRef names an identity as Weavr's IdentityId does.
type IdentityRef struct {
	Type IdentityType
	ID   string
}

// LinkedIdentity is one entry of GET /multi/identities (Weavr UserIdentity).
type LinkedIdentity struct {
	Ref  IdentityRef
	Name string
}

// AccessToken is a new access token, shown once (Weavr AccessTokenResponse).
type AccessToken struct {
	Token     string
	User      *User // the user it acts as: the identity's root user, or the credentials' own user
	SteppedUp bool
}

// reachable returns the ids of the identities sess may list and exchange
// for: those of the credentials for a sign-in of their own user, else only
// the session's identity.
func reachable(sess *Session, u *User) []string {
	if sess.SignIn != nil || u.CredentialsID != "" {
		return []string{u.IdentityID}
	}
	return append([]string{u.IdentityID}, u.LinkedIdentities...)
}

// Identities lists the identities the caller's token reaches, in linking
// order, skipping those whose root user was deactivated (Weavr
// userIdentities). It returns one page and how many there are in all.
func (s *Service) Identities(ctx context.Context, c *Caller, offset, limit int) ([]LinkedIdentity, int, error) {
	var all []LinkedIdentity
	err := s.store.View(ctx, func(tx ReadTx) error {
		all = all[:0]
		for _, id := range reachable(c.Session, c.User) {
			ident, err := tx.Identity(id)
			if err != nil {
				return err
			}
			if id != c.User.IdentityID {
				root, err := tx.User(id)
				if err != nil {
					return err
				}
				if !root.Active {
					continue
				}
			}
			all = append(all, LinkedIdentity{Ref: IdentityRef{Type: ident.Type, ID: ident.ID}, Name: ident.Name})
		}
		return nil
	})
	if err != nil {
		return nil, 0, internal("list identities", err)
	}
	if offset >= len(all) {
		return nil, len(all), nil
	}
	return all[offset:min(offset+limit, len(all))], len(all), nil
}

// ExchangeToken exchanges the caller's sign-in token for an access token of
// one identity its credentials reach (Weavr requestAccessToken); a zero want
// picks the only one. A biometric sign-in's stepped-up session gives a
// stepped-up access token. It costs one keyed hash and one write, and a
// sign-in makes at most RateLimits.AccessTokensPerSignIn of them a window.
func (s *Service) ExchangeToken(ctx context.Context, c *Caller, want IdentityRef) (*AccessToken, error) {
	if c.Session.SignIn != nil {
		return nil, errAuthTokenRequired
	}
	ids := reachable(c.Session, c.User)
	target := want.ID
	switch {
	case target == "" && len(ids) == 1:
		target = ids[0]
	case target == "":
		return nil, Invalid("identity", ReasonRequired)
	case !slices.Contains(ids, target):
		return nil, errNotLinked
	}
	token, err := randomToken(sessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	var out *AccessToken
	err = s.store.Update(ctx, func(tx Tx) error {
		out = nil
		signIn, err := s.liveSession(tx, c) // not ended meanwhile (logout, revocation, lifetime)
		if err != nil {
			return err
		}
		acting, err := s.exchangeTarget(tx, c.User.ID, target, want.Type)
		if err != nil {
			return err
		}
		if err := s.spend(tx, newBudget("access-token", c.Programme.ID, "sign-in:"+hex.EncodeToString(signIn.TokenHash), s.cfg.RateLimits.AccessTokensPerSignIn)); err != nil {
			return err
		}
		now := s.clock.Now()
		sess := newSession(s.keys.hash(purposeSession, token), acting, now)
		sess.SignIn, sess.CreatedAt = signIn.TokenHash, signIn.CreatedAt
		if signIn.SignedInStepped {
			sess.SteppedUp, sess.SteppedUpAt = signIn.SteppedUp, signIn.SteppedUpAt
		}
		if err := tx.InsertSession(sess); err != nil {
			return err
		}
		out = &AccessToken{Token: token, User: acting, SteppedUp: sess.SteppedUp}
		return s.audit(ctx, tx, acting.ProgrammeID, c.User.ID, "user.access_token", acting.ID, map[string]string{"identity": target})
	})
	if err != nil {
		return nil, internal("exchange token", err)
	}
	return out, nil
}

// exchangeTarget re-reads, inside the exchange's transaction, the user an
// access token of identity target acts as: the credentials' own user for its
// identity, else the identity's root user, still linked to credentialsID.
// Both must be active, and the identity of the type asked for, if any.
func (s *Service) exchangeTarget(tx ReadTx, credentialsID, target string, typ IdentityType) (*User, error) {
	cred, err := tx.User(credentialsID)
	if err != nil {
		return nil, err
	}
	acting := cred
	if target != cred.IdentityID {
		if !slices.Contains(cred.LinkedIdentities, target) {
			return nil, errNotLinked
		}
		if acting, err = tx.User(target); err != nil {
			return nil, err
		}
		if acting.CredentialsID != cred.ID {
			return nil, errNotLinked
		}
	}
	switch {
	case !cred.Active:
		return nil, errInvalidToken
	case !acting.Active, typ != "" && acting.IdentityType != typ:
		return nil, errNotLinked
	}
	return acting, nil
}

// credentialsUser returns the user whose credentials sign u in: u itself, or
// for the root user of a linked identity the root user it is linked to.
func credentialsUser(tx ReadTx, u *User) (*User, error) {
	if u.CredentialsID == "" {
		return u, nil
	}
	return tx.User(u.CredentialsID)
}

// signInUsers returns the ids of every user a sign-in with u's credentials
// acts as: the credentials' user and the root users of the identities linked
// to them. A revocation of any of them reaches them all (revocation.go).
func signInUsers(tx ReadTx, u *User) ([]string, error) {
	cred, err := credentialsUser(tx, u)
	if err != nil {
		return nil, err
	}
	return append([]string{cred.ID}, cred.LinkedIdentities...), nil
}

// endSignIn ends the sign-in session signIn and every access token exchanged
// from it: sessions of the credentials u signs in with, or of the identities
// linked to them. u is read again in tx: the caller was read when its
// request was authenticated, and an identity linked since, with a token
// exchanged for it, is of the sign-in too.
func endSignIn(tx Tx, u *User, signIn []byte) error {
	u, err := tx.User(u.ID)
	if err != nil {
		return err
	}
	users, err := signInUsers(tx, u)
	if err != nil {
		return err
	}
	for _, id := range users {
		sessions, err := tx.UserSessions(id)
		if err != nil {
			return err
		}
		for _, sess := range sessions {
			if bytes.Equal(sess.TokenHash, signIn) || bytes.Equal(sess.SignIn, signIn) {
				if err := tx.DeleteSession(sess.TokenHash); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// linkNewRoot prepares, inside CreateIdentity's transaction, the root user of
// a new identity to be linked to the credentials of c (NewIdentity.LinkTo):
// c must still be a stepped-up session of a root user holding its own
// credentials, with the email the new root user was given and room for one
// more identity. The step-up covers ident (its name and profile, as sent) as
// well as root. It returns the credentials' user, for recordLink.
func (s *Service) linkNewRoot(tx Tx, c *Caller, root *User, ident *Identity) (*User, error) {
	sess, err := s.liveSession(tx, c)
	if err != nil {
		return nil, err
	}
	link := Operation{Action: "identity.link",
		Fields:  append(userFields(root), "identityType", string(root.IdentityType), "name", ident.Name, "profile", string(ident.Profile)),
		Summary: "Link a new " + strings.ToLower(string(root.IdentityType)) + " identity, " + ident.Name + ", to your credentials"}
	if err := s.stepUp(tx, &Caller{Programme: c.Programme, Session: sess, User: c.User}, link); err != nil {
		return nil, err
	}
	cred, err := tx.User(c.User.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case !cred.Active:
		return nil, errInvalidToken
	case !cred.HoldsRootEmail():
		return nil, &Error{Class: ErrPermissionDenied, Code: CodeInsufficientPermissions,
			Message: "only a root user's own credentials can be linked to a new identity"}
	case cred.Email != root.Email:
		return nil, &Error{Class: ErrInvalid, Fields: []FieldError{{Field: "rootUser.email", Reason: ReasonIn}},
			Message: "rootUser.email must be the email of the signed-in credentials being linked"}
	case len(cred.LinkedIdentities)+1 >= maxLinkedIdentities:
		return nil, Conflict(CodeIdentityLimitExceeded)
	}
	root.CredentialsID = cred.ID
	return cred, nil
}

// recordLink adds the new identity to the credentials' list.
func recordLink(tx Tx, cred *User, identityID string, now time.Time) error {
	cred.LinkedIdentities = append(cred.LinkedIdentities, identityID)
	cred.UpdatedAt = now
	return tx.UpdateUser(cred)
}
