package core

import (
	"context"
	"errors"
	"time"
)

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
// expires like any other. identity, when not zero, picks among users of
// several identities sharing the email: only a user of that identity, type
// and id, is prompted.
func (s *Service) LoginViaBiometrics(ctx context.Context, prog *Programme, email string, identity IdentityRef) (*BiometricLogin, error) {
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
		target, err := s.biometricLoginTarget(ctx, tx, prog, email, identity, now)
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
			State: PushPending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL), From: ClientOf(ctx),
		}
		if target != nil {
			ch.UserID = target.ID
		}
		if err := tx.InsertPushChallenge(ch); err != nil {
			return err
		}
		out = ch
		// A decoy is recorded too, by the same writes: the answer's time
		// tells nobody whether the email has a phone.
		return s.audit(ctx, tx, prog.ID, ActorAPI, "push.issue", ch.UserID, map[string]string{"challenge": id, "kind": string(PushLogin)})
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
func (s *Service) biometricLoginTarget(ctx context.Context, tx Tx, prog *Programme, email string, identity IdentityRef, now time.Time) (*User, error) {
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
		if identity != (IdentityRef{}) && (u.IdentityID != identity.ID || u.IdentityType != identity.Type) {
			continue
		}
		rec, err := scaRecord(tx, u) // a linked identity's root is off and locked with its credentials
		if err != nil {
			return nil, err
		}
		if !u.Active || !rec.Active || rec.Locked(now) || now.Before(rec.SCALockedUntil) {
			continue
		}
		if _, err := activeFactor(tx, u.ID, ChannelBiometric); err != nil {
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
		if err := s.makeRoomForPush(ctx, tx, target.ID, PushLogin, nil, now); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return nil, nil
			}
			return nil, err
		}
	}
	return target, nil
}

// pushCollectWindow is how long after its approval a biometric sign-in's
// session may be collected: its requester polls every second.
const pushCollectWindow = 2 * time.Minute

// CollectBiometricLogin hands out the stepped-up session of an approved
// biometric sign-in, once and within pushCollectWindow of the approval
// (Deputy extension to loginViaBiometrics). While the challenge is pending
// it fails with STATE_INVALID and a one-second RetryAfter; an unknown id or
// a wrong secret is ErrNotFound.
func (s *Service) CollectBiometricLogin(ctx context.Context, prog *Programme, id, secret string) (*SignedIn, error) {
	if err := requireBiometrics(prog); err != nil { // switched off since the approval
		return nil, err
	}
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
			if !now.Before(ch.ResolvedAt.Add(pushCollectWindow)) {
				return &Error{Class: ErrConflict, Code: CodeCodeExpired, Message: "the approved sign-in was not collected in time: sign in again"}
			}
		default:
			return pushStateError(ch, now)
		}
		u, err := tx.User(ch.UserID)
		if err != nil {
			return err
		}
		cred, err := credentialsUser(tx, u) // a linked identity's root is off and locked out with its credentials
		if err != nil {
			return err
		}
		if !u.Active || !cred.Active {
			return &Error{Class: ErrInvalidCredentials}
		}
		if cred.Locked(now) {
			return lockedError(cred.LockedUntil, now)
		}
		ch.Collected = true
		if err := tx.UpdatePushChallenge(ch); err != nil {
			return err
		}
		sess := signInSession(s.keys.hash(purposeSession, token), u, now)
		sess.SteppedUp, sess.SteppedUpAt, sess.SignedInStepped = true, now, true
		if err := tx.InsertSession(sess); err != nil {
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
