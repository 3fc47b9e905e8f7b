package core

import (
	"context"
	"errors"
	"time"
)

// The sign-in rule. A sign-in names a programme and an email; its candidates
// are the programme's active users with that email and a password, across
// identities. Each candidate has its own failure count and lock.
//
//   - The password is checked against every candidate that is not locked, and
//     signs in the one candidate whose password it is.
//   - A password that is the password of several candidates signs nobody in
//     and counts nothing (403): such users need passwords of their own.
//   - A password that is nobody's is a failed guess against each candidate it
//     was checked against, and only those: each counts one failure, and
//     LockoutThreshold failures within signInFailureMemory lock that
//     candidate for LockoutDuration. A sign-in that succeeds resets only its
//     own user's count.
//   - A locked candidate is never checked, so it can be neither guessed nor
//     signed in to; the answer is 423 only when no candidate was checked.
//
// An email without candidates (unknown, no password yet, deactivated) stands
// for a candidate of its own whose count and lock are a store counter keyed on
// (programme, email): it answers exactly like one user with a wrong password,
// 403 LockoutThreshold times and then 423 for LockoutDuration. Every attempt
// costs the same store and hashing work: one read transaction, one password
// hash (for all candidates at once, by the salt rule in passwords.go) and one
// write transaction.

// signInFailureMemory is how long a failed sign-in counts towards a lockout.
const signInFailureMemory = 24 * time.Hour

// signInCandidate is a user a sign-in may open, with their password.
type signInCandidate struct {
	user *User
	pw   *PasswordRecord
}

// passwordMatch is a candidate whose password a sign-in gave.
type passwordMatch struct {
	signInCandidate
	rehash bool
}

// Login signs a user in with email and password (Weavr loginWithPassword),
// following the sign-in rule above. Unknown email, wrong password, no password
// yet and deactivated users all fail alike with ErrInvalidCredentials; locked
// candidates give ErrLocked. Failures are counted inside the store
// transaction, so the count is exact under parallel attempts.
func (s *Service) Login(ctx context.Context, prog *Programme, email, plain string) (_ *SignedIn, err error) {
	defer func() { s.observeSignIn(ctx, err) }()
	email = NormaliseEmail(email)
	cands, err := s.signInCandidates(ctx, prog.ID, email)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var open []signInCandidate
	for _, c := range cands {
		if !c.user.Locked(now) {
			open = append(open, c)
		}
	}
	matched, err := s.matchPassword(ctx, prog, email, open, plain)
	if err != nil {
		return nil, err
	}
	switch len(matched) {
	case 0:
		return nil, s.recordSignInFailure(ctx, prog.ID, email, cands, open)
	case 1:
		return s.completeLogin(ctx, matched[0].user, matched[0].pw, plain, matched[0].rehash)
	default:
		return nil, s.refuseAmbiguousSignIn(ctx, matched)
	}
}

// signInCandidates reads the active users of a programme with email and a password.
func (s *Service) signInCandidates(ctx context.Context, programmeID, email string) ([]signInCandidate, error) {
	var cands []signInCandidate
	err := s.store.View(ctx, func(tx ReadTx) error {
		cands = cands[:0]
		users, err := tx.UsersByEmail(programmeID, email)
		if err != nil {
			return err
		}
		for _, u := range users {
			if !u.Active {
				continue
			}
			pw, err := tx.Password(u.ID)
			if errors.Is(err, ErrRecordNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			cands = append(cands, signInCandidate{u, pw})
		}
		return nil
	})
	return cands, internal("sign-in lookup", err)
}

// matchPassword checks plain against the candidates, all at the cost of one
// hash when they share the email's salt (the salt rule, passwords.go), or
// spends the time of one check when there is none.
func (s *Service) matchPassword(ctx context.Context, prog *Programme, email string, cands []signInCandidate, plain string) ([]passwordMatch, error) {
	if len(cands) == 0 {
		s.hasher.VerifyDummy(ctx, plain)
		return nil, nil
	}
	hashes := make([]string, len(cands))
	for i, c := range cands {
		hashes[i] = c.pw.Hash
	}
	checks, err := s.hasher.VerifyEach(ctx, plain, hashes, s.passwordSalt(prog.ID, email))
	if err != nil {
		return nil, internal("verify password", err)
	}
	var matched []passwordMatch
	for i, c := range checks {
		if c.OK {
			matched = append(matched, passwordMatch{cands[i], c.Rehash})
		}
	}
	return matched, nil
}

var errInvalidCredentials = &Error{Class: ErrInvalidCredentials}

func lockedError(until, now time.Time) *Error {
	return &Error{Class: ErrLocked, RetryAfter: until.Sub(now), Message: "account temporarily locked after failed sign-in attempts"}
}

// recordSignInFailure counts a password that matched no candidate, in one
// transaction: a failure against each candidate in checked that is still not
// locked, or against the email itself when there are no candidates. It answers
// ErrInvalidCredentials when it counted a failure and ErrLocked when every
// candidate was locked (a parallel attempt may have got there first), so
// exactly LockoutThreshold attempts see 403.
func (s *Service) recordSignInFailure(ctx context.Context, programmeID, email string, cands, checked []signInCandidate) error {
	var (
		outcome error
		afters  []func()
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		outcome, afters = nil, nil
		now := s.clock.Now()
		if len(cands) == 0 {
			o, lockedNow, err := s.countUnknownSignInFailure(ctx, tx, programmeID, email, now)
			if err != nil {
				return err
			}
			if lockedNow { // a known user's lockout notice, without the notice
				afters = append(afters, func() { s.obs.Lockout(ctx, LockoutPassword); s.spendLater(ctx, programmeID, email) })
			}
			outcome = o
			return nil
		}
		var until time.Time
		for _, c := range cands {
			u, err := tx.User(c.user.ID)
			if err != nil {
				return err
			}
			switch {
			case !u.Active:
			case u.Locked(now):
				if until.IsZero() || u.LockedUntil.Before(until) {
					until = u.LockedUntil
				}
			case isChecked(checked, u.ID):
				after, err := s.countSignInFailure(ctx, tx, u, ActorAPI, now)
				if err != nil {
					return err
				}
				if after != nil {
					afters = append(afters, after)
				}
				outcome = errInvalidCredentials
			}
		}
		if outcome != nil || until.IsZero() {
			outcome = errInvalidCredentials
			return nil
		}
		outcome = lockedError(until, now)
		return s.audit(ctx, tx, programmeID, ActorAPI, "login.refused_locked", cands[0].user.ID, nil)
	})
	if err != nil {
		return internal("record sign-in failure", err)
	}
	for _, after := range afters {
		after()
	}
	return outcome
}

func isChecked(checked []signInCandidate, userID string) bool {
	for _, c := range checked {
		if c.user.ID == userID {
			return true
		}
	}
	return false
}

// countSignInFailure counts one failed password for u in tx (a sign-in, or a
// wrong current password at a password change) and locks u on the threshold,
// revoking as the policy's LOCKOUT row says; actor is who gave it (ActorAPI
// for a sign-in: whoever calls, not u). When it locked u it returns what
// must run after tx commits; otherwise nil.
func (s *Service) countSignInFailure(ctx context.Context, tx Tx, u *User, actor string, now time.Time) (after func(), err error) {
	if now.Sub(u.LastFailedLogin) >= signInFailureMemory {
		u.FailedLogins = 0
	}
	u.FailedLogins++
	u.LastFailedLogin = now
	action := "login.failed"
	if u.FailedLogins >= s.cfg.LockoutThreshold {
		u.FailedLogins = 0
		u.LockedUntil = now.Add(s.cfg.LockoutDuration)
		action = "login.locked"
		if after, err = s.revoke(ctx, tx, revocation{reason: RevokeLockout, user: u}); err != nil {
			return nil, err
		}
	}
	u.UpdatedAt = now
	if err := tx.UpdateUser(u); err != nil {
		return nil, err
	}
	return after, s.audit(ctx, tx, u.ProgrammeID, actor, action, u.ID, nil)
}

// signInCounterKey is the store counter standing for the candidate of an email
// without users: its failures, then its lock.
func signInCounterKey(programmeID, email string) string {
	return "signin|" + programmeID + "|" + email
}

// countUnknownSignInFailure is countSignInFailure for an email without
// candidates: the counter holds the failures until signInFailureMemory after
// the last, then LockoutThreshold until the lock ends.
func (s *Service) countUnknownSignInFailure(ctx context.Context, tx Tx, programmeID, email string, now time.Time) (outcome *Error, lockedNow bool, err error) {
	key := signInCounterKey(programmeID, email)
	n, until, err := tx.Counter(key, now)
	if err != nil {
		return nil, false, err
	}
	if n >= s.cfg.LockoutThreshold {
		return lockedError(until, now), false, s.audit(ctx, tx, programmeID, ActorAPI, "login.refused_locked", "", nil)
	}
	n++
	expires := now.Add(signInFailureMemory)
	if n >= s.cfg.LockoutThreshold {
		expires = now.Add(s.cfg.LockoutDuration)
	}
	if err := tx.SetCounter(key, n, expires); err != nil {
		return nil, false, err
	}
	return errInvalidCredentials, n >= s.cfg.LockoutThreshold, s.audit(ctx, tx, programmeID, ActorAPI, "login.failed", "", nil)
}

// refuseAmbiguousSignIn answers a password that several candidates share: it
// signs nobody in and counts no failure, and tells each user's audit trail.
func (s *Service) refuseAmbiguousSignIn(ctx context.Context, matched []passwordMatch) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		for _, m := range matched {
			if err := s.audit(ctx, tx, m.user.ProgrammeID, ActorAPI, "login.ambiguous", m.user.ID, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internal("refuse sign-in", err)
	}
	return errInvalidCredentials
}
