package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// Push tokens the tests register: shaped as FCM and APNs give them.
var (
	fcmToken  = "cXk2Vb8lRkq0yVd1:APA91bH" + strings.Repeat("x7_Q-", 28)
	apnsToken = strings.Repeat("A1b2C3d4", 8) // 32 bytes in hex, some upper case
)

// relayRecorder is a core.PushRelay that records what it is asked to send
// and answers with reject for the tokens in it.
type relayRecorder struct {
	mu     sync.Mutex
	sent   []relayed
	reject map[string]bool
}

type relayed struct {
	to core.PushToken
	e  core.PushEvent
}

func (r *relayRecorder) Notify(_ context.Context, to core.PushToken, e core.PushEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, relayed{to, e})
	if r.reject[to.Token] {
		return fmt.Errorf("fake push service: %w", core.ErrPushTokenRejected)
	}
	return nil
}

// taken returns what was sent since the last call, once the service has
// handed every event over (WaitForMail).
func (r *relayRecorder) taken(e *bioEnv) []relayed {
	e.inst.Service.WaitForMail()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

func withRelay(r core.PushRelay) bioOption { return func(o *testserver.Options) { o.Push = r } }

// enrolledRootID is enrolledRoot that also returns the user's id.
func (e *bioEnv) enrolledRootID(email, id string) (string, *device) {
	e.t.Helper()
	userID := e.root(email)
	d := e.newDevice(id, email)
	d.enrol()
	return userID, d
}

// pushTokenOf reads the push token stored on the user's BIOMETRIC factor.
func (e *bioEnv) pushTokenOf(userID string) *core.PushToken {
	e.t.Helper()
	var got *core.PushToken
	require.NoError(e.t, e.inst.Store.View(context.Background(), func(tx core.ReadTx) error {
		f, err := tx.Factor(userID, core.ChannelBiometric)
		if err == nil {
			got = f.Push
		}
		return err
	}))
	return got
}

// TestPushTokenRegister: the linked device registers its push token, which a
// second registration replaces; other devices and users cannot; a new
// enrolment and an unlink forget it.
func TestPushTokenRegister(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	adaID, phone := e.enrolledRootID("ada@acme.test", "phone-1")
	e.root("bob@acme.test")

	require.NoError(t, phone.s.RegisterPushToken(ctx, "phone-1", client.PushPlatformFCM, fcmToken))
	assert.Equal(t, &core.PushToken{Platform: core.PushFCM, Token: fcmToken}, e.pushTokenOf(adaID))

	require.NoError(t, phone.s.RegisterPushToken(ctx, "phone-1", client.PushPlatformAPNs, apnsToken))
	assert.Equal(t, &core.PushToken{Platform: core.PushAPNs, Token: strings.ToLower(apnsToken)}, e.pushTokenOf(adaID),
		"a new registration replaces the token; APNs tokens are kept in lower case")

	err := e.login("ada@acme.test").RegisterPushToken(ctx, "phone-2", client.PushPlatformFCM, fcmToken)
	requireAPIError(t, err, http.StatusConflict, client.CodeChannelNotRegistered, "another device of the user")
	err = e.login("bob@acme.test").RegisterPushToken(ctx, "phone-1", client.PushPlatformFCM, fcmToken)
	requireAPIError(t, err, http.StatusConflict, client.CodeChannelNotRegistered, "a user without a linked device")

	phone2 := e.newDevice("phone-2", "ada@acme.test")
	phone2.enrol()
	assert.Nil(t, e.pushTokenOf(adaID), "enrolling another device forgets the old one's token")
	err = phone.s.RegisterPushToken(ctx, "phone-1", client.PushPlatformFCM, fcmToken)
	require.ErrorIs(t, err, client.ErrUnauthorized, "the replaced device's session ended with the replacement")

	require.NoError(t, phone2.s.RegisterPushToken(ctx, "phone-2", client.PushPlatformFCM, fcmToken))
	require.NoError(t, phone2.s.UnlinkBiometric(ctx))
	assert.Nil(t, e.pushTokenOf(adaID), "unlinking forgets the token")
}

// TestPushTokenInvalid: each malformed field is named in a 400.
func TestPushTokenInvalid(t *testing.T) {
	e := newBioEnv(t)
	adaID, phone := e.enrolledRootID("ada@acme.test", "phone-1")
	raw := e.raw.Session(phone.s.Token()) // past the OpenAPI validator, which would refuse these first
	for _, tc := range []struct {
		name                    string
		device, platform, token string
		field, reason           string
	}{
		{"no device", "", client.PushPlatformFCM, fcmToken, "deviceId", "REQUIRED"},
		{"bad device", "phone 1", client.PushPlatformFCM, fcmToken, "deviceId", "REGEX"},
		{"no platform", "phone-1", "", fcmToken, "platform", "REQUIRED"},
		{"unknown platform", "phone-1", "GCM", fcmToken, "platform", "IN"},
		{"no token", "phone-1", client.PushPlatformFCM, "", "token", "REQUIRED"},
		{"FCM token with a space", "phone-1", client.PushPlatformFCM, fcmToken[:40] + " " + fcmToken[41:], "token", "REGEX"},
		{"FCM token too short", "phone-1", client.PushPlatformFCM, "abc:def", "token", "SIZE"},
		{"FCM token too long", "phone-1", client.PushPlatformFCM, strings.Repeat("a", 4097), "token", "SIZE"},
		{"APNs token not hex", "phone-1", client.PushPlatformAPNs, strings.Repeat("zz", 32), "token", "REGEX"},
		{"APNs token of an odd length", "phone-1", client.PushPlatformAPNs, apnsToken + "a", "token", "REGEX"},
		{"APNs token too short", "phone-1", client.PushPlatformAPNs, apnsToken[:62], "token", "REGEX"},
		{"APNs token too long", "phone-1", client.PushPlatformAPNs, strings.Repeat("ab", 101), "token", "REGEX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := raw.RegisterPushToken(context.Background(), tc.device, tc.platform, tc.token)
			var ae *client.Error
			require.ErrorAs(t, err, &ae)
			require.Equal(t, http.StatusBadRequest, ae.Status)
			require.Len(t, ae.Fields, 1, "%+v", ae.Fields)
			assert.Equal(t, tc.field, ae.Fields[0].Field)
			assert.Equal(t, tc.reason, ae.Fields[0].Reason)
		})
	}
	assert.Nil(t, e.pushTokenOf(adaID), "nothing was stored")
}

// TestPushRelayed: a push step-up reaches the relay once, addressed to the
// device's token and carrying ids only; a token the service rejects is
// forgotten, so that nothing more is sent to it.
func TestPushRelayed(t *testing.T) {
	rec := &relayRecorder{reject: map[string]bool{}}
	e := newBioEnv(t, withRelay(rec))
	ctx := context.Background()
	adaID, phone := e.enrolledRootID("ada@acme.test", "phone-1")
	admin := e.login("ada@acme.test")

	_, err := admin.StepUpPush(ctx, "Create user pia@acme.test with role ADMIN")
	require.NoError(t, err)
	assert.Empty(t, rec.taken(e), "no token registered: nothing to relay")

	require.NoError(t, phone.s.RegisterPushToken(ctx, "phone-1", client.PushPlatformFCM, fcmToken))
	up, err := admin.StepUpPush(ctx, "Create user pia@acme.test with role ADMIN")
	require.NoError(t, err)
	sent := rec.taken(e)
	require.Len(t, sent, 1)
	assert.Equal(t, core.PushToken{Platform: core.PushFCM, Token: fcmToken}, sent[0].to)
	assert.Equal(t, core.PushEvent{Kind: core.PushEventChallenge, UserID: adaID, ChallengeID: up.ID}, sent[0].e, "ids only")

	require.NoError(t, phone.approve(up.ID, up.Number))
	sent = rec.taken(e)
	require.Len(t, sent, 1)
	assert.Equal(t, core.PushEvent{Kind: core.PushEventResolved, UserID: adaID, ChallengeID: up.ID}, sent[0].e)

	rec.reject[fcmToken] = true
	_, err = admin.StepUpPush(ctx, "Create user pia@acme.test with role ADMIN")
	require.NoError(t, err)
	assert.Len(t, rec.taken(e), 1)
	assert.Nil(t, e.pushTokenOf(adaID), "a rejected token is forgotten")
	assert.Contains(t, e.inst.Logs.String(), "push token rejected by the push service")
	assert.NotContains(t, e.inst.Logs.String(), fcmToken[:20], "the token is never logged")
	_, err = admin.StepUpPush(ctx, "Create user pia@acme.test with role ADMIN")
	require.NoError(t, err)
	assert.Empty(t, rec.taken(e), "nothing more goes to a rejected token")
}

// TestPushRelayFailureFailsNothing: an error of the push service is logged
// and the step-up still succeeds.
func TestPushRelayFailureFailsNothing(t *testing.T) {
	e := newBioEnv(t, withRelay(failingRelay{}))
	ctx := context.Background()
	adaID, phone := e.enrolledRootID("ada@acme.test", "phone-1")
	require.NoError(t, phone.s.RegisterPushToken(ctx, "phone-1", client.PushPlatformAPNs, apnsToken))
	up, err := e.login("ada@acme.test").StepUpPush(ctx, "Create user pia@acme.test")
	require.NoError(t, err)
	e.inst.Service.WaitForMail()
	assert.Contains(t, e.inst.Logs.String(), `"msg":"push relay"`)
	assert.Contains(t, e.inst.Logs.String(), "429 TooManyRequests")
	assert.NotNil(t, e.pushTokenOf(adaID), "a failure other than a rejection keeps the token")
	require.NoError(t, phone.approve(up.ID, up.Number))
}

type failingRelay struct{}

func (failingRelay) Notify(context.Context, core.PushToken, core.PushEvent) error {
	return errors.New("apns: 429 TooManyRequests")
}
