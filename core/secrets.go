package core

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"math/big"
	"sync"
)

// keyring holds the installation's secret key for keyed hashes of tokens,
// api keys and one-time codes (HMAC-SHA-256). A leaked database alone does not
// let anyone test guesses offline without this key.
type keyring struct {
	// macs pools HMAC states keyed with the secret key: creating one costs as
	// much as hashing a short secret.
	macs *sync.Pool
}

func newKeyring(key []byte) keyring {
	return keyring{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

const metaHashKey = "hash_key"

// hash returns HMAC-SHA-256(key, purpose || 0 || secret). The purpose keeps hashes
// of different kinds of secret apart.
func (k keyring) hash(purpose, secret string) []byte {
	m := k.macs.Get().(hash.Hash)
	defer k.macs.Put(m)
	m.Reset()
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// equal compares a secret with a stored keyed hash in constant time.
func (k keyring) equal(purpose, secret string, stored []byte) bool {
	return hmac.Equal(k.hash(purpose, secret), stored)
}

// Purposes of keyed hashes.
const (
	purposeAPIKey        = "api-key"
	purposeSession       = "session"
	purposeResetCode     = "reset-code"
	purposeOTP           = "otp"
	purposeInvite        = "invite"
	purposeEmailCode     = "email-code"
	purposeSeal          = "seal"
	purposePasswordToken = "password-token"
	purposeDeviceSecret  = "device-secret"
	purposePasswordSalt  = "password-salt" // not a secret's hash: a salt's seed (passwordSalt)
	purposeEventID       = "event-id"      // not a secret's hash: the key of security events' ids (eventSealer)
)

// randomToken returns prefix + 32 random bytes, base64url: 256 bits of entropy.
func randomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// randomDigits returns n uniformly random decimal digits from crypto/rand.
func randomDigits(n int) (string, error) {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", fmt.Errorf("random digits: %w", err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b), nil
}
