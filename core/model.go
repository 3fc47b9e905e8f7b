package core

import (
	"encoding/json"
	"time"
)

// Programme is a tenant: an embedder's deployment with its own keys, users and settings.
type Programme struct {
	ID         string
	Name       string
	APIKeyHash []byte // keyed hash of the secret api key; the key itself is shown once
	UIKeyHash  []byte // keyed hash of the public ui key
	// RetiredKeys are rotated keys still accepted until their grace period ends.
	RetiredKeys []RetiredKey `json:",omitempty"`
	Settings    ProgrammeSettings
	CreatedAt   time.Time
}

// ProgrammeSettings are the per-programme knobs. The zero value means "defaults".
type ProgrammeSettings struct {
	// PasswordProfile names the password policy: "weavr" (default) or "nist".
	PasswordProfile string `json:",omitempty"`
	// SenderName is the name emails come from (default: the programme's name).
	SenderName string `json:",omitempty"`
	// InviteURL is the embedder's page that invite links open: a template with
	// the placeholders {userId} and {code}, or a URL to which userId and code
	// are added as query parameters (default: a deputy://invite link).
	InviteURL string `json:",omitempty"`
	// ResetURL is the embedder's page that password-reset emails link to, a
	// template with the placeholders {email} and {code} (default: no link, the
	// email gives the code only).
	ResetURL string `json:",omitempty"`
	// RequireTokenisedPasswords refuses plaintext passwords: clients must send
	// the token from POST /multi/tokenize wherever a password.value goes.
	RequireTokenisedPasswords bool `json:",omitempty"`
	// AllowedOrigins are the embedder web origins that may frame the password
	// capture component and call the tokenise endpoint from a browser.
	AllowedOrigins []string `json:",omitempty"`
	// OTPAttempts is how many wrong codes a challenge allows: 1..5, anything else means 5.
	OTPAttempts int `json:",omitempty"`
	// Biometrics lets users enrol the companion app's biometric (WebAuthn)
	// credential and approve push step-ups and sign-ins with it (off by default).
	Biometrics bool `json:",omitempty"`
}

// AttemptsPerChallenge is how many wrong codes a challenge allows under these
// settings: OTPAttempts, or 5 when it is unset or out of range.
func (s ProgrammeSettings) AttemptsPerChallenge() int {
	if s.OTPAttempts < 1 || s.OTPAttempts > 5 {
		return 5
	}
	return s.OTPAttempts
}

// IdentityType is CORPORATE or CONSUMER.
type IdentityType string

// The identity types of Weavr's IdentityId.
const (
	Corporate IdentityType = "CORPORATE"
	Consumer  IdentityType = "CONSUMER"
)

// Valid reports whether t is a known identity type.
func (t IdentityType) Valid() bool { return t == Corporate || t == Consumer }

// Identity is a corporate or a consumer: the legal owner, with exactly one root user
// whose id equals the identity's id.
type Identity struct {
	ID          string
	ProgrammeID string
	Type        IdentityType
	Name        string          // company name for corporates, root user's full name for consumers
	Profile     json.RawMessage // the embedder's descriptive fields, kept verbatim for the API layer
	CreatedAt   time.Time
}

// Mobile is an E.164 number split as Weavr does.
type Mobile struct {
	CountryCode string // "+44"
	Number      string // "7700900123"
}

// E164 is the number in E.164 form, as "+447700900123".
func (m Mobile) E164() string { return m.CountryCode + m.Number }

// Date is a calendar date without a time zone.
type Date struct {
	Year, Month, Day int
}

// User is a root user or an authorised user of an identity.
type User struct {
	ID                 string
	IdentityID         string
	IdentityType       IdentityType
	ProgrammeID        string
	Root               bool
	Name               string
	Surname            string
	Email              string // stored lower-cased; the login name
	Mobile             *Mobile
	DateOfBirth        *Date
	Tag                string
	Locale             string
	Brand              string
	CountryOfResidence string
	Roles              []Role `json:",omitempty"`
	Active             bool
	EmailVerified      bool
	MobileChanges      int // how often the mobile number was changed (at most 3)
	PasswordSet        bool
	FailedLogins       int       // consecutive failed sign-ins (forgotten signInFailureMemory after the last)
	LastFailedLogin    time.Time // when FailedLogins last grew
	LockedUntil        time.Time // zero when not locked
	SCAFailures        int       // consecutive wrong one-time codes, across challenges (PSD2 RTS Art. 4)
	SCALockedUntil     time.Time // no challenges until then
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Locked reports whether the user is locked out at now.
func (u *User) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

// PasswordRecord is a user's current password hash and recent history.
type PasswordRecord struct {
	UserID  string
	Hash    string   // PHC-encoded argon2id
	History []string // previous hashes, newest first
	SetAt   time.Time
}

// Session is a signed-in session; the bearer token is only ever stored as TokenHash.
type Session struct {
	TokenHash   []byte
	UserID      string
	IdentityID  string
	ProgrammeID string
	CreatedAt   time.Time
	LastSeen    time.Time // last recorded activity; the session idles out from here
	SteppedUp   bool
	SteppedUpAt time.Time
	// DeviceID is the companion device this session enrolled, if any: the
	// session then acts for that device only while it stays the linked one.
	DeviceID string
}

// ResetCode is a lost-password code, stored only as a keyed hash.
type ResetCode struct {
	UserID    string
	CodeHash  []byte
	ExpiresAt time.Time
	Attempts  int
}

// AuditEvent records one state change: who did what to which subject, when, under which request.
type AuditEvent struct {
	Seq         uint64 // assigned by the store, increasing
	ProgrammeID string
	Actor       string // user id, "api" (secret-key caller), or "system"
	Action      string // e.g. "user.login", "password.create"
	Subject     string // id of the thing acted on
	RequestRef  string
	At          time.Time
	Details     map[string]string `json:",omitempty"`
}

// IdempotencyRecord remembers the outcome of a request sent with an idempotency-ref.
type IdempotencyRecord struct {
	Key         string // caller-scoped key, built by the HTTP layer
	PayloadHash []byte
	Done        bool // false while the first request is still in flight
	Status      int
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Message is an email or SMS held in the sandbox outbox.
type Message struct {
	Seq         uint64
	ProgrammeID string
	Channel     string // "EMAIL" or "SMS"
	To          string
	Subject     string `json:",omitempty"`
	Text        string
	At          time.Time
}
