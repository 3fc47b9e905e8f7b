package core

import "time"

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

// UserFilter selects authorised users of one identity (Weavr usersGet). Root
// users are never listed. Results are ordered by id (creation order).
type UserFilter struct {
	Active *bool
	Email  string // exact, lower-cased
	Tag    string
	Roles  []Role // users holding any of these roles
	Offset int
	Limit  int // 0 means count only
}

// InviteState is where an invite stands.
type InviteState string

// Invite states.
const (
	InvitePending  InviteState = "PENDING"
	InviteConsumed InviteState = "CONSUMED"
	InviteVoid     InviteState = "VOID" // the user was deactivated while it was pending
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

// UniqueKYCReference is the store constraint on KYC references.
const UniqueKYCReference = "kyc.reference"
