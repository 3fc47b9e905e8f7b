package authenticator

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// b64url is the base64url encoding without padding that WebAuthn uses for
// every binary member of its JSON (WebAuthn §5.1.8, §5.8.1).
var b64url = base64.RawURLEncoding

// ctap2 encodes CBOR in the CTAP2 canonical form (CTAP 2.1 §8 "Message
// Encoding"): definite lengths, shortest forms, map keys sorted length first.
var ctap2 = mustEncMode(cbor.CTAP2EncOptions())

func mustEncMode(opts cbor.EncOptions) cbor.EncMode {
	em, err := opts.EncMode()
	if err != nil {
		panic("authenticator: CBOR encoding options: " + err.Error())
	}
	return em
}

// authenticatorData returns rpIdHash || flags || signCount, the fixed 37-byte
// head of the authenticator data (WebAuthn §6.1).
func authenticatorData(rpID string, flags byte, signCount uint32) []byte {
	rpIDHash := sha256.Sum256([]byte(rpID))
	out := make([]byte, 0, 37+16+2+credentialIDLen+77)
	out = append(out, rpIDHash[:]...)
	out = append(out, flags)
	return binary.BigEndian.AppendUint32(out, signCount)
}

// p256Public returns key's public key, which must be ECDSA on P-256.
func p256Public(key crypto.Signer) (*ecdsa.PublicKey, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidRequest)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("credential key is %T, want an ECDSA P-256 key", key.Public())
	}
	return pub, nil
}

// COSE_Key labels and values (RFC 9052 §7, RFC 9053 §7.1).
const (
	coseKty      = 1
	coseAlg      = 3
	coseCrv      = -1
	coseX        = -2
	coseY        = -3
	coseKtyEC2   = 2
	coseCrvP256  = 1
	p256CoordLen = 32
)

// coseKey encodes pub as the COSE_Key of an ES256 credential (WebAuthn
// §6.5.1.2): {1: 2, 3: -7, -1: 1, -2: x, -3: y} with 32-byte coordinates.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	point, err := pub.Bytes() // 0x04 || x || y
	if err != nil || len(point) != 1+2*p256CoordLen {
		return nil, fmt.Errorf("encoding P-256 public key: %v", err)
	}
	return ctap2.Marshal(map[int]any{
		coseKty: coseKtyEC2,
		coseAlg: AlgES256,
		coseCrv: coseCrvP256,
		coseX:   point[1 : 1+p256CoordLen],
		coseY:   point[1+p256CoordLen:],
	})
}

// attestationObject encodes the "none" attestation object (WebAuthn §6.5.4,
// §8.7): {"fmt": "none", "attStmt": {}, "authData": authData}.
func attestationObject(authData []byte) ([]byte, error) {
	return ctap2.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{Fmt: "none", AttStmt: map[string]any{}, AuthData: authData})
}

// clientDataJSON serialises the CollectedClientData of a ceremony in the
// member order of WebAuthn §5.8.1.1: type, challenge, origin, crossOrigin.
func clientDataJSON(typ string, challenge []byte, origin string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, b64url.EncodeToString(challenge), origin, false})
	if err != nil {
		return nil, fmt.Errorf("encoding client data: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// b64 is a byte slice that marshals to unpadded base64url.
type b64 []byte

// MarshalJSON encodes b as a base64url JSON string.
func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(b64url.EncodeToString(b))
}

// registrationResponseJSON is RegistrationResponseJSON (WebAuthn §5.1.8).
type registrationResponseJSON struct {
	ID                      string                           `json:"id"`
	RawID                   b64                              `json:"rawId"`
	Type                    string                           `json:"type"`
	AuthenticatorAttachment string                           `json:"authenticatorAttachment"`
	ClientExtensionResults  struct{}                         `json:"clientExtensionResults"`
	Response                authenticatorAttestationResponse `json:"response"`
}

// authenticatorAttestationResponse is AuthenticatorAttestationResponseJSON
// (WebAuthn §5.2.1).
type authenticatorAttestationResponse struct {
	ClientDataJSON     b64      `json:"clientDataJSON"`
	AuthenticatorData  b64      `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          b64      `json:"publicKey"`
	PublicKeyAlgorithm int64    `json:"publicKeyAlgorithm"`
	AttestationObject  b64      `json:"attestationObject"`
}

// MarshalJSON encodes a as the RegistrationResponseJSON a browser would send
// (WebAuthn §5.1.8): id and rawId, type "public-key", authenticatorAttachment
// "platform", and a response with clientDataJSON, authenticatorData,
// transports ["internal"], publicKey (SubjectPublicKeyInfo DER),
// publicKeyAlgorithm -7 and attestationObject, binary members base64url. It
// is the body go-webauthn's protocol.ParseCredentialCreationResponseBody
// accepts.
func (a Attestation) MarshalJSON() ([]byte, error) {
	spki, err := spkiFromCOSE(a.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(registrationResponseJSON{
		ID:                      b64url.EncodeToString(a.CredentialID),
		RawID:                   a.CredentialID,
		Type:                    "public-key",
		AuthenticatorAttachment: "platform",
		Response: authenticatorAttestationResponse{
			ClientDataJSON:     a.ClientDataJSON,
			AuthenticatorData:  a.AuthenticatorData,
			Transports:         []string{"internal"},
			PublicKey:          spki,
			PublicKeyAlgorithm: AlgES256,
			AttestationObject:  a.AttestationObject,
		},
	})
}

// authenticationResponseJSON is AuthenticationResponseJSON (WebAuthn §5.1.9).
type authenticationResponseJSON struct {
	ID                      string                         `json:"id"`
	RawID                   b64                            `json:"rawId"`
	Type                    string                         `json:"type"`
	AuthenticatorAttachment string                         `json:"authenticatorAttachment"`
	ClientExtensionResults  struct{}                       `json:"clientExtensionResults"`
	Response                authenticatorAssertionResponse `json:"response"`
}

// authenticatorAssertionResponse is AuthenticatorAssertionResponseJSON
// (WebAuthn §5.2.2).
type authenticatorAssertionResponse struct {
	ClientDataJSON    b64 `json:"clientDataJSON"`
	AuthenticatorData b64 `json:"authenticatorData"`
	Signature         b64 `json:"signature"`
	UserHandle        b64 `json:"userHandle,omitempty"`
}

// MarshalJSON encodes a as the AuthenticationResponseJSON a browser would
// send (WebAuthn §5.1.9): id and rawId, type "public-key",
// authenticatorAttachment "platform", and a response with clientDataJSON,
// authenticatorData, signature and userHandle, binary members base64url. It
// is the body go-webauthn's protocol.ParseCredentialRequestResponseBody
// accepts.
func (a Assertion) MarshalJSON() ([]byte, error) {
	return json.Marshal(authenticationResponseJSON{
		ID:                      b64url.EncodeToString(a.CredentialID),
		RawID:                   a.CredentialID,
		Type:                    "public-key",
		AuthenticatorAttachment: "platform",
		Response: authenticatorAssertionResponse{
			ClientDataJSON:    a.ClientDataJSON,
			AuthenticatorData: a.AuthenticatorData,
			Signature:         a.Signature,
			UserHandle:        a.UserHandle,
		},
	})
}

// spkiFromCOSE converts the ES256 COSE_Key this package writes into the DER
// SubjectPublicKeyInfo that RegistrationResponseJSON.response.publicKey
// carries (WebAuthn §5.2.1.1 getPublicKey).
func spkiFromCOSE(cose []byte) ([]byte, error) {
	var key struct {
		Kty int64  `cbor:"1,keyasint"`
		Alg int64  `cbor:"3,keyasint"`
		Crv int64  `cbor:"-1,keyasint"`
		X   []byte `cbor:"-2,keyasint"`
		Y   []byte `cbor:"-3,keyasint"`
	}
	if err := cbor.Unmarshal(cose, &key); err != nil {
		return nil, fmt.Errorf("decoding COSE key: %w", err)
	}
	if key.Kty != coseKtyEC2 || key.Alg != AlgES256 || key.Crv != coseCrvP256 || len(key.X) != p256CoordLen || len(key.Y) != p256CoordLen {
		return nil, fmt.Errorf("COSE key is not an ES256 P-256 key")
	}
	point := append(append([]byte{4}, key.X...), key.Y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("COSE key: %w", err)
	}
	return x509.MarshalPKIXPublicKey(pub)
}
