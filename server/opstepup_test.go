package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// The tests of operation-bound step-up (stepUpScope OPERATION) play the
// attacker: the grant of one verified step-up must serve exactly the call it
// named, once, in its session, before it expires.

func withOperationScope(o *testserver.Options) {
	o.Programme.Settings.StepUpScope = core.StepUpOperation
}

// smsAdmin signs in the root user email, with an ACTIVE SMS factor.
func (e *bioEnv) smsAdmin(email string) *client.Session {
	e.t.Helper()
	e.root(email)
	s := e.login(email)
	ctx := context.Background()
	require.NoError(e.t, s.EnrolSMS(ctx))
	require.NoError(e.t, s.VerifyEnrolSMS(ctx, core.SandboxCode))
	return s
}

// stepUpFor asks for the operation err names, passes the SMS step-up for it
// and returns that operation.
func stepUpFor(t *testing.T, s *client.Session, err error) *client.StepUpOperation {
	t.Helper()
	ae := requireAPIError(t, err, http.StatusForbidden, client.CodeStepUpRequired)
	require.NotNil(t, ae.Operation, "the answer names the operation")
	ctx := context.Background()
	require.NoError(t, s.StepUpSMS(ctx, client.ForOperation(ae.Operation.Reference)))
	require.NoError(t, s.VerifyStepUpSMS(ctx, core.SandboxCode))
	return ae.Operation
}

func requireStepUpFor(t *testing.T, err error, summary string, msgAndArgs ...any) {
	t.Helper()
	ae := requireAPIError(t, err, http.StatusForbidden, client.CodeStepUpRequired, msgAndArgs...)
	require.NotNil(t, ae.Operation, msgAndArgs...)
	assert.Equal(t, summary, ae.Operation.Summary, msgAndArgs...)
}

var pia = client.UserCreate{Name: "Pia", Surname: "Sand", Email: "pia@acme.test", Roles: []string{client.RoleAdmin}}

// A verified SMS step-up for "create pia as ADMIN" lets exactly that call
// through, once: the text names it, a session step-up is not enough, and
// another email or other roles are refused before and after.
func TestOperationStepUpSMSGrantsOneCall(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()

	_, err := s.CreateUser(ctx, pia)
	requireStepUpFor(t, err, "Create user pia@acme.test with roles ADMIN", "the enrolment stepped the session up, which is not enough")
	op := stepUpFor(t, s, err)
	msgs, err := e.api.Outbox(ctx, 1)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Text, "approves: Create user pia@acme.test with roles ADMIN.", "the text names the operation")

	other := pia
	other.Email = "mallory@acme.test"
	_, err = s.CreateUser(ctx, other)
	requireStepUpFor(t, err, "Create user mallory@acme.test with roles ADMIN", "another email")
	fewer := pia
	fewer.Roles = nil
	_, err = s.CreateUser(ctx, fewer)
	requireStepUpFor(t, err, "Create user pia@acme.test with no roles (every permission)", "other roles")
	requireStepUpFor(t, s.UnlinkBiometric(ctx), "Unlink your companion device", "another operation")

	ref := client.NewIdempotencyRef()
	u, err := s.CreateUser(ctx, pia, client.IdempotencyRef(ref))
	require.NoError(t, err, "the operation the step-up named (%s)", op.Summary)
	again, err := s.CreateUser(ctx, pia, client.IdempotencyRef(ref))
	require.NoError(t, err, "a replay of the same idempotency-ref answers the first response")
	assert.Equal(t, u.ID, again.ID)

	_, err = s.CreateUser(ctx, client.UserCreate{Name: "Pia", Surname: "Sand", Email: "pia2@acme.test", Roles: pia.Roles})
	requireStepUpFor(t, err, "Create user pia2@acme.test with roles ADMIN", "the grant is spent")
	email := "pia.sand@acme.test"
	_, err = s.UpdateUser(ctx, u.ID, client.UserPatch{Email: &email})
	requireStepUpFor(t, err, "Change user pia@acme.test: email to pia.sand@acme.test", "an edit is an operation of its own")
	stepUpFor(t, s, err)
	_, err = s.UpdateUser(ctx, u.ID, client.UserPatch{Email: &email})
	require.NoError(t, err, "the edit the step-up named")
}

// A grant is the session's: another session of the same user, even one
// stepped up for the same operation's reference, gets nothing from it.
func TestOperationStepUpGrantStaysInItsSession(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	other := e.login("ada@acme.test")
	ctx := context.Background()

	_, err := s.CreateUser(ctx, pia)
	op := stepUpFor(t, s, err)
	_, err = other.CreateUser(ctx, pia)
	requireStepUpFor(t, err, op.Summary, "another session")
	err = other.StepUpSMS(ctx, client.ForOperation(op.Reference))
	ae := requireAPIError(t, err, http.StatusBadRequest, "", "a reference made for another session")
	require.Len(t, ae.Fields, 1)
	assert.Equal(t, "operation", ae.Fields[0].Field)
	err = s.StepUpSMS(ctx, client.ForOperation(op.Reference[:len(op.Reference)-2]+"xx"))
	requireAPIError(t, err, http.StatusBadRequest, "", "a reference tampered with")

	_, err = s.CreateUser(ctx, pia)
	require.NoError(t, err, "the session that stepped up")
}

// A grant lives as long as a challenge: the same call after that is refused,
// though the session is still alive.
func TestOperationStepUpGrantExpires(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()
	_, err := s.CreateUser(ctx, pia)
	stepUpFor(t, s, err)

	_, err = e.api.AdvanceClock(ctx, 3*time.Minute)
	require.NoError(t, err)
	_, err = s.Factors(ctx) // keeps the session alive
	require.NoError(t, err)
	_, err = e.api.AdvanceClock(ctx, 2*time.Minute+time.Second)
	require.NoError(t, err)
	_, err = s.CreateUser(ctx, pia)
	requireStepUpFor(t, err, "Create user pia@acme.test with roles ADMIN", "after the grant's life")
}

// Parallel retries of the granted call: exactly one goes through, on either
// store (DEPUTY_TEST_STORE=postgres runs this on PostgreSQL). A device reset
// is the call: it may be repeated, so without the grant's single use every
// one of them would succeed.
func TestOperationStepUpGrantTakenOnceUnderRace(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()
	_, err := s.CreateUser(ctx, client.UserCreate{Name: "Bea", Surname: "Sand", Email: "bea@acme.test"})
	stepUpFor(t, s, err)
	bea, err := s.CreateUser(ctx, client.UserCreate{Name: "Bea", Surname: "Sand", Email: "bea@acme.test"})
	require.NoError(t, err)
	err = s.ResetUserDevice(ctx, bea.ID)
	requireStepUpFor(t, err, "Reset the devices of user bea@acme.test")
	stepUpFor(t, s, err)

	const parallel = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded int
		refused   int
	)
	for range parallel {
		wg.Go(func() {
			err := s.ResetUserDevice(ctx, bea.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				succeeded++
			case errors.Is(err, client.ErrStepUpRequired):
				refused++
			default:
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, succeeded, "retries that went through")
	assert.Equal(t, parallel-1, refused, "retries refused with STEP_UP_REQUIRED")
}

// A push step-up for an operation shows its summary on the phone, whatever
// summary the client sends, and the signature covers the operation: an
// approval made for one operation cannot be redirected to another.
func TestOperationStepUpPush(t *testing.T) {
	e := newBioEnv(t, withOperationScope)
	d := e.enrolledRoot("ada@acme.test", "phone-1")
	s := e.login("ada@acme.test")
	ctx := context.Background()

	_, err := s.CreateUser(ctx, pia)
	ae := requireAPIError(t, err, http.StatusForbidden, client.CodeStepUpRequired)
	require.NotNil(t, ae.Operation)
	up, err := s.StepUpPush(ctx, "Step up your session", client.ForOperation(ae.Operation.Reference))
	require.NoError(t, err)
	rec := e.pushRecord(up.ID)
	assert.Equal(t, "Create user pia@acme.test with roles ADMIN", rec.Summary, "the phone shows the operation")
	assert.NotEmpty(t, rec.Operation)

	// Redirect the challenge to another operation after the phone fetched
	// its options: the signature no longer matches.
	other := pia
	other.Email = "mallory@acme.test"
	_, err = s.CreateUser(ctx, other)
	require.Error(t, err)
	as := d.assertion(up.ID)
	require.NoError(t, e.inst.Store.Update(ctx, func(tx core.Tx) error {
		c, err := tx.PushChallenge(up.ID)
		if err != nil {
			return err
		}
		c.Operation = append([]byte(nil), c.Operation...)
		c.Operation[0] ^= 1
		return tx.UpdatePushChallenge(c)
	}))
	err = d.s.ApprovePush(ctx, up.ID, up.Number, as)
	requireAPIError(t, err, http.StatusConflict, core.CodeWebAuthnChallenge, "a signature over another operation")
	_, err = s.CreateUser(ctx, pia)
	requireStepUpFor(t, err, "Create user pia@acme.test with roles ADMIN", "nothing was granted")

	up, err = s.StepUpPush(ctx, "", client.ForOperation(ae.Operation.Reference))
	require.NoError(t, err)
	require.NoError(t, d.approve(up.ID, up.Number))
	_, err = s.CreateUser(ctx, other)
	requireStepUpFor(t, err, "Create user mallory@acme.test with roles ADMIN", "another operation after the approval")
	_, err = s.CreateUser(ctx, pia)
	require.NoError(t, err, "the approved operation")
	_, err = s.CreateUser(ctx, client.UserCreate{Name: "Pia", Surname: "Sand", Email: "pia3@acme.test", Roles: pia.Roles})
	requireStepUpFor(t, err, "Create user pia3@acme.test with roles ADMIN", "once")
}

// The phone is told whose words a step-up's summary is: the requester's
// own text, which Deputy did not check, is marked as such (the companion
// quotes it), while an operation's summary and the default are Deputy's.
func TestPushSummaryFromRequester(t *testing.T) {
	e := newBioEnv(t, withOperationScope)
	d := e.enrolledRoot("ada@acme.test", "phone-1")
	ctx := context.Background()
	shown := func(s *client.Session, summary string, opts ...client.CallOption) client.PushChallenge {
		t.Helper()
		up, err := s.StepUpPush(ctx, summary, opts...)
		require.NoError(t, err)
		pending, err := d.s.PendingPush(ctx, d.id, 0)
		require.NoError(t, err)
		for _, ch := range pending {
			if ch.ID == up.ID {
				return ch
			}
		}
		t.Fatalf("challenge %s not pending", up.ID)
		return client.PushChallenge{}
	}

	free := shown(e.login("ada@acme.test"), "Sign in to your bank")
	assert.True(t, free.SummaryFromRequester)
	assert.Equal(t, "Sign in to your bank", free.Summary)
	assert.False(t, shown(e.login("ada@acme.test"), "").SummaryFromRequester, "the default is Deputy's")

	s := e.login("ada@acme.test")
	_, err := s.CreateUser(ctx, pia)
	ae := requireAPIError(t, err, http.StatusForbidden, client.CodeStepUpRequired)
	op := shown(s, "Sign in to your bank", client.ForOperation(ae.Operation.Reference))
	assert.False(t, op.SummaryFromRequester, "an operation's summary is Deputy's")
	assert.Equal(t, "Create user pia@acme.test with roles ADMIN", op.Summary)

	status, body := rawCall(t, e, d.s.Token(), http.MethodGet, "/multi/push/pending?deviceId="+d.id, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, strings.Count(body, `"summaryFromRequester":true`), body)
}

// Under the default scope nothing changes: the answer names no operation,
// and a session step-up allows every call (Weavr's rule).
func TestSessionStepUpScopeUnchanged(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()
	fresh := e.login("ada@acme.test")
	_, err := fresh.CreateUser(ctx, pia)
	ae := requireAPIError(t, err, http.StatusForbidden, client.CodeStepUpRequired)
	assert.Nil(t, ae.Operation)
	_, err = s.CreateUser(ctx, pia)
	require.NoError(t, err)
	_, err = s.CreateUser(ctx, client.UserCreate{Name: "Bea", Surname: "Sand", Email: "bea@acme.test"})
	require.NoError(t, err, "a stepped-up session does anything it may")
}

// TestOperationSummaryShowsWhatIsGranted: a summary never hides what the
// step-up grants. An email of 197 characters, as long as emails go, is
// shortened around "…" in the summary (and the SMS naming it), so the role
// granted still shows, though the operation binds the whole address.
func TestOperationSummaryShowsWhatIsGranted(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()
	email := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".test"
	in := client.UserCreate{Name: "Eve", Surname: "Evil", Email: email, Roles: []string{client.RoleAdmin}}
	_, err := s.CreateUser(ctx, in)
	op := stepUpFor(t, s, err)
	assert.Equal(t, "Create user aaaaaaaaaaaaaaaaaaa…ccccccccccccccc.test with roles ADMIN", op.Summary)
	msgs, err := e.api.Outbox(ctx, 1)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Text, "with roles ADMIN")
	u, err := s.CreateUser(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, email, u.Email, "the whole address was bound and created")

	in.Email = strings.Replace(email, "a@", "x@", 1) // the same shortened form, another address
	_, err = s.CreateUser(ctx, in)
	require.ErrorIs(t, err, client.ErrStepUpRequired)
}

// TestOperationBindsEveryField: a grant covers the body it was asked for,
// field by field: another number is another operation, and the same digits
// split otherwise (+44 7700900999 against +447 700900999) are no mobile at
// all, since no country code starts another, refused before any step-up.
func TestOperationBindsEveryField(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()
	bea := client.UserCreate{Name: "Bea", Surname: "Sand", Email: "bea@acme.test", Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"}}
	_, err := s.CreateUser(ctx, bea)
	stepUpFor(t, s, err)
	u, err := s.CreateUser(ctx, bea)
	require.NoError(t, err)
	_, err = s.UpdateUser(ctx, u.ID, client.UserPatch{Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900999"}})
	stepUpFor(t, s, err)
	_, err = s.UpdateUser(ctx, u.ID, client.UserPatch{Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900998"}})
	assert.ErrorIs(t, err, client.ErrStepUpRequired)
	_, err = s.UpdateUser(ctx, u.ID, client.UserPatch{Mobile: &client.Mobile{CountryCode: "+447", Number: "700900999"}})
	var ae *client.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, client.CodeMobileOrCountryCodeInvalid, ae.Code)
}

// TestLinkGrantCoversTheIdentity: the step-up to link a new identity names
// the company and covers it as sent (name, profile): the grant for "Beta
// Ltd" does not create and link another company.
func TestLinkGrantCoversTheIdentity(t *testing.T) {
	e := newEnv(t)
	a := e.adminRoot("ada@acme.test")
	set := e.prog.Settings
	set.StepUpScope = core.StepUpOperation
	_, err := e.svc.UpdateProgrammeSettings(context.Background(), e.prog.ID, nil, set)
	require.NoError(t, err)

	body := corporateBody(a.email)
	body["company"].(map[string]any)["name"] = "Beta Ltd"
	r := e.auth(a.token, "POST", "/multi/corporates", body)
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	op := r.json(t)["operation"].(map[string]any)
	assert.Equal(t, "Link a new corporate identity, Beta Ltd, to your credentials", op["summary"])
	wantNoContent(t, e.auth(a.token, "POST", stepUpPath, map[string]any{"operation": op["reference"]}), "step-up for the link")
	wantNoContent(t, e.auth(a.token, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "verify")

	evil := corporateBody(a.email)
	evil["company"].(map[string]any)["name"] = "Evil Ltd"
	evil["company"].(map[string]any)["registrationNumber"] = "666"
	r = e.auth(a.token, "POST", "/multi/corporates", evil)
	assert.Equal(t, http.StatusForbidden, r.status, "another company needs its own step-up: %s", r.body)
	assert.Equal(t, http.StatusOK, e.auth(a.token, "POST", "/multi/corporates", body).status, "the one approved")
}

// TestOperationGrantIsNoSessionStepUp: a step-up for one operation raises
// nothing else. When the operator switches the programme back to session
// scope, a session whose only approval was "Create user pia@acme.test"
// must step up like any other before it creates someone else.
func TestOperationGrantIsNoSessionStepUp(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	e.smsAdmin("ada@acme.test") // enrols the phone (its session is not used)
	s := e.login("ada@acme.test")
	ctx := context.Background()
	_, err := s.CreateUser(ctx, pia)
	stepUpFor(t, s, err)

	set := e.inst.Programme.Settings
	set.StepUpScope = core.StepUpSession
	_, err = e.inst.Service.UpdateProgrammeSettings(ctx, e.inst.Programme.ID, nil, set)
	require.NoError(t, err)
	mallory := pia
	mallory.Email = "mallory@acme.test"
	_, err = s.CreateUser(ctx, mallory)
	require.ErrorIs(t, err, client.ErrStepUpRequired)
}

// The audit trail names a verified operation by a keyed digest: the
// operation's own hash, which its reference carries, would let whoever may
// read the user's security events (their admins) test guesses at the
// operation's fields, such as a new mobile number, offline.
func TestOperationAuditDigestIsKeyed(t *testing.T) {
	e := newBioEnv(t, withoutBiometrics, withOperationScope)
	s := e.smsAdmin("ada@acme.test")
	ctx := context.Background()
	_, err := s.CreateUser(ctx, pia)
	op := stepUpFor(t, s, err)
	raw, err := base64.RawURLEncoding.DecodeString(op.Reference)
	require.NoError(t, err)
	plain := hex.EncodeToString(raw[:sha256.Size])

	corp, err := s.Corporate(ctx)
	require.NoError(t, err)
	page, err := s.SecurityEvents(ctx, corp.RootUser.ID.ID, "", 100)
	require.NoError(t, err)
	var digests []string
	for _, ev := range page.Events {
		if ev.Action == "challenge.verify" && ev.Details["operation"] != "" {
			digests = append(digests, ev.Details["operation"])
		}
	}
	require.Len(t, digests, 1, "the verified step-up names its operation")
	assert.Len(t, digests[0], 2*sha256.Size)
	assert.NotEqual(t, plain, digests[0], "not the operation's own hash")
}
