package client

import (
	"encoding/json"
	"time"
)

// Predefined roles of authorised users (Weavr UserPredefinedRole).
const (
	RoleAdmin            = "ADMIN"                  // manages everything, including who is an admin
	RoleAccessManagement = "ACCESS_MANAGEMENT_ROLE" // manages users but not the ADMIN role
	RoleFundsManagement  = "FUNDS_MANAGEMENT_ROLE"
	RoleCardsManagement  = "CARDS_MANAGEMENT_ROLE"
	RoleCardAssignee     = "CARD_ASSIGNEE"
)

// Identity types (Weavr IdentityId.type) and credential types (CredentialId.type).
const (
	IdentityCorporate = "CORPORATE"
	IdentityConsumer  = "CONSUMER"
	CredentialsRoot   = "ROOT" // the identity's root user
	CredentialsUser   = "USER" // an authorised user
)

// Factor statuses (Weavr SCAFactor.status).
const (
	FactorPendingVerification = "PENDING_VERIFICATION"
	FactorActive              = "ACTIVE"
	FactorInactive            = "INACTIVE"
)

// KYC statuses (Deputy KycStatus); a decision is KYCApproved or KYCRejected.
const (
	KYCPendingReview = "PENDING_REVIEW"
	KYCApproved      = "APPROVED"
	KYCRejected      = "REJECTED"
)

// Invite states (Deputy UserStatus.invite.state).
const (
	InvitePending  = "PENDING"
	InviteConsumed = "CONSUMED"
	InviteVoid     = "VOID"
	InviteExpired  = "EXPIRED"
)

// Mobile is a mobile number (Weavr Mobile): CountryCode "+44", Number "7700900123".
type Mobile struct {
	CountryCode string `json:"countryCode"`
	Number      string `json:"number"`
}

// Date is a calendar date (Weavr Date), such as a date of birth.
type Date struct {
	Year  int `json:"year"`
	Month int `json:"month"`
	Day   int `json:"day"`
}

// Address is a postal address (Weavr Address). Which fields are required depends
// on where it is used: a company's business address needs AddressLine1, City,
// PostCode and Country; a consumer's address only Country.
type Address struct {
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	City         string `json:"city,omitempty"`
	PostCode     string `json:"postCode,omitempty"`
	State        string `json:"state,omitempty"`
	Country      string `json:"country,omitempty"` // ISO 3166-1 alpha-2, "GB"
}

// IdentityID names an identity (Weavr IdentityId): Type is IdentityCorporate or IdentityConsumer.
type IdentityID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// CredentialID names the signed-in user (Weavr CredentialId): Type is
// CredentialsRoot or CredentialsUser, ID the user's id.
type CredentialID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Login is the answer to a sign-in (Weavr LoginWithPasswordResponse).
type Login struct {
	Token       string       `json:"token"`     // the session's bearer token: pass it to Client.Session
	TokenType   string       `json:"tokenType"` // TokenTypeAuth; TokenTypeAccess after Client.AccessLogin
	Identity    IdentityID   `json:"identity"`
	Credentials CredentialID `json:"credentials"`
}

// PasswordResult is the answer to setting a password (Weavr PasswordResponse):
// the user is signed in with Token.
type PasswordResult struct {
	Token      string
	IdentityID IdentityID
}

type passwordResponse struct {
	PasswordInfo struct {
		IdentityID IdentityID `json:"identityId"`
	} `json:"passwordInfo"`
	Token string `json:"token"`
}

type tokenResponse struct {
	Token string `json:"token"`
}

// CorporateCreate is a new corporate with its root user (Weavr
// CorporateCreateRequest). Deputy requires what Weavr requires: ProfileID,
// IPAddress and BaseCurrency; RootUser's Name, Surname, Email, Mobile and
// CompanyPosition; Company's Name, Type and RegistrationCountry. The other
// fields are optional. All are kept as given and returned when the corporate
// is read.
type CorporateCreate struct {
	RootUser CorporateRootUserCreate `json:"rootUser"`
	Company  CompanyCreate           `json:"company"`

	ProfileID          string `json:"profileId"` // digits, the embedder's profile at Weavr
	Tag                string `json:"tag,omitempty"`
	Industry           string `json:"industry,omitempty"`      // Weavr Industry, e.g. "FINANCE"
	SourceOfFunds      string `json:"sourceOfFunds,omitempty"` // Weavr CorporateSourceOfFunds
	SourceOfFundsOther string `json:"sourceOfFundsOther,omitempty"`
	AcceptedTerms      *bool  `json:"acceptedTerms,omitempty"`
	IPAddress          string `json:"ipAddress"`    // the IPv4 or IPv6 address the request came from
	BaseCurrency       string `json:"baseCurrency"` // ISO 4217, "EUR"
	FeeGroup           string `json:"feeGroup,omitempty"`
}

// CorporateRootUserCreate is the root user of a new corporate.
type CorporateRootUserCreate struct {
	Name            string `json:"name"`
	Surname         string `json:"surname"`
	Email           string `json:"email"`
	Mobile          Mobile `json:"mobile"`
	CompanyPosition string `json:"companyPosition"` // "DIRECTOR" or "AUTHORISED_REPRESENTATIVE"
	DateOfBirth     *Date  `json:"dateOfBirth,omitempty"`
	Tag             string `json:"tag,omitempty"`
	Locale          string `json:"locale,omitempty"` // "en" or "en-GB"
	Brand           string `json:"brand,omitempty"`
}

// CompanyCreate is the company of a new corporate.
type CompanyCreate struct {
	Name                string   `json:"name"`
	Type                string   `json:"type"` // Weavr CompanyType, e.g. "LLC"
	RegistrationNumber  string   `json:"registrationNumber,omitempty"`
	RegistrationCountry string   `json:"registrationCountry"` // ISO 3166-1 alpha-2, "GB"
	BusinessAddress     *Address `json:"businessAddress,omitempty"`
}

// ConsumerCreate is a new consumer with its root user (Weavr
// ConsumerCreateRequest). Deputy requires what Weavr requires: ProfileID and
// IPAddress; RootUser's Name, Surname, Email, Mobile, DateOfBirth and Address
// (with its Country). The other fields are optional. All are kept as given
// and returned when the consumer is read.
type ConsumerCreate struct {
	RootUser ConsumerRootUserCreate `json:"rootUser"`

	ProfileID          string `json:"profileId"` // digits, the embedder's profile at Weavr
	Tag                string `json:"tag,omitempty"`
	SourceOfFunds      string `json:"sourceOfFunds,omitempty"` // Weavr ConsumerSourceOfFunds
	SourceOfFundsOther string `json:"sourceOfFundsOther,omitempty"`
	AcceptedTerms      *bool  `json:"acceptedTerms,omitempty"`
	IPAddress          string `json:"ipAddress"` // the IPv4 or IPv6 address the request came from
	BaseCurrency       string `json:"baseCurrency,omitempty"`
	FeeGroup           string `json:"feeGroup,omitempty"`
}

// ConsumerRootUserCreate is the root user of a new consumer.
type ConsumerRootUserCreate struct {
	Name         string   `json:"name"`
	Surname      string   `json:"surname"`
	Email        string   `json:"email"`
	Mobile       Mobile   `json:"mobile"`
	DateOfBirth  *Date    `json:"dateOfBirth"`          // required
	Occupation   string   `json:"occupation,omitempty"` // Weavr Occupation, e.g. "STUDENT"
	Address      *Address `json:"address"`              // required, with its Country
	PlaceOfBirth string   `json:"placeOfBirth,omitempty"`
	Nationality  string   `json:"nationality,omitempty"`
	Tag          string   `json:"tag,omitempty"`
	Locale       string   `json:"locale,omitempty"`
	Brand        string   `json:"brand,omitempty"`
}

// RootUser is an identity's root user as the API shows it (Weavr
// CorporateRootUser and ConsumerRootUser): the corporate-only and
// consumer-only fields are empty for the other kind. Its ID is the identity's,
// and ID.ID is also the root user's user id (for [Client.CreatePassword]).
type RootUser struct {
	ID                   IdentityID `json:"id"`
	Name                 string     `json:"name"`
	Surname              string     `json:"surname"`
	Email                string     `json:"email"`
	Mobile               *Mobile    `json:"mobile,omitempty"`
	Active               bool       `json:"active"`
	EmailVerified        bool       `json:"emailVerified"`
	MobileNumberVerified bool       `json:"mobileNumberVerified"`
	DateOfBirth          *Date      `json:"dateOfBirth,omitempty"`
	Tag                  string     `json:"tag,omitempty"`
	Locale               string     `json:"locale,omitempty"`
	Brand                string     `json:"brand,omitempty"`
	// PasswordAlreadySet is present only in the answer to CreateCorporate.
	PasswordAlreadySet *bool `json:"passwordAlreadySet,omitempty"`

	CompanyPosition string `json:"companyPosition,omitempty"` // corporates only

	Occupation   string   `json:"occupation,omitempty"` // consumers only
	Address      *Address `json:"address,omitempty"`
	Nationality  string   `json:"nationality,omitempty"`
	PlaceOfBirth string   `json:"placeOfBirth,omitempty"`
}

// Company is a corporate's company (Weavr CorporateCompany).
type Company struct {
	Name                  string   `json:"name"`
	Type                  string   `json:"type,omitempty"`
	RegistrationNumber    string   `json:"registrationNumber,omitempty"`
	BusinessAddress       *Address `json:"businessAddress,omitempty"`
	CountryOfRegistration string   `json:"countryOfRegistration,omitempty"`
}

// Corporate is a business identity (Weavr Corporate). ProfileID, IPAddress,
// BaseCurrency, RootUser.CompanyPosition, Company.Type and
// Company.CountryOfRegistration are set for every corporate created since
// Deputy required them; one created before answers what it was given.
type Corporate struct {
	ID                 IdentityID `json:"id"`
	RootUser           RootUser   `json:"rootUser"`
	Company            Company    `json:"company"`
	ProfileID          string     `json:"profileId,omitempty"`
	Tag                string     `json:"tag,omitempty"`
	Industry           string     `json:"industry,omitempty"`
	SourceOfFunds      string     `json:"sourceOfFunds,omitempty"`
	SourceOfFundsOther string     `json:"sourceOfFundsOther,omitempty"`
	AcceptedTerms      *bool      `json:"acceptedTerms,omitempty"`
	IPAddress          string     `json:"ipAddress,omitempty"`
	BaseCurrency       string     `json:"baseCurrency,omitempty"`
	FeeGroup           string     `json:"feeGroup,omitempty"`
	CreatedAt          time.Time  `json:"-"` // Weavr creationTimestamp
}

// UnmarshalJSON reads Weavr's Corporate, with creationTimestamp in Unix milliseconds.
func (c *Corporate) UnmarshalJSON(b []byte) error {
	type plain Corporate
	var w struct {
		*plain
		CreationTimestamp int64 `json:"creationTimestamp"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	c.CreatedAt = millis(w.CreationTimestamp)
	return nil
}

// Consumer is a personal identity (Weavr Consumer). ProfileID, IPAddress,
// RootUser.DateOfBirth and RootUser.Address are set for every consumer created
// since Deputy required them; one created before answers what it was given.
type Consumer struct {
	ID                 IdentityID `json:"id"`
	RootUser           RootUser   `json:"rootUser"`
	ProfileID          string     `json:"profileId,omitempty"`
	Tag                string     `json:"tag,omitempty"`
	SourceOfFunds      string     `json:"sourceOfFunds,omitempty"`
	SourceOfFundsOther string     `json:"sourceOfFundsOther,omitempty"`
	AcceptedTerms      *bool      `json:"acceptedTerms,omitempty"`
	IPAddress          string     `json:"ipAddress,omitempty"`
	BaseCurrency       string     `json:"baseCurrency,omitempty"`
	FeeGroup           string     `json:"feeGroup,omitempty"`
	CreatedAt          time.Time  `json:"-"` // Weavr creationTimestamp
}

// UnmarshalJSON reads Weavr's Consumer, with creationTimestamp in Unix milliseconds.
func (c *Consumer) UnmarshalJSON(b []byte) error {
	type plain Consumer
	var w struct {
		*plain
		CreationTimestamp int64 `json:"creationTimestamp"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	c.CreatedAt = millis(w.CreationTimestamp)
	return nil
}

// User is an authorised user (Weavr User).
type User struct {
	ID                 string     `json:"id"`
	Identity           IdentityID `json:"identity"`
	Name               string     `json:"name"`
	Surname            string     `json:"surname"`
	Email              string     `json:"email"`
	Mobile             *Mobile    `json:"mobile,omitempty"`
	Active             bool       `json:"active"`
	DateOfBirth        *Date      `json:"dateOfBirth,omitempty"`
	Tag                string     `json:"tag,omitempty"`
	CountryOfResidence string     `json:"countryOfResidence,omitempty"`
	Locale             string     `json:"locale,omitempty"`
	Brand              string     `json:"brand,omitempty"`
	Roles              []string   `json:"roles,omitempty"`
	// InvitePending and Locked are Deputy's marks, set by [Session.ListUsers]
	// only: an invite waits to be accepted; sign-in is locked out.
	InvitePending bool `json:"invitePending,omitempty"`
	Locked        bool `json:"locked,omitempty"`
}

// UserCreate is a new authorised user (Weavr UserCreateRequest). Name, Surname
// and Email are required. Without a Mobile the user cannot enrol an SMS factor
// until one is set (by [Session.UpdateUser] or when accepting the invite).
type UserCreate struct {
	Name               string   `json:"name"`
	Surname            string   `json:"surname"`
	Email              string   `json:"email"`
	Mobile             *Mobile  `json:"mobile,omitempty"`
	DateOfBirth        *Date    `json:"dateOfBirth,omitempty"`
	Tag                string   `json:"tag,omitempty"`
	CountryOfResidence string   `json:"countryOfResidence,omitempty"`
	Locale             string   `json:"locale,omitempty"`
	Brand              string   `json:"brand,omitempty"`
	Roles              []string `json:"roles,omitempty"` // Role* constants; none means every permission (Weavr's rule)
}

// UserPatch changes an authorised user (Weavr UserPatchRequest): nil fields are
// left alone. Changing Email or Mobile needs a stepped-up session. Roles, when
// not nil, replaces the user's roles (an empty slice removes them all).
type UserPatch struct {
	Name        *string   `json:"name,omitempty"`
	Surname     *string   `json:"surname,omitempty"`
	Email       *string   `json:"email,omitempty"`
	Mobile      *Mobile   `json:"mobile,omitempty"`
	DateOfBirth *Date     `json:"dateOfBirth,omitempty"`
	Tag         *string   `json:"tag,omitempty"`
	Locale      *string   `json:"locale,omitempty"`
	Brand       *string   `json:"brand,omitempty"`
	Roles       *[]string `json:"roles,omitempty"`
}

// UserFilter selects a page of users for [Session.ListUsers]; zero fields do not filter.
type UserFilter struct {
	Offset int      // users to skip
	Limit  int      // page size, 1..100; 0 means the server's default (100)
	Active *bool    // only active (true) or inactive (false) users
	Email  string   // only the user with this email
	Tag    string   // only users with this tag
	Roles  []string // only users holding at least one of these roles
	// Search keeps users whose name, surname, full name, email or tag
	// contains it, ignoring case (a Deputy extension).
	Search string
}

// UserPage is one page of users (Weavr UsersGetResponse).
type UserPage struct {
	Users         []User `json:"users"`
	Count         int    `json:"count"`         // users matching the filter, on every page
	ResponseCount int    `json:"responseCount"` // users on this page
}

// Factor types and the SMS channel (Weavr SCAFactor); the push channel is
// [ChannelBiometric].
const (
	FactorTypeOTP  = "OTP"
	FactorTypePush = "PUSH"
	ChannelSMS     = "SMS"
)

// Factor is a second factor of a user (Weavr SCAFactor): Type [FactorTypeOTP] or
// [FactorTypePush], Channel [ChannelSMS] or [ChannelBiometric], Status one of the
// Factor* status constants.
type Factor struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Status  string `json:"status"`
}

// UserStatus is an authorised user's security state (Deputy extension userStatusGet).
type UserStatus struct {
	EmailVerified bool
	PasswordSet   bool
	Locked        bool
	LockedUntil   time.Time     // zero unless Locked
	Invite        *InviteStatus // nil when the user was never invited
	KYC           *KYCStatus    // nil when no KYC case was opened
	Factors       []Factor
}

// InviteStatus is the state of a user's latest invite.
type InviteStatus struct {
	State     string // one of the Invite* constants
	ExpiresAt time.Time
}

// KYCStatus is the state of a user's KYC case.
type KYCStatus struct {
	Status    string // one of the KYC* constants
	Reference string
}

type userStatusResponse struct {
	EmailVerified bool  `json:"emailVerified"`
	PasswordSet   bool  `json:"passwordSet"`
	Locked        bool  `json:"locked"`
	LockedUntil   int64 `json:"lockedUntil"`
	Invite        *struct {
		State     string `json:"state"`
		ExpiresAt int64  `json:"expiresAt"`
	} `json:"invite"`
	KYC *struct {
		Status    string `json:"status"`
		Reference string `json:"reference"`
	} `json:"kyc"`
	Factors []Factor `json:"factors"`
}

func (r *userStatusResponse) status() *UserStatus {
	st := &UserStatus{EmailVerified: r.EmailVerified, PasswordSet: r.PasswordSet, Locked: r.Locked, LockedUntil: millis(r.LockedUntil), Factors: r.Factors}
	if r.Invite != nil {
		st.Invite = &InviteStatus{State: r.Invite.State, ExpiresAt: millis(r.Invite.ExpiresAt)}
	}
	if r.KYC != nil {
		st.KYC = &KYCStatus{Status: r.KYC.Status, Reference: r.KYC.Reference}
	}
	return st
}

// Role is a predefined role (Weavr Role): Name is one of the Role* constants.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Message is one email or text message the sandbox captured instead of sending
// (Deputy OutboxMessage).
type Message struct {
	Channel   string // "EMAIL" or "SMS"
	To        string // email address or "+447700900123"
	Subject   string // emails only
	Text      string
	CreatedAt time.Time
}

type outboxResponse struct {
	Messages []struct {
		Channel   string `json:"channel"`
		To        string `json:"to"`
		Subject   string `json:"subject"`
		Text      string `json:"text"`
		CreatedAt int64  `json:"createdAt"`
	} `json:"messages"`
}

// millis converts Unix milliseconds to a time; 0 is the zero time.
func millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
