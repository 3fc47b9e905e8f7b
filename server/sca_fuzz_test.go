package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// fuzzPost sends body as a JSON POST to path through h with key and token,
// fails on a 5xx or on a response outside the API description, and returns
// the status.
func fuzzPost(t *testing.T, h http.Handler, spec *apispec.Spec, path, key, token string, body []byte) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if res.StatusCode >= 500 {
		t.Fatalf("POST %s %q: %d %s", path, body, res.StatusCode, got)
	}
	if err := spec.ValidateResponse(context.Background(), req, res, got); err != nil {
		t.Fatalf("POST %s %q: response breaks the OpenAPI description: %v", path, body, err)
	}
	return res.StatusCode
}

// FuzzVerifyBody sends arbitrary bodies to both OTP verify endpoints
// (enrolDeviceUsingOtpStepTwo, stepupSCAVerify) through the whole handler stack,
// each time against a pending challenge with all its attempts left. No body may cause a 5xx or a
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

	// Writes here are sequential: waiting for others to join a commit only slows the fuzzer.
	store, err := boltstore.Open(filepath.Join(f.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(f, err)
	f.Cleanup(func() { store.Close() })
	clock := core.NewOffsetClock(nil)
	quiet := slog.New(slog.DiscardHandler)
	cfg := core.Config{Sandbox: true, PasswordParams: testParams, SCAFailureLimit: 1 << 30, Logger: quiet}
	ctx := context.Background()
	svc, err := core.New(ctx, cfg, store, core.Integrations{SMS: discardSender{}, Email: discardSender{}}, clock)
	require.NoError(f, err)
	h, err := server.New(svc, server.Options{Clock: clock, Logger: quiet})
	require.NoError(f, err)
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Fuzz Programme"})
	require.NoError(f, err)
	spec, err := apispec.Load()
	require.NoError(f, err)

	// Two users, each with one session holding one pending challenge: the
	// enrolment user's SMS factor is PENDING_VERIFICATION, the step-up user's ACTIVE.
	type target struct {
		path    string
		purpose core.ChallengePurpose
		token   string
		caller  *core.Caller
		pending *core.Challenge // the challenge as issued, restored before every input
	}
	newTarget := func(email, path string, purpose core.ChallengePurpose) *target {
		_, u, err := svc.CreateIdentity(ctx, prog.Programme, core.NewIdentity{Type: core.Consumer, Root: core.UserDetails{
			Name: "Fuzz", Surname: "User", Email: email, Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"},
		}})
		require.NoError(f, err)
		set, err := svc.CreatePassword(ctx, prog.Programme, u.ID, testPassword)
		require.NoError(f, err)
		c, err := svc.Authenticate(ctx, prog.Programme, set.Token)
		require.NoError(f, err)
		require.NoError(f, svc.EnrolSMS(ctx, c))
		if purpose == core.PurposeStepUpSMS {
			require.NoError(f, svc.VerifyEnrolSMS(ctx, c, core.SandboxCode))
			require.NoError(f, svc.StepUpSMS(ctx, c, ""))
		}
		tg := &target{path: path, purpose: purpose, token: set.Token, caller: c}
		require.NoError(f, store.View(ctx, func(tx core.ReadTx) error {
			tg.pending, err = tx.Challenge(c.Session.TokenHash, purpose)
			return err
		}))
		return tg
	}
	targets := []*target{
		newTarget("enrol@acme.test", enrolVerifyPath, core.PurposeEnrolSMS),
		newTarget("stepup@acme.test", stepUpVerifyPath, core.PurposeStepUpSMS),
	}
	// reset puts every target back as it was just after its challenge was issued
	// (at the clock's now, so that neither code nor session ever expires): a few
	// overwrites of the same records, so the fuzzer's coverage stays stable.
	reset := func(t *testing.T) {
		now := clock.Now()
		require.NoError(t, store.Update(ctx, func(tx core.Tx) error {
			for _, tg := range targets {
				ch := *tg.pending
				ch.IssuedAt, ch.ExpiresAt = now, now.Add(5*time.Minute)
				if err := tx.PutChallenge(&ch); err != nil {
					return err
				}
				s, err := tx.Session(tg.caller.Session.TokenHash)
				if err != nil {
					return err
				}
				s.LastSeen, s.SteppedUp, s.SteppedUpAt = now, false, time.Time{}
				if err := tx.UpdateSession(s); err != nil {
					return err
				}
				u, err := tx.User(tg.caller.User.ID)
				if err != nil {
					return err
				}
				u.SCAFailures, u.SCALockedUntil = 0, time.Time{}
				if err := tx.UpdateUser(u); err != nil {
					return err
				}
				if tg.purpose == core.PurposeEnrolSMS {
					fa, err := tx.Factor(u.ID, core.ChannelSMS)
					if err != nil {
						return err
					}
					fa.Status = core.FactorPending
					if err := tx.PutFactor(fa); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}

	send := func(t *testing.T, path, token string, body []byte) {
		t.Helper()
		if fuzzPost(t, h, spec, path, prog.APIKey, token, body) == http.StatusNoContent {
			// A number reads as its text, as Weavr's mapper reads it.
			var in struct{ VerificationCode any }
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&in); err != nil || fmt.Sprint(in.VerificationCode) != core.SandboxCode {
				t.Fatalf("POST %s %q: accepted without the code", path, body)
			}
		}
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		reset(t)
		for _, tg := range targets {
			send(t, tg.path, tg.token, body)
		}
	})
}
