package core

import "time"

// Channel is a second-factor channel.
type Channel string

// Channels Deputy supports.
const (
	ChannelSMS       Channel = "SMS"       // one-time codes by text message (RFC 4226 HOTP codes)
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
	CreatedAt      time.Time
	UpdatedAt      time.Time
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
}

// ChallengeWriter writes OTP challenges (one per session and purpose).
type ChallengeWriter interface {
	PutChallenge(c *Challenge) error
	// DeleteChallengesIssuedBefore removes challenges issued before t.
	DeleteChallengesIssuedBefore(t time.Time) (int, error)
}
