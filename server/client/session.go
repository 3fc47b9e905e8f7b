package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Session calls the API on behalf of one signed-in user: every request carries
// the client's api key and the user's bearer token. A Session is immutable and
// safe for concurrent use. Sessions lapse after a few minutes without use;
// calls then fail with [ErrUnauthorized] and the user has to sign in again.
type Session struct {
	c            *Client
	token        string
	deviceSecret string
}

// Token returns the session's bearer token. It is a secret: never log it.
func (s *Session) Token() string { return s.token }

// DeviceSecret returns the device secret the session carries, "" for none.
// It is a secret: never log it.
func (s *Session) DeviceSecret() string { return s.deviceSecret }

// WithDeviceSecret returns a copy of the session that speaks for the user's
// companion device: its calls carry the secret the device got at its
// enrolment ([Session.FinishBiometricEnrolment]). Without it, only the
// session that enrolled the device may list, answer or wake its challenges.
// The secret is a secret: never log it.
func (s *Session) WithDeviceSecret(secret string) *Session {
	c := *s
	c.deviceSecret = secret
	return &c
}

// do performs a call with the session's token.
func (s *Session) do(ctx context.Context, r *call, opts ...CallOption) error {
	r.token, r.deviceSecret = s.token, s.deviceSecret
	return s.c.do(ctx, r, opts...)
}

// userPath returns "/multi/users/{id}" plus suffix, with id checked and escaped.
func userPath(op, id, suffix string) (string, error) {
	seg, err := pathID("user_id", id)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return "/multi/users/" + seg + suffix, nil
}

// Logout ends the session (Weavr logout); its token stops working.
func (s *Session) Logout(ctx context.Context) error {
	return s.do(ctx, &call{op: "logout", method: http.MethodPost, path: "/multi/logout"})
}

// Corporate returns the corporate the user belongs to (Weavr corporateGet);
// [ErrForbidden] when the user's identity is a consumer.
func (s *Session) Corporate(ctx context.Context) (*Corporate, error) {
	var out Corporate
	if err := s.do(ctx, &call{op: "get corporate", method: http.MethodGet, path: "/multi/corporates", out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Consumer returns the consumer the user belongs to (Weavr consumerGet);
// [ErrForbidden] when the user's identity is a corporate.
func (s *Session) Consumer(ctx context.Context) (*Consumer, error) {
	var out Consumer
	if err := s.do(ctx, &call{op: "get consumer", method: http.MethodGet, path: "/multi/consumers", out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Factors lists the user's second factors, enrolled or being enrolled (Weavr
// authFactorsGet); empty, not nil, when there are none (the server then
// leaves the list out), so that nil only comes with an error.
func (s *Session) Factors(ctx context.Context) ([]Factor, error) {
	var out struct {
		Factors []Factor `json:"factors"`
	}
	if err := s.do(ctx, &call{op: "list factors", method: http.MethodGet, path: "/multi/authentication_factors", out: &out}); err != nil {
		return nil, err
	}
	if out.Factors == nil {
		return []Factor{}, nil
	}
	return out.Factors, nil
}

type verificationCode struct {
	VerificationCode string `json:"verificationCode"`
}

// EnrolSMS starts enrolling the user's mobile number for one-time passwords: a
// code is texted to it (Weavr enrolDeviceUsingOtpStepOne). Replacing an active
// factor needs a stepped-up session. Accepts [IdempotencyRef].
func (s *Session) EnrolSMS(ctx context.Context, opts ...CallOption) error {
	return s.do(ctx, &call{op: "enrol SMS", method: http.MethodPost, path: "/multi/authentication_factors/otp/SMS"}, opts...)
}

// VerifyEnrolSMS finishes the enrolment with the texted code (Weavr
// enrolDeviceUsingOtpStepTwo); the factor becomes active and the session is
// stepped up. A wrong code is [ErrConflict] (VERIFICATION_CODE_INVALID, ...).
// Accepts [IdempotencyRef].
func (s *Session) VerifyEnrolSMS(ctx context.Context, code string, opts ...CallOption) error {
	return s.do(ctx, &call{op: "verify SMS enrolment", method: http.MethodPost, path: "/multi/authentication_factors/otp/SMS/verify", in: verificationCode{code}}, opts...)
}

// StepUpSMS texts a step-up code to the user's enrolled device (Weavr
// stepupSCAChallenge). Asking again too soon is [ErrConflict] RETRY_IN_15SEC,
// with RetryAfter. Accepts [IdempotencyRef] and [ForOperation], with which
// the text names the operation and the code authorises it alone.
func (s *Session) StepUpSMS(ctx context.Context, opts ...CallOption) error {
	r := &call{op: "start SMS step-up", method: http.MethodPost, path: "/multi/stepup/challenges/otp/SMS"}
	for _, o := range opts {
		o(r)
	}
	if r.operation != "" {
		r.in = struct {
			Operation string `json:"operation"`
		}{r.operation}
	}
	return s.do(ctx, r)
}

// VerifyStepUpSMS steps the session up with the texted code (Weavr
// stepupSCAVerify). A wrong code is [ErrConflict] (VERIFICATION_CODE_INVALID,
// ONE_CHALLENGE_LIMIT_REMAINING, CHALLENGE_LIMIT_EXCEEDED). Accepts [IdempotencyRef].
func (s *Session) VerifyStepUpSMS(ctx context.Context, code string, opts ...CallOption) error {
	return s.do(ctx, &call{op: "verify SMS step-up", method: http.MethodPost, path: "/multi/stepup/challenges/otp/SMS/verify", in: verificationCode{code}}, opts...)
}

// UpdatePassword changes the user's password (Weavr passwordUpdate). Every
// session of the user ends, this one included; the answer is the token of a
// fresh session and that session. A wrong old password is [ErrConflict]
// PASSWORD_INCORRECT.
func (s *Session) UpdatePassword(ctx context.Context, oldPassword, newPassword string) (string, *Session, error) {
	in := struct {
		OldPassword sensitive `json:"oldPassword"`
		NewPassword sensitive `json:"newPassword"`
	}{sensitive{oldPassword}, sensitive{newPassword}}
	var out passwordResponse
	if err := s.do(ctx, &call{op: "update password", method: http.MethodPost, path: "/multi/passwords/update", in: in, out: &out}); err != nil {
		return "", nil, err
	}
	return out.Token, s.c.Session(out.Token), nil
}

// CreateUser adds an authorised user to the user's identity (Weavr userCreate).
// It needs permission to manage users and a stepped-up session
// ([ErrStepUpRequired]: step up, then retry with the same [IdempotencyRef]).
// The new user has no password: send an invite with [Session.SendInvite].
func (s *Session) CreateUser(ctx context.Context, in UserCreate, opts ...CallOption) (*User, error) {
	var out User
	if err := s.do(ctx, &call{op: "create user", method: http.MethodPost, path: "/multi/users", in: in, out: &out}, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListUsers returns one page of the identity's authorised users, oldest first
// (Weavr usersGet). Root users are not listed.
func (s *Session) ListUsers(ctx context.Context, f UserFilter) (*UserPage, error) {
	q := url.Values{}
	if f.Offset != 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Active != nil {
		q.Set("active", strconv.FormatBool(*f.Active))
	}
	if f.Email != "" {
		q.Set("email", f.Email)
	}
	if f.Tag != "" {
		q.Set("tag", f.Tag)
	}
	if f.Search != "" {
		q.Set("search", f.Search)
	}
	for _, r := range f.Roles {
		q.Add("roles", r)
	}
	var out UserPage
	if err := s.do(ctx, &call{op: "list users", method: http.MethodGet, path: "/multi/users", query: q, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUser returns one authorised user of the identity (Weavr userGetById);
// [ErrNotFound] for root users and users of other identities.
func (s *Session) GetUser(ctx context.Context, id string) (*User, error) {
	const op = "get user"
	path, err := userPath(op, id, "")
	if err != nil {
		return nil, err
	}
	var out User
	if err := s.do(ctx, &call{op: op, method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateUser changes the fields of p that are not nil (Weavr userUpdate).
// Changing the email or the mobile, granting ADMIN or taking every role away
// needs a stepped-up session; nobody can change their own roles. Changing
// another user's email, mobile or roles when they hold a permission the caller
// lacks, or granting one, is [ErrForbidden] RANK_INSUFFICIENT. Accepts [IdempotencyRef].
func (s *Session) UpdateUser(ctx context.Context, id string, p UserPatch, opts ...CallOption) (*User, error) {
	const op = "update user"
	path, err := userPath(op, id, "")
	if err != nil {
		return nil, err
	}
	var out User
	if err := s.do(ctx, &call{op: op, method: http.MethodPatch, path: path, in: p, out: &out}, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// ActivateUser lets a deactivated user sign in again and lifts a sign-in
// lockout (Weavr userActivate).
func (s *Session) ActivateUser(ctx context.Context, id string) error {
	const op = "activate user"
	path, err := userPath(op, id, "/activate")
	if err != nil {
		return err
	}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: path})
}

// DeactivateUser stops a user from signing in and ends their sessions (Weavr userDeactivate).
func (s *Session) DeactivateUser(ctx context.Context, id string) error {
	const op = "deactivate user"
	path, err := userPath(op, id, "/deactivate")
	if err != nil {
		return err
	}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: path})
}

// SendInvite emails the user an invite code to set their password with
// [Client.InviteConsume], replacing any earlier code (Weavr userInviteSend).
// A user who has a password is [ErrConflict] INVITE_ALREADY_CONSUMED.
// Accepts [IdempotencyRef].
func (s *Session) SendInvite(ctx context.Context, id string, opts ...CallOption) error {
	const op = "send invite"
	path, err := userPath(op, id, "/invite")
	if err != nil {
		return err
	}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: path}, opts...)
}

// ResetUserDevice is an admin's answer to a user's lost or stolen phone
// (Deputy extension): it unlinks the user's companion device, makes their SMS
// factor need enrolling again and ends their sessions and pending push
// challenges. It needs a stepped-up session ([ErrStepUpRequired]); acting on a
// user who holds a permission the caller lacks is [ErrForbidden]
// RANK_INSUFFICIENT. Resetting again is harmless. Accepts [IdempotencyRef].
func (s *Session) ResetUserDevice(ctx context.Context, id string, opts ...CallOption) error {
	const op = "reset user device"
	path, err := userPath(op, id, "/device/reset")
	if err != nil {
		return err
	}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: path}, opts...)
}

// UserStatus returns an authorised user's security state: email verified,
// password set, lockout, latest invite, KYC case and factors (Deputy
// userStatusGet).
func (s *Session) UserStatus(ctx context.Context, id string) (*UserStatus, error) {
	const op = "get user status"
	path, err := userPath(op, id, "/status")
	if err != nil {
		return nil, err
	}
	var out userStatusResponse
	if err := s.do(ctx, &call{op: op, method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, err
	}
	return out.status(), nil
}

// StartKYC opens a KYC case for the signed-in authorised user of a corporate
// and returns its reference (Weavr userKyc, acting on the token's user). The
// user's email must be verified and their SMS factor active ([ErrConflict]
// EMAIL_NOT_VERIFIED, MOBILE_NOT_VERIFIED); root users get [ErrForbidden].
func (s *Session) StartKYC(ctx context.Context) (string, error) {
	var out struct {
		Reference string `json:"reference"`
	}
	if err := s.do(ctx, &call{op: "start KYC", method: http.MethodPost, path: "/multi/users/kyc", out: &out}); err != nil {
		return "", err
	}
	return out.Reference, nil
}

// Roles lists the predefined roles a user can be given (Weavr rolesGet).
func (s *Session) Roles(ctx context.Context) ([]Role, error) {
	var out []Role
	if err := s.do(ctx, &call{op: "list roles", method: http.MethodGet, path: "/multi/roles", out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}

// Outbox reads the messages a sandbox server captured for this session's
// user (to their email address or mobile number), as the admin TUI does with
// the public ui key; the secret key alone reads every message of the programme
// ([Client.Outbox]). Outside sandbox mode it is [ErrNotFound].
func (s *Session) Outbox(ctx context.Context, limit int) ([]Message, error) {
	return outbox(ctx, s.do, limit)
}
