package authenticator

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func allowAll() UserVerifier {
	return UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
}

func TestAttestationLayout(t *testing.T) {
	store := NewMemoryStore()
	a, err := New(Config{}, store, allowAll())
	require.NoError(t, err)
	att, err := a.Register(context.Background(), RegistrationRequest{
		RPID: "example.com", RPName: "Example", UserHandle: []byte{1, 2, 3}, UserName: "alice",
		Challenge: []byte{0xfb, 0xff, 0x01}, Origin: "https://login.example.com:443",
	})
	require.NoError(t, err)

	// clientDataJSON: members in §5.8.1.1 order, challenge base64url, the
	// origin serialised without its default port.
	assert.Equal(t, `{"type":"webauthn.create","challenge":"-_8B","origin":"https://login.example.com","crossOrigin":false}`, string(att.ClientDataJSON))

	// Attestation object: CTAP2 canonical map {"fmt": "none", "attStmt": {}, "authData": ...}.
	prefix, err := hex.DecodeString("a3" + "63666d74" + "646e6f6e65" + "6761747453746d74" + "a0" + "68617574684461746158a4")
	require.NoError(t, err)
	require.Greater(t, len(att.AttestationObject), len(prefix))
	assert.Equal(t, prefix, att.AttestationObject[:len(prefix)], "attestation object head %x", att.AttestationObject[:len(prefix)])
	var obj struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	require.NoError(t, cbor.Unmarshal(att.AttestationObject, &obj))
	assert.Equal(t, "none", obj.Fmt)
	assert.Empty(t, obj.AttStmt)
	assert.Equal(t, att.AuthenticatorData, obj.AuthData)

	// Authenticator data: rpIdHash || flags || signCount || AAGUID || L || id || COSE key.
	ad := att.AuthenticatorData
	rpIDHash := sha256.Sum256([]byte("example.com"))
	assert.Equal(t, rpIDHash[:], ad[:32])
	assert.Equal(t, flagUP|flagUV|flagAT, ad[32])
	assert.Equal(t, uint32(0), binary.BigEndian.Uint32(ad[33:37]))
	assert.Equal(t, DeputyAAGUID[:], ad[37:53])
	idLen := int(binary.BigEndian.Uint16(ad[53:55]))
	require.Equal(t, credentialIDLen, idLen)
	assert.Equal(t, att.CredentialID, ad[55:55+idLen])
	assert.Equal(t, att.PublicKey, ad[55+idLen:])

	// COSE_Key: exactly {1: 2, 3: -7, -1: 1, -2: x, -3: y}, canonical order.
	var key map[int]any
	require.NoError(t, cbor.Unmarshal(att.PublicKey, &key))
	assert.Len(t, key, 5)
	assert.Equal(t, uint64(2), key[1])
	assert.Equal(t, int64(-7), key[3])
	assert.Equal(t, uint64(1), key[-1])
	head, err := hex.DecodeString("a5" + "0102" + "0326" + "2001" + "215820")
	require.NoError(t, err)
	assert.Equal(t, head, att.PublicKey[:len(head)])
	c, err := store.Load(att.CredentialID)
	require.NoError(t, err)
	point, err := c.Key.Public().(*ecdsa.PublicKey).Bytes()
	require.NoError(t, err)
	assert.Equal(t, point[1:33], key[-2])
	assert.Equal(t, point[33:], key[-3])
	assert.True(t, att.UserVerified)
}

func TestResponseJSON(t *testing.T) {
	store := NewMemoryStore()
	a, err := New(Config{}, store, allowAll())
	require.NoError(t, err)
	att, err := a.Register(context.Background(), RegistrationRequest{
		RPID: "localhost", UserHandle: []byte("user"), Challenge: []byte("c"), Origin: "http://localhost:8080",
	})
	require.NoError(t, err)
	as, err := a.Assert(context.Background(), AssertionRequest{RPID: "localhost", Challenge: []byte("c"), Origin: "http://localhost:8080"})
	require.NoError(t, err)
	assert.Equal(t, uint32(1), as.SignCount)

	var reg map[string]any
	body, err := json.Marshal(att)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &reg))
	id := b64url.EncodeToString(att.CredentialID)
	assert.Equal(t, id, reg["id"])
	assert.Equal(t, id, reg["rawId"])
	assert.Equal(t, "public-key", reg["type"])
	assert.Equal(t, "platform", reg["authenticatorAttachment"])
	resp := reg["response"].(map[string]any)
	assert.Equal(t, b64url.EncodeToString(att.ClientDataJSON), resp["clientDataJSON"])
	assert.Equal(t, b64url.EncodeToString(att.AttestationObject), resp["attestationObject"])
	assert.Equal(t, b64url.EncodeToString(att.AuthenticatorData), resp["authenticatorData"])
	assert.Equal(t, []any{"internal"}, resp["transports"])
	assert.Equal(t, float64(AlgES256), resp["publicKeyAlgorithm"])
	spki, err := b64url.DecodeString(resp["publicKey"].(string))
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(spki)
	require.NoError(t, err)
	c, err := store.Load(att.CredentialID)
	require.NoError(t, err)
	assert.True(t, c.Key.Public().(*ecdsa.PublicKey).Equal(pub))

	var get map[string]any
	body, err = json.Marshal(as)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &get))
	assert.Equal(t, id, get["id"])
	assert.Equal(t, id, get["rawId"])
	assert.Equal(t, "public-key", get["type"])
	resp = get["response"].(map[string]any)
	assert.Equal(t, b64url.EncodeToString(as.AuthenticatorData), resp["authenticatorData"])
	assert.Equal(t, b64url.EncodeToString(as.Signature), resp["signature"])
	assert.Equal(t, b64url.EncodeToString([]byte("user")), resp["userHandle"])
	assert.Equal(t, `{"type":"webauthn.get","challenge":"Yw","origin":"http://localhost:8080","crossOrigin":false}`, string(as.ClientDataJSON))

	// The signature is DER over authenticatorData || SHA-256(clientDataJSON).
	clientHash := sha256.Sum256(as.ClientDataJSON)
	digest := sha256.Sum256(append(append([]byte{}, as.AuthenticatorData...), clientHash[:]...))
	assert.True(t, ecdsa.VerifyASN1(c.Key.Public().(*ecdsa.PublicKey), digest[:], as.Signature))
	assert.Len(t, as.AuthenticatorData, 37)
	assert.Equal(t, flagUP|flagUV, as.AuthenticatorData[32])
	assert.Equal(t, uint32(1), binary.BigEndian.Uint32(as.AuthenticatorData[33:]))
}

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		origin, rpID string
		want         string // "" means refused
	}{
		{"https://example.com", "example.com", "https://example.com"},
		{"https://login.example.com", "example.com", "https://login.example.com"},
		{"https://Login.Example.com:8443", "example.com", "https://login.example.com:8443"},
		{"https://example.com:443", "example.com", "https://example.com"},
		{"https://example.com/", "example.com", "https://example.com"},
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
		{"http://localhost:80", "localhost", "http://localhost"},
		{"http://127.0.0.1:8080", "127.0.0.1", "http://127.0.0.1:8080"},
		{"https://evil.localhost", "localhost", "https://evil.localhost"},
		{"http://example.com", "example.com", ""},           // not a secure origin
		{"https://example.com", "login.example.com", ""},    // RP ID below the origin
		{"https://badexample.com", "example.com", ""},       // suffix but not a parent domain
		{"https://example.com", "", ""},                     // no RP ID
		{"https://127.0.0.1", "0.0.1", ""},                  // IP addresses have no parent domain
		{"https://example.com/path", "example.com", ""},     // not an origin
		{"https://example.com?q=1", "example.com", ""},      // not an origin
		{"https://user@example.com", "example.com", ""},     // not an origin
		{"example.com", "example.com", ""},                  // no scheme
		{"", "example.com", ""},                             // empty
		{"ftp://example.com", "example.com", ""},            // not a web origin
		{"https://[::1]:8443", "::1", "https://[::1]:8443"}, // IPv6 literal equals RP ID
	}
	for _, tt := range tests {
		got, err := checkOrigin(tt.origin, tt.rpID)
		if tt.want == "" {
			assert.ErrorIs(t, err, ErrInvalidRequest, "checkOrigin(%q, %q) = %q", tt.origin, tt.rpID, got)
			continue
		}
		if assert.NoError(t, err, "checkOrigin(%q, %q)", tt.origin, tt.rpID) {
			assert.Equal(t, tt.want, got, "checkOrigin(%q, %q)", tt.origin, tt.rpID)
		}
	}
}

func TestUserVerificationText(t *testing.T) {
	tests := []struct {
		v    UserVerification
		text string
	}{
		{UVRequired, "required"},
		{UVPreferred, "preferred"},
		{UVDiscouraged, "discouraged"},
	}
	var zero UserVerification
	assert.Equal(t, UVRequired, zero, "the zero value is the least permissive")
	for _, tt := range tests {
		assert.Equal(t, tt.text, tt.v.String())
		got, err := tt.v.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, tt.text, string(got))
		var back UserVerification
		require.NoError(t, back.UnmarshalText([]byte(tt.text)))
		assert.Equal(t, tt.v, back)
	}
	undefined := UserVerification(7)
	assert.Equal(t, "UserVerification(7)", undefined.String())
	_, err := undefined.MarshalText()
	assert.Error(t, err)
	var v UserVerification
	for _, bad := range []string{"", "Required", "optional"} {
		assert.Error(t, v.UnmarshalText([]byte(bad)), "UnmarshalText(%q)", bad)
	}
}
