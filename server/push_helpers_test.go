package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// The helpers of the biometric and push tests drive a real Deputy (testserver)
// through the typed client, with the companion side played by the pure-Go
// authenticator of mobile/authenticator. Requests go through the OpenAPI
// validator, except event streams, which it cannot buffer.

const (
	bioOrigin   = "https://localhost" // the origin the test server accepts (core's default)
	bioPassword = "Str0ng-Passw0rd"
)

// bioEnv is a sandbox Deputy whose programme has biometrics switched on.
type bioEnv struct {
	t    *testing.T
	inst *testserver.Instance
	api  *client.Client // secret key
	ui   *client.Client // public ui key: what the companion and the admin TUI hold
	raw  *client.Client // ui key without the validator, for event streams
}

type bioOption func(*testserver.Options)

// withoutBiometrics leaves the programme's biometrics off.
func withoutBiometrics(o *testserver.Options) { o.Programme.Settings.Biometrics = false }

// streamHeartbeat is the heartbeat of tests that read streams with the Go
// client, which gives a stream up after three silent heartbeats: long
// enough that a loaded machine (the race detector, parallel packages) does
// not stall a test's stream that long.
const streamHeartbeat = 250 * time.Millisecond

// withPushIntervals shortens the streams' heartbeat and store polling.
func withPushIntervals(heartbeat, poll time.Duration) bioOption {
	return func(o *testserver.Options) { o.Config.PushHeartbeat, o.Config.PushPoll = heartbeat, poll }
}

func newBioEnv(t *testing.T, opts ...bioOption) *bioEnv {
	t.Helper()
	o := testserver.Options{Programme: core.NewProgramme{Name: "Bio Programme", Settings: core.ProgrammeSettings{Biometrics: true}}}
	// Two allowed origins, so that a response from the second one with its own
	// host as RP ID shows the RP ID check apart from the origin check.
	o.Config.WebAuthnOrigins = []string{bioOrigin, "https://app.localhost"}
	for _, opt := range opts {
		opt(&o)
	}
	inst := testserver.Start(t, o)
	hc := &http.Client{Transport: apispec.NewValidator(t).Transport(nil), Timeout: 30 * time.Second}
	api, err := client.New(inst.URL, inst.APIKey, client.WithHTTPClient(hc))
	require.NoError(t, err)
	ui, err := client.New(inst.URL, inst.UIKey, client.WithHTTPClient(hc))
	require.NoError(t, err)
	raw, err := client.New(inst.URL, inst.UIKey)
	require.NoError(t, err)
	return &bioEnv{t: t, inst: inst, api: api, ui: ui, raw: raw}
}

// root creates a corporate whose root user (with a mobile, no factor yet) has
// bioPassword, and returns the user's id.
func (e *bioEnv) root(email string) string {
	e.t.Helper()
	ctx := context.Background()
	corp, err := e.api.CreateCorporate(ctx, client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: email,
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(e.t, err)
	_, err = e.api.CreatePassword(ctx, corp.RootUser.ID.ID, bioPassword)
	require.NoError(e.t, err)
	return corp.RootUser.ID.ID
}

// enrolledRoot creates the root user email and enrols its phone id, as most
// push tests start; the phone's session is stepped up by the enrolment.
func (e *bioEnv) enrolledRoot(email, id string) *device {
	e.t.Helper()
	e.root(email)
	d := e.newDevice(id, email)
	d.enrol()
	return d
}

// login signs email in with the ui key, as the companion and the TUI do.
func (e *bioEnv) login(email string) *client.Session {
	e.t.Helper()
	l, err := e.ui.LoginWithPassword(context.Background(), email, bioPassword)
	require.NoError(e.t, err)
	return e.ui.Session(l.Token)
}

// stream opens a push stream for the session's token, without the validator.
func (e *bioEnv) stream(s *client.Session, deviceID string) *client.PushStream {
	e.t.Helper()
	ps, err := e.raw.Session(s.Token()).WithDeviceSecret(s.DeviceSecret()).PushEvents(e.t.Context(), deviceID)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { ps.Close() })
	return ps
}

// audit returns the actions of the programme's audit log, oldest first.
func (e *bioEnv) audit() []string {
	e.t.Helper()
	var actions []string
	require.NoError(e.t, e.inst.Store.View(context.Background(), func(tx core.ReadTx) error {
		evs, err := tx.AuditEvents(e.inst.Programme.ID, 0, 1000)
		for _, ev := range evs {
			actions = append(actions, ev.Action)
		}
		return err
	}))
	return actions
}

// pushRecord reads a push challenge straight from the store.
func (e *bioEnv) pushRecord(id string) *core.PushChallenge {
	e.t.Helper()
	var ch *core.PushChallenge
	require.NoError(e.t, e.inst.Store.View(context.Background(), func(tx core.ReadTx) error {
		var err error
		ch, err = tx.PushChallenge(id)
		return err
	}))
	return ch
}

// pushRecords returns the user's stored push challenges, oldest first.
func (e *bioEnv) pushRecords(userID string) []*core.PushChallenge {
	e.t.Helper()
	var list []*core.PushChallenge
	require.NoError(e.t, e.inst.Store.View(context.Background(), func(tx core.ReadTx) error {
		var err error
		list, err = tx.PushChallengesAfter(userID, "", 0)
		return err
	}))
	return list
}

// emailed reports whether an email in the outbox has a subject containing
// phrase. Notices go out in the background, each spending its budget first,
// so that on PostgreSQL one may be written after a later one: the outbox's
// order is not the order of the changes.
func (e *bioEnv) emailed(phrase string) bool {
	e.t.Helper()
	msgs, err := e.api.Outbox(context.Background(), 100)
	require.NoError(e.t, err)
	return slices.ContainsFunc(msgs, func(m client.Message) bool {
		return m.Channel == "EMAIL" && strings.Contains(m.Subject, phrase)
	})
}

// yes is a user verifier that always succeeds (the biometric prompt accepted).
var yes = authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })

// device is a companion: an authenticator with keys in memory, signed in as its user.
type device struct {
	t      *testing.T
	id     string
	origin string
	store  *authenticator.MemoryStore
	auth   *authenticator.Authenticator
	s      *client.Session
	credID []byte
	secret string // the device secret its enrolment gave it
}

func (e *bioEnv) newDevice(id, email string) *device {
	e.t.Helper()
	return newDeviceWith(e.t, id, e.login(email), authenticator.NewMemoryStore(), yes)
}

func newDeviceWith(t *testing.T, id string, s *client.Session, store *authenticator.MemoryStore, v authenticator.UserVerifier) *device {
	t.Helper()
	a, err := authenticator.New(authenticator.Config{}, store, v)
	require.NoError(t, err)
	return &device{t: t, id: id, origin: bioOrigin, store: store, auth: a, s: s}
}

// enrol runs the biometric enrolment with the sandbox SMS code.
func (d *device) enrol() {
	d.t.Helper()
	ctx := context.Background()
	options, err := d.s.BeginBiometricEnrolment(ctx, d.id, "Phone "+d.id)
	require.NoError(d.t, err)
	req, err := authenticator.ParseCreationOptions(options, d.origin)
	require.NoError(d.t, err)
	att, err := d.auth.Register(ctx, req)
	require.NoError(d.t, err)
	secret, err := d.s.FinishBiometricEnrolment(ctx, core.SandboxCode, att)
	require.NoError(d.t, err)
	d.credID, d.secret = att.CredentialID, secret
}

// signedIn is s speaking for the device: a session the device signed in with
// after its enrolment, carrying its secret.
func (d *device) signedIn(s *client.Session) *client.Session { return s.WithDeviceSecret(d.secret) }

// assertion signs the options of challenge id.
func (d *device) assertion(id string, adjust ...func(*authenticator.AssertionRequest)) *authenticator.Assertion {
	d.t.Helper()
	ctx := context.Background()
	options, err := d.s.PushOptions(ctx, id)
	require.NoError(d.t, err)
	req, err := authenticator.ParseRequestOptions(options, d.origin)
	require.NoError(d.t, err)
	for _, f := range adjust {
		f(&req)
	}
	as, err := d.auth.Assert(ctx, req)
	require.NoError(d.t, err)
	return as
}

// approve approves challenge id with number, signing afresh.
func (d *device) approve(id string, number int) error {
	d.t.Helper()
	return d.s.ApprovePush(context.Background(), id, number, d.assertion(id))
}

// clone copies the device's credential, counter included, into a new device
// signed in with s: a second copy of the same key.
func (d *device) clone(id string, s *client.Session) *device {
	d.t.Helper()
	cred, err := d.store.Load(d.credID)
	require.NoError(d.t, err)
	store := authenticator.NewMemoryStore()
	require.NoError(d.t, store.Save(cred))
	c := newDeviceWith(d.t, id, s, store, yes)
	c.credID = d.credID
	return c
}

// requireAPIError fails unless err is an API error with that status and code.
func requireAPIError(t *testing.T, err error, status int, code string, msgAndArgs ...any) *client.Error {
	t.Helper()
	var ae *client.Error
	require.ErrorAs(t, err, &ae, msgAndArgs...)
	require.Equal(t, status, ae.Status, msgAndArgs...)
	require.Equal(t, code, ae.Code, msgAndArgs...)
	return ae
}

// nextEvent reads stream events until one of type want (heartbeats are
// skipped unless wanted), failing after a deadline.
func nextEvent(t *testing.T, ps *client.PushStream, want string) client.PushEvent {
	t.Helper()
	type result struct {
		e   client.PushEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			e, err := ps.Next()
			if err != nil || e.Type == want {
				ch <- result{e, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "waiting for a %s event", want)
		return r.e
	case <-time.After(10 * time.Second):
		ps.Close()
		<-ch
		t.Fatalf("no %s event within 10s", want)
		return client.PushEvent{}
	}
}

// requireStreamEnds fails unless the stream ends (EOF) within a deadline,
// returning the events read before.
func requireStreamEnds(t *testing.T, ps *client.PushStream) []string {
	t.Helper()
	done := make(chan []string, 1)
	go func() {
		var seen []string
		for {
			e, err := ps.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					seen = append(seen, "error: "+err.Error())
				}
				done <- seen
				return
			}
			seen = append(seen, e.Type)
		}
	}()
	select {
	case seen := <-done:
		return seen
	case <-time.After(10 * time.Second):
		ps.Close()
		t.Fatalf("the stream did not end within 10s")
		return nil
	}
}

// choicesOf returns the choices of the pending challenge id on the device.
func (d *device) choicesOf(id string) []int {
	d.t.Helper()
	list, err := d.s.PendingPush(context.Background(), d.id, 0)
	require.NoError(d.t, err)
	i := slices.IndexFunc(list, func(c client.PushChallenge) bool { return c.ID == id })
	require.GreaterOrEqual(d.t, i, 0, "challenge %s pending on device %s", id, d.id)
	return list[i].Choices
}

// tamper returns the JSON of v with f applied to its decoded form.
func tamper(t *testing.T, v any, f func(m map[string]any)) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	f(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// assertNoSecrets fails if a log line holds a session token or sign-in secret.
func assertNoSecrets(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" {
			assert.False(t, strings.Contains(logs, s), "a secret appears in the logs")
		}
	}
}
