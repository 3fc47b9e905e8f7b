package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Calls made with the api key alone. Those acting on a user without that
// user's token are for the secret key; the server refuses the others.

type sensitive struct {
	Value string `json:"value"`
}

// LoginWithPassword signs a user in (Weavr loginWithPassword). A wrong email or
// password is [ErrForbidden] (code INVALID_CREDENTIALS); repeated failures lock
// the account ([ErrLocked], with RetryAfter).
func (c *Client) LoginWithPassword(ctx context.Context, email, password string) (*Login, error) {
	in := struct {
		Email    string    `json:"email"`
		Password sensitive `json:"password"`
	}{email, sensitive{password}}
	var out Login
	err := c.do(ctx, &call{op: "login", method: http.MethodPost, path: "/multi/login_with_password", in: in, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateCorporate creates a corporate and its root user (Weavr corporateCreate).
// The root user then sets a password with [Client.CreatePassword], using
// RootUser.ID.ID. Accepts [IdempotencyRef].
func (c *Client) CreateCorporate(ctx context.Context, in CorporateCreate, opts ...CallOption) (*Corporate, error) {
	var out Corporate
	err := c.do(ctx, &call{op: "create corporate", method: http.MethodPost, path: "/multi/corporates", in: in, out: &out}, opts...)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateConsumer creates a consumer and its root user (Weavr consumerCreate).
// Accepts [IdempotencyRef].
func (c *Client) CreateConsumer(ctx context.Context, in ConsumerCreate, opts ...CallOption) (*Consumer, error) {
	var out Consumer
	err := c.do(ctx, &call{op: "create consumer", method: http.MethodPost, path: "/multi/consumers", in: in, out: &out}, opts...)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreatePassword sets a user's first password and signs them in (Weavr
// passwordCreate). A rule the password breaks is [ErrConflict] with code
// PASSWORD_TOO_SHORT, PASSWORD_TOO_SIMPLE, ...
func (c *Client) CreatePassword(ctx context.Context, userID, password string) (*PasswordResult, error) {
	const op = "create password"
	id, err := pathID("user_id", userID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var out passwordResponse
	in := struct {
		Password sensitive `json:"password"`
	}{sensitive{password}}
	if err := c.do(ctx, &call{op: op, method: http.MethodPost, path: "/multi/passwords/" + id + "/create", in: in, out: &out}); err != nil {
		return nil, err
	}
	return &PasswordResult{Token: out.Token, IdentityID: out.PasswordInfo.IdentityID}, nil
}

// ValidatePassword checks a candidate password against the programme's rules
// without storing it (Weavr passwordValidate): nil when it would be accepted,
// [ErrConflict] naming the rule otherwise.
func (c *Client) ValidatePassword(ctx context.Context, password string) error {
	in := struct {
		Password sensitive `json:"password"`
	}{sensitive{password}}
	return c.do(ctx, &call{op: "validate password", method: http.MethodPost, path: "/multi/passwords/validate", in: in})
}

type emailRequest struct {
	Email string `json:"email"`
}

// LostPasswordStart emails a reset code to the user with this address, if there
// is one (Weavr lostPasswordInitiate). It succeeds for every well-formed address.
func (c *Client) LostPasswordStart(ctx context.Context, email string) error {
	return c.do(ctx, &call{op: "start password reset", method: http.MethodPost, path: "/multi/passwords/lost_password/start", in: emailRequest{email}})
}

// LostPasswordResume sets a new password with the emailed reset code (Weavr
// lostPasswordResume), ends the user's sessions and returns the token of a new one.
func (c *Client) LostPasswordResume(ctx context.Context, email, code, newPassword string) (string, error) {
	in := struct {
		Nonce       string    `json:"nonce"`
		Email       string    `json:"email"`
		NewPassword sensitive `json:"newPassword"`
	}{code, email, sensitive{newPassword}}
	var out tokenResponse
	if err := c.do(ctx, &call{op: "reset password", method: http.MethodPost, path: "/multi/passwords/lost_password/resume", in: in, out: &out}); err != nil {
		return "", err
	}
	return out.Token, nil
}

// InviteValidate checks an invite code without using it (Weavr
// userInviteValidate): nil when [Client.InviteConsume] would accept it. Wrong
// codes count towards voiding the invite.
func (c *Client) InviteValidate(ctx context.Context, userID, code string) error {
	const op = "validate invite"
	id, err := pathID("user_id", userID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	in := struct {
		InviteCode string `json:"inviteCode"`
	}{code}
	return c.do(ctx, &call{op: op, method: http.MethodPost, path: "/multi/users/" + id + "/invite/validate", in: in})
}

// InviteConsume accepts an invite: it sets the user's first password and, when
// mobile is not nil, their mobile number, and returns the token of a new
// session (Weavr userInviteConsume). Accepts [IdempotencyRef].
func (c *Client) InviteConsume(ctx context.Context, userID, code, password string, mobile *Mobile, opts ...CallOption) (string, error) {
	const op = "accept invite"
	id, err := pathID("user_id", userID)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	in := struct {
		InviteCode string    `json:"inviteCode"`
		Password   sensitive `json:"password"`
		Mobile     *Mobile   `json:"mobile,omitempty"`
	}{code, sensitive{password}, mobile}
	var out tokenResponse
	if err := c.do(ctx, &call{op: op, method: http.MethodPost, path: "/multi/users/" + id + "/invite/consume", in: in, out: &out}, opts...); err != nil {
		return "", err
	}
	return out.Token, nil
}

// EmailVerificationSend emails a verification code to the programme's users
// with this address (Weavr authorisedUserEmailVerificationCodeSend); no such
// user is [ErrConflict] EMAIL_NOT_FOUND. Accepts [IdempotencyRef].
func (c *Client) EmailVerificationSend(ctx context.Context, email string, opts ...CallOption) error {
	return c.do(ctx, &call{op: "send email verification", method: http.MethodPost, path: "/multi/users/verification/email/send", in: emailRequest{email}}, opts...)
}

// EmailVerify marks the address verified when the code matches (Weavr authorisedUserEmailVerify).
func (c *Client) EmailVerify(ctx context.Context, email, code string) error {
	in := struct {
		Email            string `json:"email"`
		VerificationCode string `json:"verificationCode"`
	}{email, code}
	return c.do(ctx, &call{op: "verify email", method: http.MethodPost, path: "/multi/users/verification/email/verify", in: in})
}

// Outbox returns the newest messages a sandbox server captured instead of
// sending them, newest first (Deputy sandboxOutboxGet); limit is 1..100, or 0
// for the server's default (100). Outside sandbox mode it is [ErrNotFound].
func (c *Client) Outbox(ctx context.Context, limit int) ([]Message, error) {
	return outbox(ctx, c.do, limit)
}

// outbox reads the sandbox outbox through do (key-level, or with a session's token).
func outbox(ctx context.Context, do func(context.Context, *call, ...CallOption) error, limit int) ([]Message, error) {
	var q url.Values
	if limit != 0 {
		q = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	var out outboxResponse
	if err := do(ctx, &call{op: "read outbox", method: http.MethodGet, path: "/multi/sandbox/outbox", query: q, out: &out}); err != nil {
		return nil, err
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, Message{Channel: m.Channel, To: m.To, Subject: m.Subject, Text: m.Text, CreatedAt: millis(m.CreatedAt)})
	}
	return msgs, nil
}

// AdvanceClock moves a sandbox server's clock forward by d, rounded up to whole
// seconds, and returns the server's new time (Deputy sandboxClockAdvance), so
// that expiries can be tested without waiting. The clock never moves back:
// a negative d is [ErrInvalid]. Outside sandbox mode it is [ErrNotFound].
func (c *Client) AdvanceClock(ctx context.Context, d time.Duration) (time.Time, error) {
	secs := int64(d / time.Second)
	if d > 0 && d%time.Second != 0 {
		secs++
	}
	in := struct {
		AdvanceSeconds int64 `json:"advanceSeconds"`
	}{secs}
	var out struct {
		Now int64 `json:"now"`
	}
	if err := c.do(ctx, &call{op: "advance sandbox clock", method: http.MethodPost, path: "/multi/sandbox/clock", in: in, out: &out}); err != nil {
		return time.Time{}, err
	}
	return millis(out.Now), nil
}

// SandboxDecideKYC approves or rejects a KYC case on a sandbox server, standing
// in for the provider's reviewer (Deputy sandboxKycDecide); status is
// [KYCApproved] or [KYCRejected], reference the one [Session.StartKYC] returned.
func (c *Client) SandboxDecideKYC(ctx context.Context, reference, status string) error {
	const op = "decide sandbox KYC"
	ref, err := pathID("reference", reference)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	in := struct {
		Status string `json:"status"`
	}{status}
	return c.do(ctx, &call{op: op, method: http.MethodPost, path: "/multi/sandbox/kyc/" + ref, in: in})
}

// Healthz is the liveness probe: nil while the server is serving requests.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, &call{op: "health check", method: http.MethodGet, path: "/healthz", noKey: true})
}

// Readyz is the readiness probe: nil when the server can reach its store,
// [ErrServer] (503) when it cannot.
func (c *Client) Readyz(ctx context.Context) error {
	return c.do(ctx, &call{op: "readiness check", method: http.MethodGet, path: "/readyz", noKey: true})
}
