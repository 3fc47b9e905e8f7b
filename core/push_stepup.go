package core

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// StepUpPush sends a step-up challenge to the caller's companion device (Weavr
// stepupSCAChallengePush). summary says which operation is being approved
// (DefaultPushSummary when empty). operation, when not "", is the
// reference of the operation a STEP_UP_REQUIRED answer named (Deputy
// extension): its summary is shown instead of summary, the signature covers
// it and approval grants it alone (stepupscope.go). The answer carries the challenge's id and
// the number the requesting client shows. A new request from the same session
// supersedes its pending one; a user has at most 5 pending challenges
// (CHALLENGE_LIMIT_EXCEEDED).
func (s *Service) StepUpPush(ctx context.Context, c *Caller, summary, operation string) (*PushChallenge, error) {
	if err := requireBiometrics(c.Programme); err != nil {
		return nil, err
	}
	op, err := s.openOperation(c, "operation", operation)
	if err != nil {
		return nil, err
	}
	var opHash []byte
	switch {
	case op != nil:
		summary, opHash = op.summary, op.hash
	case summary == "":
		summary = DefaultPushSummary
	}
	number, choices, salt := newPushNumbers()
	var out *PushChallenge
	err = s.updateAs(ctx, c, func(tx Tx) error {
		out = nil
		now := s.clock.Now()
		u, err := s.pushedUser(tx, c, now)
		if err != nil {
			return err
		}
		if err := s.makeRoomForPush(ctx, tx, u.ID, PushStepUp, c.Session.TokenHash, now); err != nil {
			return err
		}
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		ch := &PushChallenge{
			ID: id, ProgrammeID: u.ProgrammeID, UserID: u.ID, Kind: PushStepUp, SessionHash: c.Session.TokenHash,
			Summary: summary, Operation: opHash, Number: number, Choices: choices, Salt: salt,
			State: PushPending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL), From: ClientOf(ctx),
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

// makeRoomForPush makes room for a challenge of kind for the user: it
// supersedes the session's pending step-up challenge and fails with
// CHALLENGE_LIMIT_EXCEEDED when the user has maxPendingPush pending of the
// same side. Sign-in prompts, which anyone knowing the email can cause, are
// counted apart from the challenges the user's own sessions ask for, so that
// a stranger filling the slots never stops the user's step-ups.
func (s *Service) makeRoomForPush(ctx context.Context, tx Tx, userID string, kind PushKind, sessionHash []byte, now time.Time) error {
	list, err := s.pendingPush(ctx, tx, userID, now)
	if err != nil {
		return err
	}
	pending := 0
	for _, p := range list {
		if (p.Kind == PushLogin) != (kind == PushLogin) {
			continue
		}
		if sessionHash != nil && p.Kind == PushStepUp && bytes.Equal(p.SessionHash, sessionHash) {
			// No audit event or webhook: the session asking again knows, and
			// one would let a session flood the user's webhook queue.
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
