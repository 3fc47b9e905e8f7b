package webhookbench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

// TestTrafficPostsOnlyWhileResumed: the rounds without traffic must not pay
// for any of it, nor the rounds with traffic go without.
func TestTrafficPostsOnlyWhileResumed(t *testing.T) {
	rcv := Start(t)
	traffic := StartTraffic(t, rcv.URL+"/traffic")
	ticksPass := func(n int, what string) { // each a burst, were it not paused
		from := traffic.ticks()
		require.Eventually(t, func() bool { return traffic.ticks() >= from+n }, 10*time.Second, TrafficEvery/4, what)
	}
	ticksPass(2, "ticks before Resume")
	require.Zero(t, rcv.Posts(t), "nothing before Resume")

	traffic.Resume()
	require.Eventually(t, func() bool { return rcv.Posts(t) >= TrafficBurst }, 10*time.Second, TrafficEvery, "a whole burst")
	traffic.Pause()
	paused := rcv.Posts(t)
	ticksPass(2, "ticks once paused")
	assert.Equal(t, paused, rcv.Posts(t), "nothing once Pause has returned")

	traffic.Resume()
	require.Eventually(t, func() bool { return rcv.Posts(t) > paused }, 10*time.Second, TrafficEvery, "posts again")
	traffic.Pause()
}
