package server_test

// The admin's device reset (issue 12, point 1), POST /multi/users/{id}/device/reset:
// a lost phone stops being a factor, and everything it could still do ends.

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/client"
)

func TestDeviceReset(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	adminPhone := e.enrolledRoot("ada@acme.test", "admin-phone")
	admin := adminPhone.s // stepped up by the enrolment
	u, err := admin.CreateUser(ctx, client.UserCreate{Name: "Bob", Surname: "Builder", Email: "bob@acme.test",
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900555"}, Roles: []string{client.RoleCardAssignee}})
	require.NoError(t, err)
	_, err = e.api.CreatePassword(ctx, u.ID, bioPassword)
	require.NoError(t, err)
	bob := e.newDevice("bob-phone", "bob@acme.test")
	bob.enrol()
	require.NoError(t, bob.s.RegisterPushToken(ctx, bob.id, client.PushPlatformFCM, fcmToken))
	stream := e.stream(bob.s, bob.id)
	bobDesk := e.login("bob@acme.test")
	up, err := bobDesk.StepUpPush(ctx, "")
	require.NoError(t, err)
	stale := bob.assertion(up.ID)
	nextEvent(t, stream, client.EventChallenge)

	// A session that has not stepped up may not reset anyone's device.
	fresh := e.login("ada@acme.test")
	require.ErrorIs(t, fresh.ResetUserDevice(ctx, u.ID), client.ErrStepUpRequired)
	assert.Equal(t, core.PushPending, e.pushRecord(up.ID).State, "the refused call changed nothing")

	require.NoError(t, admin.ResetUserDevice(ctx, u.ID))
	ev := nextEvent(t, stream, client.EventUnlinked)
	assert.Equal(t, "bob-phone", ev.DeviceID)
	rec := e.pushRecord(up.ID)
	assert.Equal(t, core.PushCancelled, rec.State, "pending challenges are cancelled")
	assert.Equal(t, core.PushReasonDeviceReset, rec.Reason)
	assert.Nil(t, e.pushTokenOf(u.ID), "the push token goes with the device")
	for name, s := range map[string]*client.Session{"the phone's session": bob.s, "the desk's session": bobDesk} {
		_, err := s.Factors(ctx)
		require.ErrorIs(t, err, client.ErrUnauthorized, "%s ended", name)
	}
	requireAPIError(t, bob.s.ApprovePush(ctx, up.ID, up.Number, stale), http.StatusUnauthorized, "UNAUTHORIZED")

	// Bob signs in again: both factors wait for a new enrolment, and the old phone approves nothing.
	again := e.login("bob@acme.test")
	factors, err := again.Factors(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []client.Factor{
		{Type: "OTP", Channel: "SMS", Status: client.FactorInactive},
		{Type: "PUSH", Channel: "BIOMETRIC", Status: client.FactorInactive},
	}, factors)
	require.ErrorIs(t, again.StepUpSMS(ctx), client.ErrConflict, "no step-up until the new phone is enrolled")
	bob.s = again
	_, err = bob.s.PendingPush(ctx, bob.id, 0)
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered)

	// Idempotent: a second reset retires nothing more and still answers 204.
	require.NoError(t, admin.ResetUserDevice(ctx, u.ID, client.IdempotencyRef("reset-1")))
	require.NoError(t, admin.ResetUserDevice(ctx, u.ID, client.IdempotencyRef("reset-1")))
	assert.Equal(t, 2, count(e.audit(), "user.device_reset"), "every reset is recorded, a replay is not")
	page, err := admin.SecurityEvents(ctx, u.ID, "", 1)
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	assert.Equal(t, "user.device_reset", page.Events[0].Action, "who reset Bob's device, as his admin reads it")
	assert.NotEqual(t, u.ID, page.Events[0].Actor, "an admin did, not Bob")
	assert.NotEmpty(t, page.Next)
	_, err = admin.SecurityEvents(ctx, u.ID, page.Next, 101)
	require.ErrorIs(t, err, client.ErrInvalid)

	// A new phone enrols as on the first day.
	phone := e.newDevice("bob-new-phone", "bob@acme.test")
	phone.enrol()
	up, err = e.login("bob@acme.test").StepUpPush(ctx, "")
	require.NoError(t, err)
	require.NoError(t, phone.approve(up.ID, up.Number))

	require.ErrorIs(t, admin.ResetUserDevice(ctx, "999999999"), client.ErrNotFound)
}
