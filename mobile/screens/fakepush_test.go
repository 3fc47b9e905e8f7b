package screens_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

// fakePush stands in for the server's biometric and push endpoints in the
// screen tests that need a clock of their own (the journey test uses the real
// server). It answers as the server does (server/client push.go) and is a
// real WebAuthn relying party (go-webauthn, as the server uses), for RP ID
// localhost and origin https://localhost like the server's defaults, so the
// attestations and assertions the screens produce are verified for real.
type fakePush struct {
	t    *testing.T
	rp   *webauthn.WebAuthn
	user *rpUser
	now  func() time.Time

	mu         sync.Mutex
	regSession *webauthn.SessionData
	challenges map[string]*fakeChallenge
	watchers   map[int]chan client.PushEvent
	nextID     int
	log        []string
	// wrongNumbers picked so far; at wrongNumberLimit (when not 0) the
	// server's SCA lock answers.
	wrongNumbers, wrongNumberLimit int
}

type fakeChallenge struct {
	ch      client.PushChallenge
	number  int
	session *webauthn.SessionData
	state   string // client.PushPending, PushApproved, PushDeclined
	// reported: the device said "I did not do this" of it.
	reported bool
}

type rpUser struct {
	creds []webauthn.Credential
}

func (u *rpUser) WebAuthnID() []byte                         { return []byte("user-grace") }
func (u *rpUser) WebAuthnName() string                       { return "grace@acme.test" }
func (u *rpUser) WebAuthnDisplayName() string                { return "Grace Hopper" }
func (u *rpUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newFakePush(t *testing.T, now func() time.Time) *fakePush {
	t.Helper()
	rp, err := webauthn.New(&webauthn.Config{RPID: "localhost", RPDisplayName: "Deputy", RPOrigins: []string{"https://localhost"}})
	require.NoError(t, err)
	return &fakePush{t: t, rp: rp, user: &rpUser{}, now: now, challenges: map[string]*fakeChallenge{}, watchers: map[int]chan client.PushEvent{}}
}

var _ screens.PushAPI = (*fakePush)(nil)

func conflict(code string) error {
	return &client.Error{Status: http.StatusConflict, Code: code}
}

func (f *fakePush) BeginBiometricEnrolment(ctx context.Context, deviceID, deviceName string, _ ...client.CallOption) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	creation, session, err := f.rp.BeginRegistration(f.user, webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}))
	if err != nil {
		return nil, err
	}
	f.regSession = session
	f.log = append(f.log, "begin "+deviceName)
	return json.Marshal(creation)
}

// fakeDeviceSecret is the secret the fake hands an enrolled device.
const fakeDeviceSecret = "dds_fake"

func (f *fakePush) FinishBiometricEnrolment(ctx context.Context, code string, credential any, _ ...client.CallOption) (string, error) {
	body, err := json.Marshal(credential)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("parse attestation: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.regSession == nil {
		return "", conflict(client.CodeStateInvalid)
	}
	if code != "123456" {
		f.log = append(f.log, "wrong code")
		return "", conflict(client.CodeCodeInvalid)
	}
	cred, err := f.rp.CreateCredential(f.user, *f.regSession, parsed)
	if err != nil {
		return "", fmt.Errorf("create credential: %w", err)
	}
	if !cred.Flags.UserVerified {
		return "", conflict(client.CodeWebAuthnUserNotVerified)
	}
	f.user.creds = []webauthn.Credential{*cred} // one device at a time
	f.regSession = nil
	f.broadcast(client.PushEvent{Type: client.EventUnlinked})
	f.log = append(f.log, "enrolled")
	return fakeDeviceSecret, nil
}

func (f *fakePush) RegisterPushToken(_ context.Context, deviceID, platform, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "push token "+platform+" "+deviceID)
	return nil
}

func (f *fakePush) PendingPush(ctx context.Context, deviceID string, wait time.Duration) ([]client.PushChallenge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []client.PushChallenge
	for i := 1; i <= f.nextID; i++ {
		if c := f.challenges[fmt.Sprint(i)]; c != nil && c.state == client.PushPending {
			out = append(out, c.ch)
		}
	}
	return out, nil
}

func (f *fakePush) WatchPush(ctx context.Context, deviceID string, fn func(client.PushEvent)) error {
	ch := make(chan client.PushEvent, 16)
	f.mu.Lock()
	id := 1
	for f.watchers[id] != nil {
		id++
	}
	f.watchers[id] = ch
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.watchers, id)
		f.mu.Unlock()
	}()
	for {
		select {
		case ev := <-ch:
			fn(ev)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakePush) broadcast(ev client.PushEvent) {
	for _, ch := range f.watchers {
		ch <- ev
	}
}

// request is a sensitive operation asking for the user's approval; the
// requesting screen shows number.
func (f *fakePush) request(summary string, number int, choices []int) string {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprint(f.nextID)
	now := f.now()
	c := &fakeChallenge{
		ch:     client.PushChallenge{ID: id, Kind: client.PushKindStepUp, Summary: summary, Choices: choices, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)},
		number: number, state: client.PushPending,
	}
	f.challenges[id] = c
	ev := c.ch
	f.broadcast(client.PushEvent{Type: client.EventChallenge, Challenge: &ev})
	return id
}

func (f *fakePush) state(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.challenges[id].state
}

func (f *fakePush) PushOptions(ctx context.Context, id string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.challenges[id]
	switch {
	case c == nil:
		return nil, &client.Error{Status: http.StatusNotFound}
	case c.state != client.PushPending:
		return nil, conflict(client.CodeStateInvalid)
	case !f.now().Before(c.ch.ExpiresAt):
		return nil, conflict(client.CodeCodeExpired)
	}
	assertion, session, err := f.rp.BeginLogin(f.user, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, conflict(client.CodeChannelNotRegistered)
	}
	c.session = session
	return json.Marshal(assertion)
}

func (f *fakePush) ApprovePush(ctx context.Context, id string, number int, credential any) error {
	body, err := json.Marshal(credential)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("parse assertion: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.challenges[id]
	switch {
	case c == nil:
		return &client.Error{Status: http.StatusNotFound}
	case c.state != client.PushPending:
		return conflict(client.CodeAlreadyVerified)
	case number != c.number:
		c.state = client.PushDeclined // a wrong number declines the challenge
		if f.wrongNumbers++; f.wrongNumberLimit > 0 && f.wrongNumbers >= f.wrongNumberLimit {
			return conflict(client.CodeChallengeLimitExceeded) // and counts towards the SCA lock
		}
		return conflict(client.CodeCodeInvalid)
	}
	if _, err := f.rp.ValidateLogin(f.user, *c.session, parsed); err != nil {
		return fmt.Errorf("validate assertion: %w", err)
	}
	c.state = client.PushApproved
	f.log = append(f.log, "approved "+id)
	return nil
}

func (f *fakePush) DeclinePush(ctx context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.challenges[id]
	if c == nil {
		return &client.Error{Status: http.StatusNotFound}
	}
	// As the server: "I did not do this" is taken once for a challenge that
	// ended without an approval (core notMeReportable).
	switch {
	case c.state == client.PushApproved:
		return conflict(client.CodeAlreadyVerified)
	case c.state != client.PushPending && (reason != client.DeclineNotMe || c.reported):
		return conflict(client.CodeStateInvalid)
	}
	c.state, c.reported = client.PushDeclined, reason == client.DeclineNotMe
	f.log = append(f.log, "declined "+id+" "+reason)
	return nil
}

// withdraw is the requester withdrawing challenge id: it leaves the
// device's list.
func (f *fakePush) withdraw(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.challenges[id].state = client.PushDeclined
	f.broadcast(client.PushEvent{Type: client.EventResolved, Resolved: &client.PushStatus{ID: id}})
}

func (f *fakePush) UnlinkBiometric(ctx context.Context, _ ...client.CallOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.user.creds = nil
	return nil
}

// enrolElsewhere enrols a credential held by another authenticator, so that
// challenges have a device.
func (f *fakePush) enrolElsewhere() {
	f.t.Helper()
	ctx := context.Background()
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	a, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	require.NoError(f.t, err)
	options, err := f.BeginBiometricEnrolment(ctx, "other", "Other phone")
	require.NoError(f.t, err)
	req, err := authenticator.ParseCreationOptions(options, "https://localhost")
	require.NoError(f.t, err)
	att, err := a.Register(ctx, req)
	require.NoError(f.t, err)
	_, err = f.FinishBiometricEnrolment(ctx, "123456", att)
	require.NoError(f.t, err)
}

// Info answers the numbers of a programme with the default settings.
func (p *fakePush) Info(context.Context) (*client.SessionInfo, error) {
	return &client.SessionInfo{Challenges: client.ChallengeLimits{CodeLength: 6, TTL: 5 * time.Minute, Attempts: 5, ResendAfter: 15 * time.Second}}, nil
}
