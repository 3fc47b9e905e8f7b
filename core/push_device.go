package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// PushChanges is what changed for a push stream since its last look.
type PushChanges struct {
	// Linked reports whether the stream's device is the user's linked device
	// (true for a stream without a device id whose session enrolled none).
	Linked bool
	// Speaks reports whether the stream's session may speak for that device
	// (deviceAccess): false, a device stream shows nothing and ends, but the
	// device is not told it was unlinked.
	Speaks bool
	// SessionLive reports whether the stream's session still exists.
	SessionLive bool
	// New are the user's challenges created after the stream's cursor,
	// oldest first; on the first look, the challenges pending then.
	New []*PushChallenge
	// Watched are the challenges the stream asked about.
	Watched []*PushChallenge
	// Cursor is what to pass as after next time.
	Cursor string
}

// MaxPushBatch bounds the new challenges one PushChanges returns.
const MaxPushBatch = 100

// PushChanges reads what changed for the caller's push stream: the
// challenges created after the cursor after ("" for a first look, which
// returns the pending ones and starts the cursor at the newest challenge, or
// at "0" when there is none),
// the current state of the watched ones, whether deviceID (if not empty) is
// still the linked device and whether the session is still alive. States are
// as of now (StateAt). Its cost grows with what changed, not with the user's
// history.
func (s *Service) PushChanges(ctx context.Context, c *Caller, deviceID, after string, watched []string) (*PushChanges, error) {
	out := &PushChanges{}
	now := s.clock.Now()
	err := s.store.View(ctx, func(tx ReadTx) error {
		*out = PushChanges{Linked: true, Speaks: true, Cursor: after}
		sess, err := tx.Session(c.Session.TokenHash)
		switch {
		case errors.Is(err, ErrRecordNotFound):
		case err != nil:
			return err
		default:
			out.SessionLive = true
		}
		if deviceID != "" || (sess != nil && sess.DeviceID != "") {
			f, err := activeFactor(tx, c.User.ID, ChannelBiometric)
			var ce *Error
			if errors.As(err, &ce) {
				err = nil
			}
			if err != nil {
				return err
			}
			var access error = errChannelNotRegistered
			if f != nil {
				access = s.deviceAccess(f, sess, c, deviceID)
			}
			out.Linked, out.Speaks = access != errChannelNotRegistered, access == nil
		}
		if after == "" {
			if out.Cursor, err = tx.LastPushChallengeID(c.User.ID); err != nil {
				return err
			}
			if out.Cursor == "" {
				out.Cursor = "0" // before every id NextID hands out
			}
			out.New, err = tx.PendingPushChallenges(c.User.ID)
		} else {
			out.New, err = tx.PushChallengesAfter(c.User.ID, after, MaxPushBatch)
			if n := len(out.New); n > 0 {
				out.Cursor = out.New[n-1].ID
			}
		}
		if err != nil {
			return err
		}
		for _, id := range watched {
			ch, err := tx.PushChallenge(id)
			switch {
			case errors.Is(err, ErrRecordNotFound):
				continue // swept
			case err != nil:
				return err
			case ch.UserID == c.User.ID:
				out.Watched = append(out.Watched, ch)
			}
		}
		return nil
	})
	if err != nil {
		return nil, internal("read push changes", err)
	}
	for _, ch := range append(out.New, out.Watched...) {
		ch.State = ch.StateAt(now)
	}
	return out, nil
}

// PendingPush lists the challenges awaiting the caller's device, oldest first.
// A device that is not (or no longer) the linked one gets
// CHANNEL_NOT_REGISTERED: it was unlinked (requireDevice).
func (s *Service) PendingPush(ctx context.Context, c *Caller, deviceID string) ([]*PushChallenge, error) {
	var out []*PushChallenge
	err := s.store.View(ctx, func(tx ReadTx) error {
		out = nil
		if _, err := s.requireDevice(tx, c, deviceID); err != nil {
			return err
		}
		now := s.clock.Now()
		list, err := tx.PendingPushChallenges(c.User.ID)
		for _, ch := range list {
			if ch.StateAt(now) == PushPending {
				out = append(out, ch)
			}
		}
		return err
	})
	return out, internal("list pending push challenges", err)
}

// requireDevice checks that the caller speaks for the user's linked device:
// the session is live, the BIOMETRIC factor is ACTIVE, and deviceAccess
// allows it: a replaced or unlinked device gets CHANNEL_NOT_REGISTERED,
// whatever it asks, and a session that cannot speak for the linked device
// DEVICE_SECRET_REQUIRED.
func (s *Service) requireDevice(tx ReadTx, c *Caller, deviceID string) (*Factor, error) {
	sess, err := tx.Session(c.Session.TokenHash)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, err
	}
	f, err := activeFactor(tx, c.User.ID, ChannelBiometric)
	if err != nil {
		return nil, err
	}
	if err := s.deviceAccess(f, sess, c, deviceID); err != nil {
		return nil, err
	}
	return f, nil
}

// Answers of deviceAccess. ErrDeviceSecretRequired is also the device
// stream's first answer (server/pushstream.go).
var (
	errChannelNotRegistered = Conflict(CodeChannelNotRegistered)
	ErrDeviceSecretRequired = &Error{Class: ErrPermissionDenied, Code: CodeDeviceSecretRequired,
		Message: "this session does not speak for the linked device: send the device-secret its enrolment gave it"}
)

// deviceAccess says whether the caller, on session sess, speaks for the
// linked device f. deviceID, if given, must name f's device, and a session
// that enrolled a device must have enrolled f's (else
// CHANNEL_NOT_REGISTERED: this device is not linked, or no longer). Then the
// session speaks for it if it made this enrolment (Factor.EnrolledBy) or presents
// the device's secret (Caller.DeviceSecret). Another secret is a device
// replaced since: CHANNEL_NOT_REGISTERED. No secret is
// DEVICE_SECRET_REQUIRED, which tells a genuine device that signed in again
// without its secret that it is still linked. A password alone is not the
// phone: it may not list, answer or wake the phone's challenges. A device
// enrolled before devices got secrets is spoken for by any session of its
// user, as then; enrolling it again gives it one.
func (s *Service) deviceAccess(f *Factor, sess *Session, c *Caller, deviceID string) error {
	switch {
	case deviceID != "" && deviceID != f.DeviceID:
		return errChannelNotRegistered
	case sess == nil: // ended: PushChanges.SessionLive says so
		return nil
	case sess.DeviceID != "" && sess.DeviceID != f.DeviceID:
		return errChannelNotRegistered
	case sess.DeviceID != "" && (len(f.EnrolledBy) == 0 || bytes.Equal(f.EnrolledBy, sess.TokenHash)),
		len(f.DeviceSecretHash) == 0, s.keys.equal(purposeDeviceSecret, c.DeviceSecret, f.DeviceSecretHash):
		return nil
	case c.DeviceSecret != "": // another device's: one replaced since, say
		return errChannelNotRegistered
	}
	return ErrDeviceSecretRequired
}

// devicePush reads a challenge of the caller's user with the user and the
// active biometric factor, as the device's answers need them; only the
// linked device may read it (requireDevice).
func (s *Service) devicePush(ctx context.Context, c *Caller, id string) (*PushChallenge, *User, *Factor, error) {
	var (
		ch *PushChallenge
		u  *User
		f  *Factor
	)
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if f, err = s.requireDevice(tx, c, ""); err != nil {
			return err
		}
		if ch, err = tx.PushChallenge(id); err != nil {
			if errors.Is(err, ErrRecordNotFound) {
				return NotFound("challenge")
			}
			return err
		}
		if ch.UserID != c.User.ID {
			return NotFound("challenge")
		}
		u, err = tx.User(ch.UserID)
		return err
	})
	if err != nil {
		return nil, nil, nil, internal("read push challenge", err)
	}
	return ch, u, f, nil
}

// PushOptions returns the PublicKeyCredentialRequestOptions (WebAuthn §5.5)
// with which the device approves challenge id: its challenge is derived from
// the challenge's id, summary and number (pushChallengeBytes), user
// verification is required and the linked credential is the only one allowed.
func (s *Service) PushOptions(ctx context.Context, c *Caller, id string) (json.RawMessage, error) {
	ch, u, f, err := s.devicePush(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if err := pushStateError(ch, s.clock.Now()); err != nil {
		return nil, err
	}
	assertion, _, err := s.rp.BeginLogin(newWebAuthnUser(u, f.UserHandle, f),
		webauthn.WithChallenge(pushChallengeBytes(ch)),
		webauthn.WithUserVerification(protocol.VerificationRequired),
	)
	if err != nil {
		return nil, fmt.Errorf("begin WebAuthn assertion: %w", err)
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, fmt.Errorf("encode request options: %w", err)
	}
	return options, nil
}

// ApprovePush approves challenge id with the number the user picked and the
// device's AuthenticationResponseJSON (WebAuthn §5.1.9), verified as WebAuthn
// §7.2 "Verifying an Authentication Assertion" says, against the challenge
// derived from this challenge's summary and number (PSD2 RTS Art. 5 dynamic
// linking), with user verification required. A signature counter that did
// not increase is refused (WEBAUTHN_SIGN_COUNT_REGRESSION), alerted by email
// and recorded as a security event. In one transaction the challenge becomes
// APPROVED, the counter is saved and the requesting session is stepped up
// (and granted the operation the challenge named, if any: stepupscope.go); a
// wrong number instead declines the challenge (VERIFICATION_CODE_INVALID) and
// counts as a wrong one-time code towards the SCA lock (countWrongCode), as a
// right one ends the run of wrong ones (PSD2 RTS Art. 4(3)(b)). A
// confirmation's resources become VERIFIED in that transaction too, unless
// they changed since the challenge (settleConfirmation: STATE_INVALID, and
// the challenge is cancelled).
func (s *Service) ApprovePush(ctx context.Context, c *Caller, id string, number int, credential []byte) error {
	if err := requireBiometrics(c.Programme); err != nil { // switched off since the challenge
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return Invalid("credential", ReasonIn, "AuthenticationResponseJSON")
	}
	ch, u, f, err := s.devicePush(ctx, c, id)
	if err != nil {
		return err
	}
	if !bytes.Equal(parsed.RawID, f.CredentialID) {
		return Conflict(CodeChannelNotRegistered) // an unlinked device's credential
	}
	now := s.clock.Now()
	if !u.Active {
		return Conflict(CodeCredentialsInactive)
	}
	if err := pushStateError(ch, now); err != nil {
		return err
	}
	challenge := pushChallengeString(ch)
	if err := s.precheckClientData(&parsed.Response.CollectedClientData, protocol.AssertCeremony, challenge); err != nil {
		return err
	}
	authData := parsed.Response.AuthenticatorData
	if err := s.precheckAuthData(authData.RPIDHash, authData.Flags); err != nil {
		return err
	}
	session := webauthn.SessionData{
		Challenge:            challenge,
		RelyingPartyID:       s.cfg.WebAuthnRPID,
		UserID:               f.UserHandle,
		AllowedCredentialIDs: [][]byte{f.CredentialID},
		UserVerification:     protocol.VerificationRequired,
	}
	if _, err := s.rp.ValidateLogin(newWebAuthnUser(u, f.UserHandle, f), session, parsed); err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Type == protocol.ErrAssertionSignature.Type {
			return Conflict(CodeWebAuthnSignature)
		}
		return &Error{Class: ErrConflict, Code: CodeWebAuthnInvalid, Message: "the assertion was not accepted"}
	}
	// WebAuthn §7.2 step 21: the counter must grow; go-webauthn only sets CloneWarning.
	if counterRegressed(authData.Counter, f.SignCount) {
		s.signCountRegression(ctx, u, ch.ID, authData.Counter, f.SignCount)
		return Conflict(CodeWebAuthnSignCount)
	}
	var (
		outcome  error
		resolved *PushChallenge // as this approval left it, for the observer
		after    func()         // an SCA lock's revocation, after the commit
	)
	regressed := false
	err = s.updateAs(ctx, c, func(tx Tx) error {
		outcome, resolved, regressed, after = nil, nil, false, nil
		cur, err := tx.PushChallenge(id)
		if err != nil {
			return err
		}
		usr, rec, err := userWithSCARecord(tx, u.ID)
		if err != nil {
			return err
		}
		fac, err := activeFactor(tx, u.ID, ChannelBiometric)
		if err != nil {
			return err
		}
		if !bytes.Equal(fac.CredentialID, f.CredentialID) {
			return Conflict(CodeChannelNotRegistered)
		}
		now := s.clock.Now()
		if err := pushStateError(cur, now); err != nil {
			return err
		}
		if counterRegressed(authData.Counter, fac.SignCount) {
			regressed = true // the same assertion, replayed in parallel
			return Conflict(CodeWebAuthnSignCount)
		}
		fac.SignCount, fac.UpdatedAt = authData.Counter, now
		if err := tx.PutFactor(fac); err != nil {
			return err
		}
		resolved = cur
		if number != cur.Number { // a failed authentication, counted like a wrong code
			if err := s.endPush(ctx, tx, cur, PushDeclined, PushReasonWrongNumber, u.ID, now); err != nil {
				return err
			}
			wrong, err := s.countWrongCode(ctx, tx, usr, rec, errOTPWrong, now, map[string]string{"challenge": id, "kind": string(cur.Kind)})
			outcome, after = wrong.outcome, wrong.after
			return err
		}
		if err := resetSCAFailures(tx, rec); err != nil {
			return err
		}
		if cur.Kind == PushConfirm {
			conf, err := tx.Confirmation(cur.ID)
			if err != nil {
				return err
			}
			verified, err := s.settleConfirmation(ctx, tx, conf, now)
			if err != nil {
				return err
			}
			if !verified { // the resources changed since the challenge: the signature confirms nothing
				cur.State, cur.Reason, cur.ResolvedAt = PushCancelled, PushReasonResourcesChanged, now
				outcome = Conflict(CodeStateInvalid)
				return tx.UpdatePushChallenge(cur)
			}
		}
		cur.State, cur.ResolvedAt, cur.ApprovedAt = PushApproved, now, now
		if err := tx.UpdatePushChallenge(cur); err != nil {
			return err
		}
		if cur.Kind == PushStepUp {
			sess, err := tx.Session(cur.SessionHash)
			switch {
			case errors.Is(err, ErrRecordNotFound): // the requester signed out meanwhile
			case err != nil:
				return err
			case len(cur.Operation) > 0: // the one operation, not the session (stepupscope.go)
				op := &boundOperation{hash: cur.Operation, summary: cur.Summary}
				if err := s.grantStepUp(tx, sess.TokenHash, sess.UserID, op, now); err != nil {
					return err
				}
			default:
				sess.SteppedUp, sess.SteppedUpAt = true, now
				if err := tx.UpdateSession(sess); err != nil {
					return err
				}
			}
		}
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "push.approve", u.ID, map[string]string{"challenge": id, "kind": string(cur.Kind)})
	})
	if regressed {
		s.signCountRegression(ctx, u, ch.ID, authData.Counter, f.SignCount)
	}
	if err != nil {
		return internal("approve push challenge", err)
	}
	if after != nil {
		after()
	}
	s.publishPush(ctx, PushEvent{Kind: PushEventResolved, UserID: u.ID, ChallengeID: id})
	s.observePush(ctx, resolved)
	return outcome
}

// counterRegressed applies WebAuthn §7.2 step 21: when either counter is not
// zero, the new one must be greater than the stored one.
func counterRegressed(got, stored uint32) bool {
	return (got != 0 || stored != 0) && got <= stored
}

// signCountRegression records a suspected cloned authenticator as a security
// event and revokes as the policy's SIGN_COUNT_REGRESSION row says (the user
// is alerted).
func (s *Service) signCountRegression(ctx context.Context, u *User, challengeID string, got, stored uint32) {
	var after func()
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if after, err = s.revoke(ctx, tx, revocation{reason: RevokeSignCountRegression, user: u}); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "security.sign_count_regression", u.ID, map[string]string{
			"challenge": challengeID, "signCount": strconv.FormatUint(uint64(got), 10), "stored": strconv.FormatUint(uint64(stored), 10),
		})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "record sign count regression", slog.String("user", u.ID), slog.String("error", err.Error()))
		return
	}
	after()
}

// reportEnded marks a challenge that ended unanswered (expired, withdrawn
// by its requester, superseded, cancelled, or dismissed) as reported NOT_ME,
// recording its expiry first if nobody has. It keeps its one outcome (told
// once); the mark only makes a second report of it refused, so that one
// stale challenge cannot end the user's sessions and alert the admins again
// and again.
func (s *Service) reportEnded(ctx context.Context, tx Tx, ch *PushChallenge) error {
	if ch.State == PushPending {
		if err := s.expirePush(ctx, tx, ch); err != nil {
			return err
		}
	}
	ch.Reason = PushReasonNotMe
	return tx.UpdatePushChallenge(ch)
}

// DeclinePush declines challenge id on the device, or withdraws it for the
// session that asked for it (CANCELLED only). reason is
// PushReasonCancelled or PushReasonNotMe; "I did not do this" (NOT_ME) also
// records a security event and revokes as the policy's NOT_ME row says
// (every session and pending challenge ends; the user, the root user and the
// admins are alerted). NOT_ME is also accepted, once, for a challenge that
// ended without an approval (notMeReportable): an attacker who withdraws or
// replaces each prompt before the user reacts is still reported. Only the
// linked device may answer (requireDevice).
func (s *Service) DeclinePush(ctx context.Context, c *Caller, id, reason string) error {
	if reason != PushReasonCancelled && reason != PushReasonNotMe {
		return Invalid("reason", ReasonIn, PushReasonNotMe, PushReasonCancelled)
	}
	var (
		after    func()
		resolved *PushChallenge // as this decline left it, for the observer
	)
	err := s.updateAs(ctx, c, func(tx Tx) error {
		after, resolved = nil, nil
		ch, err := tx.PushChallenge(id)
		if err != nil && !errors.Is(err, ErrRecordNotFound) {
			return err
		}
		withdrawn := err == nil && reason == PushReasonCancelled && ch.UserID == c.User.ID && bytes.Equal(ch.SessionHash, c.Session.TokenHash)
		if !withdrawn { // only the phone answers for the user
			if _, err := s.requireDevice(tx, c, ""); err != nil {
				return err
			}
		}
		if err != nil || ch.UserID != c.User.ID {
			return NotFound("challenge")
		}
		now := s.clock.Now()
		pending := ch.StateAt(now) == PushPending
		if err := pushStateError(ch, now); err != nil && !(reason == PushReasonNotMe && notMeReportable(ch)) {
			return err
		}
		if pending {
			resolved = ch // declined here: the metrics count it
			err = s.endPush(ctx, tx, ch, PushDeclined, reason, c.User.ID, now)
		} else {
			err = s.reportEnded(ctx, tx, ch)
		}
		if err != nil {
			return err
		}
		u, err := tx.User(ch.UserID)
		if err != nil {
			return err
		}
		if reason != PushReasonNotMe {
			return nil
		}
		if after, err = s.revoke(ctx, tx, revocation{reason: RevokeNotMe, user: u}); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "security.push_not_me", u.ID, map[string]string{"challenge": id, "kind": string(ch.Kind)})
	})
	if err != nil {
		return internal("decline push challenge", err)
	}
	if after != nil {
		after()
	}
	s.publishPush(ctx, PushEvent{Kind: PushEventResolved, UserID: c.User.ID, ChallengeID: id})
	s.observePush(ctx, resolved)
	return nil
}
