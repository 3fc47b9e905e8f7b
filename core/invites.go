package core

import (
	"context"
	"errors"
	"net/url"
)

// Machine codes of the invite operations (Weavr userInvite*).
const (
	CodeInviteAlreadyConsumed = "INVITE_ALREADY_CONSUMED"
	CodeInviteInvalid         = "INVITE_OR_INVITE_CODE_INVALID"
)

// maxInviteAttempts wrong codes void an invite.
const maxInviteAttempts = 5

// SendInvite (re)invites an authorised user to set a password (Weavr
// userInviteSend) under the rank rule: a new code voids the previous one; the email links to the
// embedder's page with the user id and the code. Invites expire after InviteTTL.
func (s *Service) SendInvite(ctx context.Context, c *Caller, id string) error {
	if err := require(c, PermUsersInvite); err != nil {
		return err
	}
	code, err := s.newCode()
	if err != nil {
		return err
	}
	nonce, err := randomToken("")
	if err != nil {
		return err
	}
	var u *User
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = identityUser(tx, c, id); err != nil {
			return err
		}
		if err := requireRank(c, u); err != nil {
			return err
		}
		if u.PasswordSet {
			return Conflict(CodeInviteAlreadyConsumed)
		}
		now := s.clock.Now()
		inv := &Invite{UserID: u.ID, Nonce: nonce, CodeHash: s.keys.hash(purposeInvite, nonce+":"+code), SentAt: now, ExpiresAt: now.Add(s.cfg.InviteTTL), State: InvitePending}
		if err := tx.PutInvite(inv); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, c.User.ID, "user.invite", u.ID, nil); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, nil)
	})
	if err != nil {
		return internal("send invite", err)
	}
	link := inviteLink(c.Programme.Settings.InviteURL, u.ID, code)
	return s.sendTemplate(ctx, c.Programme, u.Email, "invite", map[string]any{
		"Name": u.Name, "Inviter": c.User.Name + " " + c.User.Surname, "Code": code, "Link": link,
		"Days": int(s.cfg.InviteTTL.Hours() / 24), "UserID": u.ID,
	})
}

// inviteLink builds the link of an invite email: the embedder's page when the
// programme has one, else a deputy:// link the companion app opens.
func inviteLink(base, userID, code string) string {
	if base == "" {
		base = "deputy://invite"
	}
	u, err := url.Parse(base)
	if err != nil {
		u = &url.URL{Scheme: "deputy", Host: "invite"}
	}
	q := u.Query()
	q.Set("userId", userID)
	q.Set("code", code)
	u.RawQuery = q.Encode()
	return u.String()
}

// ValidateInvite checks an invite code without using it (Weavr userInviteValidate).
func (s *Service) ValidateInvite(ctx context.Context, prog *Programme, userID, code string) error {
	return s.checkInvite(ctx, prog, userID, code)
}

// ConsumeInvite sets the invited user's first password (and optionally their
// mobile) and signs them in (Weavr userInviteConsume).
func (s *Service) ConsumeInvite(ctx context.Context, prog *Programme, userID, code, plain string, mobile *Mobile) (*PasswordSet, error) {
	u, err := s.programmeUser(ctx, prog, userID)
	if err != nil {
		return nil, err
	}
	if u.PasswordSet {
		return nil, Conflict(CodePasswordAlreadyCreated)
	}
	if err := s.ValidateInvite(ctx, prog, userID, code); err != nil {
		return nil, err
	}
	if err := checkProfile(prog, plain); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, plain)
	if err != nil {
		return nil, internal("hash password", err)
	}
	return s.storeFirstPassword(ctx, userID, hash, "", "user.invite_consume", func(tx Tx, u *User) error {
		inv, err := tx.Invite(u.ID)
		if err != nil {
			return err
		}
		// Re-check in this transaction: a parallel consume may have used the code.
		if inv.State != InvitePending || !s.keys.equal(purposeInvite, inv.Nonce+":"+code, inv.CodeHash) || !s.clock.Now().Before(inv.ExpiresAt) {
			return Conflict(CodeInviteInvalid)
		}
		inv.State = InviteConsumed
		if err := tx.PutInvite(inv); err != nil {
			return err
		}
		if mobile != nil && (u.Mobile == nil || *u.Mobile != *mobile) {
			return s.changeMobile(tx, u, *mobile, s.clock.Now())
		}
		return nil
	})
}

// checkInvite verifies code against the user's pending invite, counting wrong
// guesses (the invite is void after maxInviteAttempts). Every failure looks the same.
func (s *Service) checkInvite(ctx context.Context, prog *Programme, userID, code string) error {
	invalid := Conflict(CodeInviteInvalid)
	var outcome error
	err := s.store.Update(ctx, func(tx Tx) error {
		outcome = nil
		u, err := tx.User(userID)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && (u.ProgrammeID != prog.ID || u.Root)) {
			outcome = invalid
			return nil
		}
		if err != nil {
			return err
		}
		inv, err := tx.Invite(userID)
		if errors.Is(err, ErrRecordNotFound) {
			outcome = invalid
			return nil
		}
		if err != nil {
			return err
		}
		if inv.State != InvitePending || u.PasswordSet || !s.clock.Now().Before(inv.ExpiresAt) {
			outcome = invalid
			return nil
		}
		if s.keys.equal(purposeInvite, inv.Nonce+":"+code, inv.CodeHash) {
			return nil
		}
		outcome = invalid
		inv.Attempts++
		if inv.Attempts >= maxInviteAttempts {
			inv.State = InviteVoid
		}
		if err := tx.PutInvite(inv); err != nil {
			return err
		}
		return s.audit(ctx, tx, prog.ID, ActorAPI, "user.invite_code_wrong", userID, nil)
	})
	if err != nil {
		return internal("check invite", err)
	}
	return outcome
}
