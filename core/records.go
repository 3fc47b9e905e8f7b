package core

import (
	"encoding/json"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Programme is a tenant: an embedder's deployment with its own keys, users and settings.
type Programme struct {
	ID         string
	Name       string
	APIKeyHash []byte // keyed hash of the secret api key; the key itself is shown once
	UIKeyHash  []byte // keyed hash of the public ui key
	// APIKeySealed is the secret api key sealed, the key of Weavr's
	// signature-v2 on webhooks (webhooks.go); nil for programmes whose key
	// was made before Deputy kept it.
	APIKeySealed []byte `json:",omitempty"`
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
	// ResourceTypes are the kinds of operation the embedder has users
	// confirm beyond Weavr's four (ResourceTypes): lower-case names such as
	// "card_orders", at most MaxDeclaredResourceTypes.
	ResourceTypes []ResourceType `json:",omitempty"`
	// StepUpScope says what a verified step-up authorises: the session
	// (SESSION, the default) or the one operation it named, once (OPERATION).
	StepUpScope StepUpScope `json:",omitempty"`
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
	// CredentialsID is, for a root user linked to another root user's
	// credentials, that user's id: the linked root has no password and signs
	// in only through those credentials, by access token (access.go).
	CredentialsID string `json:",omitempty"`
	// LinkedIdentities are, for a root user whose credentials reach further
	// identities, the ids of those identities (their root users' ids), in
	// linking order.
	LinkedIdentities []string `json:",omitempty"`
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// HoldsRootEmail reports whether u's email falls under UniqueRootEmail: a
// root user holding credentials of its own, not a root linked to another's.
func (u *User) HoldsRootEmail() bool { return u.Root && u.CredentialsID == "" }

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
	// CreatedAt is when its user signed in: an access token's is its sign-in
	// session's, so that an exchange does not lengthen a sign-in's life
	// (Config.SessionLifetime).
	CreatedAt   time.Time
	LastSeen    time.Time // last recorded activity; the session idles out from here
	SteppedUp   bool
	SteppedUpAt time.Time
	// SignedInStepped marks a session stepped up by its sign-in itself (a
	// biometric one: the approval on the phone was the strong
	// authentication). Only such a step-up passes to the access tokens
	// exchanged from it; one made later on a token raises that token only.
	SignedInStepped bool `json:",omitempty"`
	// DeviceID is the companion device this session enrolled, if any: the
	// session then acts for that device only while it stays the linked one.
	DeviceID string
	// AuthOnly marks the sign-in session of credentials linked to several
	// identities (Weavr's auth token): it may only list identities, exchange
	// itself for an access token and log out. Every session stored before
	// linked identities existed was a sign-in of one identity, hence false.
	AuthOnly bool `json:",omitempty"`
	// SignIn is, for an access token (POST /multi/access_token), the token
	// hash of the sign-in session it was exchanged from; nil for a sign-in.
	SignIn []byte `json:",omitempty"`
}

// ResetCode is a lost-password code, stored only as a keyed hash.
type ResetCode struct {
	UserID    string
	Nonce     string // random, mixed into CodeHash as for every one-time code (sealOTP)
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

// AuditCheckpoint is a signed head of a programme's audit log: the Merkle tree
// of its first Size events (auditlog.Checkpoint), as the signed note published.
type AuditCheckpoint struct {
	ProgrammeID string
	Size        int64
	Note        []byte
	At          time.Time
}

// IdempotencyRecord remembers the outcome of a request sent with an idempotency-ref.
type IdempotencyRecord struct {
	Key         string // caller-scoped key, built by the HTTP layer
	PayloadHash []byte
	Done        bool // false while the first request is still in flight
	Status      int
	Body        []byte
	// Sealed says Body is sealed (sealIdempotentAnswer): an answer may carry
	// a session token, which the store never holds in the clear. Records
	// stored before sealing have it false.
	Sealed    bool `json:",omitempty"`
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Message is an email or SMS held in the sandbox outbox.
type Message struct {
	Seq         uint64
	ProgrammeID string
	Channel     string // "EMAIL" or "SMS"
	// Recipient is the user the message is for, whatever address it went
	// to; messages stored before it was kept have none.
	Recipient
	To      string
	Subject string `json:",omitempty"`
	Text    string
	At      time.Time
}

// Recipient is the user a message is for, with their roles when it was
// sent: the sandbox outbox shows it to those who outranked them then
// (outboxReaders), not to whoever outranks them after a demotion.
type Recipient struct {
	UserID string `json:",omitempty"`
	Roles  []Role `json:",omitempty"`
}

// WebAuthnRegistration is a biometric enrolment between its begin and finish
// steps: the go-webauthn session data (WebAuthn §13.4.3: the challenge is kept
// by the relying party) and the device being enrolled, one per session.
type WebAuthnRegistration struct {
	SessionHash []byte
	UserID      string
	DeviceID    string
	DeviceName  string
	UserHandle  []byte // the random user.id of this enrolment (WebAuthn §5.4.3, §14.6.1)
	Session     []byte // JSON of go-webauthn's webauthn.SessionData
	// Mobile is the number the enrolment's code went to: the enrolment,
	// which makes SMS codes ACTIVE on the user's mobile, finishes only while
	// that is still the user's mobile.
	Mobile    Mobile
	ExpiresAt time.Time
}

// PushKind says what a push challenge approves.
type PushKind string

// Kinds of push challenge.
const (
	PushStepUp PushKind = "STEP_UP" // steps up the requesting session (Weavr stepupSCAChallengePush)
	PushLogin  PushKind = "LOGIN"   // signs the user in (Weavr loginViaBiometrics)
	// PushConfirm confirms the resources of the Confirmation with the same ID
	// (Weavr multipleSCAChallengePush).
	PushConfirm PushKind = "CONFIRM"
)

// PushState is where a push challenge stands. The zero value is not a state:
// only APPROVED ever grants anything.
type PushState string

// Push challenge states. A PENDING challenge past its ExpiresAt reads as
// EXPIRED (PushChallenge.StateAt); a writer that notices stores it as EXPIRED.
const (
	PushPending   PushState = "PENDING"
	PushApproved  PushState = "APPROVED"
	PushDeclined  PushState = "DECLINED"  // by the user on the device, or a wrong number picked
	PushCancelled PushState = "CANCELLED" // by Deputy: device changed, unlinked or reset, user deactivated or locked, superseded
	PushExpired   PushState = "EXPIRED"
)

// PushChallenge asks the user, on their companion device, to approve one
// operation: the step-up of a session, a sign-in or a confirmation. It shows a readable
// summary; the requesting client shows Number, and the device offers Choices,
// three numbers of which one is Number (number matching).
type PushChallenge struct {
	ID          string // numeric, from Tx.NextID
	ProgrammeID string
	UserID      string // "" for the decoy of a sign-in by an unknown email
	Kind        PushKind
	SessionHash []byte // STEP_UP: the requesting session, stepped up on approval
	Summary     string
	// Operation is a STEP_UP's operation (Operation.hash; Summary is its
	// summary): the signature covers it and approval grants it. Empty for a
	// step-up of the session.
	Operation  []byte `json:",omitempty"`
	Number     int    // 10..99
	Choices    []int  // three distinct numbers, Number among them, shuffled
	Salt       []byte
	SecretHash []byte // LOGIN: keyed hash of the secret that collects the token
	State      PushState
	Reason     string // why DECLINED or CANCELLED
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ResolvedAt time.Time
	Collected  bool // LOGIN: the token was collected
	// ApprovedAt is when the phone approved it; it stays when a revocation
	// later cancels an approved sign-in before its collection, so that the
	// approval is not forgotten (notMeReportable).
	ApprovedAt time.Time `json:",omitzero"`
	// From is who asked for it (ClientOf the request that made it).
	From Client `json:",omitzero"`
}

// SummaryFromRequester reports whether the summary is the requesting
// client's own words, which Deputy did not check: a step-up of the session
// that named no operation (Operation) but gave a text of its own. Every
// other summary is Deputy's: an operation's, a confirmation's, a sign-in's,
// or DefaultPushSummary.
func (c *PushChallenge) SummaryFromRequester() bool {
	return c.Kind == PushStepUp && len(c.Operation) == 0 && c.Summary != DefaultPushSummary
}

// StateAt is the challenge's state at now: PENDING past ExpiresAt is EXPIRED.
func (c *PushChallenge) StateAt(now time.Time) PushState {
	if c.State == PushPending && !now.Before(c.ExpiresAt) {
		return PushExpired
	}
	return c.State
}

// Channel is a second-factor channel.
type Channel string

// Channels Deputy supports.
const (
	ChannelSMS       Channel = "SMS"       // one-time codes by text message (6 random digits)
	ChannelBiometric Channel = "BIOMETRIC" // a WebAuthn credential on the companion app
)

// FactorStatus is the state of an enrolled factor (Weavr SCAFactorStatus).
type FactorStatus string

// Factor states. The zero value is not a valid status: an unknown factor is never ACTIVE.
const (
	FactorPending  FactorStatus = "PENDING_VERIFICATION"
	FactorActive   FactorStatus = "ACTIVE"
	FactorInactive FactorStatus = "INACTIVE"
)

// Factor is one of a user's authentication factors: at most one per channel,
// bound to one device (for SMS, the mobile number it was verified on; for
// BIOMETRIC, the companion device holding the WebAuthn credential).
type Factor struct {
	UserID  string
	Channel Channel
	Status  FactorStatus
	Mobile  *Mobile // SMS: the number the factor was enrolled on
	// BIOMETRIC: the device and the WebAuthn credential record (WebAuthn
	// Level 3 §4 "Credential Record"); see biometric.go.
	DeviceID       string `json:",omitempty"`
	DeviceName     string `json:",omitempty"`
	CredentialID   []byte `json:",omitempty"`
	PublicKey      []byte `json:",omitempty"` // COSE_Key (WebAuthn §6.5.1.2)
	UserHandle     []byte `json:",omitempty"` // the user.id the authenticator holds (WebAuthn §5.4.3)
	SignCount      uint32 `json:",omitempty"` // the last signature counter accepted (WebAuthn §6.1.1)
	AAGUID         []byte `json:",omitempty"`
	BackupEligible bool   `json:",omitempty"` // the BE flag at registration; it must never change (WebAuthn §6.1.3)
	// DeviceSecretHash is the keyed hash of the secret the device got at its
	// enrolment (BiometricEnrolled): a session signed in since speaks for
	// the device only with it (deviceAccess). Empty for a device enrolled
	// before devices got secrets.
	DeviceSecretHash []byte `json:",omitempty"`
	// EnrolledBy is the token hash of the session that made this enrolment:
	// the one session that speaks for the device without its secret, bound
	// to this enrolment and not to its device id (which an enrolment of a
	// device under the same id later shares).
	EnrolledBy []byte `json:",omitempty"`
	// Push is where a push service wakes the device (pushtoken.go); nil
	// until the companion registers one, and again once the device is
	// replaced, unlinked or reset, or the service rejects the token.
	Push      *PushToken `json:",omitempty"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ChallengePurpose says what a one-time-code challenge is for.
type ChallengePurpose string

// Purposes of OTP challenges.
const (
	PurposeEnrolSMS       ChallengePurpose = "enrol:SMS"
	PurposeStepUpSMS      ChallengePurpose = "stepup:SMS"
	PurposeEnrolBiometric ChallengePurpose = "enrol:BIOMETRIC" // the SMS code of a biometric enrolment
)

// ChallengeState is where a challenge stands.
type ChallengeState string

// Challenge states.
const (
	ChallengePending  ChallengeState = "PENDING"
	ChallengeVerified ChallengeState = "VERIFIED"
	ChallengeFailed   ChallengeState = "FAILED" // out of attempts
)

// Challenge is a one-time code sent to a user for one session and purpose.
// Issuing again replaces it (keeping the count of re-issues).
type Challenge struct {
	SessionHash []byte
	Purpose     ChallengePurpose
	UserID      string
	Nonce       string // random, mixed into CodeHash so equal codes hash apart
	CodeHash    []byte
	IssuedAt    time.Time
	ExpiresAt   time.Time
	Attempts    int // wrong codes so far
	MaxAttempts int
	Reissues    int
	State       ChallengeState
	// ExpiryReported: the challenge expired unanswered and that was recorded
	// (an audit event, a step-up's EXPIRED webhook).
	ExpiryReported bool `json:",omitempty"`
	// Operation and OperationSummary: a step-up's operation (Operation.hash),
	// which its verification grants, and what the text named; empty for a
	// step-up of the session.
	Operation        []byte `json:",omitempty"`
	OperationSummary string `json:",omitempty"`
}

// PasswordToken is a tokenised password (POST /multi/tokenize): the password is
// sealed with AES-256-GCM under a key derived from the installation key, the
// token is stored only as a keyed hash, and a sign-in with it deletes it (a
// password set with it leaves it for one sign-in more, see PasswordToSet).
type PasswordToken struct {
	TokenHash   []byte
	ProgrammeID string
	Sealed      []byte // nonce || ciphertext
	ExpiresAt   time.Time
	// SetPassword: the token set a password; it may still sign in once.
	SetPassword bool `json:",omitempty"`
}

// Role is one of the predefined roles of an authorised user (Weavr UserPredefinedRole).
type Role string

// The predefined roles.
const (
	RoleAdmin            Role = "ADMIN"
	RoleAccessManagement Role = "ACCESS_MANAGEMENT_ROLE"
	RoleFundsManagement  Role = "FUNDS_MANAGEMENT_ROLE"
	RoleCardsManagement  Role = "CARDS_MANAGEMENT_ROLE"
	RoleCardAssignee     Role = "CARD_ASSIGNEE"
)

// InviteState is where an invite stands.
type InviteState string

// Invite states.
const (
	InvitePending  InviteState = "PENDING"
	InviteConsumed InviteState = "CONSUMED"
	InviteVoid     InviteState = "VOID" // the user was deactivated, or their email changed, while it was pending
)

// Invite is the current invitation of a user to set a password (one per user;
// a new invite replaces the old one and voids its code).
type Invite struct {
	UserID    string
	Nonce     string
	CodeHash  []byte
	SentAt    time.Time
	ExpiresAt time.Time
	State     InviteState
}

// EmailCode is a pending email-verification code of a user.
type EmailCode struct {
	UserID    string
	Nonce     string
	CodeHash  []byte
	ExpiresAt time.Time
	Attempts  int
}

// KYCStatus is the state of an authorised user's KYC.
type KYCStatus string

// KYC states. The zero value means KYC was never started.
const (
	KYCPending  KYCStatus = "PENDING_REVIEW"
	KYCApproved KYCStatus = "APPROVED"
	KYCRejected KYCStatus = "REJECTED"
)

// KYC is an authorised user's KYC case with the provider.
type KYC struct {
	UserID    string
	Reference string // numeric, unique
	Provider  string
	Status    KYCStatus
	CreatedAt time.Time
	UpdatedAt time.Time
}

// KeyKind says which of a programme's two keys a caller presented.
type KeyKind int

// Key kinds. The zero value is the least privileged: a public ui key.
const (
	// UIKey is the public key first-party clients hold (the admin TUI, the
	// companion, the browser capture component), always with a user's token.
	UIKey KeyKind = iota
	// SecretKey is the secret api key of the embedder's backend.
	SecretKey
)

func (k KeyKind) String() string {
	if k == SecretKey {
		return "secret"
	}
	return "ui"
}

// RetiredKey is a replaced key that still works until its grace period ends.
type RetiredKey struct {
	Kind  KeyKind
	Hash  []byte
	Until time.Time
}

// WebhookEndpoint is where a programme's events are delivered (webhooks.go):
// Weavr's watch path of each event is appended to URL.
type WebhookEndpoint struct {
	ID          string
	ProgrammeID string
	URL         string
	// Events are the event types it receives (WebhookEventTypes); empty: every one.
	Events []string `json:",omitempty"`
	// Secrets sign the Standard Webhooks signature, each sealed (never stored
	// in plain text): the newest first, then older ones until their Until.
	Secrets []WebhookSecret
	// AllowPrivate lets URL reach loopback and private addresses (tests, local development).
	AllowPrivate bool `json:",omitempty"`
	// Disabled stops deliveries (a 410 answer); DisabledReason says why.
	Disabled       bool   `json:",omitempty"`
	DisabledReason string `json:",omitempty"`
	CreatedAt      time.Time
	// Fanned is the Seq of the last audit event of the programme whose
	// webhook events the endpoint has been given (webhookfanout.go).
	Fanned uint64
	// Sending is a worker's claim on the audit events after Fanned, whose
	// events it sends before writing their deliveries (webhookdirect.go);
	// nil when no worker holds one.
	Sending *WebhookSending `json:",omitempty"`
}

// WebhookSending is a worker's claim on an endpoint's audit events after
// its Fanned, through Through: a lease until Until, so that a worker that
// dies leaves them to the next; Claim tells one worker's from another's.
type WebhookSending struct {
	Through uint64
	Until   time.Time
	Claim   string
}

// WebhookSecret is one signing secret of an endpoint, sealed; Until is zero
// for the current secret and the end of a rotation's overlap for an old one.
type WebhookSecret struct {
	Sealed    []byte
	Until     time.Time `json:",omitzero"`
	CreatedAt time.Time
}

// WebhookEvent is one event of the outbox: written in the transaction of the
// change that caused it, its body signed and sent as stored.
type WebhookEvent struct {
	ID          string // call-ref and webhook-id: unique, "evt_", the time in hex, then a digest of its place in the audit log
	ProgrammeID string
	Type        string // a WebhookEventTypes name
	Subject     string // the user it is about ("" for none): deliveries keep each subject's order
	Body        json.RawMessage
	At          time.Time
}

// WebhookDeliveryState is where a delivery of an event to an endpoint stands.
type WebhookDeliveryState string

// The delivery states.
const (
	DeliveryPending   WebhookDeliveryState = "PENDING"
	DeliveryDelivered WebhookDeliveryState = "DELIVERED"
	DeliveryFailed    WebhookDeliveryState = "FAILED" // given up after every retry, or the endpoint is gone
)

// WebhookDelivery is one event on its way to one endpoint. The pending
// deliveries of an endpoint and subject form a queue in Seq order, and only
// its head has a NextAt: a later one waits until the head is delivered or
// given up (NextAt zero).
type WebhookDelivery struct {
	Seq         uint64 // assigned by the store, increasing
	ProgrammeID string
	EndpointID  string
	EventID     string
	Subject     string
	State       WebhookDeliveryState
	// NextAt is when it is due: its next attempt, or the end of the lease of
	// a worker attempting it now (a worker that dies leaves it due again).
	NextAt   time.Time `json:",omitzero"`
	Attempts int
	// LastStatus is the HTTP status of the last attempt (0: none or no answer).
	LastStatus int              `json:",omitempty"`
	Log        []WebhookAttempt `json:",omitempty"`
	// UnsignableSince is when a worker first found it could not be signed
	// (zero when it was, or has been since).
	UnsignableSince time.Time `json:",omitzero"`
	CreatedAt       time.Time
	DoneAt          time.Time `json:",omitzero"`
}

// WebhookAttempt is one attempt of a delivery, in its log.
type WebhookAttempt struct {
	At       time.Time
	Status   int           `json:",omitempty"`
	Error    string        `json:",omitempty"`
	Duration time.Duration `json:",omitempty"`
}

// ResourceType is the kind of operation a confirmation challenge confirms
// (Weavr MultipleSCAResourceType).
type ResourceType string

// Resource types: Weavr's four.
const (
	ResourceSends                      ResourceType = "sends"
	ResourceOutgoingWireTransfers      ResourceType = "outgoing_wire_transfers"
	ResourceLinkedAccountDeclaration   ResourceType = "linked_account_declaration"
	ResourceCorrespondentBankTransfers ResourceType = "correspondent_bank_transfers"
)

// ResourceState is where a resource stands. The zero value is not a state:
// only VERIFIED says a user confirmed it.
type ResourceState string

// Resource states (Weavr's resources read PENDING_CHALLENGE until confirmed).
const (
	ResourcePending  ResourceState = "PENDING_CHALLENGE"
	ResourceVerified ResourceState = "VERIFIED"
)

// Amount is a sum of money in minor units (Weavr CurrencyAmount).
type Amount struct {
	Currency string // ISO 4217, three capital letters
	Value    int64  // minor units (cents)
}

// ResourceSummary is what the user confirms about a resource: the dynamic
// linking of PSD2 RTS Art. 5, bound into the challenge (confirmationBinding).
type ResourceSummary struct {
	Amount       Amount
	PayeeName    string
	PayeeAccount string
	Fields       map[string]string `json:",omitempty"` // the embedder's own, shown and bound too
}

// Resource is an operation of the embedder's (a send, a transfer ...) that
// one user must confirm with a confirmation challenge. Deputy holds no
// ledger: the embedder registers it with its own id and its summary.
type Resource struct {
	ProgrammeID string
	Type        ResourceType
	ID          string // the embedder's, numeric
	UserID      string // who must confirm it
	IdentityID  string
	Summary     ResourceSummary
	State       ResourceState
	ChallengeID string    // the confirmation that last challenged it
	Codes       int       // SMS codes sent for it, across challenges
	LastCodeAt  time.Time // when the last of them was sent
	CreatedAt   time.Time
	UpdatedAt   time.Time
	VerifiedAt  time.Time
}

// Confirmation is a confirmation challenge (Weavr multipleSCAChallenge,
// multipleSCAChallengePush): one user's confirmation of a list of resources
// of one type, bound to their summaries as they were when it was issued. An
// SMS one keeps its code here; a push one shares its ID with the
// PushChallenge the device approves.
type Confirmation struct {
	ID           string // numeric, from Tx.NextID
	ProgrammeID  string
	UserID       string
	IdentityID   string
	SessionHash  []byte // the session that asked for it, the only one that may verify it
	Channel      Channel
	ResourceType ResourceType
	ResourceIDs  []string
	Binding      []byte // confirmationBinding of the resources when issued
	Nonce        string `json:",omitempty"` // SMS: as for every one-time code (sealOTP)
	CodeHash     []byte `json:",omitempty"`
	Attempts     int
	MaxAttempts  int
	IssuedAt     time.Time
	ExpiresAt    time.Time
	State        ChallengeState
}

// BulkKind is the single operation a bulk repeats (Weavr bulksUserCreate,
// bulksUserInviteSend): its path is the single call's.
type BulkKind string

// Bulk kinds: Weavr's two for users.
const (
	BulkUserCreate BulkKind = "/users"
	BulkUserInvite BulkKind = "/users/_user_id_/invite"
)

// BulkState is where a bulk stands (Weavr BulkProcessStatus). The zero value
// is not a state: nothing runs a bulk that is not RUNNING.
type BulkState string

// Bulk states.
const (
	BulkSubmitted          BulkState = "SUBMITTED"
	BulkRunning            BulkState = "RUNNING"
	BulkPaused             BulkState = "PAUSED"
	BulkCancelled          BulkState = "CANCELLED"
	BulkCompleted          BulkState = "COMPLETED"
	BulkPartiallyCompleted BulkState = "PARTIALLY_COMPLETED"
	BulkFailed             BulkState = "FAILED"
)

// BulkMode says what a failed operation does to the rest (Weavr BulkProcessMode).
type BulkMode string

// Bulk modes; ON_FAILURE_CONTINUE is the default.
const (
	BulkContinue BulkMode = "ON_FAILURE_CONTINUE"
	BulkStop     BulkMode = "ON_FAILURE_STOP"
)

// Bulk is a bulk process (Weavr BulkProcess): operations of one kind that
// run in sequence, in the background, as the session that executed (or last
// resumed) it. Its operations 1..Done are settled: Completed + Failed of them.
type Bulk struct {
	ID          string // numeric, from Tx.NextID
	ProgrammeID string
	IdentityID  string
	SubmittedBy string // the user who submitted it
	Kind        BulkKind
	Count       int // operations, numbered 1..Count
	State       BulkState
	Mode        BulkMode
	RunBy       string // the user whose session runs it
	SessionHash []byte // that session's: each operation runs as its caller
	Completed   int
	Failed      int
	PauseReason string `json:",omitempty"` // BulkSessionEnded when the runner paused it
	CreatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
}

// Done is how many operations are settled; operation Done+1 runs next.
func (b *Bulk) Done() int { return b.Completed + b.Failed }

// BulkOpStatus is where one operation of a bulk stands (Weavr
// BulkProcessOperationStatus). A store keeps SUBMITTED, COMPLETED and
// FAILED; RUNNING and CANCELLED are read off the bulk (BulkOperationView).
type BulkOpStatus string

// Bulk operation statuses.
const (
	BulkOpSubmitted BulkOpStatus = "SUBMITTED"
	BulkOpRunning   BulkOpStatus = "RUNNING"
	BulkOpCompleted BulkOpStatus = "COMPLETED"
	BulkOpFailed    BulkOpStatus = "FAILED"
	BulkOpCancelled BulkOpStatus = "CANCELLED"
)

// BulkOperation is one operation of a bulk: the single call's input, and
// once settled its outcome.
type BulkOperation struct {
	BulkID  string
	Seq     int // 1..Count, the order they run in
	Status  BulkOpStatus
	User    *NewUser     `json:",omitempty"` // BulkUserCreate: the user to create
	UserID  string       `json:",omitempty"` // BulkUserInvite: whom to invite
	Created *User        `json:",omitempty"` // BulkUserCreate, COMPLETED: the user as created
	Error   *BulkOpError `json:",omitempty"` // FAILED: the single call's error
	At      time.Time    // when it settled
}

// BulkOpError is a failed operation's error as the single call would have
// answered it: its class (the name of one of the Err* classes), code,
// message and fields.
type BulkOpError struct {
	Class   string
	Code    string       `json:",omitempty"`
	Message string       `json:",omitempty"`
	Fields  []FieldError `json:",omitempty"`
}

// Records only a store copy sees (store.go's RecordKinds): what a store keeps
// beside the records above, as Export reads it and Import writes it.

// MetaEntry is a value of Meta.
type MetaEntry struct {
	Key   string
	Value []byte
}

// CounterEntry is an expiring counter (CounterWriter).
type CounterEntry struct {
	Key       string
	Count     int
	ExpiresAt time.Time
}

// AuditHash is one hash of a programme's audit tree, at its tlog storage index.
type AuditHash struct {
	ProgrammeID string
	Index       int64
	Hash        tlog.Hash
}

// Sequence is the last number a store's sequence handed out: the ids of
// NextID (SequenceIDs), the Seqs of webhook deliveries, or, per programme,
// the Seqs of its audit log (which is its size) and of its outbox.
type Sequence struct {
	Name        string
	ProgrammeID string `json:",omitempty"` // of SequenceAudit and SequenceOutbox
	Last        uint64
}

// The sequences of a store.
const (
	SequenceIDs               = "ids"
	SequenceWebhookDeliveries = "webhook_deliveries"
	SequenceAudit             = "audit"
	SequenceOutbox            = "outbox"
)
