package command_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/command"
)

// fcmFlags and apnsFlags are complete settings of each relay.
var (
	fcmFlags  = []string{"--fcm-credentials", "/etc/deputy/fcm.json", "--fcm-project", "acme-pay"}
	apnsFlags = []string{"--apns-key", "/etc/deputy/AuthKey_ABC123DEFG.p8", "--apns-key-id", "ABC123DEFG", "--apns-team-id", "DEF123GHIJ", "--apns-topic", "com.acme.deputy"}
)

// TestServeRefusesIncompletePushFlags: a relay with a setting missing is a
// start-up error naming the flag.
func TestServeRefusesIncompletePushFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fcm-credentials", "fcm.json"}, "--fcm-project is required to relay pushes to FCM"},
		{[]string{"--fcm-project", "acme-pay"}, "--fcm-credentials is required to relay pushes to FCM"},
		{[]string{"--apns-key", "k.p8", "--apns-key-id", "ABC123DEFG"}, "--apns-team-id is required to relay pushes to APNs"},
		{[]string{"--apns-key", "k.p8", "--apns-key-id", "ABC123DEFG", "--apns-team-id", "DEF123GHIJ"}, "--apns-topic is required to relay pushes to APNs"},
		{[]string{"--apns-sandbox"}, "--apns-key is required to relay pushes to APNs"},
		{append(append([]string{}, fcmFlags...), "--apns-topic", "com.acme.deputy"), "--apns-key is required"},
	} {
		db := filepath.Join(t.TempDir(), "deputy.db")
		_, err := run(t, 10*time.Second, append([]string{"serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:0"}, tc.args...)...)
		require.Error(t, err, "%v", tc.args)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}

// TestServePushRelays: the flags reach the binary's relay builder as given,
// and its error stops the start; a build of this package without the
// builder refuses the flags; sandbox mode builds none.
func TestServePushRelays(t *testing.T) {
	var got []command.PushConfig
	ext := command.Extensions{PushRelays: func(_ context.Context, c command.PushConfig) (core.PushRelay, error) {
		got = append(got, c)
		return nil, errors.New("--apns-*: key id: bad")
	}}
	args := append(append(append([]string{"deputy", "serve", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--addr", "127.0.0.1:0"},
		fcmFlags...), apnsFlags...), "--apns-sandbox")
	err := command.RunWith(context.Background(), ext, args, io.Discard, io.Discard)
	require.EqualError(t, err, "--apns-*: key id: bad")
	assert.Equal(t, []command.PushConfig{{
		FCMCredentials: "/etc/deputy/fcm.json", FCMProject: "acme-pay",
		APNsKey: "/etc/deputy/AuthKey_ABC123DEFG.p8", APNsKeyID: "ABC123DEFG", APNsTeamID: "DEF123GHIJ", APNsTopic: "com.acme.deputy", APNsSandbox: true,
	}}, got)

	_, err = run(t, 10*time.Second, append([]string{"serve", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--addr", "127.0.0.1:0"}, fcmFlags...)...)
	require.ErrorContains(t, err, "this deputy binary has no push relays")

	s := startServe(t, append([]string{"--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db")}, apnsFlags...)...)
	assert.Contains(t, s.logs.String(), "sandbox mode sends no pushes")
	assert.Contains(t, s.logs.String(), `"push_relay":false`)
}
