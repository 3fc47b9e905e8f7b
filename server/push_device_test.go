package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// TestUnlinkedDeviceCannotAnswer: a phone that unlinked itself keeps its
// session (it made the change), but once another phone is linked that session,
// bound to the old phone by its enrolment, can no longer list, follow or
// decline anything, "I did not do this" included, with or without a device id.
func TestUnlinkedDeviceCannotAnswer(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	old := e.enrolledRoot("ada@acme.test", "old-phone") // its session is stepped up and bound to it
	require.NoError(t, old.s.UnlinkBiometric(ctx))
	fresh := e.newDevice("new-phone", "ada@acme.test")
	fresh.enrol()
	up, err := e.login("ada@acme.test").StepUpPush(ctx, "")
	require.NoError(t, err)

	for _, deviceID := range []string{"", old.id} {
		_, err = old.s.PendingPush(ctx, deviceID, 0)
		requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered, "list with device id %q", deviceID)
		_, err = old.s.PushEvents(ctx, deviceID)
		requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered, "stream with device id %q", deviceID)
	}
	for _, reason := range []string{client.DeclineNotMe, client.DeclineCancelled} {
		requireAPIError(t, old.s.DeclinePush(ctx, up.ID, reason), http.StatusConflict, core.CodeChannelNotRegistered, reason)
	}
	_, err = old.s.PushOptions(ctx, up.ID)
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered)
	assert.Equal(t, core.PushPending, e.pushRecord(up.ID).State, "the old phone changed nothing")
	assert.NotContains(t, e.audit(), "security.push_not_me")

	list, err := fresh.s.PendingPush(ctx, fresh.id, 0)
	require.NoError(t, err)
	require.Len(t, list, 1, "the linked phone still sees it")
	require.NoError(t, fresh.s.DeclinePush(ctx, up.ID, client.DeclineCancelled))
}

// TestEnrolmentRefusesARegisteredCredential: a credential id that is already
// registered, here to another user, is refused (WebAuthn L3 §7.1 step 22) and
// nothing is written: the enrolment may be finished with another credential.
func TestEnrolmentRefusesARegisteredCredential(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	ada := e.enrolledRoot("ada@acme.test", "ada-phone")
	e.root("bob@bank.test")
	bob := e.newDevice("bob-phone", "bob@bank.test")
	options, err := bob.s.BeginBiometricEnrolment(ctx, bob.id, "Bob's phone")
	require.NoError(t, err)
	req, err := authenticator.ParseCreationOptions(options, bob.origin)
	require.NoError(t, err)
	att, err := bob.auth.Register(ctx, req)
	require.NoError(t, err)
	// Ada's factor holds the credential id Bob's authenticator answers with.
	require.NoError(t, e.inst.Store.Update(ctx, func(tx core.Tx) error {
		users, err := tx.UsersByEmail(e.inst.Programme.ID, "ada@acme.test")
		if err != nil {
			return err
		}
		f, err := tx.Factor(users[0].ID, core.ChannelBiometric)
		if err != nil {
			return err
		}
		require.Equal(t, ada.credID, f.CredentialID)
		f.CredentialID = att.CredentialID
		return tx.PutFactor(f)
	}))

	_, err = bob.s.FinishBiometricEnrolment(ctx, core.SandboxCode, att)
	requireAPIError(t, err, http.StatusConflict, core.CodeWebAuthnCredentialTaken)
	factors, err := bob.s.Factors(ctx)
	require.NoError(t, err)
	assert.Empty(t, factors, "nothing was enrolled, not even SMS")
	assert.Equal(t, 1, count(e.audit(), "factor.enrol"), "Ada's enrolment only")

	att, err = bob.auth.Register(ctx, req) // a new key pair and id for the same ceremony
	require.NoError(t, err)
	_, err = bob.s.FinishBiometricEnrolment(ctx, core.SandboxCode, att)
	require.NoError(t, err, "the code was not spent")
}

// TestEnrolmentAfterAMobileChangeIsRefused: a biometric enrolment makes SMS
// codes ACTIVE on the user's mobile because its code proved that number. The
// mobile changed after the code was sent (to the old number): finishing is
// refused STATE_INVALID, and SMS stays off until the new number is proved.
func TestEnrolmentAfterAMobileChangeIsRefused(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	id := e.root("ada@acme.test")
	phone := e.newDevice("phone-1", "ada@acme.test")
	phone.enrol() // SMS ACTIVE on +44 7700900123; the session is stepped up

	e.inst.Clock.Advance(time.Minute)
	options, err := phone.s.BeginBiometricEnrolment(ctx, "phone-2", "Phone 2") // the code goes to 7700900123
	require.NoError(t, err)
	caller, _, err := e.inst.Service.AuthenticateCall(ctx, e.inst.UIKey, phone.s.Token())
	require.NoError(t, err)
	_, err = e.inst.Service.UpdateRootUser(ctx, caller, core.UserPatch{Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900999"}}, nil)
	require.NoError(t, err)

	p2 := newDeviceWith(t, "phone-2", phone.s, authenticator.NewMemoryStore(), yes)
	req, err := authenticator.ParseCreationOptions(options, p2.origin)
	require.NoError(t, err)
	att, err := p2.auth.Register(ctx, req)
	require.NoError(t, err)
	_, err = phone.s.FinishBiometricEnrolment(ctx, core.SandboxCode, att)
	requireAPIError(t, err, http.StatusConflict, core.CodeStateInvalid)
	require.NoError(t, e.inst.Store.View(ctx, func(tx core.ReadTx) error {
		sms, err := tx.Factor(id, core.ChannelSMS)
		if err == nil {
			assert.NotEqual(t, core.FactorActive, sms.Status, "SMS on %+v, a number no code went to", sms.Mobile)
		}
		return err
	}))
}

// TestAPasswordIsNotThePhone: a session signed in with the password alone
// (not the one that enrolled the phone, without the secret the phone got at
// its enrolment) cannot speak for the phone, though the phone's device id is
// no secret: it may not list the phone's challenges, read their options,
// open the phone's stream, decline (NOT_ME would sign everyone out) nor take
// the phone's wake-ups: 403 DEVICE_SECRET_REQUIRED, which tells a genuine
// phone that lost its secret that it is still linked (CHANNEL_NOT_REGISTERED
// would make it forget its key). With the secret, a later session may.
// The session that asked for a step-up still withdraws it.
func TestAPasswordIsNotThePhone(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	require.NoError(t, phone.s.RegisterPushToken(ctx, phone.id, client.PushPlatformFCM, fcmToken))
	requester := e.login("ada@acme.test")
	up, err := requester.StepUpPush(ctx, "Pay 900 GBP to Bob")
	require.NoError(t, err)

	thief := e.login("ada@acme.test")
	_, err = thief.PendingPush(ctx, phone.id, 0)
	requireAPIError(t, err, http.StatusForbidden, core.CodeDeviceSecretRequired, "list")
	_, err = thief.PendingPush(ctx, "", 0)
	requireAPIError(t, err, http.StatusForbidden, core.CodeDeviceSecretRequired, "list without a device id")
	_, err = thief.PushOptions(ctx, up.ID)
	requireAPIError(t, err, http.StatusForbidden, core.CodeDeviceSecretRequired, "options")
	_, err = thief.PushEvents(ctx, phone.id)
	requireAPIError(t, err, http.StatusForbidden, core.CodeDeviceSecretRequired, "stream")
	for _, reason := range []string{client.DeclineNotMe, client.DeclineCancelled} {
		requireAPIError(t, thief.DeclinePush(ctx, up.ID, reason), http.StatusForbidden, core.CodeDeviceSecretRequired, reason)
	}
	requireAPIError(t, thief.RegisterPushToken(ctx, phone.id, client.PushPlatformFCM, fcmToken+"thief"),
		http.StatusForbidden, core.CodeDeviceSecretRequired, "push token")
	requireAPIError(t, thief.WithDeviceSecret("dds_guessed").DeclinePush(ctx, up.ID, client.DeclineNotMe),
		http.StatusConflict, core.CodeChannelNotRegistered, "a wrong secret: another device's")
	assert.Equal(t, core.PushPending, e.pushRecord(up.ID).State, "nothing changed")
	assert.NotContains(t, e.audit(), "security.push_not_me")
	var f *core.Factor
	require.NoError(t, e.inst.Store.View(ctx, func(tx core.ReadTx) error {
		users, err := tx.UsersByEmail(e.inst.Programme.ID, "ada@acme.test")
		if err == nil {
			f, err = tx.Factor(users[0].ID, core.ChannelBiometric)
		}
		return err
	}))
	assert.Equal(t, fcmToken, f.Push.Token, "the phone keeps its wake-ups")

	later := phone.signedIn(e.login("ada@acme.test")) // the phone signed in again
	list, err := later.PendingPush(ctx, phone.id, 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NoError(t, later.RegisterPushToken(ctx, phone.id, client.PushPlatformFCM, fcmToken+"renewed"))

	requireAPIError(t, requester.DeclinePush(ctx, up.ID, client.DeclineNotMe), http.StatusForbidden, core.CodeDeviceSecretRequired,
		"the requester withdraws, it does not answer for the phone")
	require.NoError(t, requester.DeclinePush(ctx, up.ID, client.DeclineCancelled), "the requester withdraws its own")
	assert.Equal(t, core.PushDeclined, e.pushRecord(up.ID).State)
}

// TestAnUnlinkingSessionSpeaksForNoLaterEnrolment: the session that unlinked
// the phone stays (it made the change) and stays bound to the phone's device
// id; a device enrolled later under that id is another enrolment, which that
// session does not speak for without the new secret. The old phone's secret
// is another device's.
func TestAnUnlinkingSessionSpeaksForNoLaterEnrolment(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	require.NoError(t, phone.s.UnlinkBiometric(ctx))
	again := e.newDevice("phone-1", "ada@acme.test")
	again.enrol()

	_, err := phone.s.PendingPush(ctx, "", 0)
	requireAPIError(t, err, http.StatusForbidden, core.CodeDeviceSecretRequired)
	_, err = phone.signedIn(e.login("ada@acme.test")).PendingPush(ctx, "", 0)
	requireAPIError(t, err, http.StatusConflict, core.CodeChannelNotRegistered, "the old secret")
	_, err = again.s.PendingPush(ctx, "phone-1", 0)
	require.NoError(t, err, "the enrolling session")
	_, err = again.signedIn(e.login("ada@acme.test")).PendingPush(ctx, "phone-1", 0)
	require.NoError(t, err, "a later session with the new secret")
}

// TestEnrolmentOnAnUnprovenNumberNeedsAStepUp: while the phone is linked and
// SMS is off (the mobile changed and was not enrolled again), a code texted
// to the new number proves only that number, not a factor of the user's. So
// linking a new device then needs a stepped-up session, as enrolling SMS
// does; else whoever holds the password and that number would replace the
// phone and switch SMS on without either factor the user holds.
func TestEnrolmentOnAnUnprovenNumberNeedsAStepUp(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	caller, _, err := e.inst.Service.AuthenticateCall(ctx, e.inst.UIKey, phone.s.Token())
	require.NoError(t, err)
	_, err = e.inst.Service.UpdateRootUser(ctx, caller, core.UserPatch{Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900999"}}, nil)
	require.NoError(t, err)

	s := e.login("ada@acme.test") // the password alone
	require.ErrorIs(t, s.EnrolSMS(ctx), client.ErrStepUpRequired, "the rule SMS enrolment has")
	_, err = s.BeginBiometricEnrolment(ctx, "phone-2", "Phone 2")
	require.ErrorIs(t, err, client.ErrStepUpRequired)

	up, err := s.StepUpPush(ctx, "Link a new device")
	require.NoError(t, err)
	phone.s = phone.signedIn(e.login("ada@acme.test"))
	require.NoError(t, phone.approve(up.ID, up.Number))
	p2 := newDeviceWith(t, "phone-2", s, authenticator.NewMemoryStore(), yes)
	p2.enrol() // stepped up by the phone it replaces
}
