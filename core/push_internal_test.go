package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// TestPushChallengeBytesLinkEverything: the WebAuthn challenge of a push
// approval changes with each of the id, the summary, the number and the salt
// (PSD2 RTS Art. 5 dynamic linking), and the separators keep the fields apart.
func TestPushChallengeBytesLinkEverything(t *testing.T) {
	base := PushChallenge{ID: "100000001", Summary: "Create user alice@example.com with role ADMIN", Number: 47, Salt: []byte("0123456789abcdef")}
	want := pushChallengeBytes(&base)
	assert.Len(t, want, 32, "SHA-256, at least the 16 bytes WebAuthn asks for")
	assert.Equal(t, want, pushChallengeBytes(&base), "deterministic")
	for name, change := range map[string]func(*PushChallenge){
		"id":                   func(c *PushChallenge) { c.ID = "100000002" },
		"summary":              func(c *PushChallenge) { c.Summary = "Create user alice@example.com with role CARD_ASSIGNEE" },
		"number":               func(c *PushChallenge) { c.Number = 48 },
		"salt":                 func(c *PushChallenge) { c.Salt = []byte("0123456789abcdeg") },
		"id/summary boundary":  func(c *PushChallenge) { c.ID, c.Summary = "10000000", "1"+c.Summary },
		"summary/number split": func(c *PushChallenge) { c.Summary, c.Number = c.Summary+"4", 7 },
	} {
		c := base
		change(&c)
		assert.NotEqual(t, want, pushChallengeBytes(&c), "changing the %s", name)
	}
}

// TestNewPushNumbers: the number is in 10..99 and among three distinct
// choices, in no fixed position.
func TestNewPushNumbers(t *testing.T) {
	positions := map[int]int{}
	for range 300 {
		number, choices, salt := newPushNumbers()
		must.Len(t, choices, 3)
		must.Len(t, salt, pushSaltLen)
		assert.GreaterOrEqual(t, number, 10)
		assert.LessOrEqual(t, number, 99)
		i := slices.Index(choices, number)
		must.GreaterOrEqual(t, i, 0, "the number is a choice: %d %v", number, choices)
		positions[i]++
		for _, c := range choices {
			assert.True(t, c >= 10 && c <= 99, "choice %d", c)
		}
		assert.Len(t, slices.Compact(slices.Sorted(slices.Values(choices))), 3, "distinct: %v", choices)
	}
	assert.Len(t, positions, 3, "the number appears in every position: %v", positions)
}

// TestPushStateAt: only a stored APPROVED approves; the zero state grants
// nothing; PENDING past its expiry reads as EXPIRED.
func TestPushStateAt(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		state   PushState
		expires time.Time
		want    PushState
		err     string
	}{
		{PushPending, now.Add(time.Second), PushPending, ""},
		{PushPending, now, PushExpired, CodeCodeExpired},
		{PushExpired, now.Add(time.Hour), PushExpired, CodeCodeExpired},
		{PushApproved, now.Add(-time.Hour), PushApproved, CodeAlreadyVerified},
		{PushDeclined, now.Add(time.Hour), PushDeclined, CodeStateInvalid},
		{PushCancelled, now.Add(time.Hour), PushCancelled, CodeStateInvalid},
		{"", now.Add(time.Hour), "", CodeStateInvalid},
	} {
		c := &PushChallenge{State: tt.state, ExpiresAt: tt.expires}
		assert.Equal(t, tt.want, c.StateAt(now), "state %q", tt.state)
		assert.Equal(t, tt.err, CodeOf(pushStateError(c, now)), "state %q", tt.state)
	}
}

// TestCounterRegressed follows WebAuthn §7.2 step 21.
func TestCounterRegressed(t *testing.T) {
	for _, tt := range []struct {
		got, stored uint32
		regressed   bool
	}{
		{0, 0, false}, // an authenticator without a counter
		{1, 0, false},
		{5, 4, false},
		{4, 4, true},
		{3, 4, true},
		{0, 4, true},
	} {
		assert.Equal(t, tt.regressed, counterRegressed(tt.got, tt.stored), "got %d, stored %d", tt.got, tt.stored)
	}
}

// TestWebAuthnConfig: the RP ID must be the origins' host or a parent domain
// of it (WebAuthn §5.1.2).
func TestWebAuthnConfig(t *testing.T) {
	for _, tt := range []struct {
		rpID    string
		origins []string
		ok      bool
	}{
		{"", nil, true}, // localhost, https://localhost
		{"example.com", []string{"https://example.com", "https://app.example.com:8443"}, true},
		{"example.com", []string{"https://example.org"}, false},
		{"app.example.com", []string{"https://example.com"}, false},
		{"example.com", []string{"https://badexample.com"}, false},
		{"example.com", []string{"ftp://example.com"}, false},
		{"example.com", []string{"https://example.com/path"}, false},
	} {
		c := Config{WebAuthnRPID: tt.rpID, WebAuthnOrigins: tt.origins}
		err := c.applyPushDefaults()
		assert.Equal(t, tt.ok, err == nil, "RP ID %q, origins %v: %v", tt.rpID, tt.origins, err)
	}
}

// TestPresencePruned: the presence map forgets devices gone for more than
// presenceKeep once it has grown, so that it holds the last day's devices,
// not every one ever seen; an open stream and a recent one stay.
func TestPresencePruned(t *testing.T) {
	clock := NewOffsetClock(func() time.Time { return time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC) })
	s := &Service{hub: newPushHub(), clock: clock}
	const gone = 3 * minPruneAt
	for i := range gone {
		s.DeviceConnected(fmt.Sprintf("gone-%d", i))()
	}
	s.DeviceConnected("open")
	assert.Len(t, s.hub.present, gone+1, "nothing is old enough to forget yet")

	clock.Advance(presenceKeep + time.Minute)
	s.DeviceConnected("recent")()
	for i := 0; len(s.hub.present) > gone/2; i++ { // until the map is pruned
		s.DeviceConnected(fmt.Sprintf("new-%d", i))()
		must.Less(t, i, 2*gone, "never pruned")
	}
	for user := range s.hub.present {
		assert.NotContains(t, user, "gone-", "the devices gone for a day are forgotten")
	}
	assert.Equal(t, Reachability{}, s.DeviceReachability(context.Background(), "gone-1"), "forgotten: never seen since")
	assert.True(t, s.DeviceReachability(context.Background(), "open").Reachable, "an open stream stays")
	assert.Equal(t, clock.Now(), s.DeviceReachability(context.Background(), "recent").LastSeen)
}

// downPresence is a DevicePresence whose database is down.
type downPresence struct{}

func (downPresence) DeviceSeen(context.Context, string, time.Time) error { return ErrUnreachable }
func (downPresence) DeviceLastSeen(context.Context, string) (time.Time, error) {
	return time.Time{}, ErrUnreachable
}
func (downPresence) ForgetDevicesSeenBefore(context.Context, time.Time) error { return ErrUnreachable }

// TestPresenceFailuresWarnOnce: with the database down, sharing and reading
// the presence of many devices logs one warning, not one per device, and a
// device connected here is still reachable here.
func TestPresenceFailuresWarnOnce(t *testing.T) {
	var logs strings.Builder
	s := &Service{hub: newPushHub(), clock: SystemClock{}, send: Integrations{Presence: downPresence{}},
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	t.Cleanup(s.StopPush)
	for i := range 50 {
		user := fmt.Sprintf("user-%d", i)
		s.recordPresence(user)
		assert.False(t, s.DeviceReachability(t.Context(), user).Reachable)
	}
	ended := s.DeviceConnected("here")
	defer ended()
	assert.True(t, s.DeviceReachability(t.Context(), "here").Reachable)
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "%s", logs.String())
}
