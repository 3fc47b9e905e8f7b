package core

import (
	"context"
	"errors"
	"time"
)

// Caller is an authenticated request's principal: the programme (from the api
// key) and, for token-carrying calls, the session and its user.
type Caller struct {
	Programme *Programme
	Session   *Session
	User      *User
	// DeviceSecret is the secret the request presented for the companion
	// device it speaks for (header device-secret), if any.
	DeviceSecret string
}

// SignedIn is the outcome of a successful sign-in: a bearer token, shown once.
type SignedIn struct {
	Token string
	User  *User
}

// sessionTokenPrefix marks session tokens.
const sessionTokenPrefix = "dst_"

// completeLogin opens a session for a verified password, re-checking inside the
// transaction that the user was not locked or deactivated meanwhile and that
// the password is still the one checked: a change or reset that committed
// during the check ended every session, and must end this one too.
func (s *Service) completeLogin(ctx context.Context, u *User, pw *PasswordRecord, plain string, rehash bool) (*SignedIn, error) {
	var newHash string
	if rehash {
		h, err := s.hashPassword(ctx, u, plain)
		if err != nil {
			return nil, internal("rehash password", err)
		}
		newHash = h
	}
	token, err := randomToken(sessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	var user *User
	err = s.store.Update(ctx, func(tx Tx) error {
		cur, err := tx.User(u.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if !cur.Active {
			return &Error{Class: ErrInvalidCredentials}
		}
		if cur.Locked(now) {
			return lockedError(cur.LockedUntil, now)
		}
		rec, err := tx.Password(u.ID)
		if err != nil {
			return err
		}
		if rec.Hash != pw.Hash {
			return errInvalidCredentials
		}
		if cur.FailedLogins != 0 {
			cur.FailedLogins = 0
			cur.UpdatedAt = now
			if err := tx.UpdateUser(cur); err != nil {
				return err
			}
		}
		if newHash != "" {
			rec.Hash = newHash
			if err := tx.PutPassword(rec); err != nil {
				return err
			}
		}
		if err := s.insertSession(tx, cur, token, now); err != nil {
			return err
		}
		user = cur
		return s.audit(ctx, tx, cur.ProgrammeID, cur.ID, "user.login", cur.ID, nil)
	})
	if err != nil {
		return nil, internal("open session", err)
	}
	return &SignedIn{Token: token, User: user}, nil
}

// insertSession opens the sign-in session of u under token.
func (s *Service) insertSession(tx Tx, u *User, token string, now time.Time) error {
	return tx.InsertSession(signInSession(s.keys.hash(purposeSession, token), u, now))
}

// signInSession is a new sign-in session of u: an auth token when u's
// credentials reach several identities (access.go).
func signInSession(tokenHash []byte, u *User, now time.Time) *Session {
	sess := newSession(tokenHash, u, now)
	sess.AuthOnly = len(u.LinkedIdentities) > 0
	return sess
}

// newSession is a new session of u, acting in u's identity.
func newSession(tokenHash []byte, u *User, now time.Time) *Session {
	return &Session{TokenHash: tokenHash, UserID: u.ID, IdentityID: u.IdentityID, ProgrammeID: u.ProgrammeID, CreatedAt: now, LastSeen: now}
}

// touchInterval is how stale a session's recorded activity may get before a
// request writes it again: a write per request would make every read a disk
// write. A session may therefore end up to this much before its idle timeout.
func (s *Service) touchInterval() time.Duration {
	return min(s.cfg.SessionIdle/30, 10*time.Second)
}

// Authenticate resolves a bearer token to its caller, ending idle sessions and
// recording activity (Weavr: valid for 5 minutes from last activity).
func (s *Service) Authenticate(ctx context.Context, prog *Programme, token string) (*Caller, error) {
	if token == "" {
		return nil, errMissingToken
	}
	var (
		sess *Session
		user *User
	)
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		sess, user, err = s.sessionOf(tx, s.keys.hash(purposeSession, token))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.openCaller(ctx, prog, sess, user)
}

// AuthenticateCall resolves an api key and a user's bearer token together, in
// one read transaction: AuthenticateKey then Authenticate, for the calls that
// need both.
func (s *Service) AuthenticateCall(ctx context.Context, key, token string) (*Caller, KeyKind, error) {
	prog, kind, sess, user, err := s.readCall(ctx, key, token)
	if err != nil {
		return nil, kind, err
	}
	c, err := s.openCaller(ctx, prog, sess, user)
	return c, kind, err
}

// AdmitCall checks an api key and a user's bearer token as AuthenticateCall
// does, but records no activity (admitCaller): for the server's own
// re-checks of a call that is still running, such as a push stream's
// heartbeat, which are not the user's activity and must not keep the
// session from idling out.
func (s *Service) AdmitCall(ctx context.Context, key, token string) (*Caller, KeyKind, error) {
	prog, kind, sess, user, err := s.readCall(ctx, key, token)
	if err != nil {
		return nil, kind, err
	}
	c, err := s.admitCaller(prog, sess, user)
	return c, kind, err
}

// readCall reads, in one read transaction, the programme of key and the
// session and user of token, for AuthenticateCall and AdmitCall.
func (s *Service) readCall(ctx context.Context, key, token string) (*Programme, KeyKind, *Session, *User, error) {
	if key == "" {
		return nil, UIKey, nil, nil, errMissingKey
	}
	var (
		prog *Programme
		kind KeyKind
		sess *Session
		user *User
	)
	err := s.store.View(ctx, func(tx ReadTx) error {
		tokenHash := s.keys.hash(purposeSession, token)
		if p, ok := tx.(SessionPrefetcher); ok && token != "" {
			p.PrefetchSession(tokenHash)
		}
		var err error
		if prog, kind, err = s.programmeForKey(tx, key); err != nil {
			return err
		}
		if token == "" {
			return errMissingToken
		}
		sess, user, err = s.sessionOf(tx, tokenHash)
		return err
	})
	return prog, kind, sess, user, err
}

var (
	errMissingToken = &Error{Class: ErrUnauthenticated, Message: "missing bearer token"}
	errInvalidToken = &Error{Class: ErrUnauthenticated, Message: "invalid or expired token"}
)

// sessionOf finds the session of a non-empty token (its hash) in tx, and its user.
func (s *Service) sessionOf(tx ReadTx, tokenHash []byte) (*Session, *User, error) {
	sess, err := tx.Session(tokenHash)
	if err == nil {
		var user *User
		if user, err = tx.User(sess.UserID); err == nil {
			return sess, user, nil
		}
	}
	if errors.Is(err, ErrRecordNotFound) {
		return nil, nil, errInvalidToken
	}
	return nil, nil, internal("authenticate token", err)
}

// admitCaller admits a session of prog that has neither idled out nor
// outlived its lifetime and whose user is active, without recording any
// activity: the caller of work done for the session in the background (a
// bulk's runner, RunBulks), which must not keep the session alive past its
// user's last call.
func (s *Service) admitCaller(prog *Programme, sess *Session, user *User) (*Caller, error) {
	now := s.clock.Now()
	if sess.ProgrammeID != prog.ID || !user.Active || now.Sub(sess.LastSeen) >= s.cfg.SessionIdle || s.outlived(sess, now) {
		return nil, errInvalidToken
	}
	return &Caller{Programme: prog, Session: sess, User: user}, nil
}

// outlived reports whether sess has reached the end of its lifetime at now
// (Config.SessionLifetime, counted from its sign-in). Unlike the idle
// timeout, which admitting a call pushes back, that end is a fixed instant
// any request may straddle, so the actions that write for a session check it
// again in their own transaction (liveSession).
func (s *Service) outlived(sess *Session, now time.Time) bool {
	return now.Sub(sess.CreatedAt) >= s.cfg.SessionLifetime
}

// openCaller admits a session of the user's own call (admitCaller),
// recording its activity at most once per touchInterval.
func (s *Service) openCaller(ctx context.Context, prog *Programme, sess *Session, user *User) (*Caller, error) {
	c, err := s.admitCaller(prog, sess, user)
	if err != nil {
		return nil, err
	}
	if now := s.clock.Now(); now.Sub(sess.LastSeen) >= s.touchInterval() {
		hash := sess.TokenHash
		err := s.store.Update(ctx, func(tx Tx) error {
			cur, err := tx.Session(hash)
			if err != nil {
				return err
			}
			if cur.LastSeen.Before(now) {
				cur.LastSeen = now
				return tx.UpdateSession(cur)
			}
			return nil
		})
		if errors.Is(err, ErrRecordNotFound) {
			return nil, errInvalidToken
		}
		if err != nil {
			return nil, internal("touch session", err)
		}
		sess.LastSeen = now
	}
	return c, nil
}

// updateAs runs fn in an Update made for caller c, after reading c's
// session and user again in the same transaction (callerStands), so that a
// revocation that commits while the request runs refuses the write instead
// of letting it commit on what authentication read before.
func (s *Service) updateAs(ctx context.Context, c *Caller, fn func(Tx) error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := s.callerStands(tx, c); err != nil {
			return err
		}
		return fn(tx)
	})
}

// callerStands checks in tx that c's session still exists (a revocation
// that ends sessions has not ended it) and has not outlived its lifetime
// since c was admitted, and that c's user is still active
// (CREDENTIALS_INACTIVE) and still holds every permission c was judged with
// (INSUFFICIENT_PERMISSIONS): a role taken away refuses the write, a role
// only added does not.
func (s *Service) callerStands(tx ReadTx, c *Caller) error {
	if _, err := s.liveSession(tx, c); err != nil {
		return err
	}
	u, err := tx.User(c.User.ID)
	switch {
	case err != nil:
		return err
	case !u.Active:
		return Conflict(CodeCredentialsInactive)
	case !holdsAllOf(u, c.User):
		return errRolesChanged
	}
	return nil
}

// liveSession reads the caller's session in tx, failing with
// ErrUnauthenticated when it no longer exists (ended by a revocation since
// it was authenticated) or has reached the end of its lifetime since
// (outlived).
func (s *Service) liveSession(tx ReadTx, c *Caller) (*Session, error) {
	sess, err := tx.Session(c.Session.TokenHash)
	switch {
	case errors.Is(err, ErrRecordNotFound):
		return nil, errInvalidToken
	case err != nil:
		return nil, err
	case s.outlived(sess, s.clock.Now()):
		return nil, errInvalidToken
	}
	return sess, nil
}

// errRolesChanged refuses a write whose permission was judged on roles that
// lost a permission before it could commit.
var errRolesChanged = &Error{Class: ErrPermissionDenied, Code: CodeInsufficientPermissions,
	Message: "the caller's roles changed during the request: send it again"}

// Logout ends the caller's sign-in everywhere at once (Weavr logout): the
// session whose token it is, the sign-in it was exchanged from and every
// access token of that sign-in (endSignIn).
func (s *Service) Logout(ctx context.Context, c *Caller) error {
	signIn := c.Session.TokenHash
	if c.Session.SignIn != nil {
		signIn = c.Session.SignIn
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := endSignIn(tx, c.User, signIn); err != nil {
			return err
		}
		return s.audit(ctx, tx, c.Programme.ID, c.User.ID, "user.logout", c.User.ID, nil)
	})
	return internal("logout", err)
}

// Sweep records the challenges that expired unanswered (expireChallenges),
// then removes idle sessions and expired challenges (confirmations
// included), password tokens, rate counters, step-up grants and idempotency
// records, and the shared presence of devices gone for presenceKeep. The
// server runs it periodically; with several replicas, one of them at a time
// (Integrations.Leader).
func (s *Service) Sweep(ctx context.Context) error {
	return s.lead(ctx, "sweep", s.sweep)
}

func (s *Service) sweep(ctx context.Context) error {
	if err := s.expireChallenges(ctx); err != nil {
		return internal("sweep: expire challenges", err)
	}
	now := s.clock.Now()
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.DeleteSessionsIdleSince(now.Add(-s.cfg.SessionIdle)); err != nil {
			return err
		}
		// Challenges are kept well past their life: their re-issue count limits the session.
		if _, err := tx.DeleteChallengesIssuedBefore(now.Add(-24 * time.Hour)); err != nil {
			return err
		}
		if _, err := tx.DeletePasswordTokensExpired(now); err != nil {
			return err
		}
		if _, err := tx.DeleteCountersExpired(now); err != nil {
			return err
		}
		if _, err := tx.DeletePushChallengesCreatedBefore(now.Add(-pushKeep)); err != nil {
			return err
		}
		// As long as push challenges: a push confirmation shares its push challenge's id.
		if _, err := tx.DeleteConfirmationsIssuedBefore(now.Add(-pushKeep)); err != nil {
			return err
		}
		if _, err := tx.DeleteStepUpGrantsExpired(now); err != nil {
			return err
		}
		if _, err := tx.DeleteWebAuthnRegistrationsExpired(now); err != nil {
			return err
		}
		_, err := tx.DeleteIdempotencyExpired(now)
		return err
	})
	if err != nil {
		return internal("sweep", err)
	}
	if s.send.Presence != nil {
		err = s.send.Presence.ForgetDevicesSeenBefore(ctx, now.Add(-presenceKeep))
	}
	return internal("sweep: device presence", err)
}
