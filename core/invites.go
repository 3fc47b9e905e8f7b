package core

import (
	"context"
	"errors"
	htmltemplate "html/template"
	"net/url"
)

// Machine codes of the invite operations (Weavr userInvite*).
const (
	CodeInviteAlreadyConsumed = "INVITE_ALREADY_CONSUMED"
	CodeInviteInvalid         = "INVITE_OR_INVITE_CODE_INVALID"
	// CodeUserInactive refuses inviting a deactivated user, whose invite
	// could not be consumed, or creating their first password (Weavr's code
	// for acting on one elsewhere).
	CodeUserInactive = "USER_INACTIVE"
	// CodeUnresolvedIdentity: the user id names no authorised user of the programme.
	CodeUnresolvedIdentity = "UNRESOLVED_IDENTITY"
)

// errUserInactive refuses to give a deactivated user a way to sign in.
var errUserInactive = &Error{Class: ErrConflict, Code: CodeUserInactive, Message: "the user is deactivated: activate them first"}

// SendInvite (re)invites an authorised user to set a password (Weavr
// userInviteSend) under the rank rule: a new code voids the previous one; the email links to the
// embedder's page with the user id and the code. Invites expire after InviteTTL.
// The email spends the address's email budget; over it, nothing is written.
func (s *Service) SendInvite(ctx context.Context, c *Caller, id string) error {
	w, err := s.sendInviteWork(c, id)
	if err != nil {
		return err
	}
	if err := s.updateAs(ctx, c, func(tx Tx) error { return w.in(ctx, tx) }); err != nil {
		return internal("send invite", err)
	}
	return w.after(ctx)
}

// invitee reads the user id names for c to invite: an authorised user of
// c's identity (else ErrNotFound) within c's rank (requireRank).
func invitee(tx ReadTx, c *Caller, id string) (*User, error) {
	u, err := identityUser(tx, c, id)
	if err != nil {
		return nil, err
	}
	if err := requireRank(c, u); err != nil {
		return nil, err
	}
	return u, nil
}

// sendInviteWork is SendInvite's work: its checks, its transaction and the
// email once that commits.
func (s *Service) sendInviteWork(c *Caller, id string) (*work, error) {
	if err := require(c, PermUsersInvite); err != nil {
		return nil, err
	}
	code, err := s.newInviteCode()
	if err != nil {
		return nil, err
	}
	nonce, codeHash, err := s.keys.sealOTP(purposeInvite, code)
	if err != nil {
		return nil, err
	}
	var u *User
	w := &work{}
	w.in = func(ctx context.Context, tx Tx) error {
		var err error
		if u, err = invitee(tx, c, id); err != nil {
			return err
		}
		if u.PasswordSet {
			return Conflict(CodeInviteAlreadyConsumed)
		}
		if !u.Active {
			return errUserInactive
		}
		perIdentity := newBudget("invites", c.Programme.ID, "identity:"+c.User.IdentityID, s.cfg.RateLimits.InvitesPerIdentity)
		if err := s.spendEmail(tx, c.Programme.ID, u.Email, perIdentity); err != nil {
			return err
		}
		now := s.clock.Now()
		inv := &Invite{UserID: u.ID, Nonce: nonce, CodeHash: codeHash, SentAt: now, ExpiresAt: now.Add(s.cfg.InviteTTL), State: InvitePending}
		if err := tx.PutInvite(inv); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, c.User.ID, "user.invite", u.ID, nil); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, nil)
	}
	w.after = func(ctx context.Context) error {
		link := inviteLink(c.Programme.Settings.InviteURL, u.ID, code)
		return s.deliverTemplate(ctx, c.Programme, recipientOf(u), u.Email, "invite", map[string]any{
			"Name": u.Name, "Inviter": c.User.Name + " " + c.User.Surname, "Code": code, "Link": link,
			"Days": int(s.cfg.InviteTTL.Hours() / 24), "UserID": u.ID,
		})
	}
	return w, nil
}

// newInviteCode returns a fresh invite code: 256 random bits, base64url (43
// characters), so that guessing one is infeasible and wrong guesses need not
// void the invite. In sandbox it is SandboxCode, as Weavr's sandbox does.
func (s *Service) newInviteCode() (string, error) {
	if s.cfg.Sandbox {
		return SandboxCode, nil
	}
	return randomToken("")
}

// inviteLink builds the link of an invite email: the embedder's page when the
// programme has one (http or https), else a deputy:// link the companion app
// opens. It is typed as a safe URL for the HTML email, whose template would
// otherwise replace the deputy:// scheme with "#ZgotmplZ"; only these three
// schemes get through.
//
// A base with placeholders (LinkUserID, LinkCode) is a template the
// programme shapes its links with: they are filled in instead.
func inviteLink(base, userID, code string) htmltemplate.URL {
	if link, ok := fillLink(base, map[string]string{LinkUserID: userID, LinkCode: code}); ok && placeholder.MatchString(base) {
		return link
	}
	u, err := url.Parse(base)
	if base == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		u = &url.URL{Scheme: "deputy", Host: "invite"}
	}
	q := u.Query()
	q.Set("userId", userID)
	q.Set("code", code)
	u.RawQuery = q.Encode()
	return htmltemplate.URL(u.String())
}

// ValidateInvite checks an invite code without using it (Weavr
// userInviteValidate). Every call spends one of clientIP's invite budget
// (RateLimits.InvitePerIP) and every failure one of the user's
// (RateLimits.InviteWrongPerInvite); over either it fails with ErrRateLimited.
// An empty clientIP means the caller is the embedder's backend (secret key):
// one address for all its users, so only the user's budget applies.
// Wrong codes never void the invite, and the right code is never refused for
// the user's budget: nobody without the code can spoil someone else's invite.
func (s *Service) ValidateInvite(ctx context.Context, prog *Programme, userID, code, clientIP string) error {
	_, err := s.checkInvite(ctx, prog, userID, code, clientIP)
	return err
}

// ConsumeInvite sets the invited user's first password (and optionally their
// mobile) and signs them in (Weavr userInviteConsume). The code is checked
// and budgeted as by ValidateInvite, before anything else: without the code,
// the answer does not tell whether the id is a user or has a password. A
// refused code is INVITE_OR_INVITE_CODE_INVALID whatever the reason, except to
// the embedder's backend (empty clientIP), which knows its users anyway and
// gets Weavr's precise answers (consumeRefusal).
func (s *Service) ConsumeInvite(ctx context.Context, prog *Programme, userID, code, plain string, mobile *Mobile, clientIP string) (*PasswordSet, error) {
	invited, err := s.checkInvite(ctx, prog, userID, code, clientIP)
	if err != nil {
		if clientIP == "" && CodeOf(err) == CodeInviteInvalid {
			return nil, s.consumeRefusal(ctx, prog, userID, err)
		}
		return nil, err
	}
	if err := checkProfile(prog, invited.Email, plain); err != nil {
		return nil, err
	}
	if err := checkMobile(mobile); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, invited, plain)
	if err != nil {
		return nil, internal("hash password", err)
	}
	set, err := s.storeFirstPassword(ctx, userID, hash, "", "user.invite_consume", func(tx Tx, u *User) error {
		inv, err := tx.Invite(u.ID)
		if err != nil {
			return err
		}
		// Re-check in this transaction: a parallel consume may have used the
		// code, or a parallel deactivation voided it.
		if !s.inviteAccepts(u, inv, code) {
			return Conflict(CodeInviteInvalid)
		}
		inv.State = InviteConsumed
		if err := tx.PutInvite(inv); err != nil {
			return err
		}
		if mobile != nil && (u.Mobile == nil || *u.Mobile != *mobile) {
			return s.changeMobile(ctx, tx, u.ID, u, *mobile, s.clock.Now())
		}
		return nil
	})
	if clientIP != "" && CodeOf(err) == CodePasswordAlreadyCreated {
		// A parallel consume (another replica's, say) set the password
		// since checkInvite: to a client address that is a spent invite.
		return nil, Conflict(CodeInviteInvalid)
	}
	return set, err
}

// consumeRefusal says why a consume's code was refused, for the embedder's
// backend: 409 UNRESOLVED_IDENTITY when the id names no authorised user of
// prog (Weavr's answer for an unknown user), PASSWORD_ALREADY_CREATED when the
// user has a password, else refused (the code is wrong or the invite unusable).
func (s *Service) consumeRefusal(ctx context.Context, prog *Programme, userID string, refused error) error {
	u, err := s.programmeUser(ctx, prog, userID)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && u.Root):
		return Conflict(CodeUnresolvedIdentity)
	case err != nil:
		return err
	case u.PasswordSet:
		return Conflict(CodePasswordAlreadyCreated)
	}
	return refused
}

// inviteAccepts reports whether u's invite inv is usable and code is its code:
// for an active user without a password, pending and unexpired (otpCode.check).
func (s *Service) inviteAccepts(u *User, inv *Invite, code string) bool {
	return u.Active && !u.PasswordSet && inv.otp().check(s.keys, code, s.clock.Now()) == nil
}

// checkInvite verifies code against the user's pending invite, spending
// clientIP's invite budget and, when it fails, the user's wrong-code budget
// (whether or not the user or an invite exists, so that a 429 tells nothing
// either). Every failure looks the same. A guess refused for the user's
// budget still spends clientIP's: it was checked (the right code passes), so
// rolling the address's count back would leave an address unlimited guesses
// at an invite whose budget is spent.
func (s *Service) checkInvite(ctx context.Context, prog *Programme, userID, code, clientIP string) (*User, error) {
	perIP := s.cfg.RateLimits.InvitePerIP
	if clientIP == "" {
		perIP = RateLimit{} // the embedder's backend: no client address to count
	}
	var (
		invited *User
		outcome error
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		invited, outcome = nil, nil
		if err := s.spend(tx, newBudget("invite", prog.ID, addressKey(clientIP), perIP)); err != nil {
			return err
		}
		u, err := s.inviteMatches(tx, prog, userID, code)
		if err != nil || u != nil {
			invited = u
			return err
		}
		if err := s.spend(tx, newBudget("invite-wrong", prog.ID, "user:"+userID, s.cfg.RateLimits.InviteWrongPerInvite)); err != nil {
			if errors.Is(err, ErrRateLimited) {
				outcome = err
				return nil // commit the address's count: the guess was weighed all the same
			}
			return err
		}
		outcome = Conflict(CodeInviteInvalid)
		return s.audit(ctx, tx, prog.ID, ActorAPI, "user.invite_code_wrong", userID, nil)
	})
	if err != nil {
		return nil, internal("check invite", err)
	}
	return invited, outcome
}

// inviteMatches returns userID's user when they are an authorised user of
// prog whose invite accepts code, and nil otherwise.
func (s *Service) inviteMatches(tx ReadTx, prog *Programme, userID, code string) (*User, error) {
	u, err := tx.User(userID)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.ProgrammeID != prog.ID || u.Root {
		return nil, nil
	}
	inv, err := tx.Invite(userID)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.inviteAccepts(u, inv, code) {
		return nil, nil
	}
	return u, nil
}
