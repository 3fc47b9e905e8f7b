package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Why a push challenge was declined or cancelled (PushChallenge.Reason).
const (
	PushReasonNotMe           = "NOT_ME"    // the user said "I did not do this"
	PushReasonCancelled       = "CANCELLED" // the user dismissed it
	PushReasonWrongNumber     = "WRONG_NUMBER"
	PushReasonDeviceChanged   = "DEVICE_CHANGED"
	PushReasonUnlinked        = "UNLINKED"
	PushReasonSuperseded      = "SUPERSEDED" // the same session asked again
	PushReasonDeactivated     = "USER_DEACTIVATED"
	PushReasonLocked          = "USER_LOCKED"
	PushReasonDeviceReset     = "DEVICE_RESET" // an admin reset the user's device
	PushReasonPasswordChanged = "PASSWORD_CHANGED"
)

// DefaultPushSummary is what a step-up challenge shows when the requesting
// client does not say which operation it is for.
const DefaultPushSummary = "Step up your session"

// Limits of push challenges.
const (
	// MaxPushSummaryLen bounds a summary, in characters.
	MaxPushSummaryLen = 200
	// maxPendingPush bounds a user's pending challenges, so that nobody can
	// flood a device with prompts (push fatigue).
	maxPendingPush = 5
	// pushSaltLen is the length of the random salt mixed into the WebAuthn
	// challenge (WebAuthn §13.4.3: at least 16 random bytes).
	pushSaltLen = 16
	// pushKeep is how long resolved challenges are kept for the requester to read.
	pushKeep = 24 * time.Hour
)

// pushChallengeBytes derives the WebAuthn challenge of a push approval:
//
//	SHA-256("deputy-push-v1" || id || 0x00 || summary || 0x00 || number || salt)
//
// The authenticator signs it inside clientDataJSON (WebAuthn §5.8.1, §6.3.3),
// so an assertion approves exactly this challenge, this operation text and this
// number: a signature made for one operation cannot approve another, which is
// the dynamic linking of PSD2 RTS Art. 5(1)(b) and 5(2). The random salt, kept
// by the server, makes the challenge unpredictable (WebAuthn §13.4.3) and
// keeps the device from working out the number without the user.
func pushChallengeBytes(c *PushChallenge) []byte {
	h := sha256.New()
	h.Write([]byte("deputy-push-v1"))
	h.Write([]byte(c.ID))
	h.Write([]byte{0})
	h.Write([]byte(c.Summary))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(c.Number)))
	h.Write(c.Salt)
	return h.Sum(nil)
}

// pushChallengeString is the challenge as clientDataJSON carries it (base64url).
func pushChallengeString(c *PushChallenge) string {
	return base64.RawURLEncoding.EncodeToString(pushChallengeBytes(c))
}

// randomInt returns a uniform integer in [lo, hi] from crypto/rand.
func randomInt(lo, hi int) int {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(hi-lo+1)))
	if err != nil {
		panic(err) // crypto/rand never fails (Go 1.24)
	}
	return lo + int(n.Int64())
}

// newPushNumbers picks the number to match (10..99), two other distinct
// numbers, shuffled together, and a salt.
func newPushNumbers() (number int, choices []int, salt []byte) {
	number = randomInt(10, 99)
	choices = []int{number}
	for len(choices) < 3 {
		n := randomInt(10, 99)
		if n != choices[0] && (len(choices) < 2 || n != choices[1]) {
			choices = append(choices, n)
		}
	}
	for i := len(choices) - 1; i > 0; i-- { // Fisher-Yates
		j := randomInt(0, i)
		choices[i], choices[j] = choices[j], choices[i]
	}
	salt = make([]byte, pushSaltLen)
	_, _ = rand.Read(salt)
	return number, choices, salt
}

// pushStateError is the error for answering a challenge that is not pending.
func pushStateError(c *PushChallenge, now time.Time) error {
	switch c.StateAt(now) {
	case PushPending:
		return nil
	case PushApproved:
		return Conflict(CodeAlreadyVerified)
	case PushExpired:
		return Conflict(CodeCodeExpired)
	default:
		return Conflict(CodeStateInvalid)
	}
}

// activeBiometric returns the user's ACTIVE biometric factor or CHANNEL_NOT_REGISTERED.
func activeBiometric(tx ReadTx, userID string) (*Factor, error) {
	f, err := tx.Factor(userID, ChannelBiometric)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && f.Status != FactorActive) {
		return nil, Conflict(CodeChannelNotRegistered)
	}
	return f, err
}

// pendingPush returns the user's challenges still pending at now, storing
// those that expired as EXPIRED on the way.
func pendingPush(tx Tx, userID string, now time.Time) ([]*PushChallenge, error) {
	list, err := tx.PendingPushChallenges(userID)
	if err != nil {
		return nil, err
	}
	live := list[:0]
	for _, c := range list {
		if c.StateAt(now) == PushExpired {
			c.State, c.ResolvedAt = PushExpired, c.ExpiresAt
			if err := tx.UpdatePushChallenge(c); err != nil {
				return nil, err
			}
			continue
		}
		live = append(live, c)
	}
	return live, nil
}

// cancelPushChallenges ends the user's pending challenges, as the
// revocation policy says (revoke).
func (s *Service) cancelPushChallenges(tx Tx, userID string, now time.Time, reason string) (int, error) {
	list, err := pendingPush(tx, userID, now)
	if err != nil {
		return 0, err
	}
	for _, c := range list {
		c.State, c.Reason, c.ResolvedAt = PushCancelled, reason, now
		if err := tx.UpdatePushChallenge(c); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}

// pushChanged wakes the user's streams after a commit that ended challenges.
func (s *Service) pushChanged(ctx context.Context, userID string) {
	s.publishPush(ctx, PushEvent{Kind: PushEventResolved, UserID: userID})
}

// StepUpPush sends a step-up challenge to the caller's companion device (Weavr
// stepupSCAChallengePush). summary says which operation is being approved
// (DefaultPushSummary when empty). The answer carries the challenge's id and
// the number the requesting client shows. A new request from the same session
// supersedes its pending one; a user has at most 5 pending challenges
// (CHALLENGE_LIMIT_EXCEEDED).
func (s *Service) StepUpPush(ctx context.Context, c *Caller, summary string) (*PushChallenge, error) {
	if err := requireBiometrics(c.Programme); err != nil {
		return nil, err
	}
	if summary == "" {
		summary = DefaultPushSummary
	}
	number, choices, salt := newPushNumbers()
	var out *PushChallenge
	err := s.store.Update(ctx, func(tx Tx) error {
		out = nil
		if err := requireLiveSession(tx, c); err != nil {
			return err
		}
		u, err := tx.User(c.User.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if !u.Active {
			return Conflict(CodeCredentialsInactive)
		}
		if now.Before(u.SCALockedUntil) {
			return &Error{Class: ErrConflict, Code: CodeChallengeLimitExceeded, RetryAfter: u.SCALockedUntil.Sub(now)}
		}
		if _, err := activeBiometric(tx, u.ID); err != nil {
			return err
		}
		if err := s.makeRoomForPush(tx, u.ID, c.Session.TokenHash, now); err != nil {
			return err
		}
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		ch := &PushChallenge{
			ID: id, ProgrammeID: u.ProgrammeID, UserID: u.ID, Kind: PushStepUp, SessionHash: c.Session.TokenHash,
			Summary: summary, Number: number, Choices: choices, Salt: salt,
			State: PushPending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL),
		}
		if err := tx.InsertPushChallenge(ch); err != nil {
			return err
		}
		out = ch
		if err := s.audit(ctx, tx, u.ProgrammeID, u.ID, "push.issue", u.ID, map[string]string{"challenge": id, "kind": string(PushStepUp)}); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, ch)
	})
	if err != nil {
		return nil, internal("issue push challenge", err)
	}
	s.publishPush(ctx, PushEvent{Kind: PushEventChallenge, UserID: out.UserID, ChallengeID: out.ID})
	return out, nil
}

// makeRoomForPush supersedes the session's pending step-up challenge and
// fails with CHALLENGE_LIMIT_EXCEEDED when the user has too many pending.
func (s *Service) makeRoomForPush(tx Tx, userID string, sessionHash []byte, now time.Time) error {
	list, err := pendingPush(tx, userID, now)
	if err != nil {
		return err
	}
	pending := 0
	for _, p := range list {
		if sessionHash != nil && p.Kind == PushStepUp && bytes.Equal(p.SessionHash, sessionHash) {
			p.State, p.Reason, p.ResolvedAt = PushCancelled, PushReasonSuperseded, now
			if err := tx.UpdatePushChallenge(p); err != nil {
				return err
			}
			continue
		}
		pending++
	}
	if pending >= maxPendingPush {
		return Conflict(CodeChallengeLimitExceeded)
	}
	return nil
}

// PushStatus returns a step-up challenge to the session that requested it
// (Deputy extension), with its state at now; other callers get ErrNotFound.
func (s *Service) PushStatus(ctx context.Context, c *Caller, id string) (*PushChallenge, error) {
	var ch *PushChallenge
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		ch, err = tx.PushChallenge(id)
		return err
	})
	if errors.Is(err, ErrRecordNotFound) || (err == nil && (ch.ProgrammeID != c.Programme.ID || !bytes.Equal(ch.SessionHash, c.Session.TokenHash))) {
		return nil, NotFound("challenge")
	}
	if err != nil {
		return nil, internal("read push challenge", err)
	}
	ch.State = ch.StateAt(s.clock.Now())
	return ch, nil
}

// PushChanges is what changed for a push stream since its last look.
type PushChanges struct {
	// Linked reports whether the stream's device is the user's linked device
	// (true for a stream without a device id whose session enrolled none).
	Linked bool
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
		*out = PushChanges{Linked: true, Cursor: after}
		sess, err := tx.Session(c.Session.TokenHash)
		switch {
		case errors.Is(err, ErrRecordNotFound):
		case err != nil:
			return err
		default:
			out.SessionLive = true
		}
		if deviceID != "" || (sess != nil && sess.DeviceID != "") {
			f, err := activeBiometric(tx, c.User.ID)
			var ce *Error
			if errors.As(err, &ce) {
				err = nil
			}
			if err != nil {
				return err
			}
			out.Linked = f != nil && linkedTo(f, sess, deviceID)
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
		if _, err := requireDevice(tx, c, deviceID); err != nil {
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
// the session is live, the BIOMETRIC factor is ACTIVE, and neither the
// device id the caller names nor the device its session enrolled
// (Session.DeviceID) is another one. A replaced or unlinked device gets
// CHANNEL_NOT_REGISTERED, whatever it asks.
func requireDevice(tx ReadTx, c *Caller, deviceID string) (*Factor, error) {
	sess, err := tx.Session(c.Session.TokenHash)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, err
	}
	f, err := activeBiometric(tx, c.User.ID)
	if err != nil {
		return nil, err
	}
	if !linkedTo(f, sess, deviceID) {
		return nil, Conflict(CodeChannelNotRegistered)
	}
	return f, nil
}

// linkedTo reports whether the linked device f is the one deviceID names
// (if any) and the one the session sess enrolled (if any).
func linkedTo(f *Factor, sess *Session, deviceID string) bool {
	return (deviceID == "" || deviceID == f.DeviceID) && (sess == nil || sess.DeviceID == "" || sess.DeviceID == f.DeviceID)
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
		if f, err = requireDevice(tx, c, ""); err != nil {
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
// APPROVED, the counter is saved and the requesting session is stepped up; a
// wrong number instead declines the challenge (VERIFICATION_CODE_INVALID).
func (s *Service) ApprovePush(ctx context.Context, c *Caller, id string, number int, credential []byte) error {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return Invalid("credential", "IN", "AuthenticationResponseJSON")
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
	)
	regressed := false
	err = s.store.Update(ctx, func(tx Tx) error {
		outcome, resolved, regressed = nil, nil, false
		cur, err := tx.PushChallenge(id)
		if err != nil {
			return err
		}
		fac, err := activeBiometric(tx, u.ID)
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
		if number != cur.Number {
			cur.State, cur.Reason, cur.ResolvedAt = PushDeclined, PushReasonWrongNumber, now
			outcome = Conflict(CodeCodeInvalid)
			if err := tx.UpdatePushChallenge(cur); err != nil {
				return err
			}
			return s.audit(ctx, tx, u.ProgrammeID, u.ID, "push.decline", u.ID, map[string]string{"challenge": id, "reason": PushReasonWrongNumber})
		}
		cur.State, cur.ResolvedAt = PushApproved, now
		if err := tx.UpdatePushChallenge(cur); err != nil {
			return err
		}
		if cur.Kind == PushStepUp {
			sess, err := tx.Session(cur.SessionHash)
			switch {
			case errors.Is(err, ErrRecordNotFound): // the requester signed out meanwhile
			case err != nil:
				return err
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

// DeclinePush declines challenge id on the device. reason is
// PushReasonCancelled or PushReasonNotMe; "I did not do this" (NOT_ME) also
// records a security event and revokes as the policy's NOT_ME row says
// (every session and pending challenge ends; the user, the root user and the
// admins are alerted). NOT_ME is accepted after expiry too. Only the linked
// device may answer (requireDevice).
func (s *Service) DeclinePush(ctx context.Context, c *Caller, id, reason string) error {
	if reason != PushReasonCancelled && reason != PushReasonNotMe {
		return Invalid("reason", "IN", PushReasonNotMe, PushReasonCancelled)
	}
	var (
		after    func()
		resolved *PushChallenge // as this decline left it, for the observer
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		after, resolved = nil, nil
		if _, err := requireDevice(tx, c, ""); err != nil {
			return err
		}
		ch, err := tx.PushChallenge(id)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && ch.UserID != c.User.ID) {
			return NotFound("challenge")
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if err := pushStateError(ch, now); err != nil && !(reason == PushReasonNotMe && ch.StateAt(now) == PushExpired) {
			return err
		}
		ch.State, ch.Reason, ch.ResolvedAt = PushDeclined, reason, now
		resolved = ch
		if err := tx.UpdatePushChallenge(ch); err != nil {
			return err
		}
		u, err := tx.User(ch.UserID)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, u.ID, "push.decline", u.ID, map[string]string{"challenge": id, "reason": reason}); err != nil {
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

// BiometricLogin is a sign-in waiting for approval on the user's device: the
// challenge (whose Number the signing-in client shows) and the secret that
// collects the token once it is approved.
type BiometricLogin struct {
	Challenge *PushChallenge
	Secret    string // shown once; only its keyed hash is stored
}

// Prefix of the secrets that collect a biometric sign-in's token.
const biometricLoginPrefix = "dbl_"

// purposePushSecret keeps the hashes of those secrets apart from other keyed hashes.
const purposePushSecret = "push-secret"

// LoginViaBiometrics pushes a sign-in challenge to the companion of the user
// with that email (Weavr loginViaBiometrics). So that the endpoint, which the
// public ui key may call, does not reveal who has an account or a device,
// every well-formed email gets the same answer: an unknown email, a user
// without an active biometric factor, a deactivated or locked user, one with
// too many pending challenges or an email over its prompt budget get a decoy challenge that is never approved and
// expires like any other. identityID, when not empty, picks among users of
// several identities sharing the email.
func (s *Service) LoginViaBiometrics(ctx context.Context, prog *Programme, email, identityID string) (*BiometricLogin, error) {
	if err := requireBiometrics(prog); err != nil {
		return nil, err
	}
	email = NormaliseEmail(email)
	secret, err := randomToken(biometricLoginPrefix)
	if err != nil {
		return nil, err
	}
	number, choices, salt := newPushNumbers()
	var out *PushChallenge
	err = s.store.Update(ctx, func(tx Tx) error {
		out = nil
		now := s.clock.Now()
		target, err := s.biometricLoginTarget(tx, prog, email, identityID, now)
		if err != nil {
			return err
		}
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		ch := &PushChallenge{
			ID: id, ProgrammeID: prog.ID, Kind: PushLogin, Summary: "Sign in to " + prog.Name,
			Number: number, Choices: choices, Salt: salt, SecretHash: s.keys.hash(purposePushSecret, secret),
			State: PushPending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL),
		}
		if target != nil {
			ch.UserID = target.ID
		}
		if err := tx.InsertPushChallenge(ch); err != nil {
			return err
		}
		out = ch
		if target == nil {
			return nil
		}
		return s.audit(ctx, tx, prog.ID, target.ID, "push.issue", target.ID, map[string]string{"challenge": id, "kind": string(PushLogin)})
	})
	if err != nil {
		return nil, internal("issue biometric sign-in", err)
	}
	s.publishPush(ctx, PushEvent{Kind: PushEventChallenge, UserID: out.UserID, ChallengeID: out.ID})
	return &BiometricLogin{Challenge: out, Secret: secret}, nil
}

// biometricLoginTarget finds the one user a biometric sign-in goes to, or nil
// for a decoy. Every sign-in spends the email's prompt budget
// (RateLimits.BiometricSignInPerEmail), whoever has the email; over it, the
// sign-in is a decoy.
func (s *Service) biometricLoginTarget(tx Tx, prog *Programme, email, identityID string, now time.Time) (*User, error) {
	err := s.spend(tx, newBudget("push-login", prog.ID, "email:"+email, s.cfg.RateLimits.BiometricSignInPerEmail))
	if errors.Is(err, ErrRateLimited) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	users, err := tx.UsersByEmail(prog.ID, email)
	if err != nil {
		return nil, err
	}
	var target *User
	for _, u := range users {
		if identityID != "" && u.IdentityID != identityID {
			continue
		}
		if !u.Active || u.Locked(now) || now.Before(u.SCALockedUntil) {
			continue
		}
		if _, err := activeBiometric(tx, u.ID); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				continue
			}
			return nil, err
		}
		if target != nil {
			return nil, nil // ambiguous without an identity: nobody is prompted
		}
		target = u
	}
	if target != nil {
		if err := s.makeRoomForPush(tx, target.ID, nil, now); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return nil, nil
			}
			return nil, err
		}
	}
	return target, nil
}

// CollectBiometricLogin hands out the stepped-up session of an approved
// biometric sign-in, once (Deputy extension to loginViaBiometrics). While the
// challenge is pending it fails with STATE_INVALID and a one-second
// RetryAfter; an unknown id or a wrong secret is ErrNotFound.
func (s *Service) CollectBiometricLogin(ctx context.Context, prog *Programme, id, secret string) (*SignedIn, error) {
	token, err := randomToken(sessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	var user *User
	err = s.store.Update(ctx, func(tx Tx) error {
		user = nil
		ch, err := tx.PushChallenge(id)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && (ch.ProgrammeID != prog.ID || ch.Kind != PushLogin || !s.keys.equal(purposePushSecret, secret, ch.SecretHash))) {
			return NotFound("challenge")
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		switch ch.StateAt(now) {
		case PushPending:
			return &Error{Class: ErrConflict, Code: CodeStateInvalid, RetryAfter: time.Second, Message: "the sign-in is waiting for approval"}
		case PushApproved:
			if ch.Collected {
				return Conflict(CodeAlreadyVerified)
			}
		default:
			return pushStateError(ch, now)
		}
		u, err := tx.User(ch.UserID)
		if err != nil {
			return err
		}
		if !u.Active {
			return &Error{Class: ErrInvalidCredentials}
		}
		if u.Locked(now) {
			return lockedError(u.LockedUntil, now)
		}
		ch.Collected = true
		if err := tx.UpdatePushChallenge(ch); err != nil {
			return err
		}
		if err := tx.InsertSession(&Session{
			TokenHash: s.keys.hash(purposeSession, token), UserID: u.ID, IdentityID: u.IdentityID, ProgrammeID: u.ProgrammeID,
			CreatedAt: now, LastSeen: now, SteppedUp: true, SteppedUpAt: now,
		}); err != nil {
			return err
		}
		user = u
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "user.login", u.ID, map[string]string{"method": "biometric", "challenge": id})
	})
	if err != nil {
		return nil, internal("collect biometric sign-in", err)
	}
	return &SignedIn{Token: token, User: user}, nil
}
