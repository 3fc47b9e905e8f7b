package core_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/weavrspec"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// webhookSchemas maps each event's path to its schema in assets/openapi.yaml.
var webhookSchemas = map[string]string{
	"/login/watch":                       "WebhookLoginEvent",
	"/stepup/watch":                      "WebhookStepupEvent",
	"/authentication_factors/watch":      "WebhookEnrolmentEvent",
	"/auth/users/user_deactivated/watch": "WebhookUserDeactivatedEvent",
	"/bulk_process_end/watch":            "WebhookBulkProcessEndEvent",
}

// TestWebhookEventsMatchSchemas drives users' lives through every flow that
// causes an event (liveEveryEvent): every event arrives on its path, its body
// valid against its schema in assets/openapi.yaml and with the headers
// declared there, and no body carries a code, token or password.
func TestWebhookEventsMatchSchemas(t *testing.T) {
	e := newHookEnv(t)
	e.liveEveryEvent()

	doc, err := openapi3.NewLoader().LoadFromData(assets.OpenAPI())
	require.NoError(t, err)
	seen := map[string]bool{}
	var outcomes []string // of the confirmation events
	for _, r := range e.rcv.all() {
		require.NoError(t, e.verifier().Verify(r.Header, r.Body))
		name, ok := webhookSchemas[r.Path]
		if !ok {
			name = "WebhookUserEvent"
			assert.Regexp(t, `^/deputy/users/[a-z_]+/watch$`, r.Path)
		}
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &body))
		assert.NoError(t, doc.Components.Schemas[name].Value.VisitJSON(body), "%s: %s", r.Path, r.Body)
		for _, p := range webhookOperation(t, doc, name).Parameters {
			assertDeclaredHeader(t, r, p.Value)
		}
		assert.NotContains(t, string(r.Body), core.SandboxCode)
		assert.NotContains(t, string(r.Body), testPassword)
		key := r.Path
		if s, ok := body["status"].(string); ok {
			key += " " + s
		}
		if s, ok := body["event"].(string); ok {
			key += " " + s
			if s == core.EventConfirmation {
				details := body["details"].(map[string]any)
				outcomes = append(outcomes, details["resources"].(string)+" "+details["outcome"].(string))
			}
		}
		seen[key] = true
	}
	for _, want := range []string{
		"/login/watch VERIFIED", "/login/watch DECLINED", "/login/watch EXPIRED",
		"/stepup/watch VERIFIED", "/stepup/watch DECLINED", "/stepup/watch EXPIRED",
		"/authentication_factors/watch ACTIVE", "/authentication_factors/watch INACTIVE", "/auth/users/user_deactivated/watch",
		"/deputy/users/created/watch user_created", "/deputy/users/updated/watch user_updated",
		"/deputy/users/roles_changed/watch roles_changed", "/deputy/users/activated/watch user_activated",
		"/deputy/users/device_reset/watch device_reset", "/deputy/users/device_replaced/watch device_replaced", "/deputy/users/locked/watch user_locked",
		"/deputy/users/confirmation/watch confirmation",
		"/bulk_process_end/watch COMPLETED", "/bulk_process_end/watch FAILED",
	} {
		assert.True(t, seen[want], "no %s event among %v", want, seen)
	}
	assert.ElementsMatch(t, []string{"7001 VERIFIED", "7002 " + core.PushReasonResourcesChanged}, outcomes)
}

// liveEveryEvent drives users' lives through every flow that causes a
// webhook event, then delivers them to e's receiver: sign-ins, enrolment,
// step-ups, confirmations, changes, a device reset, bulks, deactivation and
// lockout (liveEveryEvent's first user), and a companion's biometric
// sign-ins, step-ups and replacement, approved, declined and expired.
func (e *hookEnv) liveEveryEvent() {
	e.t.Helper()
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	require.NoError(e.t, e.svc.StepUpSMS(e.ctx, root, ""))
	require.NoError(e.t, e.svc.VerifyStepUpSMS(e.ctx, root, e.sms.lastCode(e.t)))
	send := func(id, payee string) {
		_, err := e.svc.PutResource(e.ctx, e.prog, core.NewResource{Type: core.ResourceSends, ID: id, UserID: root.User.ID,
			Summary: core.ResourceSummary{Amount: core.Amount{Currency: "EUR", Value: 1250}, PayeeName: payee, PayeeAccount: "DE89370400440532013000"}})
		require.NoError(e.t, err)
	}
	send("7001", "Alice")
	send("7002", "Bob")
	confirmation, err := e.svc.ConfirmSMS(e.ctx, root, core.ResourceSends, []string{"7001"})
	require.NoError(e.t, err)
	require.NoError(e.t, e.svc.VerifyConfirmSMS(e.ctx, root, confirmation, core.ResourceSends, e.sms.lastCode(e.t)))
	confirmation, err = e.svc.ConfirmSMS(e.ctx, root, core.ResourceSends, []string{"7002"})
	require.NoError(e.t, err)
	send("7002", "Mallory")
	require.Error(e.t, e.svc.VerifyConfirmSMS(e.ctx, root, confirmation, core.ResourceSends, e.sms.lastCode(e.t)))
	bea, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
	require.NoError(e.t, err)
	roles := []core.Role{core.RoleCardAssignee}
	_, err = e.svc.UpdateUser(e.ctx, root, bea.ID, core.UserPatch{Roles: &roles})
	require.NoError(e.t, err)
	require.NoError(e.t, e.svc.SetUserActive(e.ctx, root, bea.ID, false))
	require.NoError(e.t, e.svc.SetUserActive(e.ctx, root, bea.ID, true))
	require.NoError(e.t, e.store.Update(e.ctx, func(tx core.Tx) error { // as if Bea had enrolled
		return tx.PutFactor(&core.Factor{UserID: bea.ID, Channel: core.ChannelSMS, Status: core.FactorActive, Mobile: &testMobile,
			CreatedAt: hookT0, UpdatedAt: hookT0})
	}))
	require.NoError(e.t, e.svc.ResetUserDevice(e.ctx, root, bea.ID))
	for _, users := range [][]core.NewUser{newUsers("bulk", 2), {{UserDetails: core.UserDetails{Name: "Bea", Surname: "Again", Email: "bea@acme.test"}}}} {
		b, err := e.svc.SubmitUserCreateBulk(e.ctx, root, users)
		require.NoError(e.t, err)
		require.NoError(e.t, e.svc.ExecuteBulk(e.ctx, root, b.ID, ""))
		require.NoError(e.t, e.svc.ProcessBulks(e.ctx))
	}
	other := e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	require.NoError(e.t, e.svc.StepUpSMS(e.ctx, other, ""))
	for i := range 5 {
		if e.svc.VerifyStepUpSMS(e.ctx, other, wrongCode(core.SandboxCode, i)) != nil && i == 4 {
			break
		}
	}
	for range 5 {
		_, _ = e.svc.Login(e.ctx, e.prog, "root@acme.test", "wrong-password")
	}
	e.livePhone()
	drain(e.t, e.worker(nil))
}

// companionOrigin is the origin core accepts WebAuthn answers from by default.
const companionOrigin = "https://localhost"

// livePhone turns biometrics on and, for a new root user, enrols a
// companion with the pure-Go authenticator and replaces it with another,
// through which biometric sign-ins and step-ups are approved and declined;
// then a sign-in, a push step-up and an SMS step-up nobody answers expire.
func (e *hookEnv) livePhone() {
	e.t.Helper()
	e.turnOnBiometrics()
	const email = "ada@acme.test"
	e.root(e.prog, email)
	e.enrolPhone(email, "phone-1")
	phone, token := e.enrolPhone(email, "phone-2") // replaces phone-1

	answer := func(ch *core.PushChallenge, approve bool) {
		c := e.caller(e.prog, token)
		if !approve {
			require.NoError(e.t, e.svc.DeclinePush(e.ctx, c, ch.ID, core.PushReasonCancelled))
			return
		}
		options, err := e.svc.PushOptions(e.ctx, c, ch.ID)
		require.NoError(e.t, err)
		req, err := authenticator.ParseRequestOptions(options, companionOrigin)
		require.NoError(e.t, err)
		as, err := phone.Assert(e.ctx, req)
		require.NoError(e.t, err)
		body, err := json.Marshal(as)
		require.NoError(e.t, err)
		require.NoError(e.t, e.svc.ApprovePush(e.ctx, c, ch.ID, ch.Number, body))
	}
	for _, approve := range []bool{true, false} {
		in, err := e.svc.LoginViaBiometrics(e.ctx, e.prog, email, core.IdentityRef{})
		require.NoError(e.t, err)
		answer(in.Challenge, approve)
		_, err = e.svc.CollectBiometricLogin(e.ctx, e.prog, in.Challenge.ID, in.Secret)
		require.Equal(e.t, approve, err == nil, "collected: %v", err)
		up, err := e.svc.StepUpPush(e.ctx, e.caller(e.prog, e.login(e.prog, email)), "Create user bea@acme.test", "")
		require.NoError(e.t, err)
		answer(up, approve)
	}

	require.NoError(e.t, e.svc.StepUpSMS(e.ctx, e.caller(e.prog, e.login(e.prog, email)), ""))
	_, err := e.svc.StepUpPush(e.ctx, e.caller(e.prog, e.login(e.prog, email)), "Create user bea@acme.test", "")
	require.NoError(e.t, err)
	_, err = e.svc.LoginViaBiometrics(e.ctx, e.prog, email, core.IdentityRef{})
	require.NoError(e.t, err)
	e.clock.Advance(10 * time.Minute)
	require.NoError(e.t, e.svc.Sweep(e.ctx))
}

// enrolPhone enrols a companion, deviceID, for the user email with a new
// authenticator, and returns it with the token of the session it enrolled
// through (bound to the device).
func (e *hookEnv) enrolPhone(email, deviceID string) (*authenticator.Authenticator, string) {
	e.t.Helper()
	token := e.login(e.prog, email)
	c := e.caller(e.prog, token)
	options, err := e.svc.BeginBiometricEnrolment(e.ctx, c, deviceID, "Phone "+deviceID)
	require.NoError(e.t, err)
	req, err := authenticator.ParseCreationOptions(options, companionOrigin)
	require.NoError(e.t, err)
	userPresent := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	a, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), userPresent)
	require.NoError(e.t, err)
	att, err := a.Register(e.ctx, req)
	require.NoError(e.t, err)
	body, err := json.Marshal(att)
	require.NoError(e.t, err)
	_, err = e.svc.FinishBiometricEnrolment(e.ctx, c, e.sms.lastCode(e.t), body)
	require.NoError(e.t, err)
	return a, token
}

// TestWebhookEventsMatchWeavr holds every event of Weavr's kinds that
// liveEveryEvent causes to Weavr's own webhooks description: the body valid
// against its path's requestBody schema, every header Weavr declares for the
// path there when required and of its type, and both signatures computed as
// Weavr documents them.
func TestWebhookEventsMatchWeavr(t *testing.T) {
	weavr := weavrspec.Load(t, weavrspec.Webhooks)
	e := newHookEnv(t)
	e.liveEveryEvent()

	seen := map[string]bool{}
	for _, r := range e.rcv.all() {
		item, ok := weavr.Webhooks[r.Path]
		if !ok {
			continue // one of Deputy's own events
		}
		op := item.Post
		require.NotNil(t, op, r.Path)
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &body))
		schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		assert.NoError(t, schema.VisitJSON(body), "%s: %s", r.Path, r.Body)
		for _, p := range op.Parameters {
			if p.Value.In == openapi3.ParameterInHeader {
				assertDeclaredHeader(t, r, p.Value)
			}
		}
		assertSignedAsWeavrSays(t, e.apiKey, r)
		key := r.Path
		for _, field := range []string{"type", "status"} {
			if s, ok := body[field].(string); ok {
				key += " " + s
			}
		}
		seen[key] = true
	}
	for _, want := range []string{
		"/login/watch PASSWORD VERIFIED", "/login/watch PASSWORD DECLINED",
		"/login/watch BIOMETRIC VERIFIED", "/login/watch BIOMETRIC DECLINED", "/login/watch BIOMETRIC EXPIRED",
		"/stepup/watch SMS VERIFIED", "/stepup/watch SMS DECLINED", "/stepup/watch SMS EXPIRED",
		"/stepup/watch BIOMETRIC VERIFIED", "/stepup/watch BIOMETRIC DECLINED", "/stepup/watch BIOMETRIC EXPIRED",
		"/authentication_factors/watch SMS ACTIVE", "/authentication_factors/watch SMS INACTIVE",
		"/authentication_factors/watch BIOMETRIC ACTIVE",
		"/auth/users/user_deactivated/watch",
		"/bulk_process_end/watch COMPLETED", "/bulk_process_end/watch FAILED",
	} {
		assert.True(t, seen[want], "no %s event among %v", want, seen)
	}
}

// TestWebhookFactorEventsFollowFactors: for each user and channel, the last
// authentication_factors event tells the factor's state (ACTIVE, or not),
// where a factor changes as a side effect too: enrolling a companion turns
// SMS codes on for a root user who had none (livePhone), a new mobile turns
// them off.
func TestWebhookFactorEventsFollowFactors(t *testing.T) {
	e := newHookEnv(t)
	e.liveEveryEvent()
	dee := e.steppedUpRoot(e.prog, "dee@acme.test") // root@acme.test is locked out by now
	cy, err := e.svc.CreateUser(e.ctx, dee, core.NewUser{UserDetails: core.UserDetails{Name: "Cy", Surname: "Smith",
		Email: "cy@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900789"}}})
	require.NoError(t, err)
	set, err := e.svc.CreatePassword(e.ctx, e.prog, cy.ID, testPassword)
	require.NoError(t, err)
	require.NoError(t, e.svc.EnrolSMS(e.ctx, e.caller(e.prog, set.Token)))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, e.caller(e.prog, set.Token), e.sms.lastCode(t)))
	moved := core.Mobile{CountryCode: "+44", Number: "7700900456"}
	_, err = e.svc.UpdateUser(e.ctx, dee, cy.ID, core.UserPatch{Mobile: &moved})
	require.NoError(t, err)
	drain(t, e.worker(nil))

	told := map[core.Channel]map[string]string{} // the last status told, by channel and user
	for _, r := range e.rcv.all() {
		if r.Path != "/authentication_factors/watch" {
			continue
		}
		var ev struct {
			CredentialID struct{ ID string } `json:"credentialId"`
			Type, Status string
		}
		require.NoError(t, json.Unmarshal(r.Body, &ev))
		ch := core.Channel(ev.Type)
		if told[ch] == nil {
			told[ch] = map[string]string{}
		}
		told[ch][ev.CredentialID.ID] = ev.Status
	}
	ids := map[string]string{} // by email, of the last user with it
	for _, email := range []string{"root@acme.test", "bea@acme.test", "ada@acme.test", "dee@acme.test", "cy@acme.test"} {
		require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
			users, err := tx.UsersByEmail(e.prog.ID, email)
			require.NoError(t, err, email)
			require.NotEmpty(t, users, email)
			for _, u := range users {
				ids[email] = u.ID
				factors, err := tx.Factors(u.ID)
				require.NoError(t, err)
				require.NotEmpty(t, factors, "%s has had a factor", email)
				for _, f := range factors {
					if f.Status == core.FactorActive {
						assert.Equal(t, "ACTIVE", told[f.Channel][u.ID], "%s %s", email, f.Channel)
					} else {
						assert.NotEqual(t, "ACTIVE", told[f.Channel][u.ID], "%s %s is %s", email, f.Channel, f.Status)
					}
				}
			}
			return nil
		}))
	}
	assert.Equal(t, "INACTIVE", told[core.ChannelSMS][cy.ID], "a new mobile turned cy's codes off")
	assert.Equal(t, "ACTIVE", told[core.ChannelSMS][ids["ada@acme.test"]], "the companion turned ada's codes on")
}

// assertDeclaredHeader checks the header p declared for r's webhook: present
// when required, and its value of p's schema type.
func assertDeclaredHeader(t *testing.T, r received, p *openapi3.Parameter) {
	t.Helper()
	values := r.Header.Values(p.Name)
	if len(values) == 0 {
		assert.False(t, p.Required, "%s: no %s header", r.Path, p.Name)
		return
	}
	require.Len(t, values, 1, "%s: %s header", r.Path, p.Name)
	var v any = values[0]
	if p.Schema.Value.Type.Is(openapi3.TypeInteger) {
		n, err := strconv.ParseInt(values[0], 10, 64)
		if !assert.NoError(t, err, "%s: %s header %q", r.Path, p.Name, values[0]) {
			return
		}
		v = float64(n)
	}
	assert.NoError(t, p.Schema.Value.VisitJSON(v), "%s: %s header %q", r.Path, p.Name, values[0])
}

// assertSignedAsWeavrSays recomputes r's signatures as Weavr's webhooks
// description says, with the programme's secret api key: signature-v2 is the
// base64 HMAC-SHA256 of call-ref + payload + published-timestamp, the
// deprecated signature that of published-timestamp alone. The client's
// verifier accepts r and refuses r signed any other way.
func assertSignedAsWeavrSays(t *testing.T, apiKey string, r received) {
	t.Helper()
	mac := func(parts ...string) string {
		m := hmac.New(sha256.New, []byte(apiKey))
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	ref, ts := r.Header.Get("call-ref"), r.Header.Get("published-timestamp")
	require.NotEmpty(t, ref, "%s: call-ref", r.Path)
	assert.Equal(t, mac(ref, string(r.Body), ts), r.Header.Get("signature-v2"), "%s: signature-v2", r.Path)
	assert.Equal(t, mac(ts), r.Header.Get("signature"), "%s: signature", r.Path)

	ms, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	v := client.WebhookVerifier{APIKey: apiKey, Now: func() time.Time { return time.UnixMilli(ms) }}
	require.NoError(t, v.Verify(r.Header, r.Body), r.Path)
	for name, sig := range map[string]string{
		"payload first":        mac(string(r.Body), ref, ts),
		"without the call-ref": mac(string(r.Body), ts),
		"the v1 signature":     mac(ts),
	} {
		h := r.Header.Clone()
		h.Set("signature-v2", sig)
		assert.ErrorIs(t, v.Verify(h, r.Body), client.ErrWebhookSignature, "%s: signature-v2 as %s", r.Path, name)
	}
}

// webhookOperation is the webhook of assets/openapi.yaml whose body is the
// schema name.
func webhookOperation(t *testing.T, doc *openapi3.T, name string) *openapi3.Operation {
	t.Helper()
	for _, item := range doc.Webhooks {
		if op := item.Post; op != nil && op.RequestBody.Value.Content.Get("application/json").Schema.Ref == "#/components/schemas/"+name {
			return op
		}
	}
	t.Fatalf("no webhook of assets/openapi.yaml sends %s", name)
	return nil
}

// TestWebhookHeadersDeclaredAsWeavr: for each of Weavr's events, Deputy's
// description declares every header Weavr's declares for it.
func TestWebhookHeadersDeclaredAsWeavr(t *testing.T) {
	weavr := weavrspec.Load(t, weavrspec.Webhooks)
	doc, err := openapi3.NewLoader().LoadFromData(assets.OpenAPI())
	require.NoError(t, err)
	for path, name := range webhookSchemas {
		var ours []string
		for _, p := range webhookOperation(t, doc, name).Parameters {
			ours = append(ours, p.Value.Name)
		}
		for _, p := range weavr.Webhooks[path].Post.Parameters {
			if p.Value.In == openapi3.ParameterInHeader {
				assert.Contains(t, ours, p.Value.Name, "%s: Weavr's %s header", path, p.Value.Name)
			}
		}
	}
}
