package pushrelay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pushrelay"
	"github.com/deputyhq/deputy/internal/pushrelay/apns"
	"github.com/deputyhq/deputy/internal/pushrelay/fcm"
	"github.com/deputyhq/deputy/internal/pushrelay/pushfake"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

var (
	fcmToken  = "cXk2Vb8lRkq0yVd1:APA91bH" + strings.Repeat("x7_Q-", 28)
	apnsToken = strings.Repeat("0a1b2c3d", 8)
)

const summary = "Create user pia@acme.test with roles ADMIN"

// TestEndToEnd: push step-ups asked for over the API reach the phone's push
// service once each, FCM or APNs as its token says, with ids only; a token
// the service calls unregistered is forgotten and gets nothing more.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	fcmFake, apnsFake := pushfake.NewFCM(t, "deputy-test"), pushfake.NewAPNs(t)
	fcmRelay, err := fcm.New(ctx, fcm.Config{CredentialsFile: fcmFake.CredentialsFile, ProjectID: fcmFake.Project, Endpoint: fcmFake.Endpoint})
	require.NoError(t, err)
	apnsRelay, err := apns.New(apns.Config{KeyFile: apnsFake.KeyFile, KeyID: apnsFake.KeyID, TeamID: apnsFake.TeamID, Topic: apnsFake.Topic,
		Host: apnsFake.URL, HTTPClient: apnsFake.Client})
	require.NoError(t, err)
	inst := testserver.Start(t, testserver.Options{
		Programme: core.NewProgramme{Name: "Acme Pay", Settings: core.ProgrammeSettings{Biometrics: true}},
		Push:      pushrelay.ByPlatform{core.PushFCM: fcmRelay, core.PushAPNs: apnsRelay},
	})
	userID, phone, admin := enrolled(t, inst)

	stepUp := func() *client.PushStepUp {
		t.Helper()
		up, err := admin.StepUpPush(ctx, summary)
		require.NoError(t, err)
		inst.Service.WaitForMail() // the relay runs after the answer
		return up
	}

	stepUp()
	assert.Empty(t, fcmFake.Requests(), "no token registered yet")

	require.NoError(t, phone.RegisterPushToken(ctx, "phone-1", client.PushPlatformFCM, fcmToken))
	up := stepUp()
	sent := fcmFake.Requests()
	require.Len(t, sent, 1, "exactly one FCM request")
	assert.Empty(t, apnsFake.Requests())
	var m struct{ Message map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal(sent[0].Body, &m))
	assert.JSONEq(t, `"`+fcmToken+`"`, string(m.Message["token"]))
	assert.JSONEq(t, `{"kind":"challenge","challenge":"`+up.ID+`"}`, string(m.Message["data"]))
	assertIDsOnly(t, sent[0].Body, userID)

	require.NoError(t, phone.RegisterPushToken(ctx, "phone-1", client.PushPlatformAPNs, apnsToken))
	up = stepUp()
	assert.Len(t, fcmFake.Requests(), 1, "the new token replaced the FCM one")
	sent = apnsFake.Requests()
	require.Len(t, sent, 1, "exactly one APNs request")
	assert.Equal(t, apnsToken, sent[0].Token)
	assert.JSONEq(t, `{"aps":{"content-available":1},"kind":"challenge","challenge":"`+up.ID+`"}`, string(sent[0].Body))
	assertIDsOnly(t, sent[0].Body, userID)

	apnsFake.Fail(apnsToken, pushfake.Failure{Status: http.StatusGone, Reason: "Unregistered"})
	stepUp()
	require.Len(t, apnsFake.Requests(), 2)
	stepUp()
	assert.Len(t, apnsFake.Requests(), 2, "an unregistered token is forgotten: nothing more is sent to it")
	logs := inst.Logs.String()
	assert.Contains(t, logs, "push token rejected by the push service")
	assert.NotContains(t, logs, apnsToken, "device tokens are never logged")
	assert.NotContains(t, logs, fcmToken)

	require.NoError(t, phone.RegisterPushToken(ctx, "phone-1", client.PushPlatformFCM, fcmToken))
	fcmFake.Fail(fcmToken, pushfake.Failure{Status: http.StatusTooManyRequests, Reason: "QUOTA_EXCEEDED"})
	stepUp()
	stepUp()
	assert.Len(t, fcmFake.Requests(), 3, "a busy service keeps the token: each step-up tries again")
	assert.Contains(t, inst.Logs.String(), `"msg":"push relay"`)
}

// assertIDsOnly fails if a push body holds the operation's summary or the
// user's id or email.
func assertIDsOnly(t *testing.T, body []byte, userID string) {
	t.Helper()
	for _, secret := range []string{"pia@acme.test", "ADMIN", "ada@acme.test", userID} {
		assert.NotContains(t, string(body), secret)
	}
}

// enrolled creates a user whose phone (the pure-Go authenticator) enrolled
// as device phone-1, and returns its id, the phone's session and another
// session of the user that asks for step-ups.
func enrolled(t *testing.T, inst *testserver.Instance) (string, *client.Session, *client.Session) {
	t.Helper()
	ctx := context.Background()
	api, err := client.New(inst.URL, inst.APIKey)
	require.NoError(t, err)
	ui, err := client.New(inst.URL, inst.UIKey)
	require.NoError(t, err)
	corp, err := api.CreateCorporate(ctx, client.CorporateCreate{
		RootUser:  client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(t, err)
	_, err = api.CreatePassword(ctx, corp.RootUser.ID.ID, "Str0ng-Passw0rd")
	require.NoError(t, err)
	signIn := func() *client.Session {
		l, err := ui.LoginWithPassword(ctx, "ada@acme.test", "Str0ng-Passw0rd")
		require.NoError(t, err)
		return ui.Session(l.Token)
	}
	phone := signIn()
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	auth, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	require.NoError(t, err)
	options, err := phone.BeginBiometricEnrolment(ctx, "phone-1", "Ada's phone")
	require.NoError(t, err)
	reg, err := authenticator.ParseCreationOptions(options, "https://localhost")
	require.NoError(t, err)
	att, err := auth.Register(ctx, reg)
	require.NoError(t, err)
	_, err = phone.FinishBiometricEnrolment(ctx, core.SandboxCode, att)
	require.NoError(t, err)
	return corp.RootUser.ID.ID, phone, signIn()
}

// TestNew: the flags' relays are built for the platforms given, a token of
// another platform is an error, and a bad key names the flags.
func TestNew(t *testing.T) {
	ctx := context.Background()
	fcmFake, apnsFake := pushfake.NewFCM(t, "deputy-test"), pushfake.NewAPNs(t)
	relays, err := pushrelay.New(ctx, pushrelay.Config{FCMCredentials: fcmFake.CredentialsFile, FCMProject: "deputy-test"})
	require.NoError(t, err)
	assert.Contains(t, relays, core.PushFCM)
	assert.NotContains(t, relays, core.PushAPNs)
	err = relays.Notify(ctx, core.PushToken{Platform: core.PushAPNs, Token: apnsToken}, core.PushEvent{Kind: core.PushEventChallenge})
	require.ErrorContains(t, err, "no relay for it")
	assert.NotContains(t, err.Error(), apnsToken)

	relays, err = pushrelay.New(ctx, pushrelay.Config{APNsKey: apnsFake.KeyFile, APNsKeyID: apnsFake.KeyID, APNsTeamID: apnsFake.TeamID, APNsTopic: apnsFake.Topic, APNsSandbox: true})
	require.NoError(t, err)
	assert.Contains(t, relays, core.PushAPNs)

	notKey := filepath.Join(t.TempDir(), "AuthKey.p8")
	require.NoError(t, os.WriteFile(notKey, []byte("not a key"), 0o600))
	_, err = pushrelay.New(ctx, pushrelay.Config{APNsKey: notKey, APNsKeyID: apnsFake.KeyID, APNsTeamID: apnsFake.TeamID, APNsTopic: apnsFake.Topic})
	require.ErrorContains(t, err, "--apns-*: key "+notKey)
	_, err = pushrelay.New(ctx, pushrelay.Config{FCMCredentials: notKey, FCMProject: "p"})
	require.ErrorContains(t, err, "--fcm-*: credentials "+notKey)
}
