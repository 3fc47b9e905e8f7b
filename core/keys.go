package core

import "time"

// KeyKind says which of a programme's two keys a caller presented.
type KeyKind int

// Key kinds. The zero value is the least privileged: a public ui key.
const (
	// UIKey is the public key first-party clients hold (the admin TUI, the
	// companion, the browser capture component), always with a user's token.
	UIKey KeyKind = iota
	// SecretKey is the secret api key of the embedder's backend.
	SecretKey
)

func (k KeyKind) String() string {
	if k == SecretKey {
		return "secret"
	}
	return "ui"
}

// RetiredKey is a replaced key that still works until its grace period ends.
type RetiredKey struct {
	Kind  KeyKind
	Hash  []byte
	Until time.Time
}
