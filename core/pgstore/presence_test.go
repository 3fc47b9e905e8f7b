package pgstore_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestDevicePresenceAcrossReplicas: a device whose stream one replica holds
// is reachable through the other, and stays so for ReachGrace after it
// left, as it does on the replica it was connected to.
func TestDevicePresenceAcrossReplicas(t *testing.T) {
	stores := replicas(t, 4)
	clock := core.NewOffsetClock(nil)
	ctx := t.Context()
	var svcs [2]*core.Service
	for i, s := range stores {
		var err error
		svcs[i], err = core.New(ctx, core.Config{Sandbox: true, Logger: slog.New(slog.DiscardHandler)}, s,
			core.Integrations{SMS: core.NewOutbox(s, clock), Email: core.NewOutbox(s, clock), Presence: s}, clock)
		require.NoError(t, err)
		t.Cleanup(svcs[i].StopPush)
	}
	holder, other := svcs[0], svcs[1]
	assert.Equal(t, core.Reachability{}, other.DeviceReachability(ctx, "101"), "never seen")

	ended := holder.DeviceConnected("101")
	require.Eventually(t, func() bool { return other.DeviceReachability(ctx, "101").Reachable }, 5*time.Second, 10*time.Millisecond,
		"connected to one replica: reachable through the other")
	assert.False(t, other.DeviceReachability(ctx, "102").Reachable, "another user's device is not")

	left := clock.Now() // before: the record of its end is made once it has ended
	ended()
	require.Eventually(t, func() bool { return !other.DeviceReachability(ctx, "101").LastSeen.Before(left) }, 5*time.Second, 10*time.Millisecond,
		"the other replica learns when it left")
	assert.True(t, other.DeviceReachability(ctx, "101").Reachable, "within ReachGrace of leaving")
	clock.Advance(core.ReachGrace + time.Second)
	for i, s := range svcs {
		assert.False(t, s.DeviceReachability(ctx, "101").Reachable, "replica %d, past ReachGrace", i)
	}
}

// TestSweepForgetsDevicesGoneForADay: the presence a replica shared is
// removed by the sweep once the device has been gone for a day
// (presenceKeep, after which a replica forgets a device it held too): the
// other replicas then count it as never seen, and the table does not keep
// every user who ever connected. A device seen since stays.
func TestSweepForgetsDevicesGoneForADay(t *testing.T) {
	stores := replicas(t, 4)
	t0 := time.Now()
	clock := core.NewOffsetClock(func() time.Time { return t0 }) // still: a day is exactly a day
	ctx := t.Context()
	svc, err := core.New(ctx, core.Config{Sandbox: true, Logger: slog.New(slog.DiscardHandler)}, stores[0],
		core.Integrations{SMS: core.NewOutbox(stores[0], clock), Email: core.NewOutbox(stores[0], clock), Presence: stores[1]}, clock)
	require.NoError(t, err)
	t.Cleanup(svc.StopPush)
	gone := clock.Now()
	require.NoError(t, stores[1].DeviceSeen(ctx, "101", gone))
	require.NoError(t, stores[1].DeviceSeen(ctx, "102", gone.Add(time.Hour)))

	clock.Advance(24 * time.Hour)
	require.NoError(t, svc.Sweep(ctx))
	assert.Equal(t, gone.UnixNano(), svc.DeviceReachability(ctx, "101").LastSeen.UnixNano(), "gone for exactly a day: kept")

	clock.Advance(time.Second)
	require.NoError(t, svc.Sweep(ctx))
	seen, err := stores[0].DeviceLastSeen(ctx, "101")
	require.NoError(t, err)
	assert.True(t, seen.IsZero(), "gone for more than a day: forgotten")
	assert.Equal(t, core.Reachability{}, svc.DeviceReachability(ctx, "101"), "never seen since")
	assert.Equal(t, gone.Add(time.Hour).UnixNano(), svc.DeviceReachability(ctx, "102").LastSeen.UnixNano(), "seen later: kept")
}
