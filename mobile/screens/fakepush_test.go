package screens_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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

// fakePush stands in for the server's biometric and push step-up endpoints
// (issue 6), which the typed client does not offer yet. It is a real
// WebAuthn relying party (go-webauthn, as the server will use), so the
// attestations and assertions the screens produce are verified for real.
type fakePush struct {
	t    *testing.T
	rp   *webauthn.WebAuthn
	user *rpUser
	now  func() time.Time

	mu         sync.Mutex
	codeSent   bool
	regSession *webauthn.SessionData
	devices    []screens.Device
	challenges map[string]*fakeChallenge
	watchers   map[int]chan screens.PushEvent
	nextID     int
	log        []string
}

type fakeChallenge struct {
	ch      screens.PushChallenge
	number  int
	session *webauthn.SessionData
	state   string // PENDING, APPROVED, DECLINED, NOT_ME
}

type rpUser struct {
	creds []webauthn.Credential
}

func (u *rpUser) WebAuthnID() []byte                         { return []byte("user-grace") }
func (u *rpUser) WebAuthnName() string                       { return "grace@acme.test" }
func (u *rpUser) WebAuthnDisplayName() string                { return "Grace Hopper" }
func (u *rpUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// newFakePush returns a relying party for the server at serverURL.
func newFakePush(t *testing.T, serverURL string, now func() time.Time) *fakePush {
	t.Helper()
	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	rp, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Deputy", RPOrigins: []string{u.Scheme + "://" + u.Host}})
	require.NoError(t, err)
	return &fakePush{t: t, rp: rp, user: &rpUser{}, now: now, challenges: map[string]*fakeChallenge{}, watchers: map[int]chan screens.PushEvent{}}
}

var _ screens.PushAPI = (*fakePush)(nil)

func conflict(code string) error {
	return &client.Error{Status: http.StatusConflict, Code: code}
}

func (f *fakePush) BeginBiometric(ctx context.Context) (*screens.BiometricEnrolment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codeSent = true
	f.log = append(f.log, "begin")
	return &screens.BiometricEnrolment{ExpiresAt: f.now().Add(5 * time.Minute)}, nil
}

func (f *fakePush) BiometricOptions(ctx context.Context, code string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.codeSent {
		return nil, conflict("STATE_INVALID")
	}
	if code != "123456" {
		return nil, conflict("VERIFICATION_CODE_INVALID")
	}
	creation, session, err := f.rp.BeginRegistration(f.user, webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}))
	if err != nil {
		return nil, err
	}
	f.regSession = session
	return json.Marshal(creation)
}

func (f *fakePush) FinishBiometric(ctx context.Context, device screens.Device, att *authenticator.Attestation) error {
	body, err := json.Marshal(att)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("parse attestation: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.regSession == nil {
		return conflict("STATE_INVALID")
	}
	cred, err := f.rp.CreateCredential(f.user, *f.regSession, parsed)
	if err != nil {
		return fmt.Errorf("create credential: %w", err)
	}
	if !cred.Flags.UserVerified {
		return conflict("USER_VERIFICATION_REQUIRED")
	}
	f.user.creds = []webauthn.Credential{*cred} // one device at a time
	f.regSession = nil
	f.devices = append(f.devices, device)
	f.log = append(f.log, "enrolled "+device.Name)
	return nil
}

func (f *fakePush) Pending(ctx context.Context) ([]screens.PushChallenge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []screens.PushChallenge
	for i := 1; i <= f.nextID; i++ {
		if c := f.challenges[fmt.Sprint(i)]; c != nil && c.state == "PENDING" {
			out = append(out, c.ch)
		}
	}
	return out, nil
}

func (f *fakePush) Watch(ctx context.Context, fn func(screens.PushEvent)) error {
	ch := make(chan screens.PushEvent, 16)
	f.mu.Lock()
	id := len(f.watchers) + 1
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

// watching is how many push streams are open.
func (f *fakePush) watching() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers)
}

func (f *fakePush) broadcast(ev screens.PushEvent) {
	for _, ch := range f.watchers {
		ch <- ev
	}
}

// request is an admin's sensitive operation asking for this user's
// approval: the requesting screen shows number.
func (f *fakePush) request(summary string, number int, choices []int) string {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	assertion, session, err := f.rp.BeginLogin(f.user, webauthn.WithUserVerification(protocol.VerificationRequired))
	require.NoError(f.t, err)
	options, err := json.Marshal(assertion)
	require.NoError(f.t, err)
	f.nextID++
	id := fmt.Sprint(f.nextID)
	c := &fakeChallenge{
		ch:     screens.PushChallenge{ID: id, Summary: summary, Choices: choices, ExpiresAt: f.now().Add(5 * time.Minute), Options: options},
		number: number, session: session, state: "PENDING",
	}
	f.challenges[id] = c
	ev := c.ch
	f.broadcast(screens.PushEvent{Challenge: &ev})
	return id
}

// unlinkElsewhere is another device enrolling for the same user.
func (f *fakePush) unlinkElsewhere() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.user.creds = nil
	f.broadcast(screens.PushEvent{Unlinked: true})
}

func (f *fakePush) state(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.challenges[id].state
}

func (f *fakePush) Approve(ctx context.Context, id string, number int, as *authenticator.Assertion) error {
	body, err := json.Marshal(as)
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
	case c.state != "PENDING":
		return conflict("CHALLENGE_ALREADY_ANSWERED")
	case number != c.number:
		return conflict("WRONG_NUMBER")
	}
	if _, err := f.rp.ValidateLogin(f.user, *c.session, parsed); err != nil {
		return fmt.Errorf("validate assertion: %w", err)
	}
	c.state = "APPROVED"
	f.log = append(f.log, "approved "+id)
	return nil
}

func (f *fakePush) Decline(ctx context.Context, id string, notMe bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.challenges[id]
	if c == nil {
		return &client.Error{Status: http.StatusNotFound}
	}
	if c.state != "PENDING" {
		return conflict("CHALLENGE_ALREADY_ANSWERED")
	}
	c.state = "DECLINED"
	if notMe {
		c.state = "NOT_ME"
	}
	f.log = append(f.log, "declined "+id)
	return nil
}

func (f *fakePush) Unlink(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.user.creds = nil
	return nil
}

// withPush is the client API with the fake's push calls.
type withPush struct {
	screens.API
	push screens.PushAPI
}

func (a withPush) Push(string) screens.PushAPI { return a.push }

// dialWithPush dials the real client and adds the fake push calls.
func dialWithPush(p screens.PushAPI, opts ...client.Option) screens.Dialer {
	dial := screens.DialClient(opts...)
	return func(server, key string) (screens.API, error) {
		api, err := dial(server, key)
		if err != nil {
			return nil, err
		}
		return withPush{api, p}, nil
	}
}

// enrolElsewhere enrols a credential held by another authenticator, so that
// challenges can be requested.
func (f *fakePush) enrolElsewhere(origin string) {
	f.t.Helper()
	ctx := context.Background()
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	a, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	require.NoError(f.t, err)
	_, err = f.BeginBiometric(ctx)
	require.NoError(f.t, err)
	options, err := f.BiometricOptions(ctx, "123456")
	require.NoError(f.t, err)
	req, err := authenticator.ParseCreationOptions(options, origin)
	require.NoError(f.t, err)
	att, err := a.Register(ctx, req)
	require.NoError(f.t, err)
	require.NoError(f.t, f.FinishBiometric(ctx, screens.Device{ID: "other", Name: "Other phone"}, att))
}
