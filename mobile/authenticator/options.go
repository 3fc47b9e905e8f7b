package authenticator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// maxOptionsSize bounds the options JSON the parsers accept.
const maxOptionsSize = 64 << 10

// credentialDescriptorJSON is PublicKeyCredentialDescriptorJSON (WebAuthn
// §5.1.10); transports are ignored.
type credentialDescriptorJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// creationOptionsJSON is the part of PublicKeyCredentialCreationOptionsJSON
// (WebAuthn §5.1.10) the authenticator uses. Timeout, hints, attestation,
// attestationFormats and extensions are ignored: the attestation is always
// "none" and no extension is supported.
type creationOptionsJSON struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        string `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int64  `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials     []credentialDescriptorJSON `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
}

// requestOptionsJSON is the part of PublicKeyCredentialRequestOptionsJSON
// (WebAuthn §5.1.11) the authenticator uses; timeout, hints and extensions
// are ignored.
type requestOptionsJSON struct {
	Challenge        string                     `json:"challenge"`
	RPID             string                     `json:"rpId"`
	AllowCredentials []credentialDescriptorJSON `json:"allowCredentials"`
	UserVerification string                     `json:"userVerification"`
}

// ParseCreationOptions reads the PublicKeyCredentialCreationOptionsJSON a
// server sends (WebAuthn §5.1.10), bare or wrapped as {"publicKey": {...}}
// the way go-webauthn's protocol.CredentialCreation marshals, into a
// RegistrationRequest for origin. Binary members (challenge, user.id,
// excludeCredentials[].id) are base64url. As the WebAuthn API does, it
// defaults rp.id to origin's host and userVerification to "preferred",
// treats an unknown userVerification as "preferred", and ignores credential
// descriptors and parameters whose type is not "public-key". Errors match
// ErrInvalidRequest.
func ParseCreationOptions(data []byte, origin string) (RegistrationRequest, error) {
	var o creationOptionsJSON
	if err := decodeOptions(data, &o); err != nil {
		return RegistrationRequest{}, err
	}
	challenge, err := decodeB64URL("challenge", o.Challenge)
	if err != nil {
		return RegistrationRequest{}, err
	}
	userID, err := decodeB64URL("user.id", o.User.ID)
	if err != nil {
		return RegistrationRequest{}, err
	}
	exclude, err := descriptorIDs("excludeCredentials", o.ExcludeCredentials)
	if err != nil {
		return RegistrationRequest{}, err
	}
	var algs []int64
	for _, p := range o.PubKeyCredParams {
		if p.Type == "public-key" {
			algs = append(algs, p.Alg)
		}
	}
	if len(o.PubKeyCredParams) > 0 && len(algs) == 0 {
		return RegistrationRequest{}, fmt.Errorf("%w: pubKeyCredParams has no public-key entry", ErrInvalidRequest)
	}
	rpID, err := defaultRPID(o.RP.ID, origin)
	if err != nil {
		return RegistrationRequest{}, err
	}
	return RegistrationRequest{
		RPID:               rpID,
		RPName:             o.RP.Name,
		UserHandle:         userID,
		UserName:           o.User.Name,
		UserDisplayName:    o.User.DisplayName,
		Challenge:          challenge,
		Algorithms:         algs,
		ExcludeCredentials: exclude,
		UserVerification:   parseUV(o.AuthenticatorSelection.UserVerification),
		Origin:             origin,
	}, nil
}

// ParseRequestOptions reads the PublicKeyCredentialRequestOptionsJSON a
// server sends (WebAuthn §5.1.11), bare or wrapped as {"publicKey": {...}}
// the way go-webauthn's protocol.CredentialAssertion marshals, into an
// AssertionRequest for origin, with the same defaults and rules as
// ParseCreationOptions. Errors match ErrInvalidRequest.
func ParseRequestOptions(data []byte, origin string) (AssertionRequest, error) {
	var o requestOptionsJSON
	if err := decodeOptions(data, &o); err != nil {
		return AssertionRequest{}, err
	}
	challenge, err := decodeB64URL("challenge", o.Challenge)
	if err != nil {
		return AssertionRequest{}, err
	}
	allow, err := descriptorIDs("allowCredentials", o.AllowCredentials)
	if err != nil {
		return AssertionRequest{}, err
	}
	rpID, err := defaultRPID(o.RPID, origin)
	if err != nil {
		return AssertionRequest{}, err
	}
	return AssertionRequest{
		RPID:             rpID,
		Challenge:        challenge,
		AllowCredentials: allow,
		UserVerification: parseUV(o.UserVerification),
		Origin:           origin,
	}, nil
}

// decodeOptions decodes one JSON object into v, unwrapping {"publicKey": ...}.
func decodeOptions(data []byte, v any) error {
	if len(data) > maxOptionsSize {
		return fmt.Errorf("%w: options larger than %d bytes", ErrInvalidRequest, maxOptionsSize)
	}
	var wrapper struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := decodeOne(data, &wrapper); err != nil {
		return err
	}
	if len(wrapper.PublicKey) > 0 && !bytes.Equal(wrapper.PublicKey, []byte("null")) {
		data = wrapper.PublicKey
	}
	return decodeOne(data, v)
}

// decodeOne decodes exactly one JSON object from data into v.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: options: %v", ErrInvalidRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: options: trailing data", ErrInvalidRequest)
	}
	return nil
}

// decodeB64URL decodes a base64url member, padded or not.
func decodeB64URL(name, s string) ([]byte, error) {
	b, err := b64url.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64url", ErrInvalidRequest, name)
	}
	return b, nil
}

// descriptorIDs returns the ids of the "public-key" descriptors.
func descriptorIDs(name string, ds []credentialDescriptorJSON) ([][]byte, error) {
	var ids [][]byte
	for i, d := range ds {
		if d.Type != "public-key" {
			continue
		}
		id, err := decodeB64URL(fmt.Sprintf("%s[%d].id", name, i), d.ID)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// defaultRPID returns rpID, or origin's host when rpID is empty (WebAuthn
// §5.1.3 step 8, §5.1.4.1 step 9).
func defaultRPID(rpID, origin string) (string, error) {
	if rpID != "" {
		return rpID, nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: no RP ID and origin %q has no host", ErrInvalidRequest, origin)
	}
	return strings.ToLower(u.Hostname()), nil
}

// parseUV reads a userVerification member: an absent or unknown value is
// "preferred", WebAuthn's default (§5.4.4, §5.5).
func parseUV(s string) UserVerification {
	var uv UserVerification
	if err := uv.UnmarshalText([]byte(s)); err != nil {
		return UVPreferred
	}
	return uv
}
