package core

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Confirmation challenges (Weavr multipleSCAChallenge, multipleSCAVerify,
// multipleSCAChallengePush): a user confirms a list of the embedder's
// operations, each shown with its amount and payee, by an SMS code or on the
// companion. Deputy holds no ledger, so the embedder first registers each
// operation as a Resource with its summary (PutResource, secret key). A
// challenge stores confirmationBinding of its resources; verifying it
// recomputes the binding from the resources as they are then, so a changed
// amount or payee, a resource verified meanwhile or one challenged again
// since, makes the code or the signature confirm nothing (PSD2 RTS Art. 5:
// dynamic linking). Success marks every resource VERIFIED in one transaction.

// Limits of confirmation challenges and of the resources they confirm.
const (
	// MaxConfirmResources bounds the resources of one challenge.
	MaxConfirmResources = 20
	// MaxPayeeLen bounds a summary's payee name and payee account, in characters.
	MaxPayeeLen = 100
	// MaxResourceFields bounds a summary's free fields.
	MaxResourceFields = 10
	// MaxResourceFieldLen bounds a free field's value, in characters.
	MaxResourceFieldLen = 100
	// smsPayeeLen is how much of a payee's name a confirmation SMS shows.
	smsPayeeLen = 24
	// smsAccountTail is how many of the last characters of a payee's
	// account a confirmation SMS shows.
	smsAccountTail = 4
)

// ResourceTypes are Weavr's resource types, which every programme's
// resources may have; a programme declares more in its settings.
var ResourceTypes = []ResourceType{ResourceSends, ResourceOutgoingWireTransfers, ResourceLinkedAccountDeclaration, ResourceCorrespondentBankTransfers}

// MaxDeclaredResourceTypes is how many resource types a programme may declare.
const MaxDeclaredResourceTypes = 20

// reDeclaredResourceType is what a declared resource type looks like: Weavr's own style.
var reDeclaredResourceType = regexp.MustCompile(`^[a-z][a-z0-9_]{1,47}$`)

// AcceptsResourceType reports whether a programme under these settings
// confirms resources of type t: Weavr's, or one it declared.
func (s ProgrammeSettings) AcceptsResourceType(t ResourceType) bool {
	return slices.Contains(ResourceTypes, t) || slices.Contains(s.ResourceTypes, t)
}

// ResourceTypeNames are the resource types a programme under these
// settings accepts, as strings: Weavr's, then the declared ones.
func (s ProgrammeSettings) ResourceTypeNames() []string {
	out := make([]string, 0, len(ResourceTypes)+len(s.ResourceTypes))
	for _, t := range slices.Concat(ResourceTypes, s.ResourceTypes) {
		out = append(out, string(t))
	}
	return out
}

// checkDeclaredResourceTypes refuses a declared type that is malformed,
// Weavr's own, listed twice, or one too many.
func checkDeclaredResourceTypes(ts []ResourceType) error {
	if len(ts) > MaxDeclaredResourceTypes {
		return Invalid("resourceTypes", ReasonSize, "0", strconv.Itoa(MaxDeclaredResourceTypes))
	}
	for i, t := range ts {
		field := fmt.Sprintf("resourceTypes[%d]", i)
		switch {
		case !reDeclaredResourceType.MatchString(string(t)):
			return Invalid(field, ReasonRegex, reDeclaredResourceType.String())
		case slices.Contains(ResourceTypes, t) || slices.Contains(ts[:i], t):
			return Invalid(field, ReasonNotIn, ProgrammeSettings{ResourceTypes: ts[:i]}.ResourceTypeNames()...)
		}
	}
	return nil
}

// purposeConfirm keeps confirmation codes' hashes apart from other codes'.
const purposeConfirm = "confirm"

// NewResource is a resource as the embedder registers it.
type NewResource struct {
	Type    ResourceType
	ID      string
	UserID  string
	Summary ResourceSummary
}

// PutResource registers a resource for the user who must confirm it, or
// replaces the summary of one still PENDING_CHALLENGE (a challenge issued
// before then confirms nothing any more). A VERIFIED resource is final:
// STATE_INVALID. The caller (the secret key) has checked the fields' syntax.
func (s *Service) PutResource(ctx context.Context, p *Programme, in NewResource) (*Resource, error) {
	if !p.Settings.AcceptsResourceType(in.Type) {
		return nil, Invalid("resourceType", ReasonIn, p.Settings.ResourceTypeNames()...)
	}
	var out *Resource
	err := s.store.Update(ctx, func(tx Tx) error {
		out = nil
		u, err := tx.User(in.UserID)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && u.ProgrammeID != p.ID) {
			return &Error{Class: ErrInvalid, Fields: []FieldError{{Field: "userId", Reason: ReasonIn}}, Message: "Bad request: userId is not a user of this programme."}
		}
		if err != nil {
			return err
		}
		if !mayConfirm(u, in.Type) { // it could never be confirmed
			return &Error{Class: ErrInvalid, Fields: []FieldError{{Field: "userId", Reason: ReasonIn}},
				Message: "Bad request: userId must be the identity's root user to declare a linked account."}
		}
		now := s.clock.Now()
		r, err := tx.Resource(p.ID, in.Type, in.ID)
		switch {
		case errors.Is(err, ErrRecordNotFound):
			r = &Resource{ProgrammeID: p.ID, Type: in.Type, ID: in.ID, CreatedAt: now}
		case err != nil:
			return err
		case r.State != ResourcePending:
			return Conflict(CodeStateInvalid)
		}
		r.UserID, r.IdentityID, r.Summary, r.State, r.UpdatedAt = u.ID, u.IdentityID, in.Summary, ResourcePending, now
		if err := tx.PutResource(r); err != nil {
			return err
		}
		out = r
		return s.audit(ctx, tx, p.ID, ActorAPI, "resource.register", u.ID, map[string]string{"resourceType": string(r.Type), "resource": r.ID})
	})
	if err != nil {
		return nil, internal("register resource", err)
	}
	return out, nil
}

// Resource returns a resource of the programme (ErrNotFound when none).
func (s *Service) Resource(ctx context.Context, p *Programme, t ResourceType, id string) (*Resource, error) {
	var r *Resource
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		r, err = tx.Resource(p.ID, t, id)
		return err
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, NotFound("resource")
	}
	return r, internal("read resource", err)
}

// ConfirmSMS texts the caller a code confirming resources ids of type t, the
// text naming every one's amount and payee (Weavr multipleSCAChallenge), and
// returns the challenge's id. The resend rules are the SMS step-up's, per
// resource: a new code RETRY_IN_15SEC after the last, at most
// Config.MaxReissues new ones (CHALLENGE_LIMIT_EXCEEDED). A new challenge
// supersedes the resources' earlier ones.
func (s *Service) ConfirmSMS(ctx context.Context, c *Caller, t ResourceType, ids []string) (string, error) {
	if err := checkResourceList(c, t, ids); err != nil {
		return "", err
	}
	code, nonce, codeHash, err := s.newSealedCode(purposeConfirm)
	if err != nil {
		return "", err
	}
	var (
		id    string
		user  *User
		rs    []*Resource
		woken []string
	)
	err = s.updateAs(ctx, c, func(tx Tx) error {
		id, user, rs, woken = "", nil, nil, nil
		now := s.clock.Now()
		u, err := challengedUser(tx, c, now)
		if err != nil {
			return err
		}
		if _, err := activeFactor(tx, u.ID, ChannelSMS); err != nil {
			return err
		}
		if rs, err = pendingResources(tx, c, t, ids); err != nil {
			return err
		}
		for _, r := range rs {
			if r.Codes == 0 {
				continue
			}
			if wait := s.cfg.ReissueInterval - now.Sub(r.LastCodeAt); wait > 0 {
				return &Error{Class: ErrConflict, Code: CodeRetryIn15Sec, RetryAfter: wait}
			}
			if r.Codes > s.cfg.MaxReissues {
				return Conflict(CodeChallengeLimitExceeded)
			}
		}
		if err := s.spendSMS(tx, u); err != nil {
			return err // nothing is written or sent
		}
		conf, superseded, err := s.newConfirmation(ctx, tx, c, t, rs, ChannelSMS, now)
		if err != nil {
			return err
		}
		woken = superseded
		conf.Nonce, conf.CodeHash, conf.MaxAttempts = nonce, codeHash, c.Programme.Settings.AttemptsPerChallenge()
		for _, r := range rs {
			r.Codes, r.LastCodeAt = r.Codes+1, now
		}
		if err := putConfirmation(tx, conf, rs); err != nil {
			return err
		}
		id, user = conf.ID, u
		return s.finishIdempotent(ctx, tx, id)
	})
	if err != nil {
		return "", internal("issue confirmation challenge", err)
	}
	s.pushChanged(ctx, woken...)
	text := fmt.Sprintf("%s: your code %s confirms %s. Never share it with anyone.\n\n@%s #%s",
		c.Programme.Name, code, smsList(rs), s.cfg.OriginHost, code)
	if err := s.textCode(ctx, user, text); err != nil {
		return "", fmt.Errorf("send confirmation SMS: %w", err)
	}
	return id, nil
}

// ConfirmPush asks the caller's companion device to confirm resources ids of
// type t (Weavr multipleSCAChallengePush): a push challenge whose summary
// lists every resource's amount and payee, which the device's signature
// covers (pushChallengeBytes). Approving it (ApprovePush) verifies them.
func (s *Service) ConfirmPush(ctx context.Context, c *Caller, t ResourceType, ids []string) (*PushChallenge, error) {
	if err := requireBiometrics(c.Programme); err != nil {
		return nil, err
	}
	if err := checkResourceList(c, t, ids); err != nil {
		return nil, err
	}
	number, choices, salt := newPushNumbers()
	var (
		out   *PushChallenge
		woken []string
	)
	err := s.updateAs(ctx, c, func(tx Tx) error {
		out, woken = nil, nil
		now := s.clock.Now()
		u, err := s.pushedUser(tx, c, now)
		if err != nil {
			return err
		}
		rs, err := pendingResources(tx, c, t, ids)
		if err != nil {
			return err
		}
		conf, superseded, err := s.newConfirmation(ctx, tx, c, t, rs, ChannelBiometric, now)
		if err != nil {
			return err
		}
		woken = superseded
		if err := s.makeRoomForPush(ctx, tx, u.ID, PushConfirm, nil, now); err != nil {
			return err
		}
		ch := &PushChallenge{
			ID: conf.ID, ProgrammeID: u.ProgrammeID, UserID: u.ID, Kind: PushConfirm, SessionHash: c.Session.TokenHash,
			Summary: pushList(t, rs), Number: number, Choices: choices, Salt: salt,
			State: PushPending, CreatedAt: now, ExpiresAt: conf.ExpiresAt, From: ClientOf(ctx),
		}
		if err := tx.InsertPushChallenge(ch); err != nil {
			return err
		}
		if err := putConfirmation(tx, conf, rs); err != nil {
			return err
		}
		out = ch
		return s.finishIdempotent(ctx, tx, ch)
	})
	if err != nil {
		return nil, internal("issue confirmation push", err)
	}
	s.pushChanged(ctx, woken...)
	s.publishPush(ctx, PushEvent{Kind: PushEventChallenge, UserID: out.UserID, ChallengeID: out.ID})
	return out, nil
}

// VerifyConfirmSMS completes SMS confirmation id with the code (Weavr
// multipleSCAVerify). t must be the challenge's resource type. Only the
// session that asked for the challenge may verify it; everything is decided
// in one transaction, so however many verifications race, the resources are
// verified once. Wrong codes count as the step-up's do (countWrongCode). A
// right code sent before the SMS factor last became ACTIVE (the mobile
// changed since) is STATE_INVALID, as VerifyStepUpSMS has it.
func (s *Service) VerifyConfirmSMS(ctx context.Context, c *Caller, id string, t ResourceType, code string) error {
	var (
		outcome error
		after   func()
	)
	err := s.updateAs(ctx, c, func(tx Tx) error {
		outcome, after = nil, nil
		conf, err := tx.Confirmation(id)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && (conf.Channel != ChannelSMS || !bytes.Equal(conf.SessionHash, c.Session.TokenHash))) {
			return NotFound("scaChallengeId")
		}
		if err != nil {
			return err
		}
		if t != conf.ResourceType {
			return Invalid("resourceType", ReasonIn, string(conf.ResourceType))
		}
		u, rec, err := userWithSCARecord(tx, c.User.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if conf.State != ChallengePending || now.Before(rec.SCALockedUntil) {
			return Conflict(CodeStateInvalid)
		}
		checked := conf.otp().check(s.keys, code, now)
		switch {
		case errors.Is(checked, errOTPUsed):
			return Conflict(CodeStateInvalid)
		case errors.Is(checked, errOTPExpired):
			return Conflict(CodeCodeExpired)
		case checked == nil:
			// As for a step-up code: STATE_INVALID either way, the one
			// answer Weavr's MultipleSCAVerifyConflict has for it; the code
			// is not spent, and the change keeps it proving nothing.
			if err := smsSentToCurrentNumber(tx, u.ID, conf.IssuedAt, CodeStateInvalid); err != nil {
				return err
			}
			if err := resetSCAFailures(tx, rec); err != nil {
				return err
			}
			verified, err := s.settleConfirmation(ctx, tx, conf, now)
			if err != nil {
				return err
			}
			if !verified {
				outcome = Conflict(CodeStateInvalid)
				return nil // the failure is recorded
			}
			return s.finishIdempotent(ctx, tx, nil)
		}
		wrong, err := s.countWrongCode(ctx, tx, u, rec, checked, now, map[string]string{"purpose": purposeConfirm, "challenge": conf.ID})
		if err != nil {
			return err
		}
		outcome, after = wrong.outcome, wrong.after
		if wrong.void {
			return s.failConfirmation(ctx, tx, conf, CodeChallengeLimitExceeded)
		}
		return tx.PutConfirmation(conf)
	})
	if err != nil {
		return internal("verify confirmation challenge", err)
	}
	if after != nil {
		after()
	}
	return outcome
}

// settleConfirmation ends a confirmation whose code or signature was right:
// when its resources are still pending for its user, identity and challenge,
// with the summaries it bound, they all become VERIFIED; otherwise nothing is
// verified and the confirmation fails (the caller answers STATE_INVALID).
// Either way the outcome is audited ("confirmation.verify" or
// "confirmation.failed", each a confirmation webhook event).
func (s *Service) settleConfirmation(ctx context.Context, tx Tx, conf *Confirmation, now time.Time) (bool, error) {
	rs := make([]*Resource, 0, len(conf.ResourceIDs))
	intact := true
	for _, id := range conf.ResourceIDs {
		r, err := tx.Resource(conf.ProgrammeID, conf.ResourceType, id)
		if errors.Is(err, ErrRecordNotFound) {
			intact = false
			break
		}
		if err != nil {
			return false, err
		}
		if r.State != ResourcePending || r.ChallengeID != conf.ID || r.UserID != conf.UserID || r.IdentityID != conf.IdentityID {
			intact = false
			break
		}
		rs = append(rs, r)
	}
	if intact && subtle.ConstantTimeCompare(confirmationBinding(conf.ResourceType, rs), conf.Binding) == 1 {
		for _, r := range rs {
			r.State, r.VerifiedAt, r.UpdatedAt = ResourceVerified, now, now
			if err := tx.PutResource(r); err != nil {
				return false, err
			}
		}
		conf.State = ChallengeVerified
		if err := tx.PutConfirmation(conf); err != nil {
			return false, err
		}
		return true, s.auditConfirmation(ctx, tx, conf, "confirmation.verify", string(ResourceVerified))
	}
	return false, s.failConfirmation(ctx, tx, conf, PushReasonResourcesChanged)
}

// failConfirmation ends a pending confirmation unverified, for reason; one
// that has already ended keeps its one outcome.
func (s *Service) failConfirmation(ctx context.Context, tx Tx, conf *Confirmation, reason string) error {
	if conf.State != ChallengePending {
		return nil
	}
	conf.State = ChallengeFailed
	if err := tx.PutConfirmation(conf); err != nil {
		return err
	}
	return s.auditConfirmation(ctx, tx, conf, "confirmation.failed", reason)
}

// failPushConfirmation ends the confirmation of a push challenge of kind
// CONFIRM that was declined or expired, for reason; other kinds have none.
func (s *Service) failPushConfirmation(ctx context.Context, tx Tx, ch *PushChallenge, reason string) error {
	if ch.Kind != PushConfirm {
		return nil
	}
	conf, err := tx.Confirmation(ch.ID)
	if err != nil {
		return err
	}
	return s.failConfirmation(ctx, tx, conf, reason)
}

// auditConfirmation records a confirmation's outcome, which the confirmation
// webhook event carries.
func (s *Service) auditConfirmation(ctx context.Context, tx Tx, conf *Confirmation, action, outcome string) error {
	return s.audit(ctx, tx, conf.ProgrammeID, conf.UserID, action, conf.UserID, map[string]string{
		"challenge": conf.ID, "channel": string(conf.Channel), "resourceType": string(conf.ResourceType),
		"resources": strings.Join(conf.ResourceIDs, ","), "outcome": outcome,
	})
}

// checkResourceList checks a challenge's list before any store access:
// 1..MaxConfirmResources distinct ids of a known type; a linked account
// declaration is confirmed by a root user only (Weavr's rule).
func checkResourceList(c *Caller, t ResourceType, ids []string) error {
	if !c.Programme.Settings.AcceptsResourceType(t) {
		return Invalid("resourceType", ReasonIn, c.Programme.Settings.ResourceTypeNames()...)
	}
	if len(ids) == 0 || len(ids) > MaxConfirmResources {
		return Invalid("resourceIds", ReasonSize, "1", strconv.Itoa(MaxConfirmResources))
	}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return &Error{Class: ErrInvalid, Fields: []FieldError{{Field: fmt.Sprintf("resourceIds[%d]", i), Reason: ReasonNotIn}},
				Message: fmt.Sprintf("Bad request: resourceIds[%d] is listed twice.", i)}
		}
	}
	if !mayConfirm(c.User, t) {
		return Forbidden(CodeInsufficientPermissions)
	}
	return nil
}

// mayConfirm reports whether u may confirm operations of type t: a linked
// account is declared by the identity's root user only.
func mayConfirm(u *User, t ResourceType) bool {
	return t != ResourceLinkedAccountDeclaration || u.Root
}

// pendingResources reads the resources a challenge will confirm. An id that
// is not a resource of this type for the caller's user and identity is a 400
// naming it (unknown and another user's alike); a resource no longer
// pending is STATE_INVALID.
func pendingResources(tx ReadTx, c *Caller, t ResourceType, ids []string) ([]*Resource, error) {
	rs := make([]*Resource, len(ids))
	for i, id := range ids {
		r, err := tx.Resource(c.Programme.ID, t, id)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && (r.UserID != c.User.ID || r.IdentityID != c.Session.IdentityID)) {
			field := fmt.Sprintf("resourceIds[%d]", i)
			return nil, &Error{Class: ErrInvalid, Fields: []FieldError{{Field: field, Reason: ReasonIn}},
				Message: "Bad request: " + field + " is not a " + string(t) + " resource of the signed-in user."}
		}
		if err != nil {
			return nil, err
		}
		if r.State != ResourcePending {
			return nil, Conflict(CodeStateInvalid)
		}
		rs[i] = r
	}
	return rs, nil
}

// newConfirmation starts a confirmation of rs for the caller. The
// confirmations still pending for any of them fail as SUPERSEDED; woken
// lists the users whose push challenge that cancelled, whose devices the
// caller wakes after the commit (pushChanged).
func (s *Service) newConfirmation(ctx context.Context, tx Tx, c *Caller, t ResourceType, rs []*Resource, ch Channel, now time.Time) (conf *Confirmation, woken []string, err error) {
	for _, r := range rs {
		user, err := s.supersedeConfirmation(ctx, tx, c, r.ChallengeID, now)
		if err != nil {
			return nil, nil, err
		}
		if user != "" {
			woken = append(woken, user)
		}
	}
	id, err := tx.NextID()
	if err != nil {
		return nil, nil, err
	}
	conf = &Confirmation{
		ID: id, ProgrammeID: c.Programme.ID, UserID: c.User.ID, IdentityID: c.Session.IdentityID,
		SessionHash: c.Session.TokenHash, Channel: ch, ResourceType: t, Binding: confirmationBinding(t, rs),
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL), State: ChallengePending,
	}
	for _, r := range rs {
		conf.ResourceIDs = append(conf.ResourceIDs, r.ID)
	}
	return conf, woken, s.auditConfirmation(ctx, tx, conf, "confirmation.issue", string(ResourcePending))
}

// supersedeConfirmation fails confirmation id, if it is still pending at
// now, as SUPERSEDED by the caller's new one. pushed is the user whose push
// challenge that cancelled, if any.
func (s *Service) supersedeConfirmation(ctx context.Context, tx Tx, c *Caller, id string, now time.Time) (pushed string, err error) {
	if id == "" {
		return "", nil
	}
	conf, err := tx.Confirmation(id)
	if errors.Is(err, ErrRecordNotFound) {
		return "", nil
	}
	if err != nil || conf.State != ChallengePending || !now.Before(conf.ExpiresAt) {
		return "", err
	}
	if conf.Channel != ChannelBiometric {
		return "", s.failConfirmation(ctx, tx, conf, PushReasonSuperseded)
	}
	p, err := tx.PushChallenge(id)
	if err != nil || p.StateAt(now) != PushPending {
		return "", err
	}
	return p.UserID, s.endPush(ctx, tx, p, PushCancelled, PushReasonSuperseded, c.User.ID, now)
}

// putConfirmation stores a new confirmation and points its resources at it.
func putConfirmation(tx Tx, conf *Confirmation, rs []*Resource) error {
	for _, r := range rs {
		r.ChallengeID = conf.ID
		if err := tx.PutResource(r); err != nil {
			return err
		}
	}
	return tx.PutConfirmation(conf)
}

// confirmationBinding is what a confirmation binds (a binding): the
// resource type, then for each resource in order its id, user, identity and
// summary (free fields sorted by name).
func confirmationBinding(t ResourceType, rs []*Resource) []byte {
	b := newBinding("deputy-confirm-v1")
	b.part(string(t))
	b.part(strconv.Itoa(len(rs)))
	for _, r := range rs {
		b.part(r.ID)
		b.part(r.UserID)
		b.part(r.IdentityID)
		b.part(r.Summary.Amount.Currency)
		b.part(strconv.FormatInt(r.Summary.Amount.Value, 10))
		b.part(r.Summary.PayeeName)
		b.part(r.Summary.PayeeAccount)
		names := slices.Sorted(maps.Keys(r.Summary.Fields))
		b.part(strconv.Itoa(len(names)))
		for _, k := range names {
			b.part(k)
			b.part(r.Summary.Fields[k])
		}
	}
	return b.sum()
}

// otp is the confirmation's code as check sees it.
func (c *Confirmation) otp() otpCode {
	return otpCode{purpose: purposeConfirm, nonce: c.Nonce, hash: c.CodeHash, live: c.State == ChallengePending,
		expiresAt: c.ExpiresAt, attempts: &c.Attempts, maxAttempts: c.MaxAttempts}
}

// FormatAmount writes an amount in major units with its currency ("12.50 EUR").
func FormatAmount(a Amount) string {
	digits := currencyDigits(a.Currency)
	v := a.Value
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if digits == 0 {
		return sign + strconv.FormatInt(v, 10) + " " + a.Currency
	}
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, v/unit, digits, v%unit, a.Currency)
}

// currencyDigits is the number of minor-unit digits of an ISO 4217 currency.
func currencyDigits(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// smsList names every resource's amount and payee for a text, payees cut
// to smsPayeeLen characters and followed by the end of their account
// (accountTail), so that two payees whose names start alike read apart: at
// most MaxConfirmResources short entries.
func smsList(rs []*Resource) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = FormatAmount(r.Summary.Amount) + " to " + cut(r.Summary.PayeeName, smsPayeeLen) + accountTail(r.Summary.PayeeAccount)
	}
	return strings.Join(parts, "; ")
}

// accountTail is " (…" and the last smsAccountTail characters of a payee's
// account and ")", the whole account when that short, or "" for none.
func accountTail(account string) string {
	rs := []rune(account)
	switch {
	case len(rs) == 0:
		return ""
	case len(rs) <= smsAccountTail:
		return " (" + account + ")"
	}
	return " (…" + string(rs[len(rs)-smsAccountTail:]) + ")"
}

// pushList is a confirmation's push summary: a title, then one line per
// resource with its amount, payee, payee account and free fields.
func pushList(t ResourceType, rs []*Resource) string {
	var b strings.Builder
	noun := strings.TrimSuffix(strings.ReplaceAll(string(t), "_", " "), "s")
	if len(rs) != 1 {
		noun += "s"
	}
	fmt.Fprintf(&b, "Confirm %d %s:", len(rs), noun)
	for _, r := range rs {
		fmt.Fprintf(&b, "\n%s to %s (%s)", FormatAmount(r.Summary.Amount), r.Summary.PayeeName, r.Summary.PayeeAccount)
		for _, k := range slices.Sorted(maps.Keys(r.Summary.Fields)) {
			fmt.Fprintf(&b, ", %s: %s", k, r.Summary.Fields[k])
		}
	}
	return b.String()
}

// cut shortens s to n characters, ending it with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
