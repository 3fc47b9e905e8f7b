package core_test

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/assets"
	"github.com/deputyhq/deputy/core"
)

// webhookSchemas maps each event's path to its schema in assets/openapi.yaml.
var webhookSchemas = map[string]string{
	"/login/watch":                       "WebhookLoginEvent",
	"/stepup/watch":                      "WebhookStepupEvent",
	"/authentication_factors/watch":      "WebhookEnrolmentEvent",
	"/auth/users/user_deactivated/watch": "WebhookUserDeactivatedEvent",
	"/bulk_process_end/watch":            "WebhookBulkProcessEndEvent",
}

// TestWebhookEventsMatchSchemas drives a user's life through sign-ins,
// enrolment, step-ups, changes, deactivation and lockout: every event
// arrives on its path, its body valid against its schema in
// assets/openapi.yaml, and no body carries a code, token or password.
func TestWebhookEventsMatchSchemas(t *testing.T) {
	e := newHookEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	require.NoError(t, e.svc.StepUpSMS(e.ctx, root, ""))
	require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, root, e.sms.lastCode(t)))
	send := func(id, payee string) {
		_, err := e.svc.PutResource(e.ctx, e.prog, core.NewResource{Type: core.ResourceSends, ID: id, UserID: root.User.ID,
			Summary: core.ResourceSummary{Amount: core.Amount{Currency: "EUR", Value: 1250}, PayeeName: payee, PayeeAccount: "DE89370400440532013000"}})
		require.NoError(t, err)
	}
	send("7001", "Alice")
	send("7002", "Bob")
	confirmation, err := e.svc.ConfirmSMS(e.ctx, root, core.ResourceSends, []string{"7001"})
	require.NoError(t, err)
	require.NoError(t, e.svc.VerifyConfirmSMS(e.ctx, root, confirmation, core.ResourceSends, e.sms.lastCode(t)))
	confirmation, err = e.svc.ConfirmSMS(e.ctx, root, core.ResourceSends, []string{"7002"})
	require.NoError(t, err)
	send("7002", "Mallory")
	require.Error(t, e.svc.VerifyConfirmSMS(e.ctx, root, confirmation, core.ResourceSends, e.sms.lastCode(t)))
	bea, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
	require.NoError(t, err)
	roles := []core.Role{core.RoleCardAssignee}
	_, err = e.svc.UpdateUser(e.ctx, root, bea.ID, core.UserPatch{Roles: &roles})
	require.NoError(t, err)
	require.NoError(t, e.svc.SetUserActive(e.ctx, root, bea.ID, false))
	require.NoError(t, e.svc.SetUserActive(e.ctx, root, bea.ID, true))
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error { // as if Bea had enrolled
		return tx.PutFactor(&core.Factor{UserID: bea.ID, Channel: core.ChannelSMS, Status: core.FactorActive, Mobile: &testMobile,
			CreatedAt: hookT0, UpdatedAt: hookT0})
	}))
	require.NoError(t, e.svc.ResetUserDevice(e.ctx, root, bea.ID))
	for _, users := range [][]core.NewUser{newUsers("bulk", 2), {{UserDetails: core.UserDetails{Name: "Bea", Surname: "Again", Email: "bea@acme.test"}}}} {
		b, err := e.svc.SubmitUserCreateBulk(e.ctx, root, users)
		require.NoError(t, err)
		require.NoError(t, e.svc.ExecuteBulk(e.ctx, root, b.ID, ""))
		require.NoError(t, e.svc.ProcessBulks(e.ctx))
	}
	other := e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	require.NoError(t, e.svc.StepUpSMS(e.ctx, other, ""))
	for i := range 5 {
		if e.svc.VerifyStepUpSMS(e.ctx, other, wrongCode(core.SandboxCode, i)) != nil && i == 4 {
			break
		}
	}
	for range 5 {
		_, _ = e.svc.Login(e.ctx, e.prog, "root@acme.test", "wrong-password")
	}
	drain(t, e.worker(nil))

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
		"/login/watch VERIFIED", "/login/watch DECLINED", "/stepup/watch VERIFIED", "/stepup/watch DECLINED",
		"/authentication_factors/watch ACTIVE", "/authentication_factors/watch INACTIVE", "/auth/users/user_deactivated/watch",
		"/deputy/users/created/watch user_created", "/deputy/users/updated/watch user_updated",
		"/deputy/users/roles_changed/watch roles_changed", "/deputy/users/activated/watch user_activated",
		"/deputy/users/device_reset/watch device_reset", "/deputy/users/locked/watch user_locked",
		"/deputy/users/confirmation/watch confirmation",
		"/bulk_process_end/watch COMPLETED", "/bulk_process_end/watch FAILED",
	} {
		assert.True(t, seen[want], "no %s event among %v", want, seen)
	}
	assert.ElementsMatch(t, []string{"7001 VERIFIED", "7002 " + core.PushReasonResourcesChanged}, outcomes)
}
