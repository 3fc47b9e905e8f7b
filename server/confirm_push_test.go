package server_test

// Push confirmation challenges (Weavr multipleSCAChallengePush) with the
// companion played by mobile/authenticator: the device's signature covers
// the summary listing every resource's amount and payee.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/client"
)

// pushConfirmFixture is an enrolled root user with two registered sends.
func pushConfirmFixture(t *testing.T) (*bioEnv, *device, *client.Session) {
	e := newBioEnv(t)
	ctx := context.Background()
	id := e.root("ada@acme.test")
	phone := e.newDevice("phone-1", "ada@acme.test")
	phone.enrol()
	for _, r := range []struct {
		id    string
		cents int64
		payee string
	}{{"7001", 1250, "Alice Example"}, {"7002", 99, "Bob Builder Ltd"}} {
		_, err := e.api.RegisterResource(ctx, client.ResourceSends, r.id, client.ResourceRegistration{UserID: id,
			Amount: client.Amount{Currency: "GBP", Amount: r.cents}, PayeeName: r.payee, PayeeAccount: "GB29NWBK60161331926819"})
		require.NoError(t, err)
	}
	return e, phone, e.login("ada@acme.test")
}

// The companion sees every resource's amount and payee; its approval, with
// the number the requesting client shows, verifies both resources at once.
func TestConfirmPushApproved(t *testing.T) {
	e, phone, requester := pushConfirmFixture(t)
	ctx := context.Background()
	cp, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001", "7002"})
	require.NoError(t, err)

	pending, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, cp.SCAChallengeID, pending[0].ID)
	assert.Equal(t, client.PushKindConfirm, pending[0].Kind)
	assert.Equal(t, "Confirm 2 sends:\n12.50 GBP to Alice Example (GB29NWBK60161331926819)\n0.99 GBP to Bob Builder Ltd (GB29NWBK60161331926819)",
		pending[0].Summary)

	require.NoError(t, phone.approve(cp.SCAChallengeID, cp.Number))
	for _, id := range []string{"7001", "7002"} {
		r, err := e.api.Resource(ctx, client.ResourceSends, id)
		require.NoError(t, err)
		assert.Equal(t, client.ResourceVerified, r.State, id)
		assert.False(t, r.VerifiedAt.IsZero(), id)
	}
	assert.Contains(t, e.audit(), "confirmation.verify")
	_, err = requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001"})
	requireAPIError(t, err, http.StatusConflict, "STATE_INVALID", "a verified resource is not challenged again")
}

// A payee changed after the push was sent: the signature, made over the old
// summary, verifies nothing, and the challenge is cancelled.
func TestConfirmPushResourceChanged(t *testing.T) {
	e, phone, requester := pushConfirmFixture(t)
	ctx := context.Background()
	cp, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001", "7002"})
	require.NoError(t, err)
	r, err := e.api.Resource(ctx, client.ResourceSends, "7002")
	require.NoError(t, err)
	reg := r.ResourceRegistration
	reg.PayeeName = "Mallory"
	_, err = e.api.RegisterResource(ctx, client.ResourceSends, "7002", reg)
	require.NoError(t, err)

	requireAPIError(t, phone.approve(cp.SCAChallengeID, cp.Number), http.StatusConflict, "STATE_INVALID")
	for _, id := range []string{"7001", "7002"} {
		r, err := e.api.Resource(ctx, client.ResourceSends, id)
		require.NoError(t, err)
		assert.Equal(t, client.ResourcePending, r.State, "nothing half-done: %s", id)
	}
	ch := e.pushRecord(cp.SCAChallengeID)
	assert.Equal(t, core.PushCancelled, ch.State)
	assert.Equal(t, core.PushReasonResourcesChanged, ch.Reason)
	assert.Contains(t, e.audit(), "confirmation.failed")
}

// AUTHY is another name for the companion's channel; a decline on the
// device fails the confirmation.
func TestConfirmPushAuthyAndDecline(t *testing.T) {
	e, phone, requester := pushConfirmFixture(t)
	ctx := context.Background()
	body, err := json.Marshal(map[string]any{"resourceType": "sends", "resourceIds": []string{"7001"}})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.inst.URL+"/multi/challenges/push/AUTHY", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("api-key", e.inst.UIKey)
	req.Header.Set("Authorization", "Bearer "+requester.Token())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var cp client.ConfirmationPush
	require.NoError(t, json.NewDecoder(res.Body).Decode(&cp))

	require.NoError(t, phone.s.DeclinePush(ctx, cp.SCAChallengeID, client.DeclineCancelled))
	r, err := e.api.Resource(ctx, client.ResourceSends, "7001")
	require.NoError(t, err)
	assert.Equal(t, client.ResourcePending, r.State)
	assert.Contains(t, e.audit(), "confirmation.failed")
}

// A push confirmation nobody answers expires: the sweep records it, the
// confirmation fails with outcome EXPIRED (its webhook event says so), and
// the resources stay pending.
func TestConfirmPushExpired(t *testing.T) {
	e, _, requester := pushConfirmFixture(t)
	ctx := context.Background()
	cp, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001"})
	require.NoError(t, err)
	e.inst.Clock.Advance(e.pushRecord(cp.SCAChallengeID).ExpiresAt.Sub(e.inst.Clock.Now()) + time.Second)

	require.NoError(t, e.inst.Service.Sweep(ctx))
	assert.Equal(t, []string{"EXPIRED"}, e.confirmationOutcomes(cp.SCAChallengeID))
	r, err := e.api.Resource(ctx, client.ResourceSends, "7001")
	require.NoError(t, err)
	assert.Equal(t, client.ResourcePending, r.State)
	assert.Equal(t, core.PushExpired, e.pushRecord(cp.SCAChallengeID).State)
}

// A new device replaces the one a push confirmation went to: the challenge
// is cancelled and its confirmation fails at once (its webhook event says
// why), instead of staying pending until it expires.
func TestConfirmPushCancelledByNewDevice(t *testing.T) {
	e, _, requester := pushConfirmFixture(t)
	ctx := context.Background()
	cp, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001"})
	require.NoError(t, err)

	e.newDevice("phone-2", "ada@acme.test").enrol()
	assert.Equal(t, []string{core.PushReasonDeviceChanged}, e.confirmationOutcomes(cp.SCAChallengeID))
	ch := e.pushRecord(cp.SCAChallengeID)
	assert.Equal(t, core.PushCancelled, ch.State)
	assert.Equal(t, core.PushReasonDeviceChanged, ch.Reason)
	r, err := e.api.Resource(ctx, client.ResourceSends, "7001")
	require.NoError(t, err)
	assert.Equal(t, client.ResourcePending, r.State)
}

// confirmationOutcomes are the outcomes the audit log records for a
// confirmation that failed, in order: none while it has not, and never more
// than one.
func (e *bioEnv) confirmationOutcomes(id string) []string {
	var outcomes []string
	require.NoError(e.t, e.inst.Store.View(context.Background(), func(tx core.ReadTx) error {
		evs, err := tx.AuditEvents(e.inst.Programme.ID, 0, 1000)
		for _, ev := range evs {
			if ev.Action == "confirmation.failed" && ev.Details["challenge"] == id {
				outcomes = append(outcomes, ev.Details["outcome"])
			}
		}
		return err
	}))
	return outcomes
}

// An expired push confirmation the user then reports ("I did not do this")
// keeps its one outcome: EXPIRED, told once, whether the sweep recorded the
// expiry first or the report finds it; the report still ends every session
// and raises the alert.
func TestConfirmPushNotMeAfterExpiry(t *testing.T) {
	for _, swept := range []bool{true, false} {
		t.Run(fmt.Sprintf("swept=%v", swept), func(t *testing.T) {
			e, phone, requester := pushConfirmFixture(t)
			ctx := context.Background()
			cp, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001"})
			require.NoError(t, err)
			e.inst.Clock.Advance(e.pushRecord(cp.SCAChallengeID).ExpiresAt.Sub(e.inst.Clock.Now()) + time.Second)
			if swept {
				require.NoError(t, e.inst.Service.Sweep(ctx))
			}

			device := phone.signedIn(e.login("ada@acme.test")) // every session idled out meanwhile: the device signs in again
			require.NoError(t, device.DeclinePush(ctx, cp.SCAChallengeID, client.DeclineNotMe))
			assert.Equal(t, []string{"EXPIRED"}, e.confirmationOutcomes(cp.SCAChallengeID))
			ch := e.pushRecord(cp.SCAChallengeID)
			assert.Equal(t, core.PushExpired, ch.State)
			assert.Equal(t, core.PushReasonNotMe, ch.Reason, "reported")
			audit := e.audit()
			assert.Contains(t, audit, "security.push_not_me")
			assert.NotContains(t, audit, "push.decline")
			_, err = device.PendingPush(ctx, phone.id, 0)
			requireAPIError(t, err, http.StatusUnauthorized, "UNAUTHORIZED", "NOT_ME ended every session")

			// Once: a second report of the same stale challenge ends nothing more.
			again := phone.signedIn(e.login("ada@acme.test"))
			requireAPIError(t, again.DeclinePush(ctx, cp.SCAChallengeID, client.DeclineNotMe), http.StatusConflict, core.CodeCodeExpired)
			_, err = again.PendingPush(ctx, phone.id, 0)
			require.NoError(t, err, "the session stands")
			assert.Equal(t, 1, strings.Count(strings.Join(e.audit(), " "), "security.push_not_me"))
		})
	}
}

// A new challenge for a resource ends the one still pending for it, once:
// a push one leaves the phone and fails as SUPERSEDED, an SMS one too; the
// superseded push can no longer be approved.
func TestConfirmationSuperseded(t *testing.T) {
	e, phone, requester := pushConfirmFixture(t)
	ctx := context.Background()
	first, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001", "7002"})
	require.NoError(t, err)
	second, err := requester.ConfirmPush(ctx, client.ResourceSends, []string{"7002"})
	require.NoError(t, err)

	assert.Equal(t, []string{core.PushReasonSuperseded}, e.confirmationOutcomes(first.SCAChallengeID))
	ch := e.pushRecord(first.SCAChallengeID)
	assert.Equal(t, core.PushCancelled, ch.State)
	assert.Equal(t, core.PushReasonSuperseded, ch.Reason)
	pending, err := phone.s.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	require.Len(t, pending, 1, "only the new challenge is on the phone")
	assert.Equal(t, second.SCAChallengeID, pending[0].ID)
	_, err = phone.s.PushOptions(ctx, first.SCAChallengeID)
	requireAPIError(t, err, http.StatusConflict, core.CodeStateInvalid, "the superseded push can no longer be signed")

	sms, err := requester.ConfirmSMS(ctx, client.ResourceSends, []string{"7001", "7002"})
	require.NoError(t, err)
	assert.Equal(t, []string{core.PushReasonSuperseded}, e.confirmationOutcomes(second.SCAChallengeID))
	assert.Equal(t, []string{core.PushReasonSuperseded}, e.confirmationOutcomes(first.SCAChallengeID), "told once")
	_, err = requester.ConfirmPush(ctx, client.ResourceSends, []string{"7001"})
	require.NoError(t, err)
	assert.Equal(t, []string{core.PushReasonSuperseded}, e.confirmationOutcomes(sms))
}
