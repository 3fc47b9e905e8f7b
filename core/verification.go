package core

import (
	"context"
	"errors"
	"fmt"
)

// Machine codes of email verification and KYC (Weavr authorisedUserEmail*, userKyc).
const (
	CodeEmailNotFound      = "EMAIL_NOT_FOUND"
	CodeEmailNotVerified   = "EMAIL_NOT_VERIFIED"
	CodeMobileNotVerified  = "MOBILE_NOT_VERIFIED"
	CodeKYCPending         = "KYC_PENDING_REVIEW"
	CodeKYCAlreadyApproved = "KYC_ALREADY_APPROVED"
	CodeKYCRejected        = "KYC_REJECTED"
	CodeKYCNotConfigured   = "KYC_PROVIDER_NOT_CONFIGURED"
	CodeKYCAlreadyDecided  = "KYC_ALREADY_DECIDED"
)

// EmailScope says whose email a verification call is for: the zero value is
// every active user of the programme, root users included (Weavr
// authorisedUserEmail*); RootOf names the root users of one identity type
// (Weavr corporateRootUserEmail*, consumerRootUserEmail*).
type EmailScope struct {
	RootOf IdentityType
}

// includes reports whether u is in the scope.
func (sc EmailScope) includes(u *User) bool {
	return u.Active && (sc.RootOf == "" || (u.Root && u.IdentityType == sc.RootOf))
}

// SendEmailVerification emails a verification code to the users of the
// programme in scope with this email (Weavr authorisedUserEmailVerificationCodeSend,
// corporateRootUserEmailVerificationCodeSend, consumerRootUserEmailVerificationCodeSend).
// The codes are stored in one transaction, then sent, each only to a user
// still active with this email in that transaction (stillAt). Over the address's
// email budget it fails with ErrRateLimited and stores no new code (the answer
// already says whether the address is known).
func (s *Service) SendEmailVerification(ctx context.Context, prog *Programme, scope EmailScope, email string) error {
	users, err := s.usersByEmail(ctx, prog, scope, email)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return Conflict(CodeEmailNotFound)
	}
	codes := make([]string, len(users))
	stored := make([]*EmailCode, len(users))
	for i, u := range users {
		stored[i] = &EmailCode{UserID: u.ID, ExpiresAt: s.clock.Now().Add(s.cfg.ResetCodeTTL)}
		if codes[i], stored[i].Nonce, stored[i].CodeHash, err = s.newSealedCode(purposeEmailCode); err != nil {
			return err
		}
	}
	var sent []int // the users whose code was stored, to be sent
	err = s.store.Update(ctx, func(tx Tx) error {
		sent = sent[:0]
		for i, u := range users {
			ok, err := stillAt(tx, u)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := s.spendEmail(tx, prog.ID, u.Email, s.emailCodesBudget(prog.ID, u.Email)); err != nil {
				return err
			}
			if err := tx.PutEmailCode(stored[i]); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, prog.ID, ActorAPI, "user.email_verification_sent", u.ID, nil); err != nil {
				return err
			}
			sent = append(sent, i)
		}
		if len(sent) == 0 {
			return Conflict(CodeEmailNotFound) // every one moved away since the look-up
		}
		return s.finishIdempotent(ctx, tx, nil)
	})
	if err != nil {
		return internal("store email code", err)
	}
	for _, i := range sent {
		u := users[i]
		if err := s.deliverTemplate(ctx, prog, recipientOf(u), u.Email, "verify_email", map[string]any{"Name": u.Name, "Code": codes[i], "Minutes": int(s.cfg.ResetCodeTTL.Minutes())}); err != nil {
			return err
		}
		s.obs.CodeSent(ctx, ChannelEmail)
	}
	return nil
}

// usersByEmail lists the users of a programme in scope with this email.
func (s *Service) usersByEmail(ctx context.Context, prog *Programme, scope EmailScope, email string) ([]*User, error) {
	var users []*User
	err := s.store.View(ctx, func(tx ReadTx) error {
		all, err := tx.UsersByEmail(prog.ID, NormaliseEmail(email))
		users = users[:0]
		for _, u := range all {
			if scope.includes(u) {
				users = append(users, u)
			}
		}
		return err
	})
	return users, internal("users by email", err)
}

// VerifyEmail checks an email-verification code of a user in scope and marks
// the email verified (Weavr authorisedUserEmailVerify, corporateRootUserEmailVerify,
// consumerRootUserEmailVerify).
func (s *Service) VerifyEmail(ctx context.Context, prog *Programme, scope EmailScope, email, code string) error {
	users, err := s.usersByEmail(ctx, prog, scope, email)
	if err != nil {
		return err
	}
	for _, u := range users {
		verified := false
		err := s.store.Update(ctx, func(tx Tx) error {
			verified = false
			ec, err := tx.EmailCode(u.ID)
			if errors.Is(err, ErrRecordNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			switch err := ec.otp().check(s.keys, code, s.clock.Now()); {
			case errors.Is(err, errOTPWrong):
				return tx.PutEmailCode(ec) // the count of wrong guesses
			case err != nil:
				return tx.DeleteEmailCode(u.ID) // expired or out of attempts
			}
			cur, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			cur.EmailVerified, cur.UpdatedAt = true, s.clock.Now()
			if err := tx.UpdateUser(cur); err != nil {
				return err
			}
			verified = true
			if err := tx.DeleteEmailCode(u.ID); err != nil {
				return err
			}
			return s.audit(ctx, tx, prog.ID, ActorAPI, "user.email_verified", u.ID, nil)
		})
		if err != nil {
			return internal("verify email", err)
		}
		if verified {
			return nil
		}
	}
	return Conflict(CodeCodeInvalid)
}

// KYCRequest is what a KYC provider needs to open a case.
type KYCRequest struct {
	Reference   string
	ProgrammeID string
	User        *User
}

// KYCProvider runs identity checks for authorised users. Its decision arrives
// later through DecideKYC (the server's signed callback endpoint).
type KYCProvider interface {
	Name() string
	StartKYC(ctx context.Context, r KYCRequest) error
}

// StartKYC starts KYC for the calling authorised user of a corporate, to
// elevate them to signatory (Weavr userKyc). Their email must be verified and
// their mobile too (an ACTIVE SMS factor).
func (s *Service) StartKYC(ctx context.Context, c *Caller) (*KYC, error) {
	if c.User.Root || c.User.IdentityType != Corporate {
		return nil, Forbidden(CodeInsufficientPermissions)
	}
	if s.send.KYC == nil {
		return nil, &Error{Class: ErrConflict, Code: CodeKYCNotConfigured, Message: "no KYC provider is configured on this server"}
	}
	var k *KYC
	err := s.updateAs(ctx, c, func(tx Tx) error {
		u, err := tx.User(c.User.ID)
		if err != nil {
			return err
		}
		if prev, err := tx.KYC(u.ID); err == nil {
			switch prev.Status {
			case KYCPending:
				return Conflict(CodeKYCPending)
			case KYCApproved:
				return Conflict(CodeKYCAlreadyApproved)
			case KYCRejected:
				return Conflict(CodeKYCRejected)
			}
		} else if !errors.Is(err, ErrRecordNotFound) {
			return err
		}
		if !u.EmailVerified {
			return Conflict(CodeEmailNotVerified)
		}
		if f, err := tx.Factor(u.ID, ChannelSMS); err != nil || f.Status != FactorActive {
			if err != nil && !errors.Is(err, ErrRecordNotFound) {
				return err
			}
			return Conflict(CodeMobileNotVerified)
		}
		ref, err := tx.NextID()
		if err != nil {
			return err
		}
		now := s.clock.Now()
		k = &KYC{UserID: u.ID, Reference: ref, Provider: s.send.KYC.Name(), Status: KYCPending, CreatedAt: now, UpdatedAt: now}
		if err := tx.PutKYC(k); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "user.kyc_start", u.ID, map[string]string{"reference": ref})
	})
	if err != nil {
		return nil, internal("start kyc", err)
	}
	if err := s.send.KYC.StartKYC(ctx, KYCRequest{Reference: k.Reference, ProgrammeID: c.Programme.ID, User: c.User}); err != nil {
		failed := fmt.Errorf("kyc provider %s: %w", s.send.KYC.Name(), err)
		return nil, errors.Join(failed, s.withdrawKYC(context.WithoutCancel(ctx), k))
	}
	return k, nil
}

// withdrawKYC removes a case its provider did not take, so that the user can
// start again rather than wait on a review that will never come; a decision
// that arrived meanwhile is kept.
func (s *Service) withdrawKYC(ctx context.Context, k *KYC) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		cur, err := tx.KYC(k.UserID)
		if errors.Is(err, ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Reference != k.Reference || cur.Status != KYCPending {
			return nil
		}
		if err := tx.DeleteKYC(k.UserID); err != nil {
			return err
		}
		u, err := tx.User(k.UserID)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "user.kyc_withdrawn", u.ID, map[string]string{"reference": k.Reference})
	})
	if err != nil {
		return fmt.Errorf("withdraw KYC case %s: %w", k.Reference, err)
	}
	return nil
}

// kycDetailsFixed refuses a change to the details u's KYC case sent the
// provider while the case is pending (name, surname, date of birth, and, as
// contactChanged says, email or mobile), so that nothing changes under the
// review; and to the person it vouches for once it is approved (name,
// surname, date of birth), as Weavr's consumerUpdate keeps a verified root
// user's. Approved users still change their email and mobile, which their
// own checks verify again.
func kycDetailsFixed(tx ReadTx, u *User, p UserPatch, contactChanged bool) error {
	personChanged := (p.Name != nil && *p.Name != u.Name) || (p.Surname != nil && *p.Surname != u.Surname) ||
		(p.DateOfBirth != nil && (u.DateOfBirth == nil || *p.DateOfBirth != *u.DateOfBirth))
	if !personChanged && !contactChanged {
		return nil
	}
	k, err := tx.KYC(u.ID)
	switch {
	case errors.Is(err, ErrRecordNotFound):
		return nil
	case err != nil:
		return err
	case k.Status == KYCPending:
		return Conflict(CodeKYCPending)
	case k.Status == KYCApproved && personChanged:
		return Conflict(CodeKYCAlreadyApproved)
	}
	return nil
}

// DecideKYC records a provider's decision on a case (APPROVED or REJECTED).
// Deciding a case twice with the same outcome is a no-op; changing a decision is a conflict.
func (s *Service) DecideKYC(ctx context.Context, prog *Programme, reference string, status KYCStatus) error {
	if status != KYCApproved && status != KYCRejected {
		return Invalid("status", ReasonIn, string(KYCApproved), string(KYCRejected))
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		k, err := tx.KYCByReference(reference)
		if errors.Is(err, ErrRecordNotFound) {
			return NotFound("kyc case")
		}
		if err != nil {
			return err
		}
		u, err := tx.User(k.UserID)
		if err != nil {
			return err
		}
		if u.ProgrammeID != prog.ID {
			return NotFound("kyc case")
		}
		if k.Status == status {
			return nil
		}
		if k.Status != KYCPending {
			return Conflict(CodeKYCAlreadyDecided)
		}
		k.Status, k.UpdatedAt = status, s.clock.Now()
		if err := tx.PutKYC(k); err != nil {
			return err
		}
		return s.audit(ctx, tx, prog.ID, ActorAPI, "user.kyc_decision", u.ID, map[string]string{"reference": reference, "status": string(status)})
	})
	return internal("decide kyc", err)
}
