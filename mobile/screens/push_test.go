package screens_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

// TestWatchPushFallsBackToLongPolling: behind a proxy that does not pass
// the event stream, the companion still receives challenges by long-polling
// GET /multi/push/pending.
func TestWatchPushFallsBackToLongPolling(t *testing.T) {
	ctx := context.Background()
	d := startDeputy(t)
	d.userWithPassword(t, "grace@acme.test", gracePassword)
	secret := enrolOtherDevice(t, d) // the device "other-device"

	target, err := url.Parse(d.URL)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/multi/push/stream" {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	api, err := screens.DialClient()(proxy.URL, d.UIKey)
	require.NoError(t, err)
	login, err := api.LoginWithPassword(ctx, "grace@acme.test", gracePassword)
	require.NoError(t, err)
	push := api.Push(login.Token, secret) // a session signed in since the enrolment speaks for the device with its secret

	events := make(chan client.PushEvent, 4)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- push.WatchPush(wctx, "other-device", func(ev client.PushEvent) { events <- ev }) }()

	console := api.Session(login.Token).(*client.Session)
	up, err := console.StepUpPush(ctx, "Create user alice@acme.test")
	require.NoError(t, err)
	select {
	case ev := <-events:
		require.Equal(t, client.EventChallenge, ev.Type)
		assert.Equal(t, up.ID, ev.Challenge.ID)
		assert.Contains(t, ev.Challenge.Choices, up.Number)
	case <-time.After(waitLimit):
		t.Fatal("no challenge by long-polling")
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// TestUnlinkScreenStepsUp: unlinking needs a step-up; a fresh sign-in is
// asked for a texted code first, whether the programme steps sessions up or
// binds each step-up to its operation.
func TestUnlinkScreenStepsUp(t *testing.T) {
	for _, scope := range []core.StepUpScope{core.StepUpSession, core.StepUpOperation} {
		t.Run(string(scope), func(t *testing.T) { testUnlinkScreenStepsUp(t, scope) })
	}
}

func testUnlinkScreenStepsUp(t *testing.T, scope core.StepUpScope) {
	ctx := context.Background()
	d := startDeputy(t)
	sess := signIn(t, d, "grace@acme.test")
	require.NoError(t, sess.EnrolSMS(ctx))
	require.NoError(t, sess.VerifyEnrolSMS(ctx, "123456"))
	enrolOtherDevice(t, d)
	set := d.Programme.Settings
	set.Biometrics, set.StepUpScope = true, scope
	_, err := d.Service.UpdateProgrammeSettings(ctx, d.Programme.ID, nil, set)
	require.NoError(t, err)

	ui := uiClient(t, d)
	login, err := ui.LoginWithPassword(ctx, "grace@acme.test", gracePassword)
	require.NoError(t, err)
	api := screens.DialClient()
	conn, err := api(d.URL, d.UIKey)
	require.NoError(t, err)

	h := newHarness(t)
	finished := false
	s := screens.NewUnlinkScreen(h.env(), conn.Session(login.Token), conn.Push(login.Token, ""), func() { finished = true }, noop, failExpired(t))
	h.show(s)
	test.Tap(s.Unlink)
	h.waitFor("code asked", s.CodeAsked)
	h.typeInto(s.Code, "000000")
	test.Tap(s.Confirm)
	h.waitFor("wrong code", s.Problem.Visible)
	assert.Equal(t, "That code is not right.", s.Problem.Message.Text)
	h.typeInto(s.Code, "123456")
	test.Tap(s.Confirm)
	h.waitFor("unlinked", s.Done.Visible)
	test.Tap(s.Back)
	assert.True(t, finished)

	factors, err := ui.Session(login.Token).Factors(ctx)
	require.NoError(t, err)
	for _, f := range factors {
		if f.Channel == client.ChannelBiometric {
			assert.NotEqual(t, client.FactorActive, f.Status)
		}
	}
	msgs, err := d.key.Outbox(ctx, 10)
	require.NoError(t, err)
	want := "your verification code is"
	if scope == core.StepUpOperation {
		want = "approves: Unlink your companion device." // the code named the unlink
	}
	i := slices.IndexFunc(msgs, func(m client.Message) bool { return m.Channel == "SMS" })
	require.GreaterOrEqual(t, i, 0, "the step-up code was texted")
	assert.Contains(t, msgs[i].Text, want)
}

// losingFirstFinish delivers every request, but loses the answer to the
// first enrolment finish, as a dropped connection does after the server
// committed.
type losingFirstFinish struct{ lost atomic.Bool }

func (l *losingFirstFinish) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/finish") && l.lost.CompareAndSwap(false, true) {
		res.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	}
	return res, err
}

// TestBiometricScreenReplaysALostAnswer: the answer of a finished enrolment,
// which holds the device secret shown once, is lost on the way. Trying again
// sends the same attestation with the same idempotency-ref, so the server
// replays that answer: the device gets its secret, and it is enrolled once.
func TestBiometricScreenReplaysALostAnswer(t *testing.T) {
	d := startDeputy(t)
	d.userWithPassword(t, "grace@acme.test", gracePassword)
	ctx := context.Background()
	transport := &losingFirstFinish{}
	api, err := screens.DialClient(client.WithHTTPClient(&http.Client{Transport: transport}))(d.URL, d.UIKey)
	require.NoError(t, err)
	login, err := api.LoginWithPassword(ctx, "grace@acme.test", gracePassword)
	require.NoError(t, err)

	h := newHarness(t)
	dlg := screens.NewPasscodeDialog(h.win, h.ui)
	auth, verifier := newAuth(t, dlg)
	require.NoError(t, verifier.Set(ctx, appPasscode))
	var got []screens.Enrolment
	s := screens.NewBiometricScreen(h.env(), screens.BiometricDeps{API: api.Push(login.Token, ""), Auth: auth, Passcode: verifier,
		Device: screens.Device{ID: "grace-phone", Name: "Grace's phone"}, Origin: "https://localhost"},
		func(en screens.Enrolment) { got = append(got, en) }, noop, failExpired(t))
	h.show(s)
	test.Tap(s.Send)
	h.waitFor("code sent", s.CodeSent)
	h.typeInto(s.Code, core.SandboxCode)
	test.Tap(s.Enrol)
	h.waitFor("passcode prompt", dlg.Showing)
	test.Type(dlg.Entry, appPasscode)
	test.Tap(dlg.OK)
	h.waitFor("the lost answer", s.Problem.Visible)
	require.True(t, transport.lost.Load())
	assert.Equal(t, "Cannot reach the server. Check your connection and try again.", s.Problem.Message.Text)

	test.Tap(s.Problem.Retry)
	h.waitFor("enrolled", s.Done.Visible)
	assert.False(t, dlg.Showing(), "the same key answers again: no second prompt")
	test.Tap(s.Back)
	require.Len(t, got, 1)
	assert.True(t, strings.HasPrefix(got[0].DeviceSecret, "dds_"), "the replayed answer carries the secret")
	pending, err := api.Push(login.Token, got[0].DeviceSecret).PendingPush(ctx, "grace-phone", 0)
	require.NoError(t, err, "the secret speaks for the device")
	assert.Empty(t, pending)
}

// TestLongPollingPacesAServerThatDoesNotWait: the long-poll fallback polls
// again at once only after a poll that waited. A server (or whatever answers
// at its address, or a proxy that drops the wait parameter) that answers
// every poll at once with nothing pending had the companion poll in a tight
// loop, a flood of requests and a flat battery.
func TestLongPollingPacesAServerThatDoesNotWait(t *testing.T) {
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/multi/push/stream" {
			http.NotFound(w, r)
			return
		}
		polls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"challenges":[]}`))
	}))
	t.Cleanup(srv.Close)
	api, err := screens.DialClient()(srv.URL, "dpk_test")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = api.Push("token", "secret").WatchPush(ctx, "phone-1", func(client.PushEvent) {})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.LessOrEqual(t, polls.Load(), int64(2), "polls in half a second from a server that answers at once")
}
