package core

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error classes: the small, fixed set every core error belongs to. The HTTP
// layer maps each class to one status; callers match them with errors.Is.
var (
	// ErrInvalid: the request breaks a syntactic rule; Fields names what.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnauthenticated: missing, unknown, expired or revoked credentials (key or token).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrInvalidCredentials: a sign-in that failed; deliberately says no more.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrPermissionDenied: authenticated, but the caller may not do this.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrStepUpRequired: allowed only in a session that passed a second factor.
	ErrStepUpRequired = errors.New("step-up required")
	// ErrNotFound: the thing does not exist or is not visible to the caller.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the current state does not allow the operation (409).
	ErrConflict = errors.New("conflict")
	// ErrLocked: the account is temporarily locked after failed attempts.
	ErrLocked = errors.New("locked")
	// ErrRateLimited: too many requests; RetryAfter says when to come back.
	ErrRateLimited = errors.New("rate limited")
	// ErrTokenNotFound: a one-time token (password token, reset) is unknown or spent.
	ErrTokenNotFound = errors.New("token not found")
	// ErrUnavailable: the service cannot do this for now (its store is out of
	// space); RetryAfter says when to come back.
	ErrUnavailable = errors.New("unavailable")
)

// FieldError names one invalid field in Weavr's terms: Reason is one of the
// Reason* constants (BadRequestError.invalidFields).
type FieldError struct {
	Field  string
	Reason string
	Params []string
}

// Error is a classified core error with a stable machine code.
type Error struct {
	Class      error        // one of the Err* classes above
	Code       string       // stable machine code, e.g. EMAIL_NOT_UNIQUE; empty when the class says it all
	Fields     []FieldError // for ErrInvalid
	Message    string       // human text, safe to show (never contains secrets)
	RetryAfter time.Duration
	Limit      int         // for ErrRateLimited: the limit that was hit
	Limits     []RateLimit // for ErrRateLimited: every limit in force for the action
	// Operation, for ErrStepUpRequired under StepUpOperation: the operation
	// that a step-up must name.
	Operation *PendingOperation
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Class.Error())
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, " [%s %s]", f.Field, f.Reason)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, core.ErrConflict) work.
func (e *Error) Unwrap() error { return e.Class }

// Conflict is a 409-class error with a machine code.
func Conflict(code string) *Error { return &Error{Class: ErrConflict, Code: code} }

// Forbidden is a permission-denied error with a machine code.
func Forbidden(code string) *Error { return &Error{Class: ErrPermissionDenied, Code: code} }

// Why a field is invalid (FieldError.Reason), in Weavr's terms; Params give the
// rule's arguments.
const (
	// ReasonRequired: the field is missing or blank.
	ReasonRequired = "REQUIRED"
	// ReasonSize: a length outside Params' [min, max].
	ReasonSize = "SIZE"
	// ReasonRange: a number outside Params' [min, max].
	ReasonRange = "RANGE"
	// ReasonIn: a value not among Params (for a JSON type error, the type wanted).
	ReasonIn = "IN"
	// ReasonNotIn: a field the request may not carry.
	ReasonNotIn = "NOT_IN"
	// ReasonRegex: a string not matching the pattern in Params, when it has one.
	ReasonRegex = "REGEX"
	// ReasonAtLeast and ReasonAtMost: a number or count beyond Params' bound.
	ReasonAtLeast = "AT_LEAST"
	ReasonAtMost  = "AT_MOST"
	// ReasonURL: a webhook address that is no absolute http(s) URL.
	ReasonURL = "URL"
	// ReasonHTTPSRequired: a webhook address that is not https outside sandbox.
	ReasonHTTPSRequired = "HTTPS_REQUIRED"
	// ReasonURLQuery: a webhook address with a query, which the event's path
	// would follow and whose tokens the audit log and listings would keep:
	// the signatures authenticate the requests instead.
	ReasonURLQuery = "URL_QUERY"
	// ReasonPrivateAddress: a webhook address on a loopback or private network.
	ReasonPrivateAddress = "PRIVATE_ADDRESS"
	// ReasonUnresolved: a webhook host name that does not resolve.
	ReasonUnresolved = "UNRESOLVED"
)

// Invalid is a bad-request error naming one field.
func Invalid(field, reason string, params ...string) *Error {
	return &Error{Class: ErrInvalid, Fields: []FieldError{{Field: field, Reason: reason, Params: params}}}
}

// NotFound says the named thing does not exist for the caller.
func NotFound(what string) *Error { return &Error{Class: ErrNotFound, Message: what + " not found"} }

// StepUpRequired is the typed step-up error: clients show a challenge and retry.
func StepUpRequired() *Error { return &Error{Class: ErrStepUpRequired, Code: CodeStepUpRequired} }

// CodeOf returns the machine code of err, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Machine codes shared with Weavr's API.
const (
	CodeStepUpRequired          = "STEP_UP_REQUIRED"
	CodeInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	CodePasswordTooShort        = "PASSWORD_TOO_SHORT"
	CodePasswordTooLong         = "PASSWORD_TOO_LONG"
	CodePasswordTooSimple       = "PASSWORD_TOO_SIMPLE"
	CodePasswordAlreadyUsed     = "PASSWORD_ALREADY_USED"
	CodePasswordAlreadyCreated  = "PASSWORD_ALREADY_CREATED"
	CodePasswordIncorrect       = "PASSWORD_INCORRECT"
	CodeInvalidNonceOrEmail     = "INVALID_NONCE_OR_EMAIL"
	CodeRootEmailNotUnique      = "ROOT_EMAIL_NOT_UNIQUE"
	CodeEmailNotUnique          = "EMAIL_NOT_UNIQUE"
	CodeTokenNotFound           = "TOKEN_NOT_FOUND"
	CodeTokenExpired            = "TOKEN_EXPIRED"
	CodePasswordNotSet          = "PASSWORD_NOT_SET"
	CodeIdempotencyInFlight     = "IDEMPOTENCY_REF_IN_FLIGHT"
)

// CodeProgrammeNameNotUnique refuses a second programme of the same name
// (deputy programme create; not an API answer).
const CodeProgrammeNameNotUnique = "PROGRAMME_NAME_NOT_UNIQUE"

// CodeWebhookLimit refuses a programme's endpoint past MaxWebhooks
// (deputy programme webhooks add; not an API answer).
const CodeWebhookLimit = "WEBHOOK_LIMIT_EXCEEDED"

// Machine codes of the classes without a case of their own: the code of the
// generic Error body, one per class (server/errors.go picks it).
const (
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	CodeNotFound           = "NOT_FOUND"
	CodeConflict           = "CONFLICT"
	CodeLocked             = "LOCKED"
	CodeTooManyRequests    = "TOO_MANY_REQUESTS"
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	CodePayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeInternalError      = "INTERNAL_ERROR"
)
