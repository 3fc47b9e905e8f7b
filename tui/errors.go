package tui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/deputyhq/deputy/server/client"
)

// codeText gives the machine codes the admin can meet a sentence of their
// own; the client's text serves for the others.
func codeText(code string) (string, bool) {
	switch code {
	case client.CodeEmailNotUnique:
		return "a user with this email already exists", true
	case client.CodeMobileOrCountryCodeInvalid:
		return "no mobile has this country code and number; check both", true
	case client.CodeInsufficientPermissions:
		return "you do not have permission to do this", true
	case client.CodeRankInsufficient:
		return "this user holds permissions you do not hold; ask someone who holds them all", true
	case client.CodeInvalidCredentials:
		return "wrong email or password", true
	case client.CodeInviteAlreadyConsumed:
		return "the user has already accepted an invite and set a password", true
	case client.CodeMobileNotAvailable:
		return "your account has no mobile number to text a code to", true
	case client.CodeChannelAlreadyActive:
		return "your SMS factor is already active", true
	case client.CodeChannelNotRegistered:
		return "you have no active SMS factor", true
	case client.CodeCodeInvalid:
		return "wrong code", true
	case client.CodeCodeExpired:
		return "the code has expired; ask for a new one", true
	case client.CodeOneChallengeLimitRemain:
		return "wrong code; one attempt left", true
	case client.CodeChallengeLimitExceeded:
		return "too many wrong codes; ask for a new one", true
	case client.CodeRetryIn15Sec:
		return "a code was sent moments ago; wait before asking again", true
	case client.CodeStateInvalid:
		return "there is no code waiting to be checked; ask for a new one", true
	case client.CodeCredentialsInactive:
		return "the account is deactivated", true
	case client.CodeUserInactive:
		return "the user is deactivated; activate them (a) first", true
	case client.CodeCannotModifyOwnRoles:
		return "nobody changes their own roles; ask another admin", true
	case client.CodeAdminRoleRemoval:
		return "this user is the last active admin; make someone else an admin first", true
	}
	return "", false
}

// describe turns a call's error into a sentence fragment for the admin: never
// a stack trace, never a raw HTTP dump, and what the server said in it
// escaped (shown).
func describe(err error) string { return esc(describeErr(err)) }

func describeErr(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		if text, ok := codeText(ae.Code); ok {
			return text
		}
		switch {
		case errors.Is(ae, client.ErrLocked):
			if ae.RetryAfter > 0 {
				return "the account is locked after too many failed sign-ins; try again in " + humanDuration(ae.RetryAfter)
			}
			return "the account is locked after too many failed sign-ins"
		case errors.Is(ae, client.ErrRateLimited):
			if ae.RetryAfter > 0 {
				return "too many requests; try again in " + humanDuration(ae.RetryAfter)
			}
			return "too many requests; try again shortly"
		case errors.Is(ae, client.ErrServer):
			if ae.RequestRef != "" {
				return fmt.Sprintf("the server failed (HTTP %d, request-ref %s)", ae.Status, ae.RequestRef)
			}
			return fmt.Sprintf("the server failed (HTTP %d)", ae.Status)
		case errors.Is(ae, client.ErrUnauthorized):
			return "the server refused the credentials (session ended or api key unknown)"
		case errors.Is(ae, client.ErrNotFound):
			return "not found"
		}
		return ae.Error()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the server did not answer in time"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "cannot reach the server (connection refused)"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot reach the server (unknown host " + dnsErr.Name + ")"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		if netErr.Timeout() {
			return "the server did not answer in time"
		}
		return "cannot reach the server (" + lastPart(err.Error()) + ")"
	}
	return lastPart(err.Error())
}

// lastPart drops the "operation: " prefixes of a wrapped error's text.
func lastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// humanDuration renders d for people: "29m 12s", "45s", "2h 5m".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}

// fieldError is what a form shows under a field for a client.FieldError.
// The reason and its parameters may be the server's words: shown escaped.
func fieldError(f client.FieldError) string { return esc(fieldErrorText(f)) }

// fieldLine is "field: what is wrong with it", for a field the screen has
// no place of its own for; the name is the server's, shown escaped.
func fieldLine(f client.FieldError) string { return esc(f.Field) + ": " + fieldError(f) }

func fieldErrorText(f client.FieldError) string {
	switch f.Reason {
	case client.ReasonRequired:
		return "required"
	case client.ReasonSize:
		if len(f.Params) == 2 {
			return fmt.Sprintf("must be %s to %s characters", f.Params[0], f.Params[1])
		}
		return "wrong length"
	case client.ReasonRegex:
		switch f.Field {
		case "email":
			return "not a valid email address"
		case "tag":
			return "letters, digits, _ and - only"
		case "mobile.countryCode":
			return "+ and 1 to 3 digits, e.g. +44"
		case "mobile.number":
			return "1 to 12 digits"
		}
		return "wrong format"
	case client.ReasonIn:
		return "must be one of " + strings.Join(f.Params, ", ")
	}
	return strings.ToLower(strings.ReplaceAll(f.Reason, "_", " "))
}
