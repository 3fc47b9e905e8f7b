package client

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzErrorResponse feeds the error mapping arbitrary answers, the client's
// trust boundary: it must never panic, must keep the status and must never
// quote a body that is not one of the API's error shapes.
func FuzzErrorResponse(f *testing.F) {
	f.Add(400, `{"message":"Bad request.","syntaxErrors":{"invalidFields":[{"fieldName":"email","error":"REGEX","params":["email"]}]}}`, "")
	f.Add(403, `{"errorCode":"STEP_UP_REQUIRED"}`, "")
	f.Add(423, `{"code":"LOCKED","message":"The account is temporarily locked."}`, "1800")
	f.Add(429, `{"code":"TOO_MANY_REQUESTS","message":"Too many requests: retry later."}`, "Wed, 21 Oct 2065 07:28:00 GMT")
	f.Add(502, `<html>SECRET</html>`, "-5")
	f.Add(500, `{"message":"É"}`, "99999999999999999999")
	f.Fuzz(func(t *testing.T, status int, body, retry string) {
		res := &http.Response{StatusCode: status, Header: http.Header{}}
		res.Header.Set("Retry-After", retry)
		now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		e := fromResponse(res, []byte(body), now)
		if e.Status != status {
			t.Fatalf("status %d, want %d", e.Status, status)
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("RetryAfter %v out of range", e.RetryAfter)
		}
		msg := e.Error()
		if msg == "" {
			t.Fatal("empty error text")
		}
		if !strings.HasPrefix(strings.TrimSpace(body), "{") && strings.Contains(msg, "SECRET") && !strings.Contains(http.StatusText(status), "SECRET") {
			t.Fatalf("error text %q quotes a non-JSON body", msg)
		}
	})
}
