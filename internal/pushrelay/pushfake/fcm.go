package pushfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FCM fakes Firebase Cloud Messaging's HTTP v1 API
// (POST /v1/projects/{project}/messages:send) and the OAuth 2.0 token
// endpoint of Google's service accounts (RFC 7523 JWT bearer grant), on
// loopback. Point the relay's endpoint at Endpoint and its credentials at
// CredentialsFile, whose token_uri is this fake's.
type FCM struct {
	*recorder
	Project         string
	Endpoint        string // the messaging endpoint, URL + "/v1"
	CredentialsFile string // a service-account JSON key for Project
	ClientEmail     string

	key    *rsa.PrivateKey
	mu     sync.Mutex
	tokens map[string]bool // access tokens handed out
	grants int
}

// NewFCM starts an FCM fake for project until tb ends.
func NewFCM(tb testing.TB, project string) *FCM {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	f := &FCM{recorder: newRecorder(), Project: project, ClientEmail: "deputy-relay@" + project + ".iam.gserviceaccount.com",
		key: key, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /v1/projects/{project}/{op}", f.send)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	f.Endpoint = srv.URL + "/v1"

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	creds, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": "fake-key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   f.ClientEmail,
		"client_id":      "1234567890",
		"auth_uri":       srv.URL + "/auth",
		"token_uri":      srv.URL + "/token",
	})
	if err != nil {
		tb.Fatal(err)
	}
	f.CredentialsFile = filepath.Join(tb.TempDir(), "fcm-service-account.json")
	if err := os.WriteFile(f.CredentialsFile, creds, 0o600); err != nil {
		tb.Fatal(err)
	}
	return f
}

// Grants is how many access tokens the token endpoint handed out.
func (f *FCM) Grants() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants
}

// token answers the JWT bearer grant (RFC 7523 §2.1) of a service account:
// the assertion must be signed with the account's key, issued by it,
// addressed to this endpoint and ask for FCM's scope alone.
func (f *FCM) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	var claims struct {
		Iss, Aud, Scope string
	}
	_, ok := verifyJWT(r.PostFormValue("assertion"), "RS256", func(signed, sig []byte) bool {
		sum := sha256.Sum256(signed)
		return rsa.VerifyPKCS1v15(&f.key.PublicKey, crypto.SHA256, sum[:], sig) == nil
	}, &claims)
	if !ok || claims.Iss != f.ClientEmail || claims.Aud != "http://"+r.Host+"/token" ||
		claims.Scope != "https://www.googleapis.com/auth/firebase.messaging" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	access := "ya29.fake-" + hex.EncodeToString(b)
	f.mu.Lock()
	f.tokens[access] = true
	f.grants++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600})
}

// send answers messages:send as FCM does: 401 without a token from the token
// endpoint, 404 for another project, the failure asked for the device
// token, else 200 with the message's name.
func (f *FCM) send(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	authorised := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	f.mu.Unlock()
	switch {
	case !authorised:
		fcmError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")
		return
	case r.PathValue("project") != f.Project || r.PathValue("op") != "messages:send":
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "")
		return
	}
	body, err := io.ReadAll(r.Body)
	var in struct {
		Message struct {
			Token string `json:"token"`
		} `json:"message"`
	}
	if err != nil || json.Unmarshal(body, &in) != nil || in.Message.Token == "" {
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
		return
	}
	if fail, ok := f.record(Request{Token: in.Message.Token, Header: r.Header.Clone(), Body: body}); ok {
		fcmError(w, fail.Status, http.StatusText(fail.Status), fail.Reason)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": "projects/" + f.Project + "/messages/0:1"})
}

// fcmError writes FCM's error body (google.rpc.Status with an FcmError detail).
func fcmError(w http.ResponseWriter, status int, rpcStatus, code string) {
	e := map[string]any{"code": status, "message": "fake FCM: " + rpcStatus, "status": rpcStatus}
	if code != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// verifyJWT checks a compact JWS (RFC 7515) with the algorithm alg, decodes
// its claims and returns its key id.
func verifyJWT(token, alg string, verify func(signed, sig []byte) bool, claims any) (kid string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	var header struct{ Alg, Kid string }
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(h, &header) != nil || header.Alg != alg {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !verify([]byte(parts[0]+"."+parts[1]), sig) {
		return "", false
	}
	c, err := base64.RawURLEncoding.DecodeString(parts[1])
	return header.Kid, err == nil && json.Unmarshal(c, claims) == nil
}
