package core

import (
	"context"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Store errors. Implementations return these (wrapped or not) so that core can
// turn them into domain errors. Uniqueness is enforced by the store, not by core.
var (
	// ErrRecordNotFound: no record under that key.
	ErrRecordNotFound = errors.New("record not found")
	// ErrDuplicate: a unique constraint was violated (see DuplicateError.Constraint).
	ErrDuplicate = errors.New("duplicate record")
	// ErrNoSpace: the store's storage is full (a disk or a quota); the write
	// did not happen. Core answers ErrUnavailable until a write succeeds again.
	ErrNoSpace = errors.New("store out of space")
	// ErrUnreachable: the store could not be reached (its database is down
	// or cut off). The change did not commit, or, when the connection broke
	// during the commit, its outcome is unknown: a retry with the same
	// idempotency-ref tells. A store also answers it for a change that kept
	// failing to serialize against concurrent ones until it gave up: it did
	// not commit. Core answers ErrUnavailable.
	ErrUnreachable = errors.New("store unreachable")
)

// Unique constraints a store enforces.
const (
	UniqueProgrammeName   = "programme.name"
	UniqueKeyHash         = "programme.key_hash"  // hashes of api, ui and retired keys, across programmes
	UniqueRootEmail       = "user.root_email"     // emails of root users that HoldsRootEmail, per programme
	UniqueIdentityEmail   = "user.identity_email" // users' emails, per identity
	UniqueIdempotency     = "idempotency.key"
	UniquePasswordToken   = "password_token.hash"
	UniqueCredentialID    = "factor.credential_id"  // WebAuthn credential ids, across users
	UniqueAuditCheckpoint = "audit_checkpoint.size" // per programme
)

// DuplicateError says which unique constraint a write violated.
type DuplicateError struct{ Constraint string }

func (e *DuplicateError) Error() string { return "duplicate record: " + e.Constraint }

// Unwrap makes errors.Is(err, ErrDuplicate) work.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// Store is the persistence core needs: this file is its whole contract, and
// records.go holds every record type it keeps. Every operation that changes
// state runs inside Update, so the change and its audit event commit together
// or not at all.
//
// Update's fn may be called more than once (group commit retries it alone when a
// batch fails), so fn must only touch the Tx and variables it resets on each call.
// Implementations must make each Update atomic and isolated (serializable): on a
// shared SQL database that means a serializable transaction or row locks, never an
// in-process lock, so that several replicas may share one database.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(ReadTx) error) error
	Close() error
}

// ReadTx is a consistent read-only view.
type ReadTx interface {
	ProgrammeReader
	IdentityReader
	UserReader
	UserLister
	InviteReader
	EmailCodeReader
	KYCReader
	PasswordReader
	SessionReader
	ResetCodeReader
	FactorReader
	ChallengeReader
	AuditReader
	IdempotencyReader
	OutboxReader
	PasswordTokenReader
	PushChallengeReader
	WebAuthnRegistrationReader
	WebhookReader
	ConfirmationReader
	BulkReader
	Meta(key string) ([]byte, error)
}

// Tx is a read-write transaction.
type Tx interface {
	ReadTx
	ProgrammeWriter
	IdentityWriter
	UserWriter
	InviteWriter
	EmailCodeWriter
	KYCWriter
	PasswordWriter
	SessionWriter
	ResetCodeWriter
	FactorWriter
	ChallengeWriter
	AuditWriter
	IdempotencyWriter
	OutboxWriter
	PasswordTokenWriter
	PushChallengeWriter
	WebAuthnRegistrationWriter
	WebhookWriter
	ConfirmationWriter
	StepUpGrantWriter
	BulkWriter
	CounterWriter
	// NextID returns a fresh numeric id, unique across identities and users.
	NextID() (string, error)
	PutMeta(key string, value []byte) error
}

// ProgrammeReader reads programmes.
type ProgrammeReader interface {
	Programme(id string) (*Programme, error)
	// ProgrammeByKeyHash finds a programme by the hash of any of its keys:
	// APIKeyHash, UIKeyHash or the Hash of one of its RetiredKeys.
	ProgrammeByKeyHash(hash []byte) (*Programme, error)
	Programmes() ([]*Programme, error)
}

// ProgrammeWriter writes programmes. Names are unique (UniqueProgrammeName), and
// so is every key hash across programmes (UniqueKeyHash): InsertProgramme and
// UpdateProgramme keep the key index exact, freeing hashes a programme drops.
type ProgrammeWriter interface {
	InsertProgramme(p *Programme) error
	UpdateProgramme(p *Programme) error
}

// IdentityReader reads identities.
type IdentityReader interface {
	Identity(id string) (*Identity, error)
}

// IdentityWriter writes identities.
type IdentityWriter interface {
	InsertIdentity(i *Identity) error
	// UpdateIdentity replaces an identity (ErrRecordNotFound when there is none).
	UpdateIdentity(i *Identity) error
}

// UserReader reads users.
type UserReader interface {
	User(id string) (*User, error)
	// UsersByEmail lists the users of a programme with that (lower-cased) email, across identities.
	UsersByEmail(programmeID, email string) ([]*User, error)
}

// UserWriter writes users. InsertUser and UpdateUser enforce UniqueRootEmail and
// UniqueIdentityEmail and keep every index in step with the record.
type UserWriter interface {
	InsertUser(u *User) error
	UpdateUser(u *User) error
}

// PasswordReader reads password records.
type PasswordReader interface {
	Password(userID string) (*PasswordRecord, error)
}

// PasswordWriter writes password records.
type PasswordWriter interface {
	PutPassword(p *PasswordRecord) error
}

// SessionReader reads sessions by token hash, or every session of a user.
type SessionReader interface {
	Session(tokenHash []byte) (*Session, error)
	// UserSessions returns every session of a user (Session.UserID), in no
	// particular order.
	UserSessions(userID string) ([]*Session, error)
}

// SessionPrefetcher is what a ReadTx may also do, for a store whose every
// read is a round trip: told the session an authenticated call will read
// next, it brings it (and its user) along with the programme of the call's
// key (AuthenticateCall). Reads answer the same with or without it.
type SessionPrefetcher interface {
	PrefetchSession(tokenHash []byte)
}

// SessionWriter writes sessions.
type SessionWriter interface {
	InsertSession(s *Session) error
	UpdateSession(s *Session) error
	DeleteSession(tokenHash []byte) error
	// DeleteUserSessions ends every session of a user and says how many there were.
	DeleteUserSessions(userID string) (int, error)
	// DeleteSessionsIdleSince removes sessions whose LastSeen is before t.
	DeleteSessionsIdleSince(t time.Time) (int, error)
}

// ResetCodeReader reads lost-password codes.
type ResetCodeReader interface {
	ResetCode(userID string) (*ResetCode, error)
}

// ResetCodeWriter writes lost-password codes (one per user; a new one replaces the old).
type ResetCodeWriter interface {
	PutResetCode(c *ResetCode) error
	DeleteResetCode(userID string) error
}

// AuditReader reads the audit log and its Merkle tree (auditlog.go).
type AuditReader interface {
	// AuditEvents returns up to limit events of a programme with Seq > after, oldest first.
	AuditEvents(programmeID string, after uint64, limit int) ([]*AuditEvent, error)
	// AuditEventsAbout returns up to limit events of a programme whose Subject
	// is subject and whose Seq is below before (every Seq when before is 0),
	// newest first.
	AuditEventsAbout(programmeID, subject string, before uint64, limit int) ([]*AuditEvent, error)
	// AuditSize is the number of events of a programme, which is its last Seq.
	AuditSize(programmeID string) (int64, error)
	// AuditHashes returns the tree hashes stored at tlog's storage indexes;
	// ErrRecordNotFound when one is missing.
	AuditHashes(programmeID string, indexes []int64) ([]tlog.Hash, error)
	// AuditCheckpoints returns up to limit (every one when limit <= 0)
	// checkpoints of a programme with Size > afterSize, smallest first.
	AuditCheckpoints(programmeID string, afterSize int64, limit int) ([]*AuditCheckpoint, error)
	// LastAuditCheckpoint is the largest checkpoint; ErrRecordNotFound when none.
	LastAuditCheckpoint(programmeID string) (*AuditCheckpoint, error)
}

// AuditWriter appends to the audit log. AppendAudit assigns Seq: 1, 2, 3...
// per programme, in commit order and without gaps, because event Seq is leaf
// Seq-1 of the programme's Merkle tree.
type AuditWriter interface {
	AppendAudit(e *AuditEvent) error
	// PutAuditHashes stores tree hashes at consecutive storage indexes from start.
	PutAuditHashes(programmeID string, start int64, hashes []tlog.Hash) error
	// InsertAuditCheckpoint fails with ErrDuplicate (UniqueAuditCheckpoint)
	// when the programme has a checkpoint of that size.
	InsertAuditCheckpoint(c *AuditCheckpoint) error
}

// IdempotencyReader reads idempotency records.
type IdempotencyReader interface {
	Idempotency(key string) (*IdempotencyRecord, error)
}

// IdempotencyWriter writes idempotency records; InsertIdempotency enforces UniqueIdempotency.
type IdempotencyWriter interface {
	InsertIdempotency(r *IdempotencyRecord) error
	UpdateIdempotency(r *IdempotencyRecord) error
	DeleteIdempotency(key string) error
	// DeleteIdempotencyExpired removes records that expired before t.
	DeleteIdempotencyExpired(t time.Time) (int, error)
}

// OutboxReader reads the sandbox outbox.
type OutboxReader interface {
	// Outbox returns up to limit messages of a programme with Seq below
	// before (0: from the newest), newest first; with userIDs (not nil),
	// only the messages for one of those users (Message.UserID).
	Outbox(programmeID string, userIDs []string, before uint64, limit int) ([]*Message, error)
}

// OutboxWriter appends to the sandbox outbox; the store assigns Seq.
type OutboxWriter interface {
	AppendOutbox(m *Message) error
}

// WebAuthnRegistrationReader reads pending biometric enrolments.
type WebAuthnRegistrationReader interface {
	WebAuthnRegistration(sessionHash []byte) (*WebAuthnRegistration, error)
}

// WebAuthnRegistrationWriter writes pending biometric enrolments (one per session).
type WebAuthnRegistrationWriter interface {
	PutWebAuthnRegistration(r *WebAuthnRegistration) error
	DeleteWebAuthnRegistration(sessionHash []byte) error
	// DeleteWebAuthnRegistrationsExpired removes enrolments that expired before t.
	DeleteWebAuthnRegistrationsExpired(t time.Time) (int, error)
}

// PushChallengeReader reads push challenges. Their ids come from Tx.NextID,
// so id order (numeric) is creation order; a decoy without a UserID belongs to
// no user's lists.
type PushChallengeReader interface {
	PushChallenge(id string) (*PushChallenge, error)
	// PendingPushChallenges returns the user's challenges whose stored State
	// is PushPending (expired or not), oldest first.
	PendingPushChallenges(userID string) ([]*PushChallenge, error)
	// PushChallengesAfter returns, oldest first, up to limit (every one when
	// limit <= 0) of the user's challenges whose id comes after afterID, which
	// need not exist any more; "" starts from the first.
	PushChallengesAfter(userID, afterID string, limit int) ([]*PushChallenge, error)
	// LastPushChallengeID returns the id of the user's newest challenge, or "".
	LastPushChallengeID(userID string) (string, error)
	// PushChallengesExpiredPending returns up to limit challenges of any
	// user (decoys excluded) whose stored State is still PushPending although ExpiresAt is not
	// after t: those whose expiry nobody has recorded yet.
	PushChallengesExpiredPending(t time.Time, limit int) ([]*PushChallenge, error)
}

// PushChallengeWriter writes push challenges.
type PushChallengeWriter interface {
	// InsertPushChallenge fails with ErrDuplicate when the id is taken.
	InsertPushChallenge(c *PushChallenge) error
	// UpdatePushChallenge fails with ErrRecordNotFound when there is no such challenge.
	UpdatePushChallenge(c *PushChallenge) error
	// DeletePushChallengesCreatedBefore removes challenges created before t.
	DeletePushChallengesCreatedBefore(t time.Time) (int, error)
}

// FactorReader reads factors.
type FactorReader interface {
	Factor(userID string, ch Channel) (*Factor, error)
	Factors(userID string) ([]*Factor, error)
	// FactorByCredentialID finds the factor holding a WebAuthn credential id,
	// whoever's it is (WebAuthn L3 §7.1 step 22).
	FactorByCredentialID(credentialID []byte) (*Factor, error)
}

// FactorWriter writes factors (one per user and channel). A non-empty
// CredentialID belongs to one factor at most (UniqueCredentialID): PutFactor
// keeps the index exact, freeing the id a factor drops, and DeleteFactor frees it.
type FactorWriter interface {
	PutFactor(f *Factor) error
	DeleteFactor(userID string, ch Channel) error
}

// ChallengeReader reads OTP challenges.
type ChallengeReader interface {
	Challenge(sessionHash []byte, p ChallengePurpose) (*Challenge, error)
	// ChallengesExpiredUnreported returns up to limit challenges whose State
	// is ChallengePending, whose ExpiresAt is not after t and whose
	// ExpiryReported is false.
	ChallengesExpiredUnreported(t time.Time, limit int) ([]*Challenge, error)
}

// ChallengeWriter writes OTP challenges (one per session and purpose).
type ChallengeWriter interface {
	PutChallenge(c *Challenge) error
	// DeleteChallengesIssuedBefore removes challenges issued before t.
	DeleteChallengesIssuedBefore(t time.Time) (int, error)
}

// CounterWriter keeps expiring counters, the shared state behind rate limits:
// every replica increments the same counter in the store.
type CounterWriter interface {
	// IncrementCounter adds one to the counter under key, starting from zero when
	// it does not exist or expired before now, and returns the new count.
	IncrementCounter(key string, expiresAt, now time.Time) (int, error)
	// Counter returns the count under key and when it expires: 0 and the zero
	// time when it does not exist or expired before now.
	Counter(key string, now time.Time) (int, time.Time, error)
	// SetCounter stores count under key until expiresAt.
	SetCounter(key string, count int, expiresAt time.Time) error
	// DeleteCountersExpired removes counters that expired before t.
	DeleteCountersExpired(t time.Time) (int, error)
}

// PasswordTokenReader reads tokenised passwords.
type PasswordTokenReader interface {
	PasswordToken(tokenHash []byte) (*PasswordToken, error)
}

// PasswordTokenWriter writes tokenised passwords.
type PasswordTokenWriter interface {
	InsertPasswordToken(t *PasswordToken) error
	DeletePasswordToken(tokenHash []byte) error
	// DeletePasswordTokensExpired removes tokens that expired before t.
	DeletePasswordTokensExpired(t time.Time) (int, error)
}

// UserFilter selects authorised users of one identity (Weavr usersGet). Root
// users are never listed. Results are ordered by id (creation order).
type UserFilter struct {
	Active *bool
	Email  string // exact, lower-cased
	Tag    string
	// Search keeps the users MatchesSearch finds (a Deputy extension). A
	// store may read every user the other fields select to apply it.
	Search string
	Roles  []Role // users holding any of these roles
	Offset int
	Limit  int // 0 means count only
}

// UserLister lists users through the store's indexes.
type UserLister interface {
	// ListUsers returns one page of the identity's authorised users matching f,
	// and how many match in all. It must not scan every user of the identity for
	// a single-valued filter: stores keep indexes (and counts) per filter.
	ListUsers(identityID string, f UserFilter) ([]*User, int, error)
}

// InviteReader reads invites.
type InviteReader interface {
	Invite(userID string) (*Invite, error)
}

// InviteWriter writes invites.
type InviteWriter interface {
	PutInvite(i *Invite) error
}

// EmailCodeReader reads email-verification codes.
type EmailCodeReader interface {
	EmailCode(userID string) (*EmailCode, error)
}

// EmailCodeWriter writes email-verification codes.
type EmailCodeWriter interface {
	PutEmailCode(c *EmailCode) error
	DeleteEmailCode(userID string) error
}

// KYCReader reads KYC cases.
type KYCReader interface {
	KYC(userID string) (*KYC, error)
	KYCByReference(ref string) (*KYC, error)
}

// KYCWriter writes KYC cases; references are unique (UniqueKYCReference).
type KYCWriter interface {
	PutKYC(k *KYC) error
	// DeleteKYC removes the user's case and frees its reference
	// (ErrRecordNotFound when there is none).
	DeleteKYC(userID string) error
}

// WebhookReader reads webhook endpoints, the outbox of events and their
// deliveries (webhooks.go).
type WebhookReader interface {
	WebhookEndpoint(id string) (*WebhookEndpoint, error)
	// WebhookEndpoints lists a programme's endpoints in id order.
	WebhookEndpoints(programmeID string) ([]*WebhookEndpoint, error)
	WebhookEvent(id string) (*WebhookEvent, error)
	WebhookDelivery(seq uint64) (*WebhookDelivery, error)
	// DueWebhookDeliveries returns up to limit pending deliveries whose
	// NextAt is set and not after now, soonest first (then by Seq), with at
	// most perEndpoint of any one endpoint and none of the endpoints in
	// except: the rest of a crowded endpoint's wait without holding back
	// other endpoints', and a busy endpoint's take no other's place.
	DueWebhookDeliveries(now time.Time, limit, perEndpoint int, except []string) ([]*WebhookDelivery, error)
	// WebhookQueue returns up to limit pending deliveries of an endpoint
	// about subject, in Seq order: its head first.
	WebhookQueue(endpointID, subject string, limit int) ([]*WebhookDelivery, error)
	// WebhookDeliveries returns up to limit deliveries of an endpoint with
	// Seq below before (every Seq when before is 0), newest first.
	WebhookDeliveries(endpointID string, before uint64, limit int) ([]*WebhookDelivery, error)
	// FailedWebhookDeliveries returns up to limit of an endpoint's FAILED
	// deliveries, ordered by DoneAt then Seq: those whose DoneAt is at or
	// after since, or, when after is not 0, the page that follows the
	// delivery (since, after): DoneAt equal to since with a Seq above after,
	// or a later DoneAt.
	FailedWebhookDeliveries(endpointID string, since time.Time, after uint64, limit int) ([]*WebhookDelivery, error)
}

// WebhookWriter writes webhook endpoints, events and deliveries. A store
// keeps the indexes behind DueWebhookDeliveries and WebhookQueue exact on
// every write (only pending deliveries are in them), and the one behind
// FailedWebhookDeliveries (only failed ones).
type WebhookWriter interface {
	// PutWebhookEndpoint inserts or replaces an endpoint.
	PutWebhookEndpoint(e *WebhookEndpoint) error
	// DeleteWebhookEndpoint removes an endpoint (ErrRecordNotFound when there
	// is none); its deliveries stay, for their log.
	DeleteWebhookEndpoint(id string) error
	// InsertWebhookEvent fails with ErrDuplicate when the id is taken.
	InsertWebhookEvent(e *WebhookEvent) error
	// AppendWebhookDelivery stores a new delivery and assigns its Seq.
	AppendWebhookDelivery(d *WebhookDelivery) error
	// UpdateWebhookDelivery fails with ErrRecordNotFound when there is no such delivery.
	UpdateWebhookDelivery(d *WebhookDelivery) error
}

// ConfirmationReader reads the resources embedders register and the
// confirmation challenges that confirm them (confirm.go).
type ConfirmationReader interface {
	// Resource finds a programme's resource by type and id.
	Resource(programmeID string, t ResourceType, id string) (*Resource, error)
	Confirmation(id string) (*Confirmation, error)
	// ConfirmationsExpiredPending returns up to limit confirmations still
	// PENDING whose ExpiresAt is not after t, of any channel.
	ConfirmationsExpiredPending(t time.Time, limit int) ([]*Confirmation, error)
}

// ConfirmationWriter writes resources and confirmation challenges; both are
// inserted or replaced whole.
type ConfirmationWriter interface {
	PutResource(r *Resource) error
	PutConfirmation(c *Confirmation) error
	// DeleteConfirmationsIssuedBefore removes confirmations issued before t.
	DeleteConfirmationsIssuedBefore(t time.Time) (int, error)
}

// StepUpGrantWriter keeps the sessions' step-up grants (stepupscope.go), at
// most one per session.
type StepUpGrantWriter interface {
	// PutStepUpGrant inserts the session's grant, or replaces the one it holds.
	PutStepUpGrant(g *StepUpGrant) error
	// TakeStepUpGrant deletes the session's grant when it is for operation
	// and its ExpiresAt is after now; otherwise it fails with
	// ErrRecordNotFound and leaves the grant as it is. Of two transactions
	// taking one grant, at most one commits having taken it.
	TakeStepUpGrant(sessionHash, operation []byte, now time.Time) error
	// DeleteStepUpGrantsExpired removes the grants whose ExpiresAt is not after t.
	DeleteStepUpGrantsExpired(t time.Time) (int, error)
}

// BulkReader reads bulk processes and their operations (bulks.go).
type BulkReader interface {
	Bulk(id string) (*Bulk, error)
	// Bulks returns up to limit of an identity's bulks in id order from
	// offset, those in state only unless state is "", and how many match.
	Bulks(identityID string, state BulkState, offset, limit int) ([]*Bulk, int, error)
	// BulkOperations returns up to limit (every one when limit <= 0) of a
	// bulk's operations with Seq >= from, in Seq order.
	BulkOperations(bulkID string, from, limit int) ([]*BulkOperation, error)
	// RunningBulks returns up to limit bulks of any programme whose State
	// is RUNNING, in id order.
	RunningBulks(limit int) ([]*Bulk, error)
}

// BulkWriter writes bulks. A store keeps the index behind RunningBulks
// exact on every write.
type BulkWriter interface {
	// InsertBulk stores a new bulk with its operations, numbered 1..Count.
	InsertBulk(b *Bulk, ops []*BulkOperation) error
	// UpdateBulk and UpdateBulkOperation fail with ErrRecordNotFound when
	// there is no such bulk or operation.
	UpdateBulk(b *Bulk) error
	UpdateBulkOperation(op *BulkOperation) error
	// DeleteBulk removes a bulk with its operations and index entries, or
	// fails with ErrRecordNotFound.
	DeleteBulk(id string) error
}

// UniqueKYCReference is the store constraint on KYC references.
const UniqueKYCReference = "kyc.reference"

// Copying a whole store (`deputy store copy`): the source's Exporter reads
// every record, kind by kind, and the target's Importer writes them into its
// empty database in one transaction. A store keeps every record under one of
// RecordKinds; whatever else it keeps (indexes, counts) it derives from them.

// RecordKind names a kind of record.
type RecordKind string

// The kinds of record; a Record's Value is a pointer to the type named.
const (
	KindMeta                  RecordKind = "meta"                   // MetaEntry
	KindProgrammes            RecordKind = "programmes"             // Programme
	KindIdentities            RecordKind = "identities"             // Identity
	KindUsers                 RecordKind = "users"                  // User
	KindPasswords             RecordKind = "passwords"              // PasswordRecord
	KindSessions              RecordKind = "sessions"               // Session
	KindResetCodes            RecordKind = "reset_codes"            // ResetCode
	KindInvites               RecordKind = "invites"                // Invite
	KindEmailCodes            RecordKind = "email_codes"            // EmailCode
	KindKYC                   RecordKind = "kyc"                    // KYC
	KindFactors               RecordKind = "factors"                // Factor
	KindChallenges            RecordKind = "challenges"             // Challenge
	KindAuditEvents           RecordKind = "audit_events"           // AuditEvent
	KindAuditHashes           RecordKind = "audit_hashes"           // AuditHash
	KindAuditCheckpoints      RecordKind = "audit_checkpoints"      // AuditCheckpoint
	KindIdempotency           RecordKind = "idempotency"            // IdempotencyRecord
	KindOutbox                RecordKind = "outbox"                 // Message
	KindPasswordTokens        RecordKind = "password_tokens"        // PasswordToken
	KindCounters              RecordKind = "counters"               // CounterEntry
	KindPushChallenges        RecordKind = "push_challenges"        // PushChallenge
	KindWebAuthnRegistrations RecordKind = "webauthn_registrations" // WebAuthnRegistration
	KindWebhookEndpoints      RecordKind = "webhook_endpoints"      // WebhookEndpoint
	KindWebhookEvents         RecordKind = "webhook_events"         // WebhookEvent
	KindWebhookDeliveries     RecordKind = "webhook_deliveries"     // WebhookDelivery
	KindResources             RecordKind = "resources"              // Resource
	KindConfirmations         RecordKind = "confirmations"          // Confirmation
	KindStepUpGrants          RecordKind = "stepup_grants"          // StepUpGrant
	KindBulks                 RecordKind = "bulks"                  // Bulk
	KindBulkOperations        RecordKind = "bulk_operations"        // BulkOperation
	KindSequences             RecordKind = "sequences"              // Sequence
)

// RecordKinds lists every kind, in the order Export walks them and Import
// writes them (a record after the records it refers to).
func RecordKinds() []RecordKind {
	return []RecordKind{
		KindMeta, KindProgrammes, KindIdentities, KindUsers, KindPasswords, KindSessions, KindResetCodes,
		KindInvites, KindEmailCodes, KindKYC, KindFactors, KindChallenges, KindAuditEvents, KindAuditHashes,
		KindAuditCheckpoints, KindIdempotency, KindOutbox, KindPasswordTokens, KindCounters, KindPushChallenges,
		KindWebAuthnRegistrations, KindWebhookEndpoints, KindWebhookEvents, KindWebhookDeliveries,
		KindResources, KindConfirmations, KindStepUpGrants, KindBulks, KindBulkOperations, KindSequences,
	}
}

// Record is one record of any kind: Value points to the type its Kind names.
type Record struct {
	Kind  RecordKind
	Value any
}

// Walk calls fn with records, one at a time, until fn fails.
type Walk func(fn func(Record) error) error

// ErrNotEmpty: Import refused a store that holds records already.
var ErrNotEmpty = errors.New("store is not empty")

// Exporter is a store that can be read out whole.
type Exporter interface {
	// Export calls fn with every record of the store, from one consistent
	// view, kind by kind in RecordKinds order (in any order within a kind).
	// fn must not use the store.
	Export(ctx context.Context, fn func(Record) error) error
}

// Importer is a store that can be filled whole.
type Importer interface {
	// Import writes every record load walks, as it is (keys, Seqs and
	// sequences included), in one transaction; then check walks what the
	// transaction holds, as Export would, and the transaction commits only
	// when both return nil. It fails with ErrNotEmpty, writing nothing, when
	// the store holds any record.
	Import(ctx context.Context, load Walk, check func(Walk) error) error
}
