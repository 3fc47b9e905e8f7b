package authenticator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
)

// FuzzDecodeCredentialFile feeds arbitrary bytes to the FileStore's file
// decoder, the parser that reads what is on disk. It must never panic, must
// reject with ErrCorruptCredential, and whatever it accepts must be a valid
// credential that encodes back to a file decoding to the same credential.
func FuzzDecodeCredentialFile(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := encodeCredentialFile(Credential{
		ID: []byte("credential-id"), RPID: "localhost", RPName: "Deputy", UserHandle: []byte("user"),
		UserName: "alice@example.com", UserDisplayName: "Alice", Key: key, SignCount: 41,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"id":"AA==","rpId":"x","userHandle":"AA==","signCount":1,"privateKey":"AA=="}`))
	f.Add([]byte(`{"version":2}`))
	f.Add(append(bytes.Clone(valid), []byte("{}")...))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCredentialFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptCredential) {
				t.Fatalf("error %v does not match ErrCorruptCredential", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid credential: %v", err)
		}
		again, err := encodeCredentialFile(c)
		if err != nil {
			t.Fatalf("re-encoding an accepted credential: %v", err)
		}
		back, err := decodeCredentialFile(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded credential: %v", err)
		}
		if !bytes.Equal(back.ID, c.ID) || back.RPID != c.RPID || back.SignCount != c.SignCount ||
			!bytes.Equal(back.UserHandle, c.UserHandle) || !back.Key.(*ecdsa.PrivateKey).Equal(c.Key) {
			t.Fatalf("round trip changed the credential")
		}
	})
}

// FuzzParseOptions feeds arbitrary JSON to the parsers of the options a
// server sends. They must never panic, must reject with ErrInvalidRequest, and
// what they accept must have the origin it was given.
func FuzzParseOptions(f *testing.F) {
	f.Add([]byte(`{"publicKey":{"rp":{"id":"localhost","name":"Deputy"},"user":{"id":"dXNlcg","name":"a","displayName":"A"},"challenge":"Y2hhbGxlbmdl","pubKeyCredParams":[{"type":"public-key","alg":-7}],"authenticatorSelection":{"userVerification":"required"}}}`))
	f.Add([]byte(`{"publicKey":{"challenge":"Y2hhbGxlbmdl","rpId":"localhost","allowCredentials":[{"type":"public-key","id":"aWQ"}],"userVerification":"required"}}`))
	f.Add([]byte(`{"challenge":"Yw"}`))
	f.Add([]byte(`{"publicKey":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const origin = "https://localhost"
		reg, err := ParseCreationOptions(data, origin)
		if err != nil && !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("creation options error %v does not match ErrInvalidRequest", err)
		}
		if err == nil && (reg.Origin != origin || reg.RPID == "") {
			t.Fatalf("accepted creation options without origin or RP ID: %+v", reg)
		}
		as, err := ParseRequestOptions(data, origin)
		if err != nil && !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("request options error %v does not match ErrInvalidRequest", err)
		}
		if err == nil && (as.Origin != origin || as.RPID == "") {
			t.Fatalf("accepted request options without origin or RP ID: %+v", as)
		}
	})
}
