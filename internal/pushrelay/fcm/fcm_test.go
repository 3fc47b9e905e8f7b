package fcm_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pushrelay/fcm"
	"github.com/deputyhq/deputy/internal/pushrelay/pushfake"
)

var device = core.PushToken{Platform: core.PushFCM, Token: "cXk2Vb8lRkq0yVd1:APA91bH" + strings.Repeat("x7_Q-", 28)}

func newRelay(t *testing.T, fake *pushfake.FCM, project string) *fcm.Relay {
	t.Helper()
	r, err := fcm.New(t.Context(), fcm.Config{CredentialsFile: fake.CredentialsFile, ProjectID: project, Endpoint: fake.Endpoint})
	require.NoError(t, err)
	return r
}

// message is the part of an FCM v1 send request the tests look at.
type message struct {
	Message struct {
		Token   string
		Data    map[string]string
		Android struct{ Priority string }
		// anything else FCM would show or forward
		Notification, APNS, Webpush any
	}
}

// TestNotify: a challenge goes out as one data-only message, authorised by
// an access token from the service account's token endpoint, whose data is
// the event's ids and nothing else.
func TestNotify(t *testing.T) {
	fake := pushfake.NewFCM(t, "deputy-test")
	r := newRelay(t, fake, "deputy-test")
	require.NoError(t, r.Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventChallenge, UserID: "100000001", ChallengeID: "100000042"}))
	require.NoError(t, r.Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventResolved, UserID: "100000001", ChallengeID: "100000042"}))
	got := fake.Requests()
	require.Len(t, got, 2)
	var m message
	require.NoError(t, json.Unmarshal(got[0].Body, &m))
	assert.Equal(t, device.Token, m.Message.Token)
	assert.Regexp(t, `^fire-admin-go/`, got[0].Header.Get("X-Firebase-Client"), "the SDK's own headers (its version is in the binary's build info, not a test's)")
	assert.Equal(t, map[string]string{"kind": "challenge", "challenge": "100000042"}, m.Message.Data, "ids only: no user, no summary")
	assert.Equal(t, "high", m.Message.Android.Priority)
	assert.Nil(t, m.Message.Notification, "data only: nothing for the system to show")
	assert.Nil(t, m.Message.APNS)
	assert.Nil(t, m.Message.Webpush)
	assert.NotContains(t, string(got[0].Body), "100000001")
	require.NoError(t, json.Unmarshal(got[1].Body, &m))
	assert.Equal(t, map[string]string{"kind": "resolved", "challenge": "100000042"}, m.Message.Data)
	assert.Equal(t, "normal", m.Message.Android.Priority)
	assert.Equal(t, 1, fake.Grants(), "the access token is fetched once and reused")
}

// TestNotifyAnswers: UNREGISTERED rejects the token; FCM's other failures
// are errors that keep it, and no error quotes the token.
func TestNotifyAnswers(t *testing.T) {
	for _, tc := range []struct {
		fail     pushfake.Failure
		rejected bool
	}{
		{pushfake.Failure{Status: http.StatusNotFound, Reason: "UNREGISTERED"}, true},
		{pushfake.Failure{Status: http.StatusBadRequest, Reason: "INVALID_ARGUMENT"}, false},
		{pushfake.Failure{Status: http.StatusTooManyRequests, Reason: "QUOTA_EXCEEDED"}, false},
		{pushfake.Failure{Status: http.StatusInternalServerError, Reason: "INTERNAL"}, false},
	} {
		t.Run(tc.fail.Reason, func(t *testing.T) {
			fake := pushfake.NewFCM(t, "deputy-test")
			fake.Fail(device.Token, tc.fail)
			err := newRelay(t, fake, "deputy-test").Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventChallenge, ChallengeID: "7"})
			require.Error(t, err)
			assert.Equal(t, tc.rejected, errors.Is(err, core.ErrPushTokenRejected), "%v", err)
			assert.NotContains(t, err.Error(), device.Token)
			assert.Len(t, fake.Requests(), 1, "one attempt")
		})
	}
}

// TestNotifyWrongProject: a project the account does not belong to is FCM's
// 404, not a verdict on the token.
func TestNotifyWrongProject(t *testing.T) {
	fake := pushfake.NewFCM(t, "deputy-test")
	err := newRelay(t, fake, "someone-else").Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventChallenge, ChallengeID: "7"})
	require.Error(t, err)
	assert.False(t, errors.Is(err, core.ErrPushTokenRejected))
	assert.Empty(t, fake.Requests())
}

// TestNewRefuses: a missing project, or a missing or malformed key, is an
// error naming it, without the key's content.
func TestNewRefuses(t *testing.T) {
	_, err := fcm.New(t.Context(), fcm.Config{CredentialsFile: pushfake.NewFCM(t, "p").CredentialsFile})
	require.ErrorContains(t, err, "project: required")
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(notJSON, []byte(`{"type":"service_account","private_key":"c2VjcmV0IGJ5dGVz`), 0o600))
	for _, file := range []string{filepath.Join(dir, "none.json"), notJSON} {
		_, err := fcm.New(t.Context(), fcm.Config{CredentialsFile: file, ProjectID: "p"})
		require.ErrorContains(t, err, file)
		assert.NotContains(t, err.Error(), "c2VjcmV0IGJ5dGVz")
	}
}
