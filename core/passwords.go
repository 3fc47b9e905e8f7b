package core

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/deputyhq/deputy/internal/slots"
	"github.com/deputyhq/deputy/password"
)

// PasswordSet is the outcome of setting a password: the user is signed in.
type PasswordSet struct {
	Token string
	User  *User
}

// The salt rule. Every password hash of one email in one programme is made
// under the same salt, derived from the installation's secret key, the
// programme and the email, so that a sign-in checks all of that email's
// accounts (across identities) with one argon2id hash: a sign-in then costs
// the same for an email with several accounts as for one with a single
// account or none, and its time tells nobody how many there are. The salt
// still differs for every email and installation, and cannot be computed
// from the email without the key (kept in the store), so nobody can prepare
// guesses for an account before they hold the store. Two accounts share a
// salt only when one person accepted both (emailFree). A hash under another
// salt (made before this rule, or before the user's email changed) is
// checked on its own, and replaced at the user's next successful sign-in.

// passwordSalt is the salt of the passwords of email in programmeID.
func (s *Service) passwordSalt(programmeID, email string) []byte {
	seed := s.keys.hash(purposePasswordSalt, programmeID+"\x00"+NormaliseEmail(email))
	salt, err := hkdf.Expand(sha256.New, seed, "argon2id salt", int(s.cfg.PasswordParams.SaltLen))
	if err != nil { // only for a length above 255*32 bytes, which Params.Validate refuses
		panic("password salt: " + err.Error())
	}
	return salt
}

// hashPassword hashes u's new password under u's salt.
func (s *Service) hashPassword(ctx context.Context, u *User, plain string) (string, error) {
	return s.hasher.HashWithSalt(ctx, plain, s.passwordSalt(u.ProgrammeID, u.Email))
}

// checkProfile applies the programme's password profile, mapping its verdict
// to Weavr codes, and refuses the email of the user whose password it is,
// however spelt (NormaliseEmail: any case, a domain in Unicode or ASCII), as
// too simple (NIST SP 800-63B 5.1.1.2: context-specific words such as the
// username); email is "" when no user is known.
func checkProfile(prog *Programme, email, plain string) error {
	err := prog.profile().Check(plain)
	if err == nil && email != "" && NormaliseEmail(password.Normalise(plain)) == email {
		return Conflict(CodePasswordTooSimple)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrTooShort):
		return Conflict(CodePasswordTooShort)
	case errors.Is(err, password.ErrTooLong):
		return Conflict(CodePasswordTooLong)
	case errors.Is(err, password.ErrTooSimple):
		return Conflict(CodePasswordTooSimple)
	default:
		return fmt.Errorf("password profile: %w", err)
	}
}

// ValidatePassword checks a password against the programme's profile (Weavr passwordValidate).
func (s *Service) ValidatePassword(_ context.Context, prog *Programme, plain string) error {
	return checkProfile(prog, "", plain)
}

// PasswordProfile returns the programme's password profile, for clients that show it live.
func (s *Service) PasswordProfile(prog *Programme) password.Profile { return prog.profile() }

// CreatePassword sets the first password of a user and signs them in
// (Weavr passwordCreate: once only, then PASSWORD_ALREADY_CREATED; never for
// a deactivated user, USER_INACTIVE).
func (s *Service) CreatePassword(ctx context.Context, prog *Programme, userID, plain string) (*PasswordSet, error) {
	u, err := s.programmeUser(ctx, prog, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, Conflict(CodeUnresolvedIdentity) // Weavr's answer for an unknown user
	}
	if err != nil {
		return nil, err
	}
	if u.PasswordSet {
		return nil, Conflict(CodePasswordAlreadyCreated)
	}
	if !u.Active {
		return nil, errUserInactive
	}
	if err := checkProfile(prog, u.Email, plain); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, u, plain)
	if err != nil {
		return nil, internal("hash password", err)
	}
	return s.storeFirstPassword(ctx, userID, hash, ActorAPI, "password.create", func(_ Tx, u *User) error {
		if !u.Active { // deactivated while the password was hashed
			return errUserInactive
		}
		return nil
	})
}

// storeFirstPassword records a user's first password and opens a session, failing
// with PASSWORD_ALREADY_CREATED if one was set meanwhile. extra runs in the same
// transaction (an invite consume marks its invite there).
func (s *Service) storeFirstPassword(ctx context.Context, userID, hash, actor, action string, extra func(Tx, *User) error) (*PasswordSet, error) {
	token, err := randomToken(sessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	var user *User
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if u.PasswordSet || u.CredentialsID != "" { // a linked root signs in with its credentials' password
			return Conflict(CodePasswordAlreadyCreated)
		}
		now := s.clock.Now()
		if extra != nil {
			if err := extra(tx, u); err != nil {
				return err
			}
		}
		u.PasswordSet = true
		u.UpdatedAt = now
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if err := tx.PutPassword(&PasswordRecord{UserID: u.ID, Hash: hash, SetAt: now}); err != nil {
			return err
		}
		if err := s.insertSession(tx, u, token, now); err != nil {
			return err
		}
		user = u
		if actor == "" {
			actor = u.ID
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, actor, action, u.ID, nil); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, &PasswordSet{Token: token, User: u})
	})
	if err != nil {
		return nil, internal(action, err)
	}
	return &PasswordSet{Token: token, User: user}, nil
}

// UpdatePassword changes the caller's password (Weavr passwordUpdate),
// revoking as the policy's PASSWORD_CHANGED row says: every session of the
// user ends, codes emailed before are void, the user is told, and a new
// session is returned. A wrong current
// password counts towards the user's sign-in lockout like a failed sign-in
// (same count, same threshold), and a locked user gets ErrLocked without a check.
func (s *Service) UpdatePassword(ctx context.Context, c *Caller, oldPlain, newPlain string) (*PasswordSet, error) {
	if c.User.CredentialsID != "" {
		return nil, errLinkedPassword
	}
	return replaying(func() (*PasswordSet, error) {
		rec, err := s.passwordRecord(ctx, c.User.ID)
		if err != nil {
			return nil, err
		}
		if now := s.clock.Now(); c.User.Locked(now) {
			return nil, lockedError(c.User.LockedUntil, now)
		}
		ok, _, err := s.hasher.Verify(ctx, oldPlain, rec.Hash)
		if err != nil {
			return nil, internal("verify password", err)
		}
		if !ok {
			return nil, s.recordWrongCurrentPassword(ctx, c.User.ID)
		}
		accepted := s.currentPasswordAccepted(c.User.ID)
		return s.replacePassword(ctx, c.Programme, c.User, rec, newPlain, c.User.ID, RevokePasswordChanged, func(tx Tx) error {
			if err := s.callerStands(tx, c); err != nil { // a revocation during the hashing ends the change too
				return err
			}
			return accepted(tx)
		})
	})
}

// errLinkedPassword refuses a password change with an access token of a
// linked identity: the password belongs to the credentials, changed with a
// token of their own identity.
var errLinkedPassword = &Error{Class: ErrPermissionDenied, Code: CodeInsufficientPermissions,
	Message: "change the password with a token of the credentials' own identity"}

// recordWrongCurrentPassword counts a wrong current password against the
// user's lockout: PASSWORD_INCORRECT, or ErrLocked when a parallel attempt
// locked the user first.
func (s *Service) recordWrongCurrentPassword(ctx context.Context, userID string) error {
	var (
		outcome error
		after   func()
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		outcome, after = Conflict(CodePasswordIncorrect), nil
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if u.Locked(now) {
			outcome = lockedError(u.LockedUntil, now)
			return nil
		}
		after, err = s.countSignInFailure(ctx, tx, u, u.ID, now)
		return err
	})
	if err != nil {
		return internal("record wrong password", err)
	}
	if after != nil {
		after()
	}
	return outcome
}

// currentPasswordAccepted runs in the transaction of a password change whose
// current password was right: it refuses a user locked meanwhile and, like a
// sign-in, resets the user's failure count.
func (s *Service) currentPasswordAccepted(userID string) func(Tx) error {
	return func(tx Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if u.Locked(now) {
			return lockedError(u.LockedUntil, now)
		}
		if u.FailedLogins == 0 {
			return nil
		}
		u.FailedLogins, u.UpdatedAt = 0, now
		return tx.UpdateUser(u)
	}
}

// passwordActions are the audit actions of the password revocations.
var passwordActions = map[RevocationReason]string{
	RevokePasswordChanged: "password.update",
	RevokePasswordReset:   "password.reset",
}

// replacePassword applies the profile and history rules to newPlain, then swaps
// it in if the stored password is still rec and revokes as the policy's row
// for reason (PASSWORD_CHANGED or PASSWORD_RESET) says: every session of the
// user ends and the user is told. The answer is a new session. extra runs
// first in the same transaction (a reset consumes its code there), so that a
// rejected password changes nothing.
func (s *Service) replacePassword(ctx context.Context, prog *Programme, u *User, rec *PasswordRecord, newPlain, actor string, reason RevocationReason, extra func(Tx) error) (*PasswordSet, error) {
	action := passwordActions[reason]
	if err := checkProfile(prog, u.Email, newPlain); err != nil {
		return nil, err
	}
	keep := prog.profile().History()
	if keep > 0 {
		previous := append([]string{rec.Hash}, rec.History...)
		checks, err := s.hasher.VerifyEach(ctx, newPlain, previous[:min(keep, len(previous))], nil)
		if err != nil {
			return nil, internal("check password history", err)
		}
		if slices.ContainsFunc(checks, func(c password.Check) bool { return c.OK }) {
			return nil, Conflict(CodePasswordAlreadyUsed)
		}
	}
	hash, err := s.hashPassword(ctx, u, newPlain)
	if err != nil {
		return nil, internal("hash password", err)
	}
	token, err := randomToken(sessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	var user *User
	var after func()
	err = s.store.Update(ctx, func(tx Tx) error {
		after = nil
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		cur, err := tx.Password(u.ID)
		if err != nil {
			return err
		}
		if cur.Hash != rec.Hash {
			return errPasswordReplaced
		}
		history := append([]string{cur.Hash}, cur.History...)
		if len(history) > max(keep-1, 0) {
			history = history[:max(keep-1, 0)]
		}
		now := s.clock.Now()
		if err := tx.PutPassword(&PasswordRecord{UserID: u.ID, Hash: hash, History: history, SetAt: now}); err != nil {
			return err
		}
		cu, err := tx.User(u.ID)
		if err != nil {
			return err
		}
		if after, err = s.revoke(ctx, tx, revocation{reason: reason, user: cu}); err != nil {
			return err
		}
		if err := s.insertSession(tx, cu, token, now); err != nil {
			return err
		}
		user = cu
		return s.audit(ctx, tx, cu.ProgrammeID, actor, action, cu.ID, nil)
	})
	if err != nil {
		return nil, internal(action, err)
	}
	after()
	return &PasswordSet{Token: token, User: user}, nil
}

// errPasswordReplaced is replacePassword's refusal when the stored hash
// changed while it hashed: the rules it applied (history, the current
// password the caller gave) were applied to a hash that is no longer the
// user's.
var errPasswordReplaced = errors.New("the password changed meanwhile")

// maxPasswordReplays is how many times replaying runs a change.
const maxPasswordReplays = 3

// replaying runs change, a password change or reset, again while it finds
// its reading replaced (errPasswordReplaced): a sign-in that rehashes the
// password with new parameters replaces the hash, not the password, so the
// change's checks pass again on the new reading. (A change of the password
// itself ends the sessions and the reset codes, which the next run meets.)
func replaying(change func() (*PasswordSet, error)) (*PasswordSet, error) {
	for range maxPasswordReplays {
		set, err := change()
		if !errors.Is(err, errPasswordReplaced) {
			return set, err
		}
	}
	return nil, &Error{Class: ErrUnavailable, Message: "The password kept changing; retry.", RetryAfter: UnavailableRetry}
}

// maxResetsStoring is how many password resets may be started and not yet
// stored at once: a flood of them waits before its answers, whatever the
// addresses, rather than in memory. One programme's take at most
// maxProgrammeResetsStoring of them, so that its flood leaves the others'
// resets most of the slots; one more waits up to resetSlotWait.
const (
	maxResetsStoring          = 64
	maxProgrammeResetsStoring = maxResetsStoring / 4
	resetSlotWait             = 2 * time.Second
)

// newResetSlots returns the slots of the password resets started and not
// yet stored (LostPasswordStart), by programme.
func newResetSlots() *slots.Slots {
	return slots.New(maxResetsStoring, maxProgrammeResetsStoring, resetSlotWait)
}

// resetWorkLimit bounds a password reset's work after its answer, so that a
// store that hangs cannot hold its slot, and a server's shutdown, for ever.
const resetWorkLimit = 30 * time.Second

// errResetsBusy answers a reset that got no slot (newResetSlots), whatever
// its address.
var errResetsBusy = &Error{Class: ErrUnavailable, RetryAfter: UnavailableRetry,
	Message: "Other password resets are being started: retry in a moment."}

// resetStoreDelay is how long a password reset's work waits after its call
// (outside sandbox): by then its answer, a fraction of that, has left, so
// that the work, more for an address with users, does not share the cores
// with it.
const resetStoreDelay = time.Millisecond

// LostPasswordStart starts a password reset for the active users of the
// programme with this email who have a password (Weavr lostPasswordInitiate)
// and answers at once, before it looks them up: the lookup, the store work
// and the emails follow the answer (storeResetCodes), so that neither the
// answer nor its time tells whether such a user exists, nor whether the
// address is over a budget. A code is known only from its email, sent once
// it is stored. In sandbox mode, where every code is known (SandboxCode),
// the store work comes before the answer, so that a resume right after it,
// on any replica, finds the code. Outside sandbox its only error is
// errResetsBusy, when it gets no slot: too many others are still being
// stored.
func (s *Service) LostPasswordStart(ctx context.Context, prog *Programme, email string) error {
	email, asked := NormaliseEmail(email), s.clock.Now()
	if s.cfg.Sandbox {
		sends, err := s.storeResetCodes(ctx, prog, email, asked)
		for _, send := range sends {
			s.later(ctx, "reset_password", send)
		}
		return err
	}
	free, ok := s.resets.Take(ctx, prog.ID)
	if !ok {
		return errResetsBusy
	}
	s.later(ctx, "reset_password", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, resetWorkLimit)
		defer cancel()
		sends, err := func() ([]func(context.Context) error, error) {
			defer free() // a panic, which later logs, frees the slots too
			time.Sleep(resetStoreDelay)
			return s.storeResetCodes(ctx, prog, email, asked)
		}()
		for _, send := range sends {
			err = errors.Join(err, send(ctx))
		}
		return err
	})
	return nil
}

// storeResetCodes stores a reset code, living from asked, for each active
// user of the programme with this email who has a password, in one write
// transaction that spends the address's email budget and its budget of reset
// codes (RateLimits.EmailCodesPerAddress, which bounds the guesses at its
// six-digit codes) and writes an audit event, and returns the sends of
// their emails. Over a budget nothing is stored or sent and the last code
// stays valid. A code is stored, and sent, only for a user still active with
// this email in the write transaction (stillAt).
func (s *Service) storeResetCodes(ctx context.Context, prog *Programme, email string, asked time.Time) ([]func(context.Context) error, error) {
	var users []*User
	err := s.store.View(ctx, func(tx ReadTx) error {
		all, err := tx.UsersByEmail(prog.ID, email)
		users = slices.DeleteFunc(all, func(u *User) bool { return !u.Active || !u.PasswordSet })
		return err
	})
	if err != nil {
		return nil, internal("lost password lookup", err)
	}
	codes := make([]string, len(users))
	stored := make([]*ResetCode, len(users))
	for i, u := range users {
		stored[i] = &ResetCode{UserID: u.ID, ExpiresAt: asked.Add(s.cfg.ResetCodeTTL)}
		if codes[i], stored[i].Nonce, stored[i].CodeHash, err = s.newSealedCode(purposeResetCode); err != nil {
			return nil, err
		}
	}
	var sent []int // the users whose code was stored, to be sent
	err = s.store.Update(ctx, func(tx Tx) error {
		sent = sent[:0]
		if err := s.spendEmail(tx, prog.ID, email, s.emailCodesBudget(prog.ID, email)); err != nil {
			return err
		}
		for i, u := range users {
			ok, err := stillAt(tx, u)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			newer, err := newerResetCode(tx, stored[i])
			if err != nil {
				return err
			}
			if newer {
				continue
			}
			if err := tx.PutResetCode(stored[i]); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, prog.ID, ActorAPI, "password.reset_requested", u.ID, nil); err != nil {
				return err
			}
			sent = append(sent, i)
		}
		if len(sent) == 0 {
			return s.audit(ctx, tx, prog.ID, ActorAPI, "password.reset_requested", "", nil)
		}
		return nil
	})
	if errors.Is(err, ErrRateLimited) {
		return nil, nil // no new code replaces the one last sent
	}
	if err != nil {
		return nil, internal("store reset code", err)
	}
	var sends []func(context.Context) error
	for _, i := range sent {
		u := users[i]
		link, _ := fillLink(prog.Settings.ResetURL, map[string]string{LinkEmail: u.Email, LinkCode: codes[i]}) // "" without a page
		data := map[string]any{"Name": u.Name, "Code": codes[i], "Minutes": int(s.cfg.ResetCodeTTL.Minutes()), "Link": link}
		sends = append(sends, func(ctx context.Context) error {
			s.obs.CodeSent(ctx, ChannelEmail)
			return s.deliverTemplate(ctx, prog, recipientOf(u), u.Email, "reset_password", data)
		})
	}
	return sends, nil
}

// newerResetCode reports whether the user of rc holds a code asked for after
// rc was (a later end of life): resets store their codes after their
// answers, not always in the order asked, and a code the last email did not
// carry must not replace the one it did.
func newerResetCode(tx ReadTx, rc *ResetCode) (bool, error) {
	cur, err := tx.ResetCode(rc.UserID)
	switch {
	case errors.Is(err, ErrRecordNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return cur.ExpiresAt.After(rc.ExpiresAt), nil
}

// stillAt reports, in the transaction that stores an emailed code for u (an
// active user read before by their email), whether u is still active with
// that email: a code goes to the address it was looked up by, and an email
// change or a deactivation that committed since voided the user's codes
// (revocation policy), so none may be stored for them after it.
func stillAt(tx ReadTx, u *User) (bool, error) {
	cur, err := tx.User(u.ID)
	if err != nil {
		return false, err
	}
	return cur.Active && cur.Email == u.Email, nil
}

// LostPasswordResume sets a new password with a reset code, revokes as the
// policy's PASSWORD_RESET row says and signs the user in (Weavr lostPasswordResume).
func (s *Service) LostPasswordResume(ctx context.Context, prog *Programme, email, code, newPlain string) (*PasswordSet, error) {
	email = NormaliseEmail(email)
	u, err := s.matchResetCode(ctx, prog, email, code)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, Conflict(CodeInvalidNonceOrEmail)
	}
	if !u.PasswordSet {
		return nil, Conflict(CodePasswordNotSet)
	}
	return replaying(func() (*PasswordSet, error) {
		rec, err := s.passwordRecord(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		return s.replacePassword(ctx, prog, u, rec, newPlain, u.ID, RevokePasswordReset, s.consumeResetCode(u.ID, code))
	})
}

// matchResetCode returns the active user with email whose reset code code
// is, or nil, in one transaction that counts a wrong guess against each
// user's code (otpCode.check; an expired code or one out of attempts is
// deleted). When no code was there to count it, a wrong code counts against
// the email instead, users or not, so that every wrong code costs a write
// and its commit alike: its answer's time tells nobody who exists or who
// asked for a reset. A matching code stays until consumeResetCode spends it
// in the transaction that sets the new password.
func (s *Service) matchResetCode(ctx context.Context, prog *Programme, email, code string) (*User, error) {
	var matched *User
	err := s.store.Update(ctx, func(tx Tx) error {
		matched = nil
		users, err := tx.UsersByEmail(prog.ID, email)
		if err != nil {
			return err
		}
		now, counted := s.clock.Now(), false
		for _, u := range users {
			if !u.Active {
				continue
			}
			rc, err := tx.ResetCode(u.ID)
			if errors.Is(err, ErrRecordNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			switch checked := rc.otp().check(s.keys, code, now); {
			case checked == nil:
				matched = u
				return nil
			case errors.Is(checked, errOTPWrong):
				err = tx.PutResetCode(rc) // the count of wrong guesses
			default:
				err = tx.DeleteResetCode(u.ID) // expired or out of attempts
			}
			if err != nil {
				return err
			}
			counted = true
		}
		if counted {
			return nil
		}
		_, _, err = spendOne(tx, newBudget("reset-wrong", prog.ID, "email:"+email, RateLimit{Window: time.Hour}), now) // counted, never refused
		return err
	})
	return matched, internal("check reset code", err)
}

// consumeResetCode spends the reset code matchResetCode matched, inside the
// transaction that uses it, checking it again: a code spent, replaced, voided
// or expired meanwhile is invalid, so each code sets a password at most once.
// A wrong guess here changes nothing: the refusal rolls the transaction back.
func (s *Service) consumeResetCode(userID, code string) func(Tx) error {
	return func(tx Tx) error {
		rc, err := tx.ResetCode(userID)
		if errors.Is(err, ErrRecordNotFound) {
			return Conflict(CodeInvalidNonceOrEmail)
		}
		if err != nil {
			return err
		}
		if rc.otp().check(s.keys, code, s.clock.Now()) != nil {
			return Conflict(CodeInvalidNonceOrEmail)
		}
		return tx.DeleteResetCode(userID)
	}
}

func (s *Service) passwordRecord(ctx context.Context, userID string) (*PasswordRecord, error) {
	var rec *PasswordRecord
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		rec, err = tx.Password(userID)
		return err
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, Conflict(CodePasswordNotSet)
	}
	return rec, internal("read password", err)
}

// programmeUser returns a user of prog, or ErrNotFound.
func (s *Service) programmeUser(ctx context.Context, prog *Programme, userID string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		u, err = tx.User(userID)
		return err
	})
	if errors.Is(err, ErrRecordNotFound) || (err == nil && u.ProgrammeID != prog.ID) {
		return nil, NotFound("user")
	}
	return u, internal("read user", err)
}
