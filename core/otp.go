package core

import (
	"errors"
	"fmt"
	"time"
)

// One-time codes are the short secrets sent to a person: SMS enrolment and
// step-up codes (Challenge), invite codes (Invite), email-verification codes
// (EmailCode) and lost-password reset codes (ResetCode). Each is stored as a
// random nonce and the keyed hash of nonce:code (sealOTP), never in the clear,
// and every guess at one is decided by otpCode.check: one rule for used and
// expired codes, the constant-time compare and the count of wrong guesses.
// The callers only map its verdict to their answers and store the result.

// emailCodeAttempts wrong guesses void an emailed code (email verification,
// lost-password reset).
const emailCodeAttempts = 5

// sealOTP returns what a record stores for code: a fresh random nonce, so that
// equal codes hash apart, and the keyed hash of the code under it, kept apart
// from other kinds of secret by purpose.
func (k keyring) sealOTP(purpose, code string) (nonce string, hash []byte, err error) {
	if nonce, err = randomToken(""); err != nil {
		return "", nil, err
	}
	return nonce, k.hash(purpose, nonce+":"+code), nil
}

// otpCode is a stored one-time code as a guess at it is checked: the fields
// that each record keeps under its own names.
type otpCode struct {
	purpose   string // of the keyed hash (sealOTP)
	nonce     string
	hash      []byte
	live      bool // neither used nor voided
	expiresAt time.Time
	// attempts points at the record's count of wrong guesses, which check
	// increments; nil for a code too long to guess, whose guesses a budget
	// limits instead (invites).
	attempts    *int
	maxAttempts int
}

// Why a guess at a one-time code was refused (otpCode.check).
var (
	errOTPUsed    = errors.New("one-time code used, voided or out of attempts")
	errOTPExpired = errors.New("one-time code expired")
	errOTPWrong   = errors.New("wrong one-time code")
	// errOTPLastAttempt is a wrong guess that leaves one attempt; it is errOTPWrong too.
	errOTPLastAttempt = fmt.Errorf("%w, one attempt left", errOTPWrong)
	// errOTPExhausted is the wrong guess that spends the last attempt: the
	// caller voids the code.
	errOTPExhausted = errors.New("wrong one-time code, no attempt left")
)

// check decides guess at now, in this order: errOTPUsed for a code used,
// voided or out of attempts, errOTPExpired once expiresAt has passed, then the
// guess, compared in constant time: nil on a match, else the wrong guess is
// counted in attempts and refused with errOTPWrong, errOTPLastAttempt or
// errOTPExhausted. The caller stores the count and, when it spends the code,
// marks it used or deletes it.
func (o otpCode) check(k keyring, guess string, now time.Time) error {
	switch {
	case !o.live || (o.attempts != nil && *o.attempts >= o.maxAttempts):
		return errOTPUsed
	case !now.Before(o.expiresAt):
		return errOTPExpired
	case k.equal(o.purpose, o.nonce+":"+guess, o.hash):
		return nil
	case o.attempts == nil:
		return errOTPWrong
	}
	*o.attempts++
	switch o.maxAttempts - *o.attempts {
	case 0:
		return errOTPExhausted
	case 1:
		return errOTPLastAttempt
	default:
		return errOTPWrong
	}
}

// otp is the challenge's code as check sees it.
func (ch *Challenge) otp() otpCode {
	return otpCode{purpose: purposeOTP, nonce: ch.Nonce, hash: ch.CodeHash, live: ch.State == ChallengePending,
		expiresAt: ch.ExpiresAt, attempts: &ch.Attempts, maxAttempts: ch.MaxAttempts}
}

// otp is the invite's code as check sees it.
func (inv *Invite) otp() otpCode {
	return otpCode{purpose: purposeInvite, nonce: inv.Nonce, hash: inv.CodeHash, live: inv.State == InvitePending,
		expiresAt: inv.ExpiresAt}
}

// otp is the email-verification code as check sees it.
func (ec *EmailCode) otp() otpCode {
	return otpCode{purpose: purposeEmailCode, nonce: ec.Nonce, hash: ec.CodeHash, live: true,
		expiresAt: ec.ExpiresAt, attempts: &ec.Attempts, maxAttempts: emailCodeAttempts}
}

// otp is the reset code as check sees it.
func (rc *ResetCode) otp() otpCode {
	return otpCode{purpose: purposeResetCode, nonce: rc.Nonce, hash: rc.CodeHash, live: true,
		expiresAt: rc.ExpiresAt, attempts: &rc.Attempts, maxAttempts: emailCodeAttempts}
}
