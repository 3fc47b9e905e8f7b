package server_test

// Issue 6: the biometric factor and push step-up, end to end through the
// real HTTP server, with mobile/authenticator as the companion.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// TestBiometricEnrolmentAndPushStepUp runs both ceremonies: the companion
// enrols (SMS code and WebAuthn registration, which also enrols SMS), then an
// admin's session asks for a push step-up that names the operation, the
// device approves it with the number shown to the admin, and the admin's
// session can create the user.
func TestBiometricEnrolmentAndPushStepUp(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	e.root("ada@acme.test")
	phone := e.newDevice("phone-1", "ada@acme.test")

	factors, err := phone.s.Factors(ctx)
	require.NoError(t, err)
	assert.Empty(t, factors, "no factor before enrolment")
	phone.enrol()
	factors, err = phone.s.Factors(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []client.Factor{
		{Type: "OTP", Channel: "SMS", Status: client.FactorActive},
		{Type: "PUSH", Channel: "BIOMETRIC", Status: client.FactorActive},
	}, factors, "the SMS code of the enrolment also enrolled SMS")
	sent, err := e.api.Outbox(ctx, 2)
	require.NoError(t, err)
	require.Len(t, sent, 2)
	assert.Equal(t, "+447700900123", sent[1].To, "the enrolment code went to the user's mobile")
	assert.Equal(t, "ada@acme.test", sent[0].To, "then a notice of the linked device to the user")

	admin := e.login("ada@acme.test")
	newUser := client.UserCreate{Name: "Alice", Surname: "Example", Email: "alice@example.com", Roles: []string{client.RoleAdmin}}
	_, err = admin.CreateUser(ctx, newUser)
	require.ErrorIs(t, err, client.ErrStepUpRequired)

	const summary = "Create user alice@example.com with role ADMIN"
	up, err := admin.StepUpPush(ctx, summary)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9]+$`, up.ID)
	assert.GreaterOrEqual(t, up.Number, 10)
	assert.LessOrEqual(t, up.Number, 99)

	pending, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	got := pending[0]
	assert.Equal(t, up.ID, got.ID)
	assert.Equal(t, summary, got.Summary, "the device shows the operation")
	assert.Equal(t, client.PushKindStepUp, got.Kind)
	assert.Len(t, got.Choices, 3)
	assert.Contains(t, got.Choices, up.Number, "the number shown to the admin is among the device's choices")
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(got.Choices))), 3, "three distinct choices")
	assert.WithinDuration(t, got.CreatedAt.Add(5*time.Minute), got.ExpiresAt, time.Second)

	st, err := admin.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushPending, st.State)

	var prompts []string
	phone.auth, err = authenticator.New(authenticator.Config{}, phone.store, authenticator.UserVerifierFunc(func(_ context.Context, reason string) (bool, error) {
		prompts = append(prompts, reason)
		return true, nil
	}))
	require.NoError(t, err)
	require.NoError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, phone.assertion(up.ID, func(r *authenticator.AssertionRequest) { r.Reason = got.Summary })))
	assert.Equal(t, []string{summary}, prompts, "the user verified themselves for this operation")

	st, err = admin.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushApproved, st.State)
	assert.Equal(t, summary, st.Summary)
	_, err = admin.CreateUser(ctx, newUser)
	require.NoError(t, err, "the approval stepped the requesting session up")

	_, err = phone.s.PushStatus(ctx, up.ID)
	require.ErrorIs(t, err, client.ErrNotFound, "only the requesting session follows a challenge")
	actions := e.audit()
	for _, a := range []string{"factor.enrol", "push.issue", "push.approve", "user.create"} {
		assert.Contains(t, actions, a)
	}
	assertNoSecrets(t, e.inst.Logs.String(), admin.Token(), phone.s.Token())
}

// TestBiometricsNeedTheProgrammeSetting: with biometrics off, every entry
// point says CHANNEL_NOT_SUPPORTED; Weavr's AUTHY channel is not supported
// either, and enrolment in Weavr's one step points to begin and finish.
func TestBiometricsNeedTheProgrammeSetting(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics)
	ctx := context.Background()
	e.root("ada@acme.test")
	s := e.login("ada@acme.test")
	_, err := s.BeginBiometricEnrolment(ctx, "phone-1", "Phone")
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotSupported)
	_, err = s.StepUpPush(ctx, "")
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotSupported)
	_, err = e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotSupported)

	on := newBioEnv(t)
	on.root("ada@acme.test")
	s = on.login("ada@acme.test")
	for _, path := range []string{"/multi/stepup/challenges/push/AUTHY", "/multi/authentication_factors/push/AUTHY", "/multi/authentication_factors/push/BIOMETRIC"} {
		status, body := rawCall(t, on, s.Token(), http.MethodPost, path, "")
		assert.Equal(t, http.StatusConflict, status, path)
		assert.JSONEq(t, `{"errorCode":"CHANNEL_NOT_SUPPORTED"}`, body, path)
	}
	status, body := rawCall(t, on, s.Token(), http.MethodDelete, "/multi/authentication_factors/push/AUTHY", "")
	assert.Equal(t, http.StatusConflict, status)
	assert.JSONEq(t, `{"errorCode":"CHANNEL_NOT_REGISTERED"}`, body, "no AUTHY device is ever registered, as Weavr's unlink says")
	status, body = rawCall(t, on, s.Token(), http.MethodPost, "/multi/stepup/challenges/push/SMS", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `"fieldName":"channel"`)
	_, err = s.StepUpPush(ctx, "")
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered, "no device enrolled")
}

// rawCall sends one request with the ui key and token and returns the status and body.
func rawCall(t *testing.T, e *bioEnv, token, method, path, body string) (int, string) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.inst.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("api-key", e.inst.UIKey)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(res.Body).WriteTo(&b)
	require.NoError(t, err)
	return res.StatusCode, b.String()
}

// TestPushApprovalRefusals sends every kind of bad approval and checks that
// each is refused with its own errorCode and leaves the challenge pending and
// the requesting session not stepped up.
func TestPushApprovalRefusals(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")

	// challenge starts a step-up from a fresh session of the admin.
	// A user has at most 5 pending challenges: each is dismissed after its subtest.
	challenge := func(t *testing.T, summary string) (*client.Session, *client.PushStepUp) {
		s := e.login("ada@acme.test")
		up, err := s.StepUpPush(ctx, summary)
		require.NoError(t, err)
		t.Cleanup(func() { _ = phone.signedIn(e.login("ada@acme.test")).DeclinePush(ctx, up.ID, client.DeclineCancelled) })
		return s, up
	}
	// stillPending checks that a refused approval changed nothing.
	stillPending := func(t *testing.T, s *client.Session, id string) {
		t.Helper()
		st, err := s.PushStatus(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, client.PushPending, st.State)
		_, err = s.CreateUser(ctx, client.UserCreate{Name: "B", Surname: "C", Email: "b@example.com"})
		require.ErrorIs(t, err, client.ErrStepUpRequired, "the requesting session was not stepped up")
	}

	t.Run("wrong origin", func(t *testing.T) {
		s, up := challenge(t, "wrong origin")
		as := phone.assertion(up.ID, func(r *authenticator.AssertionRequest) { r.Origin = "https://evil.localhost" })
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeWebAuthnOrigin)
		stillPending(t, s, up.ID)
		as = phone.assertion(up.ID, func(r *authenticator.AssertionRequest) { r.Origin = "http://localhost" })
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeWebAuthnOrigin, "another scheme")
		stillPending(t, s, up.ID)
	})
	t.Run("wrong RP id", func(t *testing.T) {
		s, up := challenge(t, "wrong RP id")
		// The same key used from an allowed origin, but scoped to that origin's
		// own host as RP ID: its rpIdHash is not localhost's.
		cred, err := phone.store.Load(phone.credID)
		require.NoError(t, err)
		cred.RPID = "app.localhost"
		store := authenticator.NewMemoryStore()
		require.NoError(t, store.Save(cred))
		other := newDeviceWith(t, "other", phone.s, store, yes)
		other.origin = "https://app.localhost"
		as := other.assertion(up.ID, func(r *authenticator.AssertionRequest) { r.RPID = "app.localhost" })
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeWebAuthnRPID)
		stillPending(t, s, up.ID)
	})
	t.Run("user verification missing", func(t *testing.T) {
		s, up := challenge(t, "no user verification")
		as := phone.assertion(up.ID, func(r *authenticator.AssertionRequest) { r.UserVerification = authenticator.UVDiscouraged })
		assert.False(t, as.UserVerified)
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeWebAuthnUserNotVerified)
		stillPending(t, s, up.ID)

		// A companion whose user refuses the prompt signs nothing at all.
		refusing := newDeviceWith(t, phone.id, phone.s, phone.store, authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return false, nil }))
		options, err := phone.s.PushOptions(ctx, up.ID)
		require.NoError(t, err)
		req, err := authenticator.ParseRequestOptions(options, bioOrigin)
		require.NoError(t, err)
		_, err = refusing.auth.Assert(ctx, req)
		require.ErrorIs(t, err, authenticator.ErrUserVerificationFailed)
		stillPending(t, s, up.ID)
	})
	t.Run("tampered authenticatorData", func(t *testing.T) {
		s, up := challenge(t, "tampered authenticator data")
		as := phone.assertion(up.ID)
		as.AuthenticatorData[len(as.AuthenticatorData)-1]++ // a higher counter than the one signed
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeWebAuthnSignature)
		stillPending(t, s, up.ID)
	})
	t.Run("tampered summary", func(t *testing.T) {
		// A signature over a harmless operation's challenge cannot approve another operation.
		s, harmful := challenge(t, "Create user mallory@example.com with role ADMIN")
		_, harmless := challenge(t, "Show my profile")
		as := phone.assertion(harmless.ID)
		requireAPIError(t, phone.s.ApprovePush(ctx, harmful.ID, harmful.Number, as), http.StatusConflict, core.CodeWebAuthnChallenge)
		stillPending(t, s, harmful.ID)
		// Nor can client data rewritten to claim the other challenge: the signature no longer matches.
		forged := tamper(t, phone.assertion(harmless.ID), func(m map[string]any) {
			resp := m["response"].(map[string]any)
			cd, err := base64.RawURLEncoding.DecodeString(resp["clientDataJSON"].(string))
			require.NoError(t, err)
			harmfulOptions, err := phone.s.PushOptions(ctx, harmful.ID)
			require.NoError(t, err)
			req, err := authenticator.ParseRequestOptions(harmfulOptions, bioOrigin)
			require.NoError(t, err)
			harmlessOptions, err := phone.s.PushOptions(ctx, harmless.ID)
			require.NoError(t, err)
			hreq, err := authenticator.ParseRequestOptions(harmlessOptions, bioOrigin)
			require.NoError(t, err)
			cd = []byte(strings.Replace(string(cd), base64.RawURLEncoding.EncodeToString(hreq.Challenge), base64.RawURLEncoding.EncodeToString(req.Challenge), 1))
			resp["clientDataJSON"] = base64.RawURLEncoding.EncodeToString(cd)
		})
		requireAPIError(t, phone.s.ApprovePush(ctx, harmful.ID, harmful.Number, forged), http.StatusConflict, core.CodeWebAuthnSignature)
		stillPending(t, s, harmful.ID)
	})
	t.Run("replayed assertion", func(t *testing.T) {
		s, up := challenge(t, "replay")
		as := phone.assertion(up.ID)
		require.NoError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as))
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeAlreadyVerified, "the same assertion again")
		_, next := challenge(t, "replay elsewhere")
		requireAPIError(t, phone.s.ApprovePush(ctx, next.ID, next.Number, as), http.StatusConflict, core.CodeWebAuthnChallenge, "the assertion on another challenge")
		st, err := s.PushStatus(ctx, up.ID)
		require.NoError(t, err)
		assert.Equal(t, client.PushApproved, st.State)
	})
	t.Run("answered twice", func(t *testing.T) {
		_, up := challenge(t, "twice")
		first, second := phone.assertion(up.ID), phone.assertion(up.ID) // two good signatures, counters n and n+1
		require.NoError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, first))
		requireAPIError(t, phone.s.ApprovePush(ctx, up.ID, up.Number, second), http.StatusConflict, core.CodeAlreadyVerified)
		requireAPIError(t, phone.s.DeclinePush(ctx, up.ID, client.DeclineCancelled), http.StatusConflict, core.CodeAlreadyVerified)
		_, err := phone.s.PushOptions(ctx, up.ID)
		requireAPIError(t, err, http.StatusConflict, core.CodeAlreadyVerified)
	})
	t.Run("counter regression", func(t *testing.T) {
		copied := phone.clone("copy", phone.s) // a copy of the key, its counter frozen here
		_, up := challenge(t, "genuine")
		require.NoError(t, phone.approve(up.ID, up.Number)) // the genuine device moves on
		s, up := challenge(t, "from the copy")
		requireAPIError(t, copied.approve(up.ID, up.Number), http.StatusConflict, core.CodeWebAuthnSignCount)
		stillPending(t, s, up.ID)
		assert.Contains(t, e.audit(), "security.sign_count_regression")
		assert.True(t, e.emailed("a copied security key may be in use"), "the user was alerted")
		require.NoError(t, phone.approve(up.ID, up.Number), "the genuine device still works")
	})
	t.Run("wrong number", func(t *testing.T) {
		s, up := challenge(t, "wrong number")
		wrong := slices.DeleteFunc(phone.choicesOf(up.ID), func(n int) bool { return n == up.Number })[0]
		requireAPIError(t, phone.approve(up.ID, wrong), http.StatusConflict, core.CodeCodeInvalid)
		st, err := s.PushStatus(ctx, up.ID)
		require.NoError(t, err)
		assert.Equal(t, client.PushDeclined, st.State, "one guess only: the challenge is over")
		_, err = phone.s.PushOptions(ctx, up.ID)
		requireAPIError(t, err, http.StatusConflict, core.CodeStateInvalid)
	})
	t.Run("after expiry", func(t *testing.T) {
		_, up := challenge(t, "expiring")
		as := phone.assertion(up.ID)
		_, err := e.api.AdvanceClock(ctx, 5*time.Minute)
		require.NoError(t, err)
		// Every session idled out meanwhile: the device signs in again.
		requireAPIError(t, phone.signedIn(e.login("ada@acme.test")).ApprovePush(ctx, up.ID, up.Number, as), http.StatusConflict, core.CodeCodeExpired)
		assert.Equal(t, core.PushExpired, e.pushRecord(up.ID).StateAt(e.inst.Clock.Now()))
	})
	t.Run("malformed", func(t *testing.T) {
		_, up := challenge(t, "malformed")
		fresh := e.login("ada@acme.test")
		for _, tt := range []struct{ body, field string }{
			{`{"number": 47}`, "credential:REQUIRED"},
			{`{"credential": {}}`, "number:REQUIRED"},
			{`{"number": 7, "credential": {}}`, "number:RANGE"},
			{`{"number": 47, "credential": "x"}`, "credential:IN"},
			{`{"number": 47, "credential": {"id": 5}}`, "credential:IN"},
		} {
			status, body := rawCall(t, e, fresh.Token(), http.MethodPost, "/multi/push/challenges/"+up.ID+"/approve", tt.body)
			assert.Equal(t, http.StatusBadRequest, status, tt.body)
			name, reason, _ := strings.Cut(tt.field, ":")
			assert.Contains(t, body, `"fieldName":"`+name+`","error":"`+reason+`"`, tt.body)
		}
		status, _ := rawCall(t, e, fresh.Token(), http.MethodPost, "/multi/push/challenges/999999999999/approve", `{"number": 47, "credential": {}}`)
		assert.Equal(t, http.StatusBadRequest, status, "an empty credential is not a credential")
	})
}

// TestPushDeclineNotMe: "I did not do this" ends every session of the user,
// cancels their other pending challenges, records a security event and
// alerts the user.
func TestPushDeclineNotMe(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	intruder := e.login("ada@acme.test")
	up, err := intruder.StepUpPush(ctx, "Create user mallory@example.com with role ADMIN")
	require.NoError(t, err)
	other := e.login("ada@acme.test")
	up2, err := other.StepUpPush(ctx, "")
	require.NoError(t, err)

	require.NoError(t, phone.s.DeclinePush(ctx, up.ID, client.DeclineNotMe))
	for _, s := range []*client.Session{intruder, other, phone.s} {
		_, err := s.Factors(ctx)
		require.ErrorIs(t, err, client.ErrUnauthorized, "every session ended")
	}
	assert.Equal(t, core.PushDeclined, e.pushRecord(up.ID).State)
	assert.Equal(t, core.PushReasonNotMe, e.pushRecord(up.ID).Reason)
	assert.Equal(t, core.PushCancelled, e.pushRecord(up2.ID).State, "the other pending challenge was cancelled")
	assert.Contains(t, e.audit(), "security.push_not_me")
	assert.True(t, e.emailed("an approval you did not ask for"), "the user was alerted")

	// Dismissing a challenge ends nothing.
	s := e.login("ada@acme.test")
	up3, err := s.StepUpPush(ctx, "")
	require.NoError(t, err)
	phone.s = phone.signedIn(e.login("ada@acme.test"))
	require.NoError(t, phone.s.DeclinePush(ctx, up3.ID, client.DeclineCancelled))
	st, err := s.PushStatus(ctx, up3.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushDeclined, st.State)
	requireAPIError(t, phone.s.DeclinePush(ctx, up3.ID, client.DeclineCancelled), http.StatusConflict, core.CodeStateInvalid)
	err = phone.s.DeclinePush(ctx, up3.ID, "MAYBE")
	require.ErrorIs(t, err, client.ErrInvalid)
}

// TestPushNotMeAfterTheRequesterGaveUp: an attacker who withdraws or
// replaces each prompt before the user reacts (prompt bombing that leaves
// nothing to answer) is still reported. "I did not do this" on a challenge
// that ended unanswered ends every session and records the security event,
// once per challenge; an approved challenge stays approved.
func TestPushNotMeAfterTheRequesterGaveUp(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")

	intruder := e.login("ada@acme.test")
	withdrawn, err := intruder.StepUpPush(ctx, "Create user mallory@example.com with role ADMIN")
	require.NoError(t, err)
	require.NoError(t, intruder.DeclinePush(ctx, withdrawn.ID, client.DeclineCancelled), "the intruder withdraws it")
	superseded, err := intruder.StepUpPush(ctx, "Pay 900 GBP to Mallory")
	require.NoError(t, err)
	_, err = intruder.StepUpPush(ctx, "Pay 900 GBP to Mallory")
	require.NoError(t, err)
	require.Equal(t, core.PushReasonSuperseded, e.pushRecord(superseded.ID).Reason)

	require.NoError(t, phone.s.DeclinePush(ctx, withdrawn.ID, client.DeclineNotMe))
	_, err = intruder.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized, "the intruder's session ended")
	assert.Equal(t, core.PushDeclined, e.pushRecord(withdrawn.ID).State, "its outcome stays")
	assert.Equal(t, core.PushReasonNotMe, e.pushRecord(withdrawn.ID).Reason, "reported")
	assert.True(t, e.emailed("an approval you did not ask for"), "the user was alerted")

	phone.s = phone.signedIn(e.login("ada@acme.test"))
	requireAPIError(t, phone.s.DeclinePush(ctx, withdrawn.ID, client.DeclineNotMe), http.StatusConflict, core.CodeStateInvalid, "once")
	requireAPIError(t, phone.s.DeclinePush(ctx, superseded.ID, client.DeclineCancelled), http.StatusConflict, core.CodeStateInvalid,
		"only a report is taken for an ended challenge")
	require.NoError(t, phone.s.DeclinePush(ctx, superseded.ID, client.DeclineNotMe), "a superseded one is reported too")
	assert.Equal(t, core.PushCancelled, e.pushRecord(superseded.ID).State)
	assert.Equal(t, 2, strings.Count(strings.Join(e.audit(), " "), "security.push_not_me"))

	phone.s = phone.signedIn(e.login("ada@acme.test"))
	asker := e.login("ada@acme.test")
	approved, err := asker.StepUpPush(ctx, "")
	require.NoError(t, err)
	require.NoError(t, phone.approve(approved.ID, e.pushRecord(approved.ID).Number))
	requireAPIError(t, phone.s.DeclinePush(ctx, approved.ID, client.DeclineNotMe), http.StatusConflict, core.CodeAlreadyVerified)
	_, err = asker.Factors(ctx)
	require.NoError(t, err, "nothing ended")
}

// TestPushNotMeRefusedForAnApprovedSignIn: a biometric sign-in approved on
// the phone and then cancelled uncollected by a revocation (here a password
// change) was approved all the same: "I did not do this" on it is refused,
// as on any approved challenge, and ends nothing.
func TestPushNotMeRefusedForAnApprovedSignIn(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	bl, err := e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
	require.NoError(t, err)
	require.NoError(t, phone.approve(bl.ChallengeID, bl.Number))
	_, _, err = e.login("ada@acme.test").UpdatePassword(ctx, bioPassword, bioPassword+"2")
	require.NoError(t, err)
	require.Equal(t, core.PushCancelled, e.pushRecord(bl.ChallengeID).State, "cancelled uncollected by the revocation")

	l, err := e.ui.LoginWithPassword(ctx, "ada@acme.test", bioPassword+"2")
	require.NoError(t, err)
	phone.s = phone.signedIn(e.ui.Session(l.Token))
	requireAPIError(t, phone.s.DeclinePush(ctx, bl.ChallengeID, client.DeclineNotMe), http.StatusConflict, core.CodeStateInvalid)
	_, err = phone.s.Factors(ctx)
	require.NoError(t, err, "nothing ended")
	assert.NotContains(t, e.audit(), "security.push_not_me")
}

// TestPushNotMeOnAnEndedChallengeIsTheDevicesAlone: a report on a challenge
// that ended unanswered is, like any answer, the linked device's alone. A
// session without the device's secret (the requester, who withdrew it) gets
// 403 DEVICE_SECRET_REQUIRED, and another user's phone gets 404, as for a
// challenge that does not exist; nothing ends and nothing is recorded.
func TestPushNotMeOnAnEndedChallengeIsTheDevicesAlone(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	e.enrolledRoot("ada@acme.test", "phone-1")
	bobPhone := e.enrolledRoot("bob@acme.test", "phone-2")
	intruder := e.login("ada@acme.test")
	up, err := intruder.StepUpPush(ctx, "Pay 900 GBP to Mallory")
	require.NoError(t, err)
	require.NoError(t, intruder.DeclinePush(ctx, up.ID, client.DeclineCancelled))

	requireAPIError(t, intruder.DeclinePush(ctx, up.ID, client.DeclineNotMe), http.StatusForbidden, core.CodeDeviceSecretRequired)
	var missing *client.Error
	require.ErrorAs(t, bobPhone.s.DeclinePush(ctx, "999999999", client.DeclineNotMe), &missing)
	require.Equal(t, http.StatusNotFound, missing.Status)
	requireAPIError(t, bobPhone.s.DeclinePush(ctx, up.ID, client.DeclineNotMe), missing.Status, missing.Code,
		"another user's challenge reads as a missing one")
	_, err = intruder.Factors(ctx)
	require.NoError(t, err, "nothing ended")
	assert.Equal(t, client.DeclineCancelled, e.pushRecord(up.ID).Reason)
	assert.NotContains(t, e.audit(), "security.push_not_me")
}

// TestPushStreamDelivery reads the event streams with a real HTTP client: the
// device's stream gets the challenge and its outcome, the requester's stream
// the outcome, both get heartbeats, and the raw stream is text/event-stream
// that says how often heartbeats come.
func TestPushStreamDelivery(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(streamHeartbeat, time.Hour))
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	admin := e.login("ada@acme.test")

	deviceStream := e.stream(phone.s, phone.id)
	adminStream := e.stream(admin, "")
	nextEvent(t, deviceStream, client.EventHeartbeat)

	up, err := admin.StepUpPush(ctx, "Create user alice@example.com with role ADMIN")
	require.NoError(t, err)
	ev := nextEvent(t, deviceStream, client.EventChallenge)
	assert.Equal(t, up.ID, ev.Challenge.ID)
	assert.Equal(t, "Create user alice@example.com with role ADMIN", ev.Challenge.Summary)
	assert.Contains(t, ev.Challenge.Choices, up.Number)
	assert.NotContains(t, string(ev.Data), `"number"`, "the device is never told the number")

	start := time.Now()
	require.NoError(t, phone.approve(ev.Challenge.ID, up.Number))
	ev = nextEvent(t, adminStream, client.EventResolved)
	t.Logf("approval to the requester's event: %v", time.Since(start))
	assert.Equal(t, client.PushStatus{ID: up.ID, State: client.PushApproved, Summary: "Create user alice@example.com with role ADMIN"}, *ev.Resolved)
	ev = nextEvent(t, deviceStream, client.EventResolved)
	assert.Equal(t, client.PushApproved, ev.Resolved.State)

	// The raw protocol, as a browser's EventSource sees it.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.inst.URL+"/multi/push/stream?deviceId=phone-1", nil)
	require.NoError(t, err)
	req.Header.Set("api-key", e.inst.UIKey)
	req.Header.Set("Authorization", "Bearer "+phone.s.Token())
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	assert.NotEmpty(t, res.Header.Get("request-ref"))
	assert.Equal(t, strconv.FormatInt(streamHeartbeat.Milliseconds(), 10), res.Header.Get(client.PushHeartbeatHeader), "how often heartbeats come, in ms")
	r := bufio.NewReader(res.Body)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "retry: 3600000\n", line)
	for line != "event: heartbeat\n" {
		line, err = r.ReadString('\n')
		require.NoError(t, err)
	}
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Regexp(t, `^data: \{"at":[0-9]+\}\n$`, line)

	// A stream ends with its session.
	require.NoError(t, admin.Logout(ctx))
	requireStreamEnds(t, adminStream)
}

// TestPushStreamEndsWithItsKey: a stream opened with a key that is then
// revoked (rotated without grace, maybe on another replica) ends at the next
// heartbeat, as every other request with that key is refused.
func TestPushStreamEndsWithItsKey(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(streamHeartbeat, time.Hour))
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	stream := e.stream(phone.s, phone.id)
	nextEvent(t, stream, client.EventHeartbeat)

	_, err := e.inst.Service.RotateKey(ctx, e.inst.Programme.ID, core.UIKey, 0)
	require.NoError(t, err)
	_, err = phone.s.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized, "the old ui key is refused")
	requireStreamEnds(t, stream)
}

// TestPushStreamDoesNotKeepRequesterAlive: a requester's stream left open
// (a browser tab following a step-up, its user gone) is no activity of the
// user's: its heartbeats do not keep the session alive, which idles out 5
// minutes after the user's last call, and the stream ends with it. The
// companion's stream, how its phone is reached, keeps its session alive.
func TestPushStreamDoesNotKeepRequesterAlive(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(streamHeartbeat, time.Hour))
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	admin := e.login("ada@acme.test")
	adminStream := e.stream(admin, "")
	deviceStream := e.stream(phone.s, phone.id)
	nextEvent(t, deviceStream, client.EventHeartbeat)

	e.inst.Clock.Advance(4 * time.Minute)
	for range 3 { // heartbeats that ran after the clock moved
		nextEvent(t, deviceStream, client.EventHeartbeat)
		nextEvent(t, adminStream, client.EventHeartbeat)
	}
	e.inst.Clock.Advance(2 * time.Minute)

	_, err := admin.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized, "6 minutes after the user's last call, with only a stream open")
	requireStreamEnds(t, adminStream)
	_, err = phone.s.Factors(ctx)
	require.NoError(t, err, "the companion's stream keeps its session alive")
}

// TestPushLongPollEndsWithItsKey: a device's long poll for pending
// challenges that waited answers only while its api key still holds: the
// ui key rotated away without grace meanwhile, it answers 401, not the list.
func TestPushLongPollEndsWithItsKey(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(time.Hour, 50*time.Millisecond))
	ctx := context.Background()
	id := e.root("ada@acme.test")
	phone := e.newDevice("phone-1", "ada@acme.test")
	phone.enrol()
	done := make(chan error, 1)
	go func() {
		_, err := phone.s.PendingPush(ctx, phone.id, 4*time.Second) // answers when the wait ends, after the rotation
		done <- err
	}()
	require.Eventually(t, func() bool { return e.inst.Service.DeviceReachability(context.Background(), id).Reachable },
		5*time.Second, 5*time.Millisecond, "the poll has looked once and waits")
	_, err := e.inst.Service.RotateKey(ctx, e.inst.Programme.ID, core.UIKey, 0)
	require.NoError(t, err)
	require.ErrorIs(t, <-done, client.ErrUnauthorized)
}

// TestPushStreamPollsTheStore: a change committed behind this process's back,
// as another replica would, reaches the stream by polling.
func TestPushStreamPollsTheStore(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(time.Hour, 20*time.Millisecond))
	ctx := context.Background()
	e.enrolledRoot("ada@acme.test", "phone-1")
	admin := e.login("ada@acme.test")
	up, err := admin.StepUpPush(ctx, "")
	require.NoError(t, err)
	adminStream := e.stream(admin, "")
	require.NoError(t, e.inst.Store.Update(ctx, func(tx core.Tx) error {
		ch, err := tx.PushChallenge(up.ID)
		if err != nil {
			return err
		}
		ch.State, ch.Reason = core.PushDeclined, core.PushReasonCancelled
		return tx.UpdatePushChallenge(ch)
	}))
	ev := nextEvent(t, adminStream, client.EventResolved)
	assert.Equal(t, client.PushDeclined, ev.Resolved.State)
}

// TestPushLongPoll: the fallback for clients that cannot keep a stream open.
func TestPushLongPoll(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(time.Hour, time.Hour))
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	admin := e.login("ada@acme.test")

	none, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	assert.Empty(t, none, "wait=0 answers at once")

	type result struct {
		list []client.PushChallenge
		err  error
	}
	got := make(chan result, 1)
	waiting := e.raw.Session(phone.s.Token())
	go func() {
		l, err := waiting.PendingPush(ctx, phone.id, 20*time.Second)
		got <- result{l, err}
	}()
	// Whether the poll is already waiting or not, it answers with the challenge
	// at once: the store polling interval here is an hour.
	up, err := admin.StepUpPush(ctx, "Approve payment of EUR 10 to Bob")
	require.NoError(t, err)
	select {
	case r := <-got:
		require.NoError(t, r.err)
		require.Len(t, r.list, 1)
		assert.Equal(t, up.ID, r.list[0].ID)
		assert.Equal(t, "Approve payment of EUR 10 to Bob", r.list[0].Summary)
	case <-time.After(15 * time.Second):
		t.Fatal("the long poll did not return the new challenge")
	}

	status, body := rawCall(t, e, phone.s.Token(), http.MethodGet, "/multi/push/pending?wait=26", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `"fieldName":"wait"`)
}

// TestReEnrolmentUnlinksTheOldDevice: enrolling a new phone replaces the old
// phone's credential in one step; the old phone's stream says `unlinked` and
// ends, its session ends with it, and even signed in again its answers are
// refused with CHANNEL_NOT_REGISTERED.
func TestReEnrolmentUnlinksTheOldDevice(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	old := e.enrolledRoot("ada@acme.test", "old-phone")
	admin := e.login("ada@acme.test")
	up, err := admin.StepUpPush(ctx, "")
	require.NoError(t, err)
	stale := old.assertion(up.ID) // signed before the switch
	oldStream := e.stream(old.s, old.id)
	nextEvent(t, oldStream, client.EventChallenge)

	fresh := e.newDevice("new-phone", "ada@acme.test")
	fresh.enrol()
	ev := nextEvent(t, oldStream, client.EventUnlinked)
	assert.Equal(t, "old-phone", ev.DeviceID)
	requireStreamEnds(t, oldStream)

	_, err = old.s.PendingPush(ctx, old.id, 0)
	requireAPIError(t, err, http.StatusUnauthorized, "UNAUTHORIZED", "the old phone's session ended")
	_, err = admin.PushStatus(ctx, up.ID)
	requireAPIError(t, err, http.StatusUnauthorized, "UNAUTHORIZED", "so did every other session but the new phone's")
	old.s = old.signedIn(e.login("ada@acme.test")) // the old phone signs in again, with its old secret
	requireAPIError(t, old.s.ApprovePush(ctx, up.ID, up.Number, stale), http.StatusConflict, core.CodeChannelNotRegistered)
	_, err = old.s.PendingPush(ctx, old.id, 0)
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered)
	_, err = old.s.PushEvents(ctx, old.id)
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered)
	assert.Equal(t, core.PushCancelled, e.pushRecord(up.ID).State, "challenges in flight at the switch are cancelled")
	assert.Equal(t, core.PushReasonDeviceChanged, e.pushRecord(up.ID).Reason)

	factors, err := fresh.s.Factors(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, countChannel(factors, "BIOMETRIC"), "one device at a time")
	admin = e.login("ada@acme.test")
	up, err = admin.StepUpPush(ctx, "")
	require.NoError(t, err)
	require.NoError(t, fresh.approve(up.ID, up.Number), "the new phone approves")
}

func countChannel(fs []client.Factor, channel string) int {
	n := 0
	for _, f := range fs {
		if f.Channel == channel {
			n++
		}
	}
	return n
}

// TestUnlinkNeedsAStepUp: the companion unlinks itself after stepping its own
// session up by push; the factor shows INACTIVE and pushes stop.
func TestUnlinkNeedsAStepUp(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	phone.s = phone.signedIn(e.login("ada@acme.test")) // the enrolment stepped its session up; start afresh
	require.ErrorIs(t, phone.s.UnlinkBiometric(ctx), client.ErrStepUpRequired)

	stream := e.stream(phone.s, phone.id)
	up, err := phone.s.StepUpPush(ctx, "Unlink this device")
	require.NoError(t, err)
	require.NoError(t, phone.approve(up.ID, up.Number))
	require.NoError(t, phone.s.UnlinkBiometric(ctx))
	ev := nextEvent(t, stream, client.EventUnlinked)
	assert.Equal(t, phone.id, ev.DeviceID)

	factors, err := phone.s.Factors(ctx)
	require.NoError(t, err)
	assert.Contains(t, factors, client.Factor{Type: "PUSH", Channel: "BIOMETRIC", Status: client.FactorInactive})
	requireAPIError(t, phone.s.UnlinkBiometric(ctx), http.StatusConflict, core.CodeChannelNotRegistered)
	_, err = phone.s.StepUpPush(ctx, "")
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered)
	assert.Contains(t, e.audit(), "factor.unlink")
}

// TestLoginViaBiometrics: the full sign-in, the follow-up call that collects
// the stepped-up token, and the decoy answer for unknown emails.
func TestLoginViaBiometrics(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	stream := e.stream(phone.s, phone.id)

	bl, err := e.ui.LoginViaBiometrics(ctx, "Ada@Acme.test")
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9]+$`, bl.ChallengeID)
	ev := nextEvent(t, stream, client.EventChallenge)
	assert.Equal(t, bl.ChallengeID, ev.Challenge.ID)
	assert.Equal(t, client.PushKindLogin, ev.Challenge.Kind)
	assert.Equal(t, "Sign in to Bio Programme", ev.Challenge.Summary)

	_, err = e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
	ae := requireAPIError(t, err, http.StatusConflict, core.CodeStateInvalid, "waiting for approval")
	assert.Equal(t, time.Second, ae.RetryAfter)
	_, err = e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret+"x")
	require.ErrorIs(t, err, client.ErrNotFound, "the secret binds the token to the caller who asked")

	require.NoError(t, phone.approve(bl.ChallengeID, bl.Number))
	login, err := e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
	require.NoError(t, err)
	assert.Equal(t, "AUTH", login.TokenType)
	assert.Equal(t, client.CredentialsRoot, login.Credentials.Type)
	_, err = e.ui.Session(login.Token).CreateUser(ctx, client.UserCreate{Name: "Alice", Surname: "Example", Email: "alice@example.com"})
	require.NoError(t, err, "the token is stepped up")
	_, err = e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
	requireAPIError(t, err, http.StatusConflict, core.CodeAlreadyVerified, "single use")
	assert.Contains(t, e.audit(), "user.login")

	// An unknown email looks the same from outside, and never completes.
	decoy, err := e.ui.LoginViaBiometrics(ctx, "nobody@acme.test")
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9]+$`, decoy.ChallengeID)
	_, err = e.ui.BiometricLoginToken(ctx, decoy.ChallengeID, decoy.Secret)
	requireAPIError(t, err, http.StatusConflict, core.CodeStateInvalid)
	_, err = e.api.AdvanceClock(ctx, 5*time.Minute)
	require.NoError(t, err)
	_, err = e.ui.BiometricLoginToken(ctx, decoy.ChallengeID, decoy.Secret)
	requireAPIError(t, err, http.StatusConflict, core.CodeCodeExpired)

	_, err = e.ui.LoginViaBiometrics(ctx, "not-an-email")
	require.ErrorIs(t, err, client.ErrInvalid)
	assertNoSecrets(t, e.inst.Logs.String(), bl.Secret, login.Token)
}

// An approved biometric sign-in hands out its session only for two minutes
// after the approval, and not after a revocation meanwhile: a "not me" on
// another prompt cancels it with the pending ones.
func TestApprovedSignInNotCollected(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	start := func() *client.BiometricLogin {
		bl, err := e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
		require.NoError(t, err)
		return bl
	}

	approved := start()
	require.NoError(t, phone.approve(approved.ChallengeID, approved.Number))
	other := start()
	require.NoError(t, phone.s.DeclinePush(ctx, other.ChallengeID, client.DeclineNotMe))
	_, err := e.ui.BiometricLoginToken(ctx, approved.ChallengeID, approved.Secret)
	requireAPIError(t, err, http.StatusConflict, core.CodeStateInvalid, "cancelled by the revocation")
	assert.Equal(t, core.PushReasonNotMe, e.pushRecord(approved.ChallengeID).Reason)

	phone = e.enrolledRoot("bea@acme.test", "phone-2")
	late, err := e.ui.LoginViaBiometrics(ctx, "bea@acme.test")
	require.NoError(t, err)
	require.NoError(t, phone.approve(late.ChallengeID, late.Number))
	_, err = e.api.AdvanceClock(ctx, 2*time.Minute)
	require.NoError(t, err)
	_, err = e.ui.BiometricLoginToken(ctx, late.ChallengeID, late.Secret)
	requireAPIError(t, err, http.StatusConflict, core.CodeCodeExpired, "collected too late")
	// Past that window a revocation leaves it as it ended: approved, told once.
	another, err := e.ui.LoginViaBiometrics(ctx, "bea@acme.test")
	require.NoError(t, err)
	require.NoError(t, phone.s.DeclinePush(ctx, another.ChallengeID, client.DeclineNotMe))
	assert.Equal(t, core.PushApproved, e.pushRecord(late.ChallengeID).State)
	assert.Equal(t, core.PushReasonNotMe, e.pushRecord(another.ChallengeID).Reason)
}

// TestDeactivationEndsPendingPush: deactivating a user cancels their pending
// challenges.
func TestDeactivationEndsPendingPush(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	adminPhone := e.enrolledRoot("ada@acme.test", "admin-phone")
	admin := adminPhone.s // stepped up by the enrolment
	u, err := admin.CreateUser(ctx, client.UserCreate{Name: "Bob", Surname: "Builder", Email: "bob@acme.test",
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900555"}})
	require.NoError(t, err)
	require.NoError(t, admin.SendInvite(ctx, u.ID))
	_, err = e.ui.InviteConsume(ctx, u.ID, core.SandboxCode, bioPassword, nil)
	require.NoError(t, err)
	bob := e.newDevice("bob-phone", "bob@acme.test")
	bob.enrol()
	bobDesk := e.login("bob@acme.test")
	up, err := bobDesk.StepUpPush(ctx, "")
	require.NoError(t, err)

	require.NoError(t, admin.DeactivateUser(ctx, u.ID))
	rec := e.pushRecord(up.ID)
	assert.Equal(t, core.PushCancelled, rec.State)
	assert.Equal(t, core.PushReasonDeactivated, rec.Reason)
}

// TestPushReachabilityAndWait: the requesting client learns whether the
// phone can be reached (an open stream, or a poll moments ago) with the
// challenge and with every look at it, and a look with ?wait= answers as the
// phone approves instead of at the next poll.
func TestPushReachabilityAndWait(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	admin := e.login("ada@acme.test")

	up, err := admin.StepUpPush(ctx, "Create user alice@example.com")
	require.NoError(t, err)
	assert.Equal(t, client.DeviceReach{}, up.Device, "never connected to this server")

	ps := e.stream(phone.s, phone.id)
	ev := nextEvent(t, ps, client.EventChallenge)
	require.NotNil(t, ev.Challenge)
	assert.Equal(t, "127.0.0.1", ev.Challenge.FromIP, "the phone sees where the request came from")
	assert.Equal(t, client.DefaultUserAgent, ev.Challenge.FromAgent, "and with what")
	asked := e.inst.Clock.Now()
	st, err := admin.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.True(t, st.Device.Reachable, "the phone holds the stream")
	// While connected, last seen is the time of the answer (to the second).
	assert.False(t, st.Device.LastSeen.Before(asked.Truncate(time.Second)), "%v, asked at %v", st.Device.LastSeen, asked)
	assert.False(t, st.Device.LastSeen.After(e.inst.Clock.Now()), "%v", st.Device.LastSeen)

	require.NoError(t, ps.Close())
	require.Eventually(t, func() bool { // the server saw the stream end: last seen stops following the clock
		before, err := admin.PushStatus(ctx, up.ID)
		require.NoError(t, err)
		e.inst.Clock.Advance(time.Second) // an open stream's last seen moves with it
		st, err = admin.PushStatus(ctx, up.ID)
		require.NoError(t, err)
		return st.Device.LastSeen.Equal(before.Device.LastSeen)
	}, 10*time.Second, 20*time.Millisecond)
	assert.True(t, st.Device.Reachable, "within the grace period after the stream ended")
	e.inst.Clock.Advance(core.ReachGrace)
	st, err = admin.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.False(t, st.Device.Reachable, "nothing heard from the phone for the grace period")
	assert.False(t, st.Device.LastSeen.IsZero(), "and when it was last seen")

	// A long look answers with the approval.
	waited := make(chan *client.PushStatus, 1)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go func() {
		st, err := admin.PushStatusWait(wctx, up.ID, 25*time.Second) // ends only when woken
		assert.NoError(t, err)
		waited <- st
	}()
	require.NoError(t, phone.approve(up.ID, up.Number))
	got := <-waited
	require.NotNil(t, got)
	assert.Equal(t, client.PushApproved, got.State)

	_, err = admin.PushStatusWait(ctx, up.ID, 26*time.Second)
	requireAPIError(t, err, http.StatusBadRequest, "", "wait is at most 25 s")

	// Another session of the same user, the phone's included, is not held
	// by a long look at a challenge it did not ask for: 404 at once, as for
	// an id that does not exist, with nothing about the phone.
	other := e.login("ada@acme.test")
	up2, err := admin.StepUpPush(ctx, "Create user bob@example.com")
	require.NoError(t, err)
	for _, s := range []*client.Session{other, phone.s} {
		_, err = s.PushStatusWait(wctx, up2.ID, 25*time.Second)
		require.ErrorIs(t, err, client.ErrNotFound)
		require.NoError(t, wctx.Err(), "answered without waiting")
	}
	_, err = other.PushStatusWait(wctx, "999999999", 25*time.Second)
	require.ErrorIs(t, err, client.ErrNotFound)
}

// TestPushRequesterUserAgentBounded: the User-Agent a push challenge shows
// on the phone is cut to core.MaxClientAgentLen, whatever the requester sends.
func TestPushRequesterUserAgentBounded(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	long := strings.Repeat("x", 5000)
	c, err := client.New(e.inst.URL, e.inst.UIKey, client.WithUserAgent(long))
	require.NoError(t, err)
	l, err := c.LoginWithPassword(ctx, "ada@acme.test", bioPassword)
	require.NoError(t, err)
	_, err = c.Session(l.Token).StepUpPush(ctx, "Create user bob@example.com")
	require.NoError(t, err)
	pending, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, long[:core.MaxClientAgentLen], pending[0].FromAgent)
}

// TestPushRequesterUserAgentIsText: the User-Agent a push challenge shows
// on the phone follows core.TextRule, as every text a user sees does. HTTP
// refuses only ASCII controls in a header: a requester's bidi override,
// line separator, C1 control or tab (or a cut through a character) reached
// the approval prompt as sent, to reorder or break the text around it.
func TestPushRequesterUserAgentIsText(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	for _, agent := range []string{
		"Deputy-Admin/1\u202e)1/nimdA-ytupeD(", "Deputy\u2028Approve: your bank", "Deputy\u009b2J\tAdmin", "bad\xffutf8",
		strings.Repeat("x", core.MaxClientAgentLen-1) + "é",
	} {
		c, err := client.New(e.inst.URL, e.inst.UIKey, client.WithUserAgent(agent))
		require.NoError(t, err)
		l, err := c.LoginWithPassword(ctx, "ada@acme.test", bioPassword)
		require.NoError(t, err)
		_, err = c.Session(l.Token).StepUpPush(ctx, "Create user bob@example.com")
		require.NoError(t, err)
		pending, err := phone.s.PendingPush(ctx, phone.id, 0)
		require.NoError(t, err)
		require.NotEmpty(t, pending)
		got := pending[len(pending)-1].FromAgent
		assert.True(t, core.ValidText(got), "User-Agent %q shown as %q", agent, got)
		assert.LessOrEqual(t, len(got), core.MaxClientAgentLen, "User-Agent %q", agent)
		assert.NotEmpty(t, got)
	}
}

// TestLoginViaBiometricsIdentityMustMatch: an identity in the request
// prompts only a user of that identity, type and id; any other gets the
// decoy, which prompts nobody.
func TestLoginViaBiometricsIdentityMustMatch(t *testing.T) {
	e := newBioEnv(t)
	id, _ := e.enrolledRootID("ada@acme.test", "phone-1")
	for _, tc := range []struct {
		identity map[string]string
		prompted bool
	}{
		{map[string]string{"type": "CORPORATE", "id": id}, true},
		{map[string]string{"type": "CONSUMER", "id": id}, false},
		{map[string]string{"type": "CORPORATE", "id": "999999999"}, false},
	} {
		body, err := json.Marshal(map[string]any{"email": "ada@acme.test", "identity": tc.identity})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, e.inst.URL+"/multi/login_via_biometrics", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("api-key", e.inst.UIKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var out struct{ ChallengeID string }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, "every identity gets the same answer")
		prompted := e.pushRecord(out.ChallengeID).UserID == id
		assert.Equal(t, tc.prompted, prompted, "%v", tc.identity)
	}
}

// Biometrics switched off for a programme take effect at once: a push
// step-up still pending can no longer be approved, and a biometric sign-in
// approved before cannot be collected; both only expire.
func TestBiometricsSwitchedOffEndApprovals(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	up, err := e.login("ada@acme.test").StepUpPush(ctx, "Create user alice@example.com")
	require.NoError(t, err)
	bl, err := e.ui.LoginViaBiometrics(ctx, "ada@acme.test")
	require.NoError(t, err)
	require.NoError(t, phone.approve(bl.ChallengeID, bl.Number))

	set := e.inst.Programme.Settings
	set.Biometrics = false
	_, err = e.inst.Service.UpdateProgrammeSettings(ctx, e.inst.Programme.ID, nil, set)
	require.NoError(t, err)

	requireAPIError(t, phone.approve(up.ID, up.Number), http.StatusConflict, core.CodeChannelNotSupported)
	_, err = e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotSupported)

	set.Biometrics = true
	_, err = e.inst.Service.UpdateProgrammeSettings(ctx, e.inst.Programme.ID, nil, set)
	require.NoError(t, err)
	require.NoError(t, phone.approve(up.ID, up.Number), "the challenge was left as it was")
}
