package authenticator_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
)

const (
	testRPID   = "localhost"
	testOrigin = "https://localhost"
)

// testUser is a relying party's account, implementing webauthn.User.
type testUser struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *testUser) WebAuthnID() []byte                         { return u.id }
func (u *testUser) WebAuthnName() string                       { return "alice@example.com" }
func (u *testUser) WebAuthnDisplayName() string                { return "Alice Example" }
func (u *testUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newUser() *testUser {
	id := make([]byte, 64)
	_, _ = rand.Read(id)
	return &testUser{id: id}
}

// newRP returns a go-webauthn relying party for RP ID "localhost" accepting
// the given origins (testOrigin when none are given).
func newRP(t *testing.T, origins ...string) *webauthn.WebAuthn {
	t.Helper()
	if len(origins) == 0 {
		origins = []string{testOrigin}
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          testRPID,
		RPDisplayName: "Deputy",
		RPOrigins:     origins,
	})
	require.NoError(t, err)
	return rp
}

// verifier is a UserVerifier that answers ok and records the reasons it saw.
type verifier struct {
	ok      atomic.Bool
	mu      sync.Mutex
	reasons []string
}

func newVerifier(ok bool) *verifier {
	v := &verifier{}
	v.ok.Store(ok)
	return v
}

func (v *verifier) Verify(_ context.Context, reason string) (bool, error) {
	v.mu.Lock()
	v.reasons = append(v.reasons, reason)
	v.mu.Unlock()
	return v.ok.Load(), nil
}

func (v *verifier) calls() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.reasons...)
}

// countingStore wraps a MemoryStore and counts the signatures made with the
// keys it hands out.
type countingStore struct {
	*authenticator.MemoryStore
	signs atomic.Int64
}

type countingSigner struct {
	crypto.Signer
	n *atomic.Int64
}

func (s countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

func (s *countingStore) wrap(c authenticator.Credential) authenticator.Credential {
	c.Key = countingSigner{Signer: c.Key, n: &s.signs}
	return c
}

func (s *countingStore) Load(id []byte) (authenticator.Credential, error) {
	c, err := s.MemoryStore.Load(id)
	return s.wrap(c), err
}

func (s *countingStore) List(rpID string) ([]authenticator.Credential, error) {
	cs, err := s.MemoryStore.List(rpID)
	for i := range cs {
		cs[i] = s.wrap(cs[i])
	}
	return cs, err
}

func newAuthenticator(t *testing.T, store authenticator.KeyStore, v authenticator.UserVerifier) *authenticator.Authenticator {
	t.Helper()
	a, err := authenticator.New(authenticator.Config{}, store, v)
	require.NoError(t, err)
	return a
}

// beginRegistration starts a registration with user verification required
// and attestation "none", and returns the options as the JSON a server sends.
func beginRegistration(t *testing.T, rp *webauthn.WebAuthn, user *testUser, opts ...webauthn.RegistrationOption) ([]byte, *webauthn.SessionData) {
	t.Helper()
	opts = append([]webauthn.RegistrationOption{
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			AuthenticatorAttachment: protocol.Platform,
			UserVerification:        protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	}, opts...)
	creation, session, err := rp.BeginRegistration(user, opts...)
	require.NoError(t, err)
	data, err := json.Marshal(creation)
	require.NoError(t, err)
	return data, session
}

// finishRegistration sends att to the relying party as the JSON body a
// browser would and returns what CreateCredential says.
func finishRegistration(t *testing.T, rp *webauthn.WebAuthn, user *testUser, session *webauthn.SessionData, att *authenticator.Attestation) (*webauthn.Credential, error) {
	t.Helper()
	body, err := json.Marshal(att)
	require.NoError(t, err)
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return rp.CreateCredential(user, *session, parsed)
}

// register runs a whole registration ceremony and adds the credential to
// user.
func register(t *testing.T, rp *webauthn.WebAuthn, user *testUser, a *authenticator.Authenticator) *webauthn.Credential {
	t.Helper()
	options, session := beginRegistration(t, rp, user)
	req, err := authenticator.ParseCreationOptions(options, testOrigin)
	require.NoError(t, err)
	att, err := a.Register(context.Background(), req)
	require.NoError(t, err)
	cred, err := finishRegistration(t, rp, user, session, att)
	require.NoError(t, err)
	user.creds = append(user.creds, *cred)
	return cred
}

// beginLogin starts a login with user verification required and returns the
// options as the JSON a server sends.
func beginLogin(t *testing.T, rp *webauthn.WebAuthn, user *testUser, opts ...webauthn.LoginOption) ([]byte, *webauthn.SessionData) {
	t.Helper()
	opts = append([]webauthn.LoginOption{webauthn.WithUserVerification(protocol.VerificationRequired)}, opts...)
	assertion, session, err := rp.BeginLogin(user, opts...)
	require.NoError(t, err)
	data, err := json.Marshal(assertion)
	require.NoError(t, err)
	return data, session
}

// finishLogin sends as to the relying party as the JSON body a browser would
// and returns what ValidateLogin says.
func finishLogin(t *testing.T, rp *webauthn.WebAuthn, user *testUser, session *webauthn.SessionData, as *authenticator.Assertion) (*webauthn.Credential, error) {
	t.Helper()
	body, err := json.Marshal(as)
	require.NoError(t, err)
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return rp.ValidateLogin(user, *session, parsed)
}

// login runs a whole login ceremony and stores the updated credential in
// user, as a relying party does.
func login(t *testing.T, rp *webauthn.WebAuthn, user *testUser, a *authenticator.Authenticator) *webauthn.Credential {
	t.Helper()
	options, session := beginLogin(t, rp, user)
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	as, err := a.Assert(context.Background(), req)
	require.NoError(t, err)
	cred, err := finishLogin(t, rp, user, session, as)
	require.NoError(t, err)
	updateCredential(user, cred)
	return cred
}

func updateCredential(user *testUser, cred *webauthn.Credential) {
	for i := range user.creds {
		if bytes.Equal(user.creds[i].ID, cred.ID) {
			user.creds[i] = *cred
		}
	}
}

// requireRejected checks that the relying party refused with a go-webauthn
// protocol error whose details contain wantDetail.
func requireRejected(t *testing.T, err error, wantDetail string) {
	t.Helper()
	require.Error(t, err, "the relying party accepted it")
	var perr *protocol.Error
	require.True(t, errors.As(err, &perr), "got %T %v, want a *protocol.Error", err, err)
	assert.Contains(t, perr.Details+" "+perr.DevInfo, wantDetail)
}

func TestRegisterAndLoginCeremonies(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	v := newVerifier(true)
	store := authenticator.NewMemoryStore()
	a := newAuthenticator(t, store, v)

	cred := register(t, rp, user, a)
	assert.Equal(t, "none", cred.AttestationType)
	assert.Equal(t, "none", cred.AttestationFormat)
	assert.True(t, cred.Flags.UserPresent)
	assert.True(t, cred.Flags.UserVerified)
	assert.False(t, cred.Flags.BackupEligible, "a device-bound credential")
	assert.Equal(t, authenticator.DeputyAAGUID[:], cred.Authenticator.AAGUID)
	assert.Equal(t, uint32(0), cred.Authenticator.SignCount)
	assert.Equal(t, []protocol.AuthenticatorTransport{protocol.Internal}, cred.Transport)
	aaguid, err := hex.DecodeString(strings.ReplaceAll("77adc409-5297-4a08-a08c-3a549d0aa880", "-", ""))
	require.NoError(t, err)
	assert.Equal(t, aaguid, authenticator.DeputyAAGUID[:])

	stored, err := store.Load(cred.ID)
	require.NoError(t, err)
	assert.Equal(t, testRPID, stored.RPID)
	assert.Equal(t, "Deputy", stored.RPName)
	assert.Equal(t, user.id, stored.UserHandle)
	assert.Equal(t, "alice@example.com", stored.UserName)
	assert.Equal(t, "Alice Example", stored.UserDisplayName)

	for want := uint32(1); want <= 3; want++ {
		got := login(t, rp, user, a)
		assert.Equal(t, want, got.Authenticator.SignCount)
		assert.False(t, got.Authenticator.CloneWarning)
		assert.True(t, got.Flags.UserVerified)
	}
	stored, err = store.Load(cred.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(3), stored.SignCount, "the counter is persisted")
	assert.Equal(t, []string{
		"Register this device with Deputy as alice@example.com",
		"Sign in to localhost",
		"Sign in to localhost",
		"Sign in to localhost",
	}, v.calls(), "the verifier is asked before every ceremony")
}

func TestAnonymousAAGUID(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	a, err := authenticator.New(authenticator.Config{AnonymousAAGUID: true}, authenticator.NewMemoryStore(), newVerifier(true))
	require.NoError(t, err)
	cred := register(t, rp, user, a)
	assert.Equal(t, make([]byte, 16), cred.Authenticator.AAGUID)
	login(t, rp, user, a)
}

// TestDynamicLinking approves one operation with a challenge derived from its
// id and summary, the way a push step-up does (PSD2 RTS Art. 5), and shows
// the summary to the user.
func TestDynamicLinking(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	v := newVerifier(true)
	a := newAuthenticator(t, authenticator.NewMemoryStore(), v)
	register(t, rp, user, a)

	summary := "Create user bob@example.com with role ADMIN"
	challenge := sha256.Sum256([]byte("challenge-id-1\x00" + summary))
	options, session := beginLogin(t, rp, user, webauthn.WithChallenge(challenge[:]))
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	assert.Equal(t, challenge[:], req.Challenge)
	req.Reason = summary
	as, err := a.Assert(context.Background(), req)
	require.NoError(t, err)
	_, err = finishLogin(t, rp, user, session, as)
	require.NoError(t, err)
	assert.Equal(t, summary, v.calls()[len(v.calls())-1])

	// The same signature cannot approve another operation.
	other := sha256.Sum256([]byte("challenge-id-1\x00Create user eve@example.com with role ADMIN"))
	_, session2 := beginLogin(t, rp, user, webauthn.WithChallenge(other[:]))
	_, err = finishLogin(t, rp, user, session2, as)
	requireRejected(t, err, "Error validating challenge")
}

func TestUserVerificationRefused(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	store := &countingStore{MemoryStore: authenticator.NewMemoryStore()}
	refuse := newVerifier(false)

	options, _ := beginRegistration(t, rp, user)
	req, err := authenticator.ParseCreationOptions(options, testOrigin)
	require.NoError(t, err)
	att, err := newAuthenticator(t, store, refuse).Register(context.Background(), req)
	assert.ErrorIs(t, err, authenticator.ErrUserVerificationFailed)
	assert.Nil(t, att)
	list, err := store.List(testRPID)
	require.NoError(t, err)
	assert.Empty(t, list, "no credential is created")

	cred := register(t, rp, user, newAuthenticator(t, store, newVerifier(true)))
	loginOptions, _ := beginLogin(t, rp, user)
	areq, err := authenticator.ParseRequestOptions(loginOptions, testOrigin)
	require.NoError(t, err)
	as, err := newAuthenticator(t, store, refuse).Assert(context.Background(), areq)
	assert.ErrorIs(t, err, authenticator.ErrUserVerificationFailed)
	assert.Nil(t, as)
	assert.Equal(t, int64(0), store.signs.Load(), "nothing is signed")
	stored, err := store.Load(cred.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(0), stored.SignCount, "the counter does not move")
	assert.Len(t, refuse.calls(), 2)

	// A verifier error is reported as a verification failure too.
	boom := errors.New("biometric hardware unavailable")
	failing := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, boom })
	_, err = newAuthenticator(t, store, failing).Assert(context.Background(), areq)
	assert.ErrorIs(t, err, authenticator.ErrUserVerificationFailed)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, int64(0), store.signs.Load(), "nothing is signed")
}

func TestCancelledDuringVerification(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	store := &countingStore{MemoryStore: authenticator.NewMemoryStore()}
	cred := register(t, rp, user, newAuthenticator(t, store, newVerifier(true)))

	ctx, cancel := context.WithCancel(context.Background())
	cancelling := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) {
		cancel() // the app is backgrounded while the prompt is answered
		return true, nil
	})
	options, _ := beginLogin(t, rp, user)
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	_, err = newAuthenticator(t, store, cancelling).Assert(ctx, req)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(0), store.signs.Load())
	stored, err := store.Load(cred.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(0), stored.SignCount)
}

// TestUserVerificationMissing: an authenticator that skips verification
// (userVerification "discouraged") produces a response without the UV flag,
// which a relying party requiring verification rejects.
func TestUserVerificationMissing(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	v := newVerifier(true)
	a := newAuthenticator(t, authenticator.NewMemoryStore(), v)

	options, session := beginRegistration(t, rp, user)
	req, err := authenticator.ParseCreationOptions(options, testOrigin)
	require.NoError(t, err)
	req.UserVerification = authenticator.UVDiscouraged
	att, err := a.Register(context.Background(), req)
	require.NoError(t, err)
	assert.False(t, att.UserVerified)
	_, err = finishRegistration(t, rp, user, session, att)
	requireRejected(t, err, "User verification required but flag not set")

	register(t, rp, user, a)
	loginOptions, loginSession := beginLogin(t, rp, user)
	areq, err := authenticator.ParseRequestOptions(loginOptions, testOrigin)
	require.NoError(t, err)
	areq.UserVerification = authenticator.UVDiscouraged
	before := len(v.calls())
	as, err := a.Assert(context.Background(), areq)
	require.NoError(t, err)
	assert.False(t, as.UserVerified)
	assert.Len(t, v.calls(), before, "discouraged skips the verifier")
	_, err = finishLogin(t, rp, user, loginSession, as)
	requireRejected(t, err, "User verification required but flag not set")
}

// assertOnce registers a credential and returns a fresh, valid assertion with
// the session it answers.
func assertOnce(t *testing.T) (*webauthn.WebAuthn, *testUser, *authenticator.MemoryStore, *webauthn.SessionData, *authenticator.Assertion) {
	t.Helper()
	rp := newRP(t)
	user := newUser()
	store := authenticator.NewMemoryStore()
	a := newAuthenticator(t, store, newVerifier(true))
	register(t, rp, user, a)
	options, session := beginLogin(t, rp, user)
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	as, err := a.Assert(context.Background(), req)
	require.NoError(t, err)
	return rp, user, store, session, as
}

func TestTamperedAssertion(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(as *authenticator.Assertion)
		wantDetail string
	}{
		{"RPIDHashByte", func(as *authenticator.Assertion) { as.AuthenticatorData[0] ^= 1 }, "RP Hash mismatch"},
		{"FlagsUVCleared", func(as *authenticator.Assertion) { as.AuthenticatorData[32] &^= 0x04 }, "User verification required but flag not set"},
		{"FlagsReservedBit", func(as *authenticator.Assertion) { as.AuthenticatorData[32] ^= 0x02 }, "Error validating the assertion signature"},
		{"CounterByte", func(as *authenticator.Assertion) { as.AuthenticatorData[36]++ }, "Error validating the assertion signature"},
		{"ClientDataWhitespace", func(as *authenticator.Assertion) {
			as.ClientDataJSON = append(as.ClientDataJSON[:len(as.ClientDataJSON)-1], []byte(" }")...)
		}, "Error validating the assertion signature"},
		{"ClientDataOrigin", func(as *authenticator.Assertion) {
			as.ClientDataJSON = bytes.Replace(as.ClientDataJSON, []byte(`"https://localhost"`), []byte(`"https://evil.test"`), 1)
		}, "Error validating origin"},
		{"ClientDataType", func(as *authenticator.Assertion) {
			as.ClientDataJSON = bytes.Replace(as.ClientDataJSON, []byte("webauthn.get"), []byte("webauthn.create"), 1)
		}, "Error validating ceremony type"},
		{"Signature", func(as *authenticator.Assertion) { as.Signature[len(as.Signature)-1] ^= 1 }, "Error validating the assertion signature"},
		{"UserHandle", func(as *authenticator.Assertion) { as.UserHandle = []byte("someone else") }, "User handle and User ID do not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, user, _, session, as := assertOnce(t)
			tt.tamper(as)
			_, err := finishLogin(t, rp, user, session, as)
			requireRejected(t, err, tt.wantDetail)
		})
	}
}

func TestTamperedAttestation(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(att *authenticator.Attestation)
		wantDetail string
	}{
		{"ClientDataChallenge", func(att *authenticator.Attestation) {
			var cd map[string]any
			_ = json.Unmarshal(att.ClientDataJSON, &cd)
			cd["challenge"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			att.ClientDataJSON, _ = json.Marshal(cd)
		}, "Error validating challenge"},
		{"ClientDataOrigin", func(att *authenticator.Attestation) {
			att.ClientDataJSON = bytes.Replace(att.ClientDataJSON, []byte(`"https://localhost"`), []byte(`"https://evil.test"`), 1)
		}, "Error validating origin"},
		{"ClientDataCrossOrigin", func(att *authenticator.Attestation) {
			att.ClientDataJSON = bytes.Replace(att.ClientDataJSON, []byte(`"crossOrigin":false`), []byte(`"crossOrigin":true`), 1)
		}, "Error validating cross origin flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := newRP(t)
			user := newUser()
			options, session := beginRegistration(t, rp, user)
			req, err := authenticator.ParseCreationOptions(options, testOrigin)
			require.NoError(t, err)
			att, err := newAuthenticator(t, authenticator.NewMemoryStore(), newVerifier(true)).Register(context.Background(), req)
			require.NoError(t, err)
			tt.tamper(att)
			_, err = finishRegistration(t, rp, user, session, att)
			requireRejected(t, err, tt.wantDetail)
		})
	}
}

func TestReplayedAssertion(t *testing.T) {
	rp, user, _, session, as := assertOnce(t)
	_, err := finishLogin(t, rp, user, session, as)
	require.NoError(t, err)
	_, session2 := beginLogin(t, rp, user)
	_, err = finishLogin(t, rp, user, session2, as)
	requireRejected(t, err, "Error validating challenge")
}

// TestWrongOrigin: a companion acting for another origin under the same RP ID
// (a phishing origin) passes the client's RP ID check but the relying party
// refuses the origin.
func TestWrongOrigin(t *testing.T) {
	const evil = "https://evil.localhost"
	rp := newRP(t)
	user := newUser()
	a := newAuthenticator(t, authenticator.NewMemoryStore(), newVerifier(true))

	options, session := beginRegistration(t, rp, user)
	req, err := authenticator.ParseCreationOptions(options, evil)
	require.NoError(t, err)
	att, err := a.Register(context.Background(), req)
	require.NoError(t, err)
	_, err = finishRegistration(t, rp, user, session, att)
	requireRejected(t, err, "Error validating origin")

	register(t, rp, user, a)
	loginOptions, loginSession := beginLogin(t, rp, user)
	areq, err := authenticator.ParseRequestOptions(loginOptions, evil)
	require.NoError(t, err)
	as, err := a.Assert(context.Background(), areq)
	require.NoError(t, err)
	_, err = finishLogin(t, rp, user, loginSession, as)
	requireRejected(t, err, "Error validating origin")
}

// TestWrongRPID: the relying party accepts the origin but the credential is
// scoped to another RP ID, so the rpIdHash does not match.
func TestWrongRPID(t *testing.T) {
	const sub = "https://app.localhost"
	rp := newRP(t, testOrigin, sub) // "app.localhost" is an accepted origin
	user := newUser()
	store := authenticator.NewMemoryStore()
	a := newAuthenticator(t, store, newVerifier(true))

	options, session := beginRegistration(t, rp, user)
	req, err := authenticator.ParseCreationOptions(options, sub)
	require.NoError(t, err)
	req.RPID = "app.localhost"
	att, err := a.Register(context.Background(), req)
	require.NoError(t, err)
	_, err = finishRegistration(t, rp, user, session, att)
	requireRejected(t, err, "RP Hash mismatch")

	// Login: a well-signed assertion for the wrong RP ID.
	cred := register(t, rp, user, a)
	loginOptions, loginSession := beginLogin(t, rp, user)
	areq, err := authenticator.ParseRequestOptions(loginOptions, testOrigin)
	require.NoError(t, err)
	as, err := a.Assert(context.Background(), areq)
	require.NoError(t, err)
	resign(t, store, cred.ID, as, func(authData []byte) {
		h := sha256.Sum256([]byte("app.localhost"))
		copy(authData, h[:])
	})
	_, err = finishLogin(t, rp, user, loginSession, as)
	requireRejected(t, err, "RP Hash mismatch")

	// The client refuses an RP ID that is not the origin's host or a parent.
	areq.RPID = "example.com"
	_, err = a.Assert(context.Background(), areq)
	assert.ErrorIs(t, err, authenticator.ErrInvalidRequest)
}

// resign lets the test act as a misbehaving authenticator: it edits the
// assertion's authenticator data and signs it again with the stored key.
func resign(t *testing.T, store *authenticator.MemoryStore, id []byte, as *authenticator.Assertion, edit func(authData []byte)) {
	t.Helper()
	c, err := store.Load(id)
	require.NoError(t, err)
	edit(as.AuthenticatorData)
	clientHash := sha256.Sum256(as.ClientDataJSON)
	digest := sha256.Sum256(append(bytes.Clone(as.AuthenticatorData), clientHash[:]...))
	key, ok := c.Key.(*ecdsa.PrivateKey)
	require.True(t, ok)
	as.Signature, err = ecdsa.SignASN1(rand.Reader, key, digest[:])
	require.NoError(t, err)
}

// TestCounterRegression records how go-webauthn treats a signature counter
// that does not increase: ValidateLogin succeeds and only sets
// Authenticator.CloneWarning, leaving SignCount where it was. A relying party
// that rejects regressions (as Deputy does) must check CloneWarning itself.
func TestCounterRegression(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	store := authenticator.NewMemoryStore()
	a := newAuthenticator(t, store, newVerifier(true))
	cred := register(t, rp, user, a)
	login(t, rp, user, a)
	login(t, rp, user, a) // the relying party now holds signCount 2

	for _, count := range []uint32{2, 1} {
		options, session := beginLogin(t, rp, user)
		req, err := authenticator.ParseRequestOptions(options, testOrigin)
		require.NoError(t, err)
		as, err := a.Assert(context.Background(), req)
		require.NoError(t, err)
		resign(t, store, cred.ID, as, func(authData []byte) { binary.BigEndian.PutUint32(authData[33:37], count) })
		got, err := finishLogin(t, rp, user, session, as)
		require.NoError(t, err, "go-webauthn does not fail a counter regression")
		assert.True(t, got.Authenticator.CloneWarning, "counter %d after 2 sets CloneWarning", count)
		assert.Equal(t, uint32(2), got.Authenticator.SignCount)
	}
}

func TestNoCredential(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	a := newAuthenticator(t, authenticator.NewMemoryStore(), newVerifier(true))

	// Nothing registered: a discoverable login finds nothing.
	_, err := a.Assert(context.Background(), authenticator.AssertionRequest{RPID: testRPID, Origin: testOrigin, Challenge: []byte("c")})
	assert.ErrorIs(t, err, authenticator.ErrNoCredential)

	// A credential this device does not hold.
	user.creds = []webauthn.Credential{{ID: []byte("held-elsewhere"), PublicKey: []byte{0}}}
	options, _ := beginLogin(t, rp, user)
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	_, err = a.Assert(context.Background(), req)
	assert.ErrorIs(t, err, authenticator.ErrNoCredential)

	// A credential held for another RP ID is not offered.
	other := newAuthenticator(t, authenticator.NewMemoryStore(), newVerifier(true))
	att, err := other.Register(context.Background(), authenticator.RegistrationRequest{
		RPID: "other.localhost", Origin: "https://other.localhost", UserHandle: []byte("u"), Challenge: []byte("c"),
	})
	require.NoError(t, err)
	_, err = other.Assert(context.Background(), authenticator.AssertionRequest{
		RPID: testRPID, Origin: testOrigin, Challenge: []byte("c"), AllowCredentials: [][]byte{att.CredentialID},
	})
	assert.ErrorIs(t, err, authenticator.ErrNoCredential)
}

func TestCounterOverflow(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	store := &countingStore{MemoryStore: authenticator.NewMemoryStore()}
	a := newAuthenticator(t, store, newVerifier(true))
	cred := register(t, rp, user, a)

	// Move the counter to its last value by replacing the stored credential.
	c, err := store.MemoryStore.Load(cred.ID)
	require.NoError(t, err)
	require.NoError(t, store.Delete(cred.ID))
	c.SignCount = math.MaxUint32 - 1
	require.NoError(t, store.Save(c))

	got := login(t, rp, user, a)
	assert.Equal(t, uint32(math.MaxUint32), got.Authenticator.SignCount)
	signs := store.signs.Load()

	options, _ := beginLogin(t, rp, user)
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	as, err := a.Assert(context.Background(), req)
	assert.ErrorIs(t, err, authenticator.ErrCounterOverflow)
	assert.Nil(t, as)
	assert.Equal(t, signs, store.signs.Load(), "nothing is signed")
}

func TestExcludedCredential(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	a := newAuthenticator(t, authenticator.NewMemoryStore(), newVerifier(true))
	register(t, rp, user, a)

	options, _ := beginRegistration(t, rp, user, webauthn.WithExclusions(webauthn.Credentials(user.creds).CredentialDescriptors()))
	req, err := authenticator.ParseCreationOptions(options, testOrigin)
	require.NoError(t, err)
	require.Len(t, req.ExcludeCredentials, 1)
	_, err = a.Register(context.Background(), req)
	assert.ErrorIs(t, err, authenticator.ErrCredentialExcluded)
}

func TestUnsupportedAlgorithm(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	options, _ := beginRegistration(t, rp, user, webauthn.WithCredentialParameters([]protocol.CredentialParameter{
		{Type: protocol.PublicKeyCredentialType, Algorithm: -257}, // RS256 only
	}))
	req, err := authenticator.ParseCreationOptions(options, testOrigin)
	require.NoError(t, err)
	_, err = newAuthenticator(t, authenticator.NewMemoryStore(), newVerifier(true)).Register(context.Background(), req)
	assert.ErrorIs(t, err, authenticator.ErrInvalidRequest)
}

// TestConcurrentAssertions: concurrent approvals with one credential each get
// their own counter value and all verify.
func TestConcurrentAssertions(t *testing.T) {
	rp := newRP(t)
	user := newUser()
	store := authenticator.NewMemoryStore()
	a := newAuthenticator(t, store, newVerifier(true))
	cred := register(t, rp, user, a)

	const n = 8
	type started struct {
		req     authenticator.AssertionRequest
		session *webauthn.SessionData
	}
	var runs []started
	for range n {
		options, session := beginLogin(t, rp, user)
		req, err := authenticator.ParseRequestOptions(options, testOrigin)
		require.NoError(t, err)
		runs = append(runs, started{req, session})
	}
	results := make([]*authenticator.Assertion, n)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			as, err := a.Assert(context.Background(), runs[i].req)
			assert.NoError(t, err)
			results[i] = as
		})
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for i, as := range results {
		require.NotNil(t, as)
		assert.False(t, seen[as.SignCount], "counter %d used twice", as.SignCount)
		seen[as.SignCount] = true
		fresh := *user
		fresh.creds = []webauthn.Credential{*cred} // stored counter 0: any positive value is fine
		_, err := finishLogin(t, rp, &fresh, runs[i].session, as)
		assert.NoError(t, err)
	}
	assert.Len(t, seen, n)
}
