package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// discardSender drops every message: the fuzz target reads no outbox.
type discardSender struct{}

func (discardSender) SendSMS(context.Context, core.SMS) error     { return nil }
func (discardSender) SendEmail(context.Context, core.Email) error { return nil }

// FuzzVerifyBody sends arbitrary bodies to both OTP verify endpoints
// (enrolDeviceUsingOtpStepTwo, stepupSCAVerify) through the whole handler stack,
// each time against a fresh pending challenge. No body may cause a 5xx or a
// response the OpenAPI description does not allow, and only the right code may
// be accepted.
func FuzzVerifyBody(f *testing.F) {
	for _, s := range []string{
		`{"verificationCode":"123456"}`,
		`{"verificationCode":"000000"}`,
		`{"verificationCode":"12345"}`,
		`{"verificationCode":"1234567"}`,
		`{"verificationCode":"12345a"}`,
		`{"verificationCode":"١٢٣٤٥٦"}`,
		`{"verificationCode":"123456\n"}`,
		`{"verificationCode":123456}`,
		`{"verificationCode":1e400}`,
		`{"verificationCode":null}`,
		`{"verificationCode":["123456"]}`,
		`{"verificationCode":{"value":"123456"}}`,
		`{"verificationCode":"000000","verificationCode":"123456"}`,
		`{"VerificationCode":"123456"}`,
		`{"verificationCode":"123456","x":1}`,
		`{"verificationCode":"123456"} {}`,
		`{"verificationCode":"\u0031\u0032\u0033\u0034\u0035\u0036"}`,
		`{"verificationCode":"\ud800"}`,
		"{\"verificationCode\":\"\xff\xfe\"}",
		`{}`, `[]`, `null`, `"123456"`, `{`, ``, ` `, strings.Repeat("[", 10000),
	} {
		f.Add([]byte(s))
	}

	store, err := boltstore.Open(filepath.Join(f.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(f, err)
	f.Cleanup(func() { store.Close() })
	clock := core.NewOffsetClock(nil)
	cfg := core.Config{Sandbox: true, PasswordParams: testParams, SCAFailureLimit: 1 << 30}
	ctx := context.Background()
	svc, err := core.New(ctx, cfg, store, core.Senders{SMS: discardSender{}, Email: discardSender{}}, clock)
	require.NoError(f, err)
	h, err := server.New(svc, server.Options{Clock: clock})
	require.NoError(f, err)
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Fuzz Programme"})
	require.NoError(f, err)
	spec, err := apispec.Load()
	require.NoError(f, err)

	// newUser creates a root user and returns its signed-in caller.
	users := 0
	newUser := func(t testing.TB) *core.PasswordSet {
		t.Helper()
		users++
		_, u, err := svc.CreateIdentity(ctx, prog.Programme, core.NewIdentity{Type: core.Consumer, Root: core.UserDetails{
			Name: "Fuzz", Surname: "User", Email: fmt.Sprintf("fuzz%d@acme.test", users),
			Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"},
		}})
		require.NoError(t, err)
		set, err := svc.CreatePassword(ctx, prog.Programme, u.ID, testPassword)
		require.NoError(t, err)
		return set
	}
	caller := func(t testing.TB, token string) *core.Caller {
		t.Helper()
		c, err := svc.Authenticate(ctx, prog.Programme, token)
		require.NoError(t, err)
		return c
	}
	// The step-up user has an ACTIVE factor; every input gets a new session and challenge.
	stepUpUser := newUser(f)
	c := caller(f, stepUpUser.Token)
	require.NoError(f, svc.EnrolSMS(ctx, c))
	require.NoError(f, svc.VerifyEnrolSMS(ctx, c, core.SandboxCode))

	send := func(t *testing.T, path, token string, body []byte) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("api-key", prog.APIKey)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		got, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		if res.StatusCode >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, res.StatusCode, got)
		}
		if err := spec.ValidateResponse(ctx, req, res, got); err != nil {
			t.Fatalf("POST %s %q: response breaks the OpenAPI description: %v", path, body, err)
		}
		if res.StatusCode == http.StatusNoContent {
			var in struct{ VerificationCode string }
			if err := json.Unmarshal(body, &in); err != nil || in.VerificationCode != core.SandboxCode {
				t.Fatalf("POST %s %q: accepted without the code", path, body)
			}
		}
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		// Enrolment: a new user with a pending enrolment challenge.
		enrol := newUser(t)
		require.NoError(t, svc.EnrolSMS(ctx, caller(t, enrol.Token)))
		send(t, enrolVerifyPath, enrol.Token, body)

		// Step-up: a new session of the enrolled user with a pending challenge.
		in, err := svc.Login(ctx, prog.Programme, stepUpUser.User.Email, testPassword)
		require.NoError(t, err)
		require.NoError(t, svc.StepUpSMS(ctx, caller(t, in.Token)))
		send(t, stepUpVerifyPath, in.Token, body)
	})
}
