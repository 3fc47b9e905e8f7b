package core

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"time"
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
	// PushReasonResourcesChanged: a confirmation's resources changed (or were
	// challenged again) before its approval, which then confirmed nothing.
	PushReasonResourcesChanged = "RESOURCES_CHANGED"
)

// DefaultPushSummary is what a step-up challenge shows when the requesting
// client does not say which operation it is for.
const DefaultPushSummary = "Step up your session"

// Limits of push challenges.
const (
	// MaxPushSummaryLen bounds a summary, in characters.
	MaxPushSummaryLen = 200
	// maxPendingPush bounds a user's pending sign-in prompts, and apart from
	// them the challenges their sessions ask for, so that nobody can flood a
	// device with prompts (push fatigue).
	maxPendingPush = 5
	// pushSaltLen is the length of the random salt mixed into the WebAuthn
	// challenge (WebAuthn §13.4.3: at least 16 random bytes).
	pushSaltLen = 16
	// pushKeep is how long resolved challenges are kept for the requester to read.
	pushKeep = 24 * time.Hour
)

// pushChallengeBytes derives the WebAuthn challenge of a push approval:
//
//	SHA-256("deputy-push-v1" || id || 0x00 || summary || 0x00 || number || salt || operation)
//
// where operation is the hash of an operation-bound step-up's operation
// (empty otherwise; salt has a fixed length). The authenticator signs it
// inside clientDataJSON (WebAuthn §5.8.1, §6.3.3), so an assertion approves
// exactly this challenge, this operation text and this number: a signature made for one operation cannot approve another, which is
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
	h.Write(c.Operation)
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

// notMeReportable reports whether "I did not do this" may still be said of
// a challenge that is no longer pending: any that ended without an approval
// (PushApproved stays approved: its operation happened; so does a sign-in
// approved and then cancelled uncollected by a revocation, ApprovedAt),
// unless it was reported already.
func notMeReportable(c *PushChallenge) bool {
	return c.State != PushApproved && c.ApprovedAt.IsZero() && c.Reason != PushReasonNotMe
}

// pushedUser is challengedUser for a new push step-up or confirmation: the
// user must also have an ACTIVE biometric factor (a linked phone to ask),
// and the prompt is spent from the user's budget
// (RateLimits.PushPromptsPerUser).
func (s *Service) pushedUser(tx Tx, c *Caller, now time.Time) (*User, error) {
	u, err := challengedUser(tx, c, now)
	if err != nil {
		return nil, err
	}
	if _, err := activeFactor(tx, u.ID, ChannelBiometric); err != nil {
		return nil, err
	}
	return u, s.spend(tx, newBudget("push-prompt", u.ProgrammeID, "user:"+u.ID, s.cfg.RateLimits.PushPromptsPerUser))
}

// activeFactor returns the user's ACTIVE factor of channel or CHANNEL_NOT_REGISTERED.
func activeFactor(tx ReadTx, userID string, channel Channel) (*Factor, error) {
	f, err := tx.Factor(userID, channel)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && f.Status != FactorActive) {
		return nil, Conflict(CodeChannelNotRegistered)
	}
	return f, err
}

// pendingPush returns the user's challenges still pending at now, recording
// the expiry of those that expired on the way (expirePush).
func (s *Service) pendingPush(ctx context.Context, tx Tx, userID string, now time.Time) ([]*PushChallenge, error) {
	list, err := tx.PendingPushChallenges(userID)
	if err != nil {
		return nil, err
	}
	live := list[:0]
	for _, c := range list {
		if c.StateAt(now) == PushExpired {
			if err := s.expirePush(ctx, tx, c); err != nil {
				return nil, err
			}
			continue
		}
		live = append(live, c)
	}
	return live, nil
}

// expirePush stores a pending challenge that expired as EXPIRED (endPush:
// a step-up's or sign-in's EXPIRED webhook). Whoever notices first records
// it: a later look at the user's challenges, or the sweep
// (expireChallenges).
func (s *Service) expirePush(ctx context.Context, tx Tx, c *PushChallenge) error {
	return s.endPush(ctx, tx, c, PushExpired, "", ActorSystem, c.ExpiresAt)
}

// pushEndActions is the audit action of each way a challenge ends unapproved.
var pushEndActions = map[PushState]string{PushExpired: "push.expire", PushCancelled: "push.cancel", PushDeclined: "push.decline"}

// endPush stores a challenge as ended unapproved (state, for reason) at at,
// with the audit event by actor that tells the embedder (webhookBuilders)
// and, for a confirmation, its failure.
func (s *Service) endPush(ctx context.Context, tx Tx, c *PushChallenge, state PushState, reason, actor string, at time.Time) error {
	c.State, c.Reason, c.ResolvedAt = state, reason, at
	if err := tx.UpdatePushChallenge(c); err != nil {
		return err
	}
	details := map[string]string{"challenge": c.ID, "kind": string(c.Kind)}
	if reason != "" {
		details["reason"] = reason
	}
	if err := s.audit(ctx, tx, c.ProgrammeID, actor, pushEndActions[state], c.UserID, details); err != nil {
		return err
	}
	return s.failPushConfirmation(ctx, tx, c, cmp.Or(reason, string(state)))
}

// cancelPushChallenges ends, as the revocation policy says (revoke), the
// user's pending challenges and, with signIns, their biometric sign-ins,
// pending or approved but not collected (those still collectable:
// pushCollectWindow): whoever started one must not get a session out of it
// after a revocation.
func (s *Service) cancelPushChallenges(ctx context.Context, tx Tx, userID string, now time.Time, reason string, signIns bool) error {
	list, err := s.pendingPush(ctx, tx, userID, now)
	if err != nil {
		return err
	}
	if !signIns {
		list = slices.DeleteFunc(list, func(c *PushChallenge) bool { return c.Kind == PushLogin })
	} else {
		kept, err := tx.PushChallengesAfter(userID, "", 0) // those of the last pushKeep
		if err != nil {
			return err
		}
		for _, c := range kept {
			if c.Kind == PushLogin && c.State == PushApproved && !c.Collected && now.Before(c.ResolvedAt.Add(pushCollectWindow)) {
				list = append(list, c)
			}
		}
	}
	for _, c := range list {
		if err := s.endPush(ctx, tx, c, PushCancelled, reason, ActorSystem, now); err != nil {
			return err
		}
	}
	return nil
}

// pushChanged wakes the users' streams after a commit that ended challenges.
func (s *Service) pushChanged(ctx context.Context, userIDs ...string) {
	for _, id := range userIDs {
		s.publishPush(ctx, PushEvent{Kind: PushEventResolved, UserID: id})
	}
}
