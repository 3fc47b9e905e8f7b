package pushfake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// APNs fakes the Apple Push Notification service's provider API
// (POST /3/device/{token} over HTTP/2 and TLS) with token-based
// authentication, on loopback. Point the relay's host at URL, give it
// Client (which trusts the fake's certificate) and the .p8 key in KeyFile.
type APNs struct {
	*recorder
	URL     string
	Client  *http.Client
	KeyFile string // the provider's signing key, PKCS #8 PEM as Apple hands it out
	KeyID   string
	TeamID  string
	Topic   string // the app's bundle id, the only topic the fake accepts

	key *ecdsa.PrivateKey
}

// NewAPNs starts an APNs fake until tb ends.
func NewAPNs(tb testing.TB) *APNs {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	a := &APNs{recorder: newRecorder(), KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ", Topic: "com.example.deputy", key: key}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(a.push))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	a.URL, a.Client = srv.URL, srv.Client()

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	a.KeyFile = filepath.Join(tb.TempDir(), "AuthKey_"+a.KeyID+".p8")
	if err := os.WriteFile(a.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return a
}

// push answers as APNs does: 405 for another method or path, 403 for a
// provider token not signed by the key or of another key or team, 400 for a
// missing or wrong topic or push type, the failure asked for the device
// token, else 200 with an apns-id.
func (a *APNs) push(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	switch {
	case r.ProtoMajor != 2:
		apnsError(w, http.StatusBadRequest, "BadPath") // APNs speaks HTTP/2 only
		return
	case r.Method != http.MethodPost || !ok || token == "":
		apnsError(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	case !a.authorised(r.Header.Get("Authorization")):
		apnsError(w, http.StatusForbidden, "InvalidProviderToken")
		return
	case r.Header.Get("apns-topic") != a.Topic:
		apnsError(w, http.StatusBadRequest, "TopicDisallowed")
		return
	case r.Header.Get("apns-push-type") == "":
		apnsError(w, http.StatusBadRequest, "InvalidPushType")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		apnsError(w, http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if fail, ok := a.record(Request{Token: token, Header: r.Header.Clone(), Body: body}); ok {
		apnsError(w, fail.Status, fail.Reason)
		return
	}
	w.Header().Set("apns-id", "01234567-89AB-CDEF-0123-456789ABCDEF")
	w.WriteHeader(http.StatusOK)
}

// authorised checks the provider authentication token: "bearer" and an
// ES256 JWT of the fake's key id and team, issued within the hour.
func (a *APNs) authorised(h string) bool {
	jwt, ok := strings.CutPrefix(h, "bearer ")
	if !ok {
		return false
	}
	var claims struct {
		Iss string
		Iat int64
	}
	kid, ok := verifyJWT(jwt, "ES256", func(signed, sig []byte) bool {
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256(signed)
		return ecdsa.Verify(&a.key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}, &claims)
	return ok && kid == a.KeyID && claims.Iss == a.TeamID && time.Since(time.Unix(claims.Iat, 0)) < time.Hour
}

// apnsError writes APNs' error body.
func apnsError(w http.ResponseWriter, status int, reason string) {
	body := map[string]any{"reason": reason}
	if status == http.StatusGone {
		body["timestamp"] = time.Now().UnixMilli()
	}
	writeJSON(w, status, body)
}
