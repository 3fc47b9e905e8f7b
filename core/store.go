package core

import (
	"context"
	"errors"
	"time"
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
)

// Unique constraints a store enforces.
const (
	UniqueProgrammeName = "programme.name"
	UniqueKeyHash       = "programme.key_hash"  // hashes of api, ui and retired keys, across programmes
	UniqueRootEmail     = "user.root_email"     // root users' emails, per programme
	UniqueIdentityEmail = "user.identity_email" // users' emails, per identity
	UniqueIdempotency   = "idempotency.key"
	UniquePasswordToken = "password_token.hash"
	UniqueCredentialID  = "factor.credential_id" // WebAuthn credential ids, across users
)

// DuplicateError says which unique constraint a write violated.
type DuplicateError struct{ Constraint string }

func (e *DuplicateError) Error() string { return "duplicate record: " + e.Constraint }

// Unwrap makes errors.Is(err, ErrDuplicate) work.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// Store is the persistence core needs. Every operation that changes state runs
// inside Update, so the change and its audit event commit together or not at all.
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

// SessionReader reads sessions by token hash.
type SessionReader interface {
	Session(tokenHash []byte) (*Session, error)
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

// AuditReader reads the audit log.
type AuditReader interface {
	// AuditEvents returns up to limit events of a programme with Seq > after, oldest first.
	AuditEvents(programmeID string, after uint64, limit int) ([]*AuditEvent, error)
}

// AuditWriter appends to the audit log; the store assigns Seq.
type AuditWriter interface {
	AppendAudit(e *AuditEvent) error
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
	// Outbox returns up to limit messages of a programme, newest first; with
	// recipients, only the messages to one of them (Message.To).
	Outbox(programmeID string, recipients []string, limit int) ([]*Message, error)
}

// OutboxWriter appends to the sandbox outbox; the store assigns Seq.
type OutboxWriter interface {
	AppendOutbox(m *Message) error
}
