package boltstore

import (
	"bytes"
	"time"

	"github.com/deputyhq/deputy/core"
)

var (
	_ core.PasswordTokenReader = (*readTx)(nil)
	_ core.PasswordTokenWriter = (*writeTx)(nil)
)

func (r *readTx) PasswordToken(tokenHash []byte) (*core.PasswordToken, error) {
	return get[core.PasswordToken](r.bucket(bucketPasswordTokens), tokenHash, "password token")
}

// InsertPasswordToken stores t under its token hash; a hash already stored
// fails with core.UniquePasswordToken.
func (w *writeTx) InsertPasswordToken(t *core.PasswordToken) error {
	b := w.bucket(bucketPasswordTokens)
	if b.Get(t.TokenHash) != nil {
		return duplicate(core.UniquePasswordToken)
	}
	return put(b, bytes.Clone(t.TokenHash), t)
}

func (w *writeTx) DeletePasswordToken(tokenHash []byte) error {
	return deleteRecord(w.bucket(bucketPasswordTokens), tokenHash, "password token")
}

func (w *writeTx) DeletePasswordTokensExpired(t time.Time) (int, error) {
	b := w.bucket(bucketPasswordTokens)
	keys, _, err := match(b, "password token", func(pt *core.PasswordToken) bool { return pt.ExpiresAt.Before(t) })
	if err != nil {
		return 0, err
	}
	return deleteKeys(b, keys)
}
