package server_test

// Push confirmation challenges (Weavr multipleSCAChallengePush) with the
// companion played by mobile/authenticator: the device's signature covers
// the summary listing every resource's amount and payee.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
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
	assert.Equal(t, "EXPIRED", e.confirmationOutcome(cp.SCAChallengeID))
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
	assert.Equal(t, core.PushReasonDeviceChanged, e.confirmationOutcome(cp.SCAChallengeID))
	ch := e.pushRecord(cp.SCAChallengeID)
	assert.Equal(t, core.PushCancelled, ch.State)
	assert.Equal(t, core.PushReasonDeviceChanged, ch.Reason)
	r, err := e.api.Resource(ctx, client.ResourceSends, "7001")
	require.NoError(t, err)
	assert.Equal(t, client.ResourcePending, r.State)
}

// confirmationOutcome is the outcome the audit log records for a
// confirmation that failed, "" while it has not.
func (e *bioEnv) confirmationOutcome(id string) string {
	var outcome string
	require.NoError(e.t, e.inst.Store.View(context.Background(), func(tx core.ReadTx) error {
		evs, err := tx.AuditEvents(e.inst.Programme.ID, 0, 1000)
		for _, ev := range evs {
			if ev.Action == "confirmation.failed" && ev.Details["challenge"] == id {
				outcome = ev.Details["outcome"]
			}
		}
		return err
	}))
	return outcome
}
