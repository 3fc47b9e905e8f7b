package authenticator

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCreationOptions(t *testing.T) {
	const full = `{
		"rp": {"id": "example.com", "name": "Example"},
		"user": {"id": "dXNlcg", "name": "alice", "displayName": "Alice"},
		"challenge": "Y2hhbGxlbmdl",
		"pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}, {"type": "other", "alg": -8}],
		"excludeCredentials": [{"type": "public-key", "id": "aWQx"}, {"type": "other", "id": "!!"}],
		"authenticatorSelection": {"userVerification": "discouraged", "residentKey": "required"},
		"attestation": "none", "timeout": 60000, "extensions": {"credProps": true}
	}`
	want := RegistrationRequest{
		RPID: "example.com", RPName: "Example",
		UserHandle: []byte("user"), UserName: "alice", UserDisplayName: "Alice",
		Challenge:          []byte("challenge"),
		Algorithms:         []int64{-7, -257},
		ExcludeCredentials: [][]byte{[]byte("id1")},
		UserVerification:   UVDiscouraged,
		Origin:             "https://login.example.com",
	}
	for name, doc := range map[string]string{"bare": full, "wrapped": `{"publicKey": ` + full + `, "mediation": ""}`} {
		got, err := ParseCreationOptions([]byte(doc), "https://login.example.com")
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}

	minimal := `{"user": {"id": "dXNlcg=="}, "challenge": "Y2hhbGxlbmdl"}`
	got, err := ParseCreationOptions([]byte(minimal), "https://Login.Example.com:8443")
	require.NoError(t, err)
	assert.Equal(t, "login.example.com", got.RPID, "rp.id defaults to the origin's host")
	assert.Equal(t, UVPreferred, got.UserVerification, "userVerification defaults to preferred")
	assert.Equal(t, []byte("user"), got.UserHandle, "padded base64url is accepted")
	assert.Empty(t, got.Algorithms)

	unknownUV := `{"user": {"id": "dXNlcg"}, "challenge": "Yw", "authenticatorSelection": {"userVerification": "sometimes"}}`
	got, err = ParseCreationOptions([]byte(unknownUV), "https://example.com")
	require.NoError(t, err)
	assert.Equal(t, UVPreferred, got.UserVerification, "an unknown value is ignored")

	bad := map[string]string{
		"not JSON":            `{`,
		"trailing data":       minimal + `{}`,
		"trailing brace":      minimal + `}`,
		"array":               `[]`,
		"challenge not b64":   `{"user": {"id": "dXNlcg"}, "challenge": "***"}`,
		"user.id not b64":     `{"user": {"id": "a b"}, "challenge": "Yw"}`,
		"user.id not string":  `{"user": {"id": 5}, "challenge": "Yw"}`,
		"exclude id not b64":  `{"user": {"id": "dXNlcg"}, "challenge": "Yw", "excludeCredentials": [{"type": "public-key", "id": "***"}]}`,
		"no public-key param": `{"user": {"id": "dXNlcg"}, "challenge": "Yw", "pubKeyCredParams": [{"type": "other", "alg": -7}]}`,
		"too large":           `{"user": {"id": "dXNlcg"}, "challenge": "` + strings.Repeat("A", maxOptionsSize) + `"}`,
	}
	for name, doc := range bad {
		_, err := ParseCreationOptions([]byte(doc), "https://example.com")
		assert.ErrorIs(t, err, ErrInvalidRequest, name)
	}
	_, err = ParseCreationOptions([]byte(minimal), "not an origin")
	assert.ErrorIs(t, err, ErrInvalidRequest, "no rp.id and no host to default it from")
}

func TestParseRequestOptions(t *testing.T) {
	const full = `{
		"challenge": "Y2hhbGxlbmdl", "rpId": "example.com", "timeout": 60000,
		"allowCredentials": [{"type": "public-key", "id": "aWQx", "transports": ["internal"]}, {"type": "public-key", "id": "aWQy"}],
		"userVerification": "required", "extensions": {}
	}`
	want := AssertionRequest{
		RPID: "example.com", Challenge: []byte("challenge"),
		AllowCredentials: [][]byte{[]byte("id1"), []byte("id2")},
		UserVerification: UVRequired, Origin: "https://example.com",
	}
	for name, doc := range map[string]string{"bare": full, "wrapped": `{"publicKey": ` + full + `}`} {
		got, err := ParseRequestOptions([]byte(doc), "https://example.com")
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}

	got, err := ParseRequestOptions([]byte(`{"challenge": "Yw"}`), "http://localhost:8080")
	require.NoError(t, err)
	assert.Equal(t, AssertionRequest{RPID: "localhost", Challenge: []byte("c"), UserVerification: UVPreferred, Origin: "http://localhost:8080"}, got)

	for name, doc := range map[string]string{
		"challenge not b64": `{"challenge": "%%"}`,
		"allow id not b64":  `{"challenge": "Yw", "allowCredentials": [{"type": "public-key", "id": "%%"}]}`,
		"wrong types":       `{"challenge": 1}`,
		"trailing data":     `{"challenge": "Yw"} x`,
	} {
		_, err := ParseRequestOptions([]byte(doc), "https://example.com")
		assert.ErrorIs(t, err, ErrInvalidRequest, name)
	}
}
