package tui

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deputyhq/deputy/server/client"
)

// hostile is text that would drive the admin's terminal if it reached it
// as it is: a clipboard write (OSC 52), a screen clear, an 8-bit CSI, a
// right-to-left override and a line break that fakes a row. The API refuses
// it in new input; text stored before the rules, or by another path, may
// still hold it.
const hostile = "Eve\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\u009b31m\u202egnp.exe\nAdmin"

// requireNoRawControl fails when the frame holds any part of hostile as it is.
func requireNoRawControl(t *testing.T, d *driver, where string) {
	t.Helper()
	frame := d.m.View().Content
	for _, bad := range []string{"\x1b]52", "\x1b[2J", "\u009b", "\u202e", "\x07", "gnp.exe\nAdmin"} {
		if strings.Contains(frame, bad) {
			t.Fatalf("%s: the frame holds %q as it is:\n%q", where, bad, frame)
		}
	}
}

// TestServerTextIsEscaped: names, emails, tags, security events, outbox
// messages and error messages from the server reach the terminal with their
// control characters and bidi overrides escaped, never as they are.
func TestServerTextIsEscaped(t *testing.T) {
	d := offlineDriver(t, 120, 30)
	d.signInAs(hostile, hostile)
	u := client.User{ID: "101", Identity: client.IdentityID{Type: client.IdentityCorporate, ID: "1"},
		Name: hostile, Surname: hostile, Email: "eve@acme.test", Tag: hostile,
		Mobile: &client.Mobile{CountryCode: "+44", Number: hostile}, Active: true,
		CountryOfResidence: hostile, Locale: hostile, Brand: hostile}
	d.answer("list users", usersPageMsg{seq: 1, page: &client.UserPage{Users: []client.User{u}, Count: 1, ResponseCount: 1}})
	requireNoRawControl(t, d, "users table")

	d.keys("enter")
	d.answer("read user eve@acme.test", detailMsg{user: &u, status: &client.UserStatus{KYC: &client.KYCStatus{Status: "PENDING", Reference: hostile}}})
	requireNoRawControl(t, d, "user details")

	d.keys("s")
	at := time.Date(2026, 3, 14, 9, 29, 0, 0, time.UTC).UnixMilli()
	d.answer("read the security events of eve@acme.test", eventsMsg{page: &client.SecurityEventPage{Events: []client.SecurityEvent{
		{ID: "Wv3Xq1cHk9aZ0bLmN2oPqA", Timestamp: at, Action: hostile, Actor: hostile, RequestRef: hostile, Details: map[string]string{hostile: hostile}},
	}}})
	requireNoRawControl(t, d, "security events")

	d.keys("esc", "esc", "o")
	d.answer("read the outbox", outboxMsg{msgs: []client.Message{{Channel: "EMAIL", To: hostile, Subject: hostile, Text: hostile, CreatedAt: time.Unix(0, at*int64(time.Millisecond))}}})
	requireNoRawControl(t, d, "outbox")

	d.keys("esc", "ctrl+r")
	d.answer("list users", usersPageMsg{outcome: outcome{&client.Error{Status: http.StatusConflict, Message: hostile}}, seq: 2})
	requireNoRawControl(t, d, "error from the server")
}

// TestStepUpSummaryIsEscaped: the server's words for an operation a step-up
// approves are shown escaped in the modal.
func TestStepUpSummaryIsEscaped(t *testing.T) {
	d := signedIn(t, 100, 30)
	newUser(d)
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s")
	d.answer("create user grace@acme.test with roles CARD_ASSIGNEE", savedMsg{outcome: outcome{&client.Error{
		Status: http.StatusForbidden, Code: client.CodeStepUpRequired,
		Operation: &client.StepUpOperation{Summary: hostile, Reference: "op_1"},
	}}})
	d.answer("check your second factors", stepUpFactorsMsg{factors: []client.Factor{{Type: client.FactorTypeOTP, Channel: client.ChannelSMS, Status: client.FactorActive}}})
	d.requireScreen("Confirm it's you")
	requireNoRawControl(t, d, "step-up modal")
}

// TestServerFieldErrorsAreEscaped: a 400's field names, reasons and
// parameters are the server's words too; the form and the import show them
// escaped.
func TestServerFieldErrorsAreEscaped(t *testing.T) {
	refusal := &client.Error{Status: http.StatusBadRequest, Fields: []client.FieldError{
		{Field: "email", Reason: client.ReasonIn, Params: []string{hostile}},
		{Field: "email", Reason: hostile},
		{Field: hostile, Reason: hostile, Params: []string{hostile}},
	}}
	d := signedIn(t, 100, 30)
	newUser(d)
	d.fillUser("Grace", "Hopper", "grace@acme.test")
	d.keys("ctrl+s")
	d.answer("create user grace@acme.test with roles CARD_ASSIGNEE", savedMsg{outcome: outcome{refusal}})
	d.requireScreen("The server refused")
	requireNoRawControl(t, d, "form")

	d.keys("esc", "y", "b")
	d.update(importSubmittedMsg{outcome: outcome{refusal}})
	d.requireScreen("Nothing was imported")
	requireNoRawControl(t, d, "import")
}
