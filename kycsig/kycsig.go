// Package kycsig signs and verifies KYC provider callbacks: the provider sends
// its decision to Deputy with a "deputy-signature: t=<unix seconds>,v1=<hex>"
// header, where v1 is HMAC-SHA-256(secret, t + "." + body). The timestamp bounds
// replays to a tolerance window.
package kycsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header is the request header carrying the signature.
const Header = "deputy-signature"

// Tolerance is how far a signature's timestamp may be from now.
const Tolerance = 5 * time.Minute

// ErrInvalid is returned for a missing, malformed, stale or wrong signature.
var ErrInvalid = errors.New("invalid KYC callback signature")

// Sign returns the header value for body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header against body and the current time now.
func Verify(secret []byte, header string, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return ErrInvalid
	}
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrInvalid
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return ErrInvalid
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrInvalid
	}
	return nil
}
