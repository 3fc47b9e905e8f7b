package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Operation-bound step-up (Deputy extension, beyond Weavr). Under a
// programme's StepUpScope OPERATION a verified step-up authorises one
// operation, once, instead of the whole session. A privileged call without
// that authorisation answers STEP_UP_REQUIRED naming itself: its Operation's
// summary and a reference (sealOperation) that the client passes to the
// SMS or push step-up. The challenge commits to the operation (the SMS text
// names it, the push signature covers its hash: pushChallengeBytes), and
// its verification leaves the session a StepUpGrant for exactly that
// operation, which the retried call takes in its own transaction
// (Service.stepUp): the same action on the same user with the same canonical
// body, within the grant's life, once. Anything else answers STEP_UP_REQUIRED.

// StepUpScope says what a verified step-up authorises (ProgrammeSettings.StepUpScope).
type StepUpScope string

// The step-up scopes.
const (
	// StepUpSession: the session, until it ends (Weavr's rule, and the default).
	StepUpSession StepUpScope = "SESSION"
	// StepUpOperation: the one operation the challenge named, once.
	StepUpOperation StepUpScope = "OPERATION"
)

// purposeOperation keeps the seals of operation references apart from other
// keyed hashes; purposeOperationDigest, the digests of operations in the
// audit trail.
const (
	purposeOperation       = "stepup-operation"
	purposeOperationDigest = "stepup-operation-digest"
)

// Operation is a privileged call as an operation-bound step-up names it.
type Operation struct {
	Action  string   // what is done: "user.create", "user.update", ...
	Target  string   // the id of the user acted on; "" for one being created
	Fields  []string // the canonical body: name, value pairs in a fixed order
	Summary string   // what the user is shown, at most maxOperationSummaryLen characters
}

// hash is what a challenge and a grant commit to: the binding of the
// action, target, fields and summary.
func (o Operation) hash() []byte {
	b := newBinding("deputy-operation-v1")
	b.part(o.Action)
	b.part(o.Target)
	b.part(strconv.Itoa(len(o.Fields)))
	for _, f := range o.Fields {
		b.part(f)
	}
	b.part(o.Summary)
	return b.sum()
}

// PendingOperation is the operation a STEP_UP_REQUIRED answer names
// (Error.Operation): its summary, and the reference a step-up passes to
// commit to it.
type PendingOperation struct {
	Summary   string
	Reference string
}

// binding hashes a list of parts under a domain label, each part
// length-prefixed so that no two different lists encode alike: what a
// confirmation (confirmationBinding) and an operation-bound step-up
// (Operation.hash) commit a code or a signature to.
type binding struct{ h hash.Hash }

func newBinding(domain string) binding {
	b := binding{sha256.New()}
	b.part(domain)
	return b
}

func (b binding) part(s string) {
	b.h.Write(binary.AppendUvarint(nil, uint64(len(s))))
	b.h.Write([]byte(s))
}

func (b binding) sum() []byte { return b.h.Sum(nil) }

// StepUpGrant is what a verified operation-bound step-up leaves its
// session: the authorisation of one operation, once, until ExpiresAt. A
// session holds at most one; a newer replaces it.
type StepUpGrant struct {
	SessionHash []byte
	UserID      string
	Operation   []byte // Operation.hash
	Summary     string
	GrantedAt   time.Time
	ExpiresAt   time.Time
}

// Scope is the step-up scope in force: StepUpScope, SESSION when unset.
func (s ProgrammeSettings) Scope() StepUpScope {
	if s.StepUpScope == StepUpOperation {
		return StepUpOperation
	}
	return StepUpSession
}

// checkScope accepts an unset scope, SESSION and OPERATION.
func checkScope(sc StepUpScope) error {
	if sc != "" && sc != StepUpSession && sc != StepUpOperation {
		return Invalid("stepUpScope", ReasonIn, string(StepUpSession), string(StepUpOperation))
	}
	return nil
}

// stepUp is the one way an operation demands a step-up (GUIDE convention 4).
// Under StepUpSession the caller's session must have stepped up. Under
// StepUpOperation it takes, in tx, the session's grant for exactly op, so
// that the operation runs once per verified step-up and only if tx commits;
// without one the answer names op for a step-up to commit to.
func (s *Service) stepUp(tx Tx, c *Caller, op Operation) error {
	if c.Session == nil || c.Programme == nil || c.Programme.Settings.Scope() != StepUpOperation {
		return RequireStepUp(c)
	}
	op.Summary = cut(op.Summary, maxOperationSummaryLen)
	err := tx.TakeStepUpGrant(c.Session.TokenHash, op.hash(), s.clock.Now())
	if errors.Is(err, ErrRecordNotFound) {
		e := StepUpRequired()
		e.Operation = &PendingOperation{Summary: op.Summary, Reference: s.sealOperation(c.Session.TokenHash, op)}
		return e
	}
	return err
}

// sealOperation is op's reference for the session: base64url of the
// operation's hash, a keyed hash over the session, that hash and the
// summary, then the summary. Only this server can make one, and only the
// session it was made for can use it (openOperation).
func (s *Service) sealOperation(sessionHash []byte, op Operation) string {
	h := op.hash()
	mac := s.keys.hash(purposeOperation, string(sessionHash)+string(h)+op.Summary)
	return base64.RawURLEncoding.EncodeToString(slices.Concat(h, mac, []byte(op.Summary)))
}

// operationDigest names a verified operation in the audit trail: keyed, as
// the summary is left out (it names people), because the operation's own hash
// would let whoever reads the trail test guesses at its fields, a new mobile
// number say, offline.
func (s *Service) operationDigest(h []byte) string {
	return hex.EncodeToString(s.keys.hash(purposeOperationDigest, string(h)))
}

// boundOperation is an operation a step-up challenge commits to.
type boundOperation struct {
	hash    []byte
	summary string
}

// openOperation checks a reference from sealOperation for the caller's
// session; "" is no operation (nil). Anything else is a 400 naming field.
func (s *Service) openOperation(c *Caller, field, ref string) (*boundOperation, error) {
	if ref == "" {
		return nil, nil
	}
	bad := &Error{Class: ErrInvalid, Fields: []FieldError{{Field: field, Reason: ReasonIn}},
		Message: "Bad request: " + field + " is not the reference of an operation this session was asked to step up for."}
	raw, err := base64.RawURLEncoding.DecodeString(ref)
	if err != nil || len(raw) < 2*sha256.Size {
		return nil, bad
	}
	h, mac, summary := raw[:sha256.Size], raw[sha256.Size:2*sha256.Size], string(raw[2*sha256.Size:])
	if !s.keys.equal(purposeOperation, string(c.Session.TokenHash)+string(h)+summary, mac) {
		return nil, bad
	}
	return &boundOperation{hash: bytes.Clone(h), summary: summary}, nil
}

// grantStepUp leaves the session that verified a step-up for op its grant.
func (s *Service) grantStepUp(tx Tx, sessionHash []byte, userID string, op *boundOperation, now time.Time) error {
	return tx.PutStepUpGrant(&StepUpGrant{SessionHash: sessionHash, UserID: userID, Operation: op.hash, Summary: op.summary,
		GrantedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL)})
}

// userFields are the canonical fields of a user's details and roles.
func userFields(u *User) []string {
	f := []string{"name", u.Name, "surname", u.Surname, "email", u.Email, "mobile", "", "dateOfBirth", "",
		"tag", u.Tag, "locale", u.Locale, "brand", u.Brand, "countryOfResidence", u.CountryOfResidence, "roles", roleList(u.Roles)}
	if u.Mobile != nil {
		f[7] = mobileField(*u.Mobile)
	}
	if u.DateOfBirth != nil {
		f[9] = dateString(*u.DateOfBirth)
	}
	return f
}

// mobileField is a mobile as an operation binds it: country code and number
// apart, as they are stored (+44 7700900999 is not +447 700900999).
func mobileField(m Mobile) string { return m.CountryCode + " " + m.Number }

// roleList is a role set in canonical form: sorted, comma-separated.
func roleList(rs []Role) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// rolesPhrase says which roles a user is given, for a summary.
func rolesPhrase(rs []Role) string {
	if len(rs) == 0 {
		return "no roles (every permission)"
	}
	return "roles " + strings.ReplaceAll(roleList(rs), ",", ", ")
}

func dateString(d Date) string {
	return strconv.Itoa(d.Year) + "-" + strconv.Itoa(d.Month) + "-" + strconv.Itoa(d.Day)
}

// maxOperationSummaryLen bounds an operation's summary. Summaries are
// built to fit (summaryEmail; the roles, what a step-up most often grants,
// come before the rest), so that a cut never hides what is approved.
const maxOperationSummaryLen = 300

// summaryEmail is an email as a summary names it: whole up to 40
// characters, else its start and its end (the domain) around "…", so that
// no email can push the rest of a summary out of sight.
func summaryEmail(email string) string {
	r := []rune(email)
	if len(r) <= 40 {
		return email
	}
	return string(r[:19]) + "…" + string(r[len(r)-20:])
}

// createUserOp is CreateUser's operation: u as it will be created.
func createUserOp(u *User) Operation {
	return Operation{Action: "user.create", Fields: userFields(u), Summary: "Create user " + summaryEmail(u.Email) + " with " + rolesPhrase(u.Roles)}
}

// updateUserOp is UpdateUser's operation on u: the fields p sets, email
// normalised and roles as validRoles left them.
func updateUserOp(u *User, p UserPatch, email string, roles []Role) Operation {
	op := Operation{Action: "user.update", Target: u.ID}
	var changes []string
	text := func(name string, v *string) {
		if v != nil {
			op.Fields = append(op.Fields, name, *v)
		}
	}
	text("name", p.Name)
	text("surname", p.Surname)
	if p.Roles != nil {
		changes = append(changes, rolesPhrase(roles))
	}
	if p.Email != nil {
		op.Fields = append(op.Fields, "email", email)
		changes = append(changes, "email to "+summaryEmail(email))
	}
	if p.Mobile != nil {
		op.Fields = append(op.Fields, "mobile", mobileField(*p.Mobile))
		changes = append(changes, "mobile to "+p.Mobile.E164())
	}
	if p.DateOfBirth != nil {
		op.Fields = append(op.Fields, "dateOfBirth", dateString(*p.DateOfBirth))
	}
	text("tag", p.Tag)
	text("locale", p.Locale)
	text("brand", p.Brand)
	if p.Roles != nil {
		op.Fields = append(op.Fields, "roles", roleList(roles))
	}
	op.Summary = "Change user " + summaryEmail(u.Email)
	if len(changes) > 0 {
		op.Summary += ": " + strings.Join(changes, ", ")
	}
	return op
}
