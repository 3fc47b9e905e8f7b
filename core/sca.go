package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deputyhq/deputy/fieldrules"
)

// Machine codes of the SCA operations (Weavr enrolDeviceUsingOtp*, stepupSCA*).
const (
	CodeMobileNotAvailable   = "MOBILE_NUMBER_NOT_AVAILABLE"
	CodeChannelAlreadyActive = "CHANNEL_ALREADY_REGISTERED"
	CodeChannelNotRegistered = "CHANNEL_NOT_REGISTERED"
	// CodeDeviceSecretRequired refuses a session that may not speak for the
	// user's linked companion device, which stays linked: not the session
	// that enrolled it, and without the secret its enrolment gave it
	// (header device-secret).
	CodeDeviceSecretRequired    = "DEVICE_SECRET_REQUIRED"
	CodeCredentialsInactive     = "CREDENTIALS_INACTIVE"
	CodeRetryIn15Sec            = "RETRY_IN_15SEC"
	CodeChallengeLimitExceeded  = "CHALLENGE_LIMIT_EXCEEDED"
	CodeStateInvalid            = "STATE_INVALID"
	CodeAlreadyVerified         = "ALREADY_VERIFIED"
	CodeCodeExpired             = "VERIFICATION_CODE_EXPIRED"
	CodeCodeInvalid             = "VERIFICATION_CODE_INVALID"
	CodeOneChallengeLimitRemain = "ONE_CHALLENGE_LIMIT_REMAINING"
)

// Factors lists the caller's authentication factors (Weavr authFactorsGet).
func (s *Service) Factors(ctx context.Context, c *Caller) ([]*Factor, error) {
	var out []*Factor
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		out, err = tx.Factors(c.User.ID)
		return err
	})
	return out, internal("list factors", err)
}

// RequireStepUp is the session-scoped step-up rule (StepUpSession): the
// caller's session must have passed a step-up. Operations ask Service.stepUp,
// which applies the programme's scope.
func RequireStepUp(c *Caller) error {
	if c.Session == nil || !c.Session.SteppedUp {
		return StepUpRequired()
	}
	return nil
}

// EnrolSMS starts enrolling the caller's mobile for SMS codes (Weavr
// enrolDeviceUsingOtpStepOne): a code goes to the user's mobile and the factor
// is PENDING_VERIFICATION until VerifyEnrolSMS. Replacing a device while another
// factor is ACTIVE needs a stepped-up session. A repeat within the re-issue
// interval, for the same mobile, succeeds without sending anything (Weavr
// answers it 204; its step-one conflicts have no RETRY_IN_15SEC): the code
// already sent stays valid, and no text or budget is spent. Once that code
// is spent, or after a new mobile, a repeat sends a new code at once.

func (s *Service) EnrolSMS(ctx context.Context, c *Caller) error {
	return s.issueChallenge(ctx, c, PurposeEnrolSMS, nil, nil, func(tx Tx, u *User, now time.Time) error {
		if u.Mobile == nil {
			return Conflict(CodeMobileNotAvailable)
		}
		factors, err := tx.Factors(u.ID)
		if err != nil {
			return err
		}
		sms := factorOn(factors, ChannelSMS)
		if sms != nil && sms.Status == FactorActive {
			return Conflict(CodeChannelAlreadyActive)
		}
		if err := s.unprovenNumberStepUp(tx, c, u, factors, "factor.sms.enrol", "Receive codes by SMS on "); err != nil {
			return err
		}
		if sms != nil && sms.Status == FactorPending && sms.Mobile != nil && *sms.Mobile == *u.Mobile {
			fresh, err := s.freshChallenge(tx, c, PurposeEnrolSMS, now)
			if err != nil {
				return err
			}
			if fresh {
				return errCodeStillValid
			}
		}
		if sms == nil {
			sms = &Factor{UserID: u.ID, Channel: ChannelSMS, CreatedAt: now}
		}
		sms.Status, sms.Mobile, sms.UpdatedAt = FactorPending, u.Mobile, now
		return tx.PutFactor(sms)
	})
}

// errCodeStillValid ends an enrolment repeat that EnrolSMS answers with the
// code already sent; issueChallenge rolls it back and reports success.
var errCodeStillValid = errors.New("the code already sent is still valid")

// freshChallenge reports whether the caller's session holds a pending
// challenge for purpose issued less than the re-issue interval ago.
func (s *Service) freshChallenge(tx ReadTx, c *Caller, purpose ChallengePurpose, now time.Time) (bool, error) {
	prev, err := tx.Challenge(c.Session.TokenHash, purpose)
	if errors.Is(err, ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return prev.State == ChallengePending && now.Sub(prev.IssuedAt) < s.cfg.ReissueInterval && now.Before(prev.ExpiresAt), nil
}

// stepUpCodes is how many codes one step-up challenge of a session sends,
// the first included: Weavr answers a third with 400 (its BadRequestError,
// without syntaxErrors), where enrolment codes follow Config.MaxReissues.
const stepUpCodes = 2

// errStepUpCodes answers a request for a third step-up code.
var errStepUpCodes = &Error{Class: ErrInvalid,
	Message: "Bad request: this session was sent 2 step-up codes already; verify the last one, or sign in again."}

// StepUpSMS sends a step-up code to the caller's ACTIVE SMS device (Weavr
// stepupSCAChallenge). operation, when not "", is the reference of the
// operation a STEP_UP_REQUIRED answer named (Deputy extension): the text
// names it and the code grants it alone (stepupscope.go).
func (s *Service) StepUpSMS(ctx context.Context, c *Caller, operation string) error {
	op, err := s.openOperation(c, "operation", operation)
	if err != nil {
		return err
	}
	return s.issueChallenge(ctx, c, PurposeStepUpSMS, op, nil, func(tx Tx, u *User, _ time.Time) error {
		_, err := activeFactor(tx, u.ID, ChannelSMS)
		return err
	})
}

// issueChallenge creates or replaces the session's challenge for purpose, after
// prepare has checked (and may have changed) the user's factors in the same
// transaction, then texts the code to the user's mobile, naming op when
// there is one (a step-up for an operation). result is the operation's
// result, recorded with the change for an idempotent call.
func (s *Service) issueChallenge(ctx context.Context, c *Caller, purpose ChallengePurpose, op *boundOperation, result any, prepare func(Tx, *User, time.Time) error) error {
	code, nonce, codeHash, err := s.newSealedCode(purposeOTP)
	if err != nil {
		return err
	}
	var user *User
	err = s.updateAs(ctx, c, func(tx Tx) error {
		now := s.clock.Now()
		u, err := challengedUser(tx, c, now)
		if err != nil {
			return err
		}
		if err := prepare(tx, u, now); err != nil {
			return err
		}
		ch := &Challenge{SessionHash: c.Session.TokenHash, Purpose: purpose, UserID: u.ID}
		prev, err := tx.Challenge(c.Session.TokenHash, purpose)
		switch {
		case errors.Is(err, ErrRecordNotFound):
		case err != nil:
			return err
		case prev.State == ChallengeVerified:
			// A new challenge, not a re-send (a device enrolled again after a new mobile).
		case now.Sub(prev.IssuedAt) < s.cfg.ReissueInterval && purpose != PurposeEnrolSMS:
			// An enrolment gets here only when it needs a new code (EnrolSMS
			// answers a repeat with the code still pending): the last is
			// spent or went to another number, so one goes at once, within
			// the SMS budgets. Weavr's step one has no RETRY_IN_15SEC.
			return &Error{Class: ErrConflict, Code: CodeRetryIn15Sec, RetryAfter: s.cfg.ReissueInterval - now.Sub(prev.IssuedAt)}
		case purpose == PurposeStepUpSMS && prev.Reissues+1 >= stepUpCodes:
			return errStepUpCodes
		case prev.Reissues >= s.cfg.MaxReissues:
			return Conflict(CodeChallengeLimitExceeded)
		default:
			ch.Reissues = prev.Reissues + 1
		}
		if err := s.spendSMS(tx, u); err != nil {
			return err // nothing is written or sent
		}
		ch.Nonce, ch.CodeHash = nonce, codeHash
		if op != nil {
			ch.Operation, ch.OperationSummary = op.hash, op.summary
		}
		ch.IssuedAt, ch.ExpiresAt = now, now.Add(s.cfg.ChallengeTTL)
		ch.MaxAttempts, ch.State = c.Programme.Settings.AttemptsPerChallenge(), ChallengePending
		if err := tx.PutChallenge(ch); err != nil {
			return err
		}
		user = u
		if err := s.audit(ctx, tx, u.ProgrammeID, u.ID, "challenge.issue", u.ID, map[string]string{"purpose": string(purpose), "channel": string(ChannelSMS)}); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, result)
	})
	if errors.Is(err, errCodeStillValid) {
		return nil
	}
	if err != nil {
		return internal("issue challenge", err)
	}
	text := fmt.Sprintf("%s: your verification code is %s. Never share it with anyone.\n\n@%s #%s", c.Programme.Name, code, s.cfg.OriginHost, code)
	if op != nil {
		text = fmt.Sprintf("%s: your code %s approves: %s. Never share it with anyone.\n\n@%s #%s", c.Programme.Name, code, op.summary, s.cfg.OriginHost, code)
	}
	if err := s.textCode(ctx, user, text); err != nil {
		return fmt.Errorf("send challenge SMS: %w", err)
	}
	return nil
}

// spendSMS spends what one text to u's mobile costs: one of the user's
// budget, then one of the number's (several users may share, or be given,
// one number), which counts each phone once however it is written
// (fieldrules.MobileKey). Texts to a number its user
// has not proven (no ACTIVE SMS factor: an enrolment) spend a budget of
// their own, so that whoever sets another's number as their own cannot use
// up the texts its owner's step-ups need.
func (s *Service) spendSMS(tx Tx, u *User) error {
	number := "number:"
	var notActive *Error
	switch _, err := activeFactor(tx, u.ID, ChannelSMS); {
	case errors.As(err, &notActive):
		number = "unproven-number:"
	case err != nil:
		return err
	}
	number += fieldrules.MobileKey(u.Mobile.CountryCode, u.Mobile.Number)
	return s.spend(tx,
		newBudget("sms", u.ProgrammeID, "user:"+u.ID, s.cfg.RateLimits.SMSPerUser),
		newBudget("sms", u.ProgrammeID, number, s.cfg.RateLimits.SMSPerNumber))
}

// challengedUser re-reads the caller's user for a new challenge, in the
// transaction that issues it (an updateAs, which has checked that the
// session stands): the user must not be locked out of SCA
// (CHALLENGE_LIMIT_EXCEEDED until then).
func challengedUser(tx ReadTx, c *Caller, now time.Time) (*User, error) {
	u, rec, err := userWithSCARecord(tx, c.User.ID)
	if err != nil {
		return nil, err
	}
	if now.Before(rec.SCALockedUntil) {
		return nil, &Error{Class: ErrConflict, Code: CodeChallengeLimitExceeded, RetryAfter: rec.SCALockedUntil.Sub(now)}
	}
	return u, nil
}

// scaRecord returns the user whose record counts u's wrong one-time codes
// and holds its SCA lock: the user whose credentials sign u in, so that a
// person whose credentials reach several identities has one budget of wrong
// codes, not one per identity.
func scaRecord(tx ReadTx, u *User) (*User, error) {
	return credentialsUser(tx, u)
}

// userWithSCARecord re-reads user id in tx, with its scaRecord.
func userWithSCARecord(tx ReadTx, id string) (u, rec *User, err error) {
	if u, err = tx.User(id); err != nil {
		return nil, nil, err
	}
	rec, err = scaRecord(tx, u)
	return u, rec, err
}

// resetSCAFailures clears rec's consecutive wrong codes after a right one.
func resetSCAFailures(tx Tx, rec *User) error {
	if rec.SCAFailures == 0 {
		return nil
	}
	rec.SCAFailures = 0
	return tx.UpdateUser(rec)
}

// VerifyEnrolSMS completes SMS enrolment with the code (Weavr
// enrolDeviceUsingOtpStepTwo): the factor becomes ACTIVE and the session is stepped up.
func (s *Service) VerifyEnrolSMS(ctx context.Context, c *Caller, code string) error {
	return s.verifyChallenge(ctx, c, PurposeEnrolSMS, code, nil, func(tx Tx, _ *Challenge, now time.Time) error {
		f, err := tx.Factor(c.User.ID, ChannelSMS)
		if errors.Is(err, ErrRecordNotFound) {
			return Conflict(CodeStateInvalid)
		}
		if err != nil {
			return err
		}
		switch f.Status {
		case FactorActive:
			return Conflict(CodeChannelAlreadyActive)
		case FactorPending:
		default: // retired since the code was sent (a new mobile): the code proves nothing
			return Conflict(CodeStateInvalid)
		}
		f.Status, f.UpdatedAt = FactorActive, now
		return tx.PutFactor(f)
	})
}

// VerifyStepUpSMS steps the session up with the code (Weavr stepupSCAVerify)
// and, when the challenge named an operation, grants the session that
// operation (stepupscope.go). A code sent before the factor last became
// ACTIVE went to the number it was enrolled on before (a changed mobile,
// enrolled again since): it proves nothing about the number it holds now.
func (s *Service) VerifyStepUpSMS(ctx context.Context, c *Caller, code string) error {
	return s.verifyChallenge(ctx, c, PurposeStepUpSMS, code, nil, func(tx Tx, ch *Challenge, _ time.Time) error {
		return smsSentToCurrentNumber(tx, c.User.ID, ch.IssuedAt, CodeChannelNotRegistered)
	})
}

// smsSentToCurrentNumber checks in tx that a code texted at issued went to
// the user's current number: their SMS factor is ACTIVE (else notActive) and
// has not become ACTIVE again since (STATE_INVALID): a mobile changed and
// enrolled again since then means the code went to a number no longer theirs.
func smsSentToCurrentNumber(tx ReadTx, userID string, issued time.Time, notActive string) error {
	f, err := tx.Factor(userID, ChannelSMS)
	switch {
	case errors.Is(err, ErrRecordNotFound) || (err == nil && f.Status != FactorActive):
		return Conflict(notActive)
	case err == nil && f.UpdatedAt.After(issued):
		return Conflict(CodeStateInvalid)
	}
	return err
}

// verifyChallenge checks a code against the session's challenge. Everything is
// decided in one transaction, so a code is usable once however many requests
// race, and every wrong guess is counted both on the challenge and on the user.
func (s *Service) verifyChallenge(ctx context.Context, c *Caller, purpose ChallengePurpose, code string, result any, onSuccess func(Tx, *Challenge, time.Time) error) error {
	var outcome error
	var after func()
	err := s.updateAs(ctx, c, func(tx Tx) error {
		outcome, after = nil, nil
		ch, err := tx.Challenge(c.Session.TokenHash, purpose)
		if errors.Is(err, ErrRecordNotFound) {
			return Conflict(CodeStateInvalid)
		}
		if err != nil {
			return err
		}
		u, rec, err := userWithSCARecord(tx, c.User.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		switch {
		case ch.State == ChallengeVerified && purpose == PurposeStepUpSMS:
			return Conflict(CodeAlreadyVerified)
		case now.Before(rec.SCALockedUntil):
			return Conflict(CodeStateInvalid)
		}
		checked := ch.otp().check(s.keys, code, now)
		switch {
		case errors.Is(checked, errOTPUsed):
			return Conflict(CodeStateInvalid)
		case errors.Is(checked, errOTPExpired):
			return Conflict(CodeCodeExpired)
		}
		if checked == nil {
			if err := onSuccess(tx, ch, now); err != nil {
				return err
			}
			ch.State = ChallengeVerified
			if err := tx.PutChallenge(ch); err != nil {
				return err
			}
			if err := resetSCAFailures(tx, rec); err != nil {
				return err
			}
			sess, err := tx.Session(c.Session.TokenHash)
			if err != nil {
				return err
			}
			if len(ch.Operation) == 0 { // else the one operation, not the session (stepupscope.go)
				sess.SteppedUp, sess.SteppedUpAt = true, now
				if err := tx.UpdateSession(sess); err != nil {
					return err
				}
			}
			details := map[string]string{"purpose": string(purpose)}
			if len(ch.Operation) > 0 {
				op := &boundOperation{hash: ch.Operation, summary: ch.OperationSummary}
				if err := s.grantStepUp(tx, sess.TokenHash, u.ID, op, now); err != nil {
					return err
				}
				details["operation"] = s.operationDigest(op.hash)
			}
			if err := s.audit(ctx, tx, u.ProgrammeID, u.ID, "challenge.verify", u.ID, details); err != nil {
				return err
			}
			return s.finishIdempotent(ctx, tx, result)
		}
		wrong, err := s.countWrongCode(ctx, tx, u, rec, checked, now, map[string]string{"purpose": string(purpose)})
		if err != nil {
			return err
		}
		outcome, after = wrong.outcome, wrong.after
		if wrong.void {
			ch.State = ChallengeFailed
		}
		return tx.PutChallenge(ch)
	})
	if err != nil {
		return internal("verify challenge", err)
	}
	if after != nil {
		after()
	}
	if purpose == PurposeStepUpSMS {
		s.observeStepUpCode(ctx, outcome)
	}
	return outcome
}

// wrongCode is what a wrong guess at a user's one-time code led to.
type wrongCode struct {
	outcome error  // the answer: VERIFICATION_CODE_INVALID, ONE_CHALLENGE_LIMIT_REMAINING or CHALLENGE_LIMIT_EXCEEDED
	void    bool   // the code is spent: out of attempts, or the user is now locked
	after   func() // to run after the commit (the lockout's revocation), or nil
}

// countWrongCode records, in tx, a wrong guess at one of u's challenge codes
// (checked is otpCode.check's verdict): the consecutive SCA failures on rec
// (u's scaRecord) grow and, at Config.SCAFailureLimit, SCA locks and the
// policy revokes (PSD2 RTS Art. 4(3)(b)). details, with what was found, go to
// u's "challenge.failed" audit event.
func (s *Service) countWrongCode(ctx context.Context, tx Tx, u, rec *User, checked error, now time.Time, details map[string]string) (wrongCode, error) {
	var w wrongCode
	rec.SCAFailures++
	switch {
	case errors.Is(checked, errOTPExhausted):
		w.void, w.outcome = true, Conflict(CodeChallengeLimitExceeded)
		details["exhausted"] = "true"
	case errors.Is(checked, errOTPLastAttempt):
		w.outcome = Conflict(CodeOneChallengeLimitRemain)
	default:
		w.outcome = Conflict(CodeCodeInvalid)
	}
	if rec.SCAFailures >= s.cfg.SCAFailureLimit {
		rec.SCAFailures = 0
		rec.SCALockedUntil = now.Add(s.cfg.SCALockout)
		var err error
		if w.after, err = s.revoke(ctx, tx, revocation{reason: RevokeSCALock, user: u}); err != nil {
			return w, err
		}
		w.void, w.outcome = true, Conflict(CodeChallengeLimitExceeded)
		details["locked"] = "true"
	}
	if err := tx.UpdateUser(rec); err != nil {
		return w, err
	}
	return w, s.audit(ctx, tx, u.ProgrammeID, u.ID, "challenge.failed", u.ID, details)
}
