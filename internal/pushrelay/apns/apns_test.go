package apns_test

import (
	"context"
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
	"github.com/deputyhq/deputy/internal/pushrelay/apns"
	"github.com/deputyhq/deputy/internal/pushrelay/pushfake"
)

var device = core.PushToken{Platform: core.PushAPNs, Token: strings.Repeat("0a1b2c3d", 8)}

func newRelay(t *testing.T, fake *pushfake.APNs) *apns.Relay {
	t.Helper()
	r, err := apns.New(apns.Config{KeyFile: fake.KeyFile, KeyID: fake.KeyID, TeamID: fake.TeamID, Topic: fake.Topic,
		Host: fake.URL, HTTPClient: fake.Client})
	require.NoError(t, err)
	return r
}

// TestNotify: a challenge goes out as one background notification over
// HTTP/2, signed with the team's key, whose payload is the event's ids and
// nothing else.
func TestNotify(t *testing.T) {
	fake := pushfake.NewAPNs(t)
	r := newRelay(t, fake)
	err := r.Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventChallenge, UserID: "100000001", ChallengeID: "100000042"})
	require.NoError(t, err)
	got := fake.Requests()
	require.Len(t, got, 1)
	assert.Equal(t, device.Token, got[0].Token)
	assert.Equal(t, "background", got[0].Header.Get("apns-push-type"))
	assert.Equal(t, "5", got[0].Header.Get("apns-priority"))
	assert.Equal(t, fake.Topic, got[0].Header.Get("apns-topic"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(got[0].Body, &body))
	assert.Equal(t, map[string]any{"aps": map[string]any{"content-available": 1.0}, "kind": "challenge", "challenge": "100000042"}, body,
		"ids only: no user, no summary, no alert")

	require.NoError(t, r.Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventResolved, UserID: "100000001"}))
	got = fake.Requests()
	require.Len(t, got, 2)
	assert.JSONEq(t, `{"aps":{"content-available":1},"kind":"resolved"}`, string(got[1].Body))
}

// TestNotifyAnswers: APNs' verdicts on a token reject it; its other
// failures are errors that keep it; no error quotes the token.
func TestNotifyAnswers(t *testing.T) {
	for _, tc := range []struct {
		fail     pushfake.Failure
		rejected bool
	}{
		{pushfake.Failure{Status: http.StatusGone, Reason: "Unregistered"}, true},
		{pushfake.Failure{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}, true},
		{pushfake.Failure{Status: http.StatusTooManyRequests, Reason: "TooManyRequests"}, false},
		{pushfake.Failure{Status: http.StatusInternalServerError, Reason: "InternalServerError"}, false},
		{pushfake.Failure{Status: http.StatusServiceUnavailable, Reason: "ServiceUnavailable"}, false},
	} {
		t.Run(tc.fail.Reason, func(t *testing.T) {
			fake := pushfake.NewAPNs(t)
			fake.Fail(device.Token, tc.fail)
			err := newRelay(t, fake).Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventChallenge, ChallengeID: "7"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.fail.Reason)
			assert.Equal(t, tc.rejected, isRejected(err))
			assert.NotContains(t, err.Error(), device.Token)
			assert.Len(t, fake.Requests(), 1, "one attempt")
		})
	}
}

func isRejected(err error) bool { return errors.Is(err, core.ErrPushTokenRejected) }

// TestNotifyUnreachable: a transport failure is an error without the token
// (the request URL holds it).
func TestNotifyUnreachable(t *testing.T) {
	fake := pushfake.NewAPNs(t)
	r, err := apns.New(apns.Config{KeyFile: fake.KeyFile, KeyID: fake.KeyID, TeamID: fake.TeamID, Topic: fake.Topic,
		Host: "https://127.0.0.1:1", HTTPClient: fake.Client})
	require.NoError(t, err)
	err = r.Notify(context.Background(), device, core.PushEvent{Kind: core.PushEventChallenge, ChallengeID: "7"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), device.Token)
	assert.False(t, isRejected(err))
}

// TestNotifyWrongKey: a key APNs does not know is refused (403), and the
// token is kept.
func TestNotifyWrongKey(t *testing.T) {
	fake, other := pushfake.NewAPNs(t), pushfake.NewAPNs(t)
	r, err := apns.New(apns.Config{KeyFile: other.KeyFile, KeyID: fake.KeyID, TeamID: fake.TeamID, Topic: fake.Topic,
		Host: fake.URL, HTTPClient: fake.Client})
	require.NoError(t, err)
	err = r.Notify(t.Context(), device, core.PushEvent{Kind: core.PushEventChallenge, ChallengeID: "7"})
	require.ErrorContains(t, err, "403 InvalidProviderToken")
	assert.False(t, isRejected(err))
	assert.Empty(t, fake.Requests())
}

// TestNewRefuses: each bad setting is named, and the key's bytes are never
// quoted.
func TestNewRefuses(t *testing.T) {
	fake := pushfake.NewAPNs(t)
	dir := t.TempDir()
	notKey := filepath.Join(dir, "not-a-key.p8")
	require.NoError(t, os.WriteFile(notKey, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGJ5dGVz\n-----END PRIVATE KEY-----\n"), 0o600))
	ok := apns.Config{KeyFile: fake.KeyFile, KeyID: fake.KeyID, TeamID: fake.TeamID, Topic: fake.Topic}
	for _, tc := range []struct {
		name string
		edit func(*apns.Config)
		want string
	}{
		{"key id", func(c *apns.Config) { c.KeyID = "abc" }, "key id"},
		{"team id", func(c *apns.Config) { c.TeamID = "" }, "team id"},
		{"topic", func(c *apns.Config) { c.Topic = "deputy" }, "topic"},
		{"missing key file", func(c *apns.Config) { c.KeyFile = filepath.Join(dir, "none.p8") }, "none.p8"},
		{"not a key", func(c *apns.Config) { c.KeyFile = notKey }, "not-a-key.p8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := apns.New(cfg)
			require.ErrorContains(t, err, tc.want)
			assert.NotContains(t, err.Error(), "c2VjcmV0IGJ5dGVz")
		})
	}
}
