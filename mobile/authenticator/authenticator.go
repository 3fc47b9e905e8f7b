package authenticator

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Errors returned by the ceremonies. Match them with errors.Is; the returned
// errors wrap them with context.
var (
	// ErrUserVerificationFailed means the user did not pass (or cancelled)
	// user verification, or the verifier itself failed. Nothing was signed
	// and no credential was created.
	ErrUserVerificationFailed = errors.New("user verification failed")
	// ErrNoCredential means no credential matches: none of the allowed
	// credential ids is held for the RP ID, or the store has no credential
	// with the requested id.
	ErrNoCredential = errors.New("no matching credential")
	// ErrCounterOverflow means the credential's signature counter has reached
	// 2^32-1; the credential cannot sign again and must be re-registered.
	ErrCounterOverflow = errors.New("signature counter overflow")
	// ErrInvalidRequest means the request is malformed or is one a browser
	// would refuse to pass to an authenticator (for example an RP ID that is
	// not the origin's host or a parent domain of it).
	ErrInvalidRequest = errors.New("invalid authenticator request")
	// ErrCredentialExcluded means registration was refused because the store
	// already holds a credential listed in excludeCredentials for this RP
	// (WebAuthn §6.3.2 step 3).
	ErrCredentialExcluded = errors.New("a credential for this account already exists on this device")
	// ErrCredentialExists means KeyStore.Save was given a credential id the
	// store already holds.
	ErrCredentialExists = errors.New("credential already exists")
)

// DeputyAAGUID is the AAGUID (WebAuthn §6.5.1) the companion reports in
// attested credential data unless Config.AnonymousAAGUID is set. It lets a
// relying party recognise Deputy companions, for example through go-webauthn's
// FilteringConfig.PermittedAAGUIDs; it is the string
// 77adc409-5297-4a08-a08c-3a549d0aa880.
var DeputyAAGUID = [16]byte{0x77, 0xad, 0xc4, 0x09, 0x52, 0x97, 0x4a, 0x08, 0xa0, 0x8c, 0x3a, 0x54, 0x9d, 0x0a, 0xa8, 0x80}

// AlgES256 is the COSE algorithm identifier of ECDSA with SHA-256 on P-256
// (RFC 9053 §2.1), the only algorithm this authenticator supports.
const AlgES256 = -7

// credentialIDLen is the length of the random credential ids Register makes.
// WebAuthn §4 requires at least 16 bytes of entropy.
const credentialIDLen = 32

// maxCredentialIDLen and maxUserHandleLen are WebAuthn's limits (§4
// "Credential ID", §5.4.3 "user.id").
const (
	maxCredentialIDLen = 1023
	maxUserHandleLen   = 64
)

// Config configures an Authenticator. The zero value is ready to use.
type Config struct {
	// AnonymousAAGUID reports the all-zero AAGUID instead of DeputyAAGUID,
	// as a browser does for attestation "none" when it anonymises the
	// authenticator model.
	AnonymousAAGUID bool
}

// Authenticator answers WebAuthn registration and authentication ceremonies
// with the credentials in its KeyStore. Build one with New; it is safe for
// concurrent use if its KeyStore and UserVerifier are.
type Authenticator struct {
	aaguid   [16]byte
	store    KeyStore
	verifier UserVerifier
}

// New returns an Authenticator that keeps credentials in store and asks
// verifier to verify the user before every ceremony that requires or prefers
// user verification. If store also implements KeyGenerator, new keys are
// created by the store (for example inside a secure element); otherwise they
// are generated in Go with crypto/rand.
func New(cfg Config, store KeyStore, verifier UserVerifier) (*Authenticator, error) {
	if store == nil {
		return nil, errors.New("authenticator: nil KeyStore")
	}
	if verifier == nil {
		return nil, errors.New("authenticator: nil UserVerifier")
	}
	a := &Authenticator{aaguid: DeputyAAGUID, store: store, verifier: verifier}
	if cfg.AnonymousAAGUID {
		a.aaguid = [16]byte{}
	}
	return a, nil
}

// RegistrationRequest is what a relying party's
// PublicKeyCredentialCreationOptions (WebAuthn §5.4) give the authenticator,
// plus the origin the companion acts for. ParseCreationOptions builds one
// from the JSON a server sends.
type RegistrationRequest struct {
	// RPID is the relying party identifier (options.rp.id): the origin's
	// host or a parent domain of it.
	RPID string
	// RPName is the relying party's display name (options.rp.name).
	RPName string
	// UserHandle is options.user.id: 1 to 64 opaque bytes.
	UserHandle []byte
	// UserName and UserDisplayName are options.user.name and displayName.
	UserName        string
	UserDisplayName string
	// Challenge is options.challenge, the raw bytes (not base64).
	Challenge []byte
	// Algorithms are the COSE algorithm identifiers of
	// options.pubKeyCredParams; it must contain AlgES256 unless it is empty.
	Algorithms []int64
	// ExcludeCredentials are the ids in options.excludeCredentials.
	ExcludeCredentials [][]byte
	// UserVerification is options.authenticatorSelection.userVerification.
	// Its zero value, UVRequired, verifies the user.
	UserVerification UserVerification
	// Origin is the web origin the companion acts for, for example
	// "https://deputy.example.com": it goes into clientDataJSON and the RP ID
	// must be its host or a parent domain of it.
	Origin string
	// Reason, if not empty, is what the user-verification prompt shows.
	Reason string
}

// AssertionRequest is what a relying party's PublicKeyCredentialRequestOptions
// (WebAuthn §5.5) give the authenticator, plus the origin the companion acts
// for. ParseRequestOptions builds one from the JSON a server sends.
type AssertionRequest struct {
	// RPID is options.rpId.
	RPID string
	// Challenge is options.challenge, the raw bytes (not base64).
	Challenge []byte
	// AllowCredentials are the ids in options.allowCredentials. When empty,
	// any credential held for RPID may answer (a discoverable login); when
	// several do, the first in KeyStore.List order is used.
	AllowCredentials [][]byte
	// UserVerification is options.userVerification. Its zero value,
	// UVRequired, verifies the user.
	UserVerification UserVerification
	// Origin is the web origin the companion acts for (see
	// RegistrationRequest.Origin).
	Origin string
	// Reason, if not empty, is what the user-verification prompt shows: for
	// a push step-up, the summary of the operation being approved.
	Reason string
}

// Attestation is the result of a registration: the fields of an
// AuthenticatorAttestationResponse (WebAuthn §5.2.1). Marshal it with
// encoding/json to get the body go-webauthn's
// protocol.ParseCredentialCreationResponseBody accepts.
type Attestation struct {
	// CredentialID is the new credential's id (rawId).
	CredentialID []byte
	// ClientDataJSON is the JSON-serialised client data (§5.8.1), type
	// "webauthn.create".
	ClientDataJSON []byte
	// AttestationObject is the CBOR attestation object (§6.5.4) in the
	// "none" format.
	AttestationObject []byte
	// AuthenticatorData is the authenticator data inside AttestationObject.
	AuthenticatorData []byte
	// PublicKey is the credential public key as a COSE_Key (§6.5.1.2).
	PublicKey []byte
	// UserVerified reports whether the UV flag is set.
	UserVerified bool
}

// Assertion is the result of an authentication: the fields of an
// AuthenticatorAssertionResponse (WebAuthn §5.2.2). Marshal it with
// encoding/json to get the body go-webauthn's
// protocol.ParseCredentialRequestResponseBody accepts.
type Assertion struct {
	// CredentialID is the id of the credential that signed (rawId).
	CredentialID []byte
	// ClientDataJSON is the JSON-serialised client data, type "webauthn.get".
	ClientDataJSON []byte
	// AuthenticatorData is rpIdHash || flags || signCount (§6.1).
	AuthenticatorData []byte
	// Signature is the DER-encoded ECDSA signature over
	// AuthenticatorData || SHA-256(ClientDataJSON).
	Signature []byte
	// UserHandle is the credential's user handle.
	UserHandle []byte
	// SignCount is the signature counter in AuthenticatorData.
	SignCount uint32
	// UserVerified reports whether the UV flag is set.
	UserVerified bool
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP byte = 1 << 0 // user present
	flagUV byte = 1 << 2 // user verified
	flagAT byte = 1 << 6 // attested credential data included
)

// Register creates a new ES256 credential for req (WebAuthn §6.3.2
// authenticatorMakeCredential, with the client steps of §5.1.3), saves it in
// the KeyStore and returns the attestation the relying party verifies. Unless
// req.UserVerification is UVDiscouraged, the UserVerifier is asked first and
// a refusal fails with ErrUserVerificationFailed before any key is made.
func (a *Authenticator) Register(ctx context.Context, req RegistrationRequest) (*Attestation, error) {
	origin, err := checkOrigin(req.Origin, req.RPID)
	if err != nil {
		return nil, err
	}
	switch {
	case len(req.Challenge) == 0:
		return nil, fmt.Errorf("%w: empty challenge", ErrInvalidRequest)
	case len(req.UserHandle) == 0 || len(req.UserHandle) > maxUserHandleLen:
		return nil, fmt.Errorf("%w: user handle must be 1 to %d bytes, got %d", ErrInvalidRequest, maxUserHandleLen, len(req.UserHandle))
	case len(req.Algorithms) > 0 && !containsAlg(req.Algorithms, AlgES256):
		return nil, fmt.Errorf("%w: none of the requested algorithms %v is supported (ES256, %d)", ErrInvalidRequest, req.Algorithms, AlgES256)
	}
	for _, id := range req.ExcludeCredentials {
		c, err := a.store.Load(id)
		switch {
		case errors.Is(err, ErrNoCredential):
			continue
		case err != nil:
			return nil, fmt.Errorf("checking excluded credentials: %w", err)
		case c.RPID == req.RPID:
			return nil, ErrCredentialExcluded
		}
	}

	reason := req.Reason
	if reason == "" {
		rp := req.RPName
		if rp == "" {
			rp = req.RPID
		}
		reason = "Register this device with " + rp
		if req.UserName != "" {
			reason += " as " + req.UserName
		}
	}
	uv, err := a.verifyUser(ctx, req.UserVerification, reason)
	if err != nil {
		return nil, err
	}

	id := make([]byte, credentialIDLen)
	_, _ = rand.Read(id) // crypto/rand.Read never fails (Go 1.24)
	key, err := a.generateKey(ctx, id, req.RPID)
	if err != nil {
		return nil, err
	}
	pub, err := p256Public(key)
	if err != nil {
		return nil, err
	}
	cose, err := coseKey(pub)
	if err != nil {
		return nil, err
	}

	flags := flagUP | flagAT
	if uv {
		flags |= flagUV
	}
	authData := authenticatorData(req.RPID, flags, 0)
	authData = append(authData, a.aaguid[:]...)
	authData = append(authData, byte(len(id)>>8), byte(len(id)))
	authData = append(authData, id...)
	authData = append(authData, cose...)
	attObj, err := attestationObject(authData)
	if err != nil {
		return nil, err
	}
	clientData, err := clientDataJSON("webauthn.create", req.Challenge, origin)
	if err != nil {
		return nil, err
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err = a.store.Save(Credential{
		ID:              id,
		RPID:            req.RPID,
		RPName:          req.RPName,
		UserHandle:      bytes.Clone(req.UserHandle),
		UserName:        req.UserName,
		UserDisplayName: req.UserDisplayName,
		Key:             key,
	})
	if err != nil {
		return nil, fmt.Errorf("saving credential: %w", err)
	}
	return &Attestation{
		CredentialID:      id,
		ClientDataJSON:    clientData,
		AttestationObject: attObj,
		AuthenticatorData: authData,
		PublicKey:         cose,
		UserVerified:      uv,
	}, nil
}

// Assert signs req's challenge with a credential held for req.RPID (WebAuthn
// §6.3.3 authenticatorGetAssertion, with the client steps of §5.1.4). Unless
// req.UserVerification is UVDiscouraged, the UserVerifier is asked first and
// a refusal fails with ErrUserVerificationFailed without signing. The
// signature counter is incremented and persisted before the signature is
// made, so an Assertion never carries a counter the store has not recorded.
func (a *Authenticator) Assert(ctx context.Context, req AssertionRequest) (*Assertion, error) {
	origin, err := checkOrigin(req.Origin, req.RPID)
	if err != nil {
		return nil, err
	}
	if len(req.Challenge) == 0 {
		return nil, fmt.Errorf("%w: empty challenge", ErrInvalidRequest)
	}
	cred, err := a.selectCredential(req.RPID, req.AllowCredentials)
	if err != nil {
		return nil, err
	}

	reason := req.Reason
	if reason == "" {
		reason = "Sign in to " + req.RPID
	}
	uv, err := a.verifyUser(ctx, req.UserVerification, reason)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	count, err := a.store.NextCounter(cred.ID)
	if err != nil {
		return nil, fmt.Errorf("advancing signature counter: %w", err)
	}
	flags := flagUP
	if uv {
		flags |= flagUV
	}
	authData := authenticatorData(req.RPID, flags, count)
	clientData, err := clientDataJSON("webauthn.get", req.Challenge, origin)
	if err != nil {
		return nil, err
	}
	clientHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(bytes.Clone(authData), clientHash[:]...))
	sig, err := cred.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing assertion: %w", err)
	}
	return &Assertion{
		CredentialID:      cred.ID,
		ClientDataJSON:    clientData,
		AuthenticatorData: authData,
		Signature:         sig,
		UserHandle:        cred.UserHandle,
		SignCount:         count,
		UserVerified:      uv,
	}, nil
}

// selectCredential finds the credential that answers an assertion: the first
// allowed id held for rpID, or with no allow list the first credential for
// rpID.
func (a *Authenticator) selectCredential(rpID string, allowed [][]byte) (Credential, error) {
	if len(allowed) == 0 {
		creds, err := a.store.List(rpID)
		if err != nil {
			return Credential{}, fmt.Errorf("listing credentials: %w", err)
		}
		if len(creds) == 0 {
			return Credential{}, fmt.Errorf("%w for %s", ErrNoCredential, rpID)
		}
		return creds[0], nil
	}
	for _, id := range allowed {
		c, err := a.store.Load(id)
		switch {
		case errors.Is(err, ErrNoCredential):
			continue
		case err != nil:
			return Credential{}, fmt.Errorf("loading credential: %w", err)
		case c.RPID == rpID:
			return c, nil
		}
	}
	return Credential{}, fmt.Errorf("%w: none of the %d allowed credentials is held for %s", ErrNoCredential, len(allowed), rpID)
}

// verifyUser runs user verification unless uv is UVDiscouraged and reports
// whether the user was verified (the UV flag).
func (a *Authenticator) verifyUser(ctx context.Context, uv UserVerification, reason string) (bool, error) {
	if uv == UVDiscouraged {
		return false, nil
	}
	ok, err := a.verifier.Verify(ctx, reason)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUserVerificationFailed, err)
	}
	if !ok {
		return false, ErrUserVerificationFailed
	}
	return true, nil
}

// generateKey makes the P-256 key of a new credential, in the store when it
// is a KeyGenerator.
func (a *Authenticator) generateKey(ctx context.Context, id []byte, rpID string) (crypto.Signer, error) {
	if g, ok := a.store.(KeyGenerator); ok {
		key, err := g.GenerateKey(ctx, id, rpID)
		if err != nil {
			return nil, fmt.Errorf("generating key in store: %w", err)
		}
		return key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return key, nil
}

func containsAlg(algs []int64, alg int64) bool {
	for _, a := range algs {
		if a == alg {
			return true
		}
	}
	return false
}

// checkOrigin does what a browser does before it calls an authenticator
// (WebAuthn §5.1.3 steps 6 to 8, §5.1.4.1 steps 7 to 9): origin must be a
// secure origin (https, or http on a loopback host), and rpID its host or a
// parent domain of it. It returns the serialised origin for clientDataJSON.
// Unlike a browser it does not consult the public suffix list, so an RP ID
// such as "com" is not refused here; the relying party's RP ID check still
// applies.
func checkOrigin(origin, rpID string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: origin %q is not scheme://host[:port]", ErrInvalidRequest, origin)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if scheme != "https" && !(scheme == "http" && isLoopback(host)) {
		return "", fmt.Errorf("%w: origin %q is not a secure origin", ErrInvalidRequest, origin)
	}
	rp := strings.ToLower(rpID)
	if rp == "" {
		return "", fmt.Errorf("%w: empty RP ID", ErrInvalidRequest)
	}
	if host != rp && (isIP(host) || !strings.HasSuffix(host, "."+rp)) {
		return "", fmt.Errorf("%w: RP ID %q is not the host of origin %q or a parent domain of it", ErrInvalidRequest, rpID, origin)
	}
	hostPort := strings.ToLower(u.Host)
	if port := u.Port(); (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		hostPort = strings.TrimSuffix(hostPort, ":"+port)
	}
	return scheme + "://" + hostPort, nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}
