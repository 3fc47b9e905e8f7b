package client

//go:generate go run ../../internal/gencodes -core ../../core -out codes.go

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error classes, matched with errors.Is against any error a method returns.
// Each is one HTTP status (or range) of the API's answers; [Error.Code] tells
// the cases of a class apart.
var (
	// ErrInvalid: 400, the request broke a syntactic rule (Error.Fields names
	// the fields), or an idempotency-ref was reused with different input.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized: 401, the api key is unknown, or the session token is
	// missing, expired or revoked: sign in again.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: 403 other than a step-up demand: the caller may not do this
	// (INSUFFICIENT_PERMISSIONS), may not act on that user (RANK_INSUFFICIENT),
	// or a sign-in failed (INVALID_CREDENTIALS).
	ErrForbidden = errors.New("forbidden")
	// ErrStepUpRequired: 403 STEP_UP_REQUIRED, the operation needs a session
	// that has just passed a second-factor challenge: step up and retry.
	ErrStepUpRequired = errors.New("step-up required")
	// ErrNotFound: 404, the resource does not exist or is not visible to the caller.
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, the current state does not allow the operation;
	// Error.Code says why (EMAIL_NOT_UNIQUE, VERIFICATION_CODE_INVALID, ...).
	ErrConflict = errors.New("conflict")
	// ErrLocked: 423, the account is locked after failed sign-ins; Error.RetryAfter says for how long.
	ErrLocked = errors.New("locked")
	// ErrRateLimited: 429, too many calls; Error.RetryAfter says when to come back.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: 5xx, the server failed; its log has the details under Error.RequestRef.
	ErrServer = errors.New("server error")
)

// FieldError names one invalid field of a 400 answer (Weavr InvalidField).
type FieldError struct {
	Field  string   // JSON path of the field ("rootUser.email") or a header name ("api-key")
	Reason string   // the rule it breaks: REQUIRED, SIZE, RANGE, IN, NOT_IN, REGEX, ...
	Params []string // the rule's arguments, such as the bounds of SIZE or the values of IN
}

// Error is a failed API call: the server answered with a status outside 2xx.
// It is the one place that maps HTTP answers back to Go errors; match its class
// with errors.Is (ErrNotFound, ErrStepUpRequired, ...) and read the details
// with errors.As. Its text is meant for people and never contains a request
// body, a password, a code or a token.
type Error struct {
	Status     int           // HTTP status
	Code       string        // machine code: the body's errorCode or code ("EMAIL_NOT_UNIQUE", "UNAUTHORIZED"); may be empty
	Message    string        // the server's explanation, when it gave one
	Fields     []FieldError  // the invalid fields of a 400
	RetryAfter time.Duration // from the Retry-After header (423, 429, some 409s); 0 when absent
	RequestRef string        // the request-ref header: quote it when reporting a problem
	// Operation is the operation an [ErrStepUpRequired] answer names when the
	// programme binds step-ups to operations (stepUpScope OPERATION): step up
	// with [ForOperation], then repeat the call unchanged. nil otherwise.
	Operation *StepUpOperation
}

// StepUpOperation is an operation a step-up must name: Summary is what the
// user will be shown (by text or on the phone), Reference what the step-up sends.
type StepUpOperation struct {
	Summary   string
	Reference string
}

// ForOperation binds a step-up ([Session.StepUpSMS], [Session.StepUpPush])
// to the operation whose reference an [ErrStepUpRequired] answer gave
// ([Error.Operation]): the code or the approval then authorises that
// operation alone, once. Other calls ignore it.
func ForOperation(reference string) CallOption {
	return func(c *call) { c.operation = reference }
}

// StepUpFor is [ForOperation] for the operation that err, an
// [ErrStepUpRequired] answer, names; when it names none (the programme
// steps sessions up) the step-up is the session's.
func StepUpFor(err error) CallOption {
	var e *Error
	if errors.As(err, &e) && e.Operation != nil {
		return ForOperation(e.Operation.Reference)
	}
	return ForOperation("")
}

// Is reports whether e belongs to the class target (one of the Err* sentinels).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.Status == http.StatusBadRequest
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden && e.Code != CodeStepUpRequired
	case ErrStepUpRequired:
		return e.Status == http.StatusForbidden && e.Code == CodeStepUpRequired
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrLocked:
		return e.Status == http.StatusLocked
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrServer:
		return e.Status >= 500 && e.Status <= 599
	}
	return false
}

// Error describes the failure in a sentence fragment: "step-up required",
// "user not found", "invalid field email (REGEX)", "email not unique".
func (e *Error) Error() string {
	var b strings.Builder
	msg := sentence(e.Message)
	switch {
	case e.Status == http.StatusForbidden && e.Code == CodeStepUpRequired:
		b.WriteString("step-up required")
	case len(e.Fields) > 0:
		if len(e.Fields) == 1 {
			b.WriteString("invalid field ")
		} else {
			b.WriteString("invalid fields ")
		}
		for i, f := range e.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%s)", f.Field, f.Reason)
		}
	case msg != "": // a message of only spaces and a full stop says nothing
		b.WriteString(msg)
	case e.Code != "":
		b.WriteString(strings.ToLower(strings.ReplaceAll(e.Code, "_", " ")))
	case http.StatusText(e.Status) != "":
		b.WriteString(strings.ToLower(http.StatusText(e.Status)))
	default:
		fmt.Fprintf(&b, "HTTP status %d", e.Status)
	}
	if e.RetryAfter > 0 && (e.Status == http.StatusLocked || e.Status == http.StatusTooManyRequests) {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	if e.Status >= 500 && e.RequestRef != "" {
		fmt.Fprintf(&b, " (request-ref %s)", e.RequestRef)
	}
	return b.String()
}

// sentence turns the server's message into an error-string fragment: first
// letter lower-cased unless it starts an acronym, no final full stop.
func sentence(msg string) string {
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	r, n := utf8.DecodeRuneInString(msg)
	if next, _ := utf8.DecodeRuneInString(msg[n:]); unicode.IsUpper(r) && !unicode.IsUpper(next) {
		msg = string(unicode.ToLower(r)) + msg[n:]
	}
	return msg
}

// errorBody is the union of the API's error bodies: Weavr's BadRequestError,
// the errorCode bodies of 403 and 409, and the code/message Error.
type errorBody struct {
	Code      string `json:"code"`
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
	Operation *struct {
		Summary   string `json:"summary"`
		Reference string `json:"reference"`
	} `json:"operation"`
	SyntaxErrors *struct {
		InvalidFields []struct {
			FieldName string   `json:"fieldName"`
			Error     string   `json:"error"`
			Params    []string `json:"params"`
		} `json:"invalidFields"`
	} `json:"syntaxErrors"`
}

// fromResponse builds the *Error of a non-2xx answer. A body that is not one of
// the API's error shapes (a proxy's HTML page, say) is ignored, never quoted.
func fromResponse(res *http.Response, data []byte, now time.Time) *Error {
	e := &Error{Status: res.StatusCode, RequestRef: res.Header.Get("request-ref"), RetryAfter: retryAfter(res.Header.Get("Retry-After"), now)}
	e.readBody(data)
	return e
}

// readBody fills e's code, message and fields from an error body.
func (e *Error) readBody(data []byte) {
	var b errorBody
	if json.Unmarshal(data, &b) != nil {
		return
	}
	e.Code, e.Message = b.ErrorCode, b.Message
	if e.Code == "" {
		e.Code = b.Code
	}
	if b.Operation != nil && e.Code == CodeStepUpRequired {
		e.Operation = &StepUpOperation{Summary: b.Operation.Summary, Reference: b.Operation.Reference}
	}
	if b.SyntaxErrors != nil {
		for _, f := range b.SyntaxErrors.InvalidFields {
			e.Fields = append(e.Fields, FieldError{Field: f.FieldName, Reason: f.Error, Params: f.Params})
		}
	}
}

// maxRetryAfter bounds a Retry-After delay, so absurd values cannot overflow.
const maxRetryAfter = 366 * 24 * time.Hour

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// localInvalid is a 400-class error found before any request was sent (an
// argument that cannot form a valid request); RequestRef is empty.
func localInvalid(field, reason string, params ...string) *Error {
	return &Error{Status: http.StatusBadRequest, Fields: []FieldError{{Field: field, Reason: reason, Params: params}}}
}
