package screens_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

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
