package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/client"
)

// TestPushStreamsPerUserAreBounded: a user holds at most
// core.MaxPushSubscriptions push streams and waiting long polls open at once
// (each costs the server a goroutine and a store read every PushPoll); one
// more is 429 until one ends. Another user's streams are not affected, a
// long poll that does not wait needs no slot, and the linked device's
// stream takes none: it replaces the device's older stream instead.
func TestPushStreamsPerUserAreBounded(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	other := e.enrolledRoot("bob@acme.test", "phone-2")
	requester := phone.s.WithDeviceSecret("")
	open := func(s *client.Session, device string) error { // a stream that opens is closed at the end
		ps, err := e.raw.Session(s.Token()).WithDeviceSecret(s.DeviceSecret()).PushEvents(ctx, device)
		if err == nil {
			t.Cleanup(func() { ps.Close() })
		}
		return err
	}
	streams := make([]*client.PushStream, 0, core.MaxPushSubscriptions)
	for range core.MaxPushSubscriptions {
		streams = append(streams, e.stream(requester, ""))
	}
	requireAPIError(t, open(requester, ""), http.StatusTooManyRequests, core.CodeTooManyRequests)
	_, err := phone.s.PendingPush(ctx, "phone-1", 5*time.Second)
	requireAPIError(t, err, http.StatusTooManyRequests, core.CodeTooManyRequests, "a waiting long poll counts too")
	_, err = phone.s.PendingPush(ctx, "phone-1", 0)
	require.NoError(t, err, "a long poll that does not wait")
	require.NoError(t, open(other.s, "phone-2"), "another user's stream")
	require.NoError(t, open(phone.s, "phone-1"), "the linked device's stream takes no slot")

	require.NoError(t, streams[0].Close())
	require.Eventually(t, func() bool { return open(requester, "") == nil }, 5*time.Second, 20*time.Millisecond,
		"a slot is free again once a stream ends")
}

// TestNewDeviceStreamReplacesTheOld: a phone whose network dropped opens a
// new stream long before the server learns that the old connection is dead
// (TCP gives up after minutes); the new stream ends the old one, so that
// however often the phone reconnects it holds one, and another session of
// the user without the device secret cannot end it.
func TestNewDeviceStreamReplacesTheOld(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(streamHeartbeat, time.Second))
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	old := e.stream(phone.s, "phone-1")
	password := e.login("ada@acme.test") // a session of the user's that is not the phone's
	_, err := e.raw.Session(password.Token()).PushEvents(t.Context(), "phone-1")
	requireAPIError(t, err, http.StatusForbidden, core.CodeDeviceSecretRequired, "a stream that cannot speak for the device")
	for ev, err := old.Next(); ev.Type != client.EventHeartbeat; ev, err = old.Next() {
		require.NoError(t, err, "the old stream still runs")
	}
	for range 2 * core.MaxPushSubscriptions {
		e.stream(phone.s, "phone-1")
	}
	for {
		_, err := old.Next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF, "the old stream ended")
			break
		}
	}
}

// TestStalledPushStreamEnds: a client that opens a push stream and stops
// reading fills the connection's buffers with heartbeats; the stream then
// ends within two heartbeats of a write that cannot go out, freeing its
// subscription, rather than wait in the write for ever.
//
// Heartbeats of 200 µs fill the buffers soon, but leave each write 400 µs,
// which a loaded machine's pause overruns: that ends a healthy stream too,
// at any write, its first included (its client sees EOF). Streams that held
// the user's other slots so ended, and freed the slot this test waits for
// before the stalled one did; the other slots are held by subscriptions
// taken in the process instead, which write nothing, and an open that meets
// such an EOF is tried again. The stalled client dials with small buffers
// (smallWindowDialer): with the kernel's defaults the server's send buffer
// alone holds megabytes, many seconds of heartbeats.
func TestStalledPushStreamEnds(t *testing.T) {
	e := newBioEnv(t, withPushIntervals(200*time.Microsecond, time.Second))
	userID := e.root("ada@acme.test")
	phone := e.newDevice("phone-1", "ada@acme.test")
	phone.enrol()
	u, err := url.Parse(e.inst.URL)
	require.NoError(t, err)
	open := func() error { // a stream whose client reads its answer's first bytes, then nothing
		conn, err := smallWindowDialer.Dial("tcp", u.Host)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "GET /multi/push/stream HTTP/1.1\r\nHost: %s\r\napi-key: %s\r\nAuthorization: Bearer %s\r\n\r\n",
			u.Host, e.inst.UIKey, phone.s.Token())
		require.NoError(t, err)
		head := make([]byte, 64)
		n, err := conn.Read(head)
		if err != nil {
			return err
		}
		require.Contains(t, string(head[:n]), "200 OK", "the stream opened; it is read no further")
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := open()
		if err == nil {
			break
		}
		require.Less(t, attempt, 20, "the stream's first write timed out again and again: %v", err)
	}
	for range core.MaxPushSubscriptions - 1 {
		sub, err := e.inst.Service.SubscribePush(userID, "")
		require.NoError(t, err)
		t.Cleanup(sub.Close)
	}
	requester := phone.s.WithDeviceSecret("")
	require.Eventually(t, func() bool {
		ps, err := e.raw.Session(requester.Token()).PushEvents(t.Context(), "")
		if err != nil {
			return false
		}
		t.Cleanup(func() { ps.Close() })
		return true
	}, 20*time.Second, 50*time.Millisecond, "the stalled stream ended, freeing its slot")
}

// TestParallelAnswersEndAChallengeOnce fires approvals (one assertion),
// declines from the phone and withdrawals by the requester at one challenge
// at once: exactly one answer is accepted, the challenge ends once, with one
// audit event, and its state is the accepted answer's.
func TestParallelAnswersEndAChallengeOnce(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	phone := e.enrolledRoot("ada@acme.test", "phone-1")
	requester := e.login("ada@acme.test")
	up, err := requester.StepUpPush(ctx, "")
	require.NoError(t, err)
	as := phone.assertion(up.ID)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				errs[i] = phone.s.ApprovePush(ctx, up.ID, up.Number, as)
			case 1:
				errs[i] = phone.s.DeclinePush(ctx, up.ID, core.PushReasonCancelled)
			default:
				errs[i] = requester.DeclinePush(ctx, up.ID, core.PushReasonCancelled)
			}
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, won, "answers accepted: %d and %d", won, i)
			won = i
			continue
		}
		var ae *client.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusConflict, ae.Status, "answer %d: %v", i, err)
	}
	require.NotEqual(t, -1, won, "no answer was accepted")
	want := core.PushApproved
	if won%3 != 0 {
		want = core.PushDeclined
	}
	assert.Equal(t, want, e.pushRecord(up.ID).State)
	ends := 0
	for _, a := range e.audit() {
		if a == "push.approve" || a == "push.decline" || a == "push.cancel" {
			ends++
		}
	}
	assert.Equal(t, 1, ends, "the challenge's end events")
}

// smallWindowDialer dials with a small receive buffer and segment size set
// before the connection is made: the peer's window stays small, and the
// peer's kernel sizes its send buffer by the segment size (tens of KB, not
// MB), so that a stream nobody reads fills both soon.
var smallWindowDialer = net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024); serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536)
		}
	})
	return errors.Join(err, serr)
}}
