package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deputyhq/deputy/core"
)

// Error bodies, in Weavr's shapes.
type (
	invalidField struct {
		FieldName string   `json:"fieldName"`
		Error     string   `json:"error"`
		Params    []string `json:"params,omitempty"`
	}
	syntaxErrors struct {
		InvalidFields []invalidField `json:"invalidFields"`
	}
	badRequestBody struct {
		Message      string        `json:"message"`
		SyntaxErrors *syntaxErrors `json:"syntaxErrors,omitempty"`
	}
	errorCodeBody struct {
		ErrorCode string `json:"errorCode"`
	}
	// stepUpBody is Weavr's 403 {"errorCode":"STEP_UP_REQUIRED"} with a
	// message beside it: Weavr's reference app looks for one before routing
	// to its step-up screen. Under an operation-bound step-up it names the
	// operation (Deputy extension).
	stepUpBody struct {
		ErrorCode string         `json:"errorCode"`
		Message   string         `json:"message"`
		Operation *operationJSON `json:"operation,omitempty"`
	}
	// operationJSON is the operation a step-up must name: what to show,
	// and the reference to send to the step-up.
	operationJSON struct {
		Summary   string `json:"summary"`
		Reference string `json:"reference"`
	}
	errorBody struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
)

// writeError is the one place that maps errors to HTTP (GUIDE convention 3).
// Unknown errors are 500 and logged with the request-ref; their text never
// reaches the caller.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := toHTTP(err)
	var ce *core.Error
	if errors.As(err, &ce) {
		if ce.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(ce.RetryAfter))
		}
		if errors.Is(err, core.ErrRateLimited) {
			w.Header().Set("x-ratelimit-limit", rateLimitHeader(ce))
			w.Header().Set("x-ratelimit-reset", retryAfter(ce.RetryAfter))
		}
	}
	if status >= http.StatusInternalServerError && !errors.Is(err, errBulkBodiesBusy) { // 500, and 503 for a full disk: operators must see both; a busy moment they need not
		s.log.ErrorContext(r.Context(), "request failed", slog.String("request_ref", core.RequestRef(r.Context())), slog.String("error", err.Error()))
	}
	writeJSON(w, status, body)
}

// retryAfter writes a delay in whole seconds, rounded up (Retry-After, RFC 9110 §10.2.3).
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(d.Seconds() + 0.999))
}

// maxBadRequestMessage is the longest message of a 400 the API description
// allows: messages quote the client's field names, which can be longer.
const maxBadRequestMessage = 255

// capMessage cuts message to maxBadRequestMessage characters, ending it with "…" when cut.
func capMessage(message string) string {
	if utf8.RuneCountInString(message) <= maxBadRequestMessage {
		return message
	}
	return string([]rune(message)[:maxBadRequestMessage-1]) + "…"
}

// stepUpMessage is the message of every STEP_UP_REQUIRED answer.
const stepUpMessage = "Step-up required: verify a step-up challenge in this session, then retry."

// operationStepUpMessage is the message of a STEP_UP_REQUIRED answer that
// names its operation.
const operationStepUpMessage = "Step-up required: verify a step-up challenge for this operation (its reference in the challenge's body), then retry it unchanged."

// toHTTP maps an error to its status and body.
func toHTTP(err error) (int, any) {
	var ce *core.Error
	errors.As(err, &ce)
	code := func(fallback string) string {
		if ce != nil && ce.Code != "" {
			return ce.Code
		}
		return fallback
	}
	msg := func(fallback string) string {
		if ce != nil && ce.Message != "" {
			return ce.Message
		}
		return fallback
	}
	switch {
	case errors.Is(err, core.ErrInvalid):
		body := badRequestBody{Message: msg("Bad request: the request is invalid.")}
		if ce != nil && len(ce.Fields) > 0 {
			body.SyntaxErrors = &syntaxErrors{}
			for _, f := range ce.Fields {
				body.SyntaxErrors.InvalidFields = append(body.SyntaxErrors.InvalidFields, invalidField{FieldName: f.Field, Error: f.Reason, Params: f.Params})
			}
			if ce.Message == "" {
				body.Message = "Bad request: invalid field " + ce.Fields[0].Field + " (" + ce.Fields[0].Reason + ")."
			}
		}
		body.Message = capMessage(body.Message)
		return http.StatusBadRequest, body
	case errors.Is(err, core.ErrUnauthenticated):
		return http.StatusUnauthorized, errorBody{Code: core.CodeUnauthorized, Message: msg("Your credentials or access token are invalid.")}
	case errors.Is(err, core.ErrInvalidCredentials):
		return http.StatusForbidden, errorBody{Code: core.CodeInvalidCredentials, Message: "The credentials are not found or are incorrect."}
	case errors.Is(err, core.ErrStepUpRequired):
		body := stepUpBody{ErrorCode: core.CodeStepUpRequired, Message: stepUpMessage}
		if ce != nil && ce.Operation != nil {
			body.Message = operationStepUpMessage
			body.Operation = &operationJSON{Summary: ce.Operation.Summary, Reference: ce.Operation.Reference}
		}
		return http.StatusForbidden, body
	case errors.Is(err, core.ErrPermissionDenied):
		return http.StatusForbidden, errorCodeBody{ErrorCode: code(core.CodeInsufficientPermissions)}
	case errors.Is(err, core.ErrNotFound):
		return http.StatusNotFound, errorBody{Code: core.CodeNotFound, Message: msg("The requested resource could not be found.")}
	case errors.Is(err, core.ErrTokenNotFound):
		// Weavr answers an expired token with 410 TokenExpired, any other with 404 NotFoundToken.
		if code("") == core.CodeTokenExpired {
			return http.StatusGone, errorCodeBody{ErrorCode: core.CodeTokenExpired}
		}
		return http.StatusNotFound, errorCodeBody{ErrorCode: code(core.CodeTokenNotFound)}
	case errors.Is(err, core.ErrConflict):
		return http.StatusConflict, errorCodeBody{ErrorCode: code(core.CodeConflict)}
	case errors.Is(err, core.ErrLocked):
		return http.StatusLocked, errorBody{Code: core.CodeLocked, Message: "The account is temporarily locked after consecutive failed attempts."}
	case errors.Is(err, core.ErrRateLimited):
		return http.StatusTooManyRequests, errorBody{Code: core.CodeTooManyRequests, Message: "Too many requests: retry later."}
	case errors.Is(err, core.ErrUnavailable):
		return http.StatusServiceUnavailable, errorBody{Code: core.CodeServiceUnavailable, Message: msg("The service is unavailable; retry later.")}
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, errorBody{Code: core.CodePayloadTooLarge, Message: "The request body is too large."}
	case errors.Is(err, errRefTooLong):
		return http.StatusRequestEntityTooLarge, errorBody{Code: core.CodePayloadTooLarge, Message: fmt.Sprintf("The idempotency-ref header is longer than %d characters.", maxIdempotencyRef)}
	case errors.Is(err, errRouteNotFound):
		return http.StatusNotFound, errorBody{Code: core.CodeNotFound, Message: "No such endpoint."}
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, errorBody{Code: core.CodeMethodNotAllowed, Message: "This endpoint does not accept that method."}
	default:
		return http.StatusInternalServerError, errorBody{Code: core.CodeInternalError, Message: "There is a problem with the server. Please try again later."}
	}
}

// rateLimitHeader is Weavr's x-ratelimit-limit: the limit that was exceeded,
// then every limit in force as requests;w=windowSeconds ("3, 3;w=60, 600;w=60").
func rateLimitHeader(ce *core.Error) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(ce.Limit))
	for _, l := range ce.Limits {
		fmt.Fprintf(&b, ", %d;w=%d", l.Requests, int64(l.Window/time.Second))
	}
	return b.String()
}

var (
	errBodyTooLarge     = errors.New("request body too large")
	errRefTooLong       = errors.New("idempotency-ref too long")
	errRouteNotFound    = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
)
