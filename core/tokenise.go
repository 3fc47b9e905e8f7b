package core

import "time"

// PasswordToken is a tokenised password (POST /multi/tokenize): the password is
// sealed with AES-256-GCM under a key derived from the installation key, the
// token is stored only as a keyed hash, and redeeming it deletes it.
type PasswordToken struct {
	TokenHash   []byte
	ProgrammeID string
	Sealed      []byte // nonce || ciphertext
	ExpiresAt   time.Time
}

// PasswordTokenReader reads tokenised passwords.
type PasswordTokenReader interface {
	PasswordToken(tokenHash []byte) (*PasswordToken, error)
}

// PasswordTokenWriter writes tokenised passwords.
type PasswordTokenWriter interface {
	InsertPasswordToken(t *PasswordToken) error
	DeletePasswordToken(tokenHash []byte) error
	// DeletePasswordTokensExpired removes tokens that expired before t.
	DeletePasswordTokensExpired(t time.Time) (int, error)
}
