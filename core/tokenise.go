package core

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// passwordTokenPrefix marks tokenised passwords; with its fixed length it tells
// a token from a plaintext password wherever a password.value is accepted.
const passwordTokenPrefix = "dtk_"

// IsPasswordToken reports whether value has the exact shape of a password token.
func IsPasswordToken(value string) bool {
	return len(value) == len(passwordTokenPrefix)+43 && strings.HasPrefix(value, passwordTokenPrefix)
}

// Machine codes of tokenised passwords (Weavr TokenError).
const (
	CodePlaintextRefused = "TOKENISED_PASSWORD_REQUIRED"
)

// Tokenise turns a password into a single-use token valid for PasswordTokenTTL,
// bound to the programme. The rate limits on tokenisation for clientIP are
// counted in the same transaction as the token is stored (one commit per
// call); a call over a limit fails with ErrRateLimited and stores nothing.
func (s *Service) Tokenise(ctx context.Context, prog *Programme, plain, clientIP string) (string, error) {
	if plain == "" {
		return "", Invalid("password.value", "REQUIRED")
	}
	if utf8.RuneCountInString(plain) > 100 {
		return "", Invalid("password.value", "SIZE", "1", "100")
	}
	token, err := randomToken(passwordTokenPrefix)
	if err != nil {
		return "", err
	}
	sealed, err := s.seal([]byte(plain))
	if err != nil {
		return "", err
	}
	budgets := s.rateBudgets(RateTokenise, prog, clientIP)
	t := &PasswordToken{TokenHash: s.keys.hash(purposePasswordToken, token), ProgrammeID: prog.ID, Sealed: sealed, ExpiresAt: s.clock.Now().Add(s.cfg.PasswordTokenTTL)}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := s.spend(tx, budgets...); err != nil {
			return err // the token is not stored
		}
		c := *t
		return tx.InsertPasswordToken(&c)
	})
	if err != nil {
		return "", internal("tokenise", err)
	}
	return token, nil
}

// Password resolves a password.value: a token is redeemed (once, only within
// its programme and life), plaintext is passed through unless the programme
// requires tokens. field names the JSON field for errors.
func (s *Service) Password(ctx context.Context, prog *Programme, field, value string) (string, error) {
	return s.password(ctx, prog, field, value, true)
}

// PeekPassword is Password without spending the token, for an operation that
// only looks at the password and grants nothing (Weavr passwordValidate):
// clients validate a token, then send the same token to set the password.
// The token stays within its programme and life, and its next use spends it.
func (s *Service) PeekPassword(ctx context.Context, prog *Programme, field, value string) (string, error) {
	return s.password(ctx, prog, field, value, false)
}

// password is Password, spending the token only when spend is true.
func (s *Service) password(ctx context.Context, prog *Programme, field, value string, spend bool) (string, error) {
	if !IsPasswordToken(value) {
		if prog.Settings.RequireTokenisedPasswords {
			return "", &Error{Class: ErrInvalid, Code: CodePlaintextRefused,
				Message: "This programme accepts only tokenised passwords: send the token from POST /multi/tokenize in " + field + ".",
				Fields:  []FieldError{{Field: field, Reason: "REGEX", Params: []string{passwordTokenPrefix + "..."}}}}
		}
		return value, nil
	}
	hash := s.keys.hash(purposePasswordToken, value)
	var sealed []byte
	err := s.store.Update(ctx, func(tx Tx) error {
		sealed = nil
		t, err := tx.PasswordToken(hash)
		if errors.Is(err, ErrRecordNotFound) {
			return &Error{Class: ErrTokenNotFound, Code: CodeTokenNotFound}
		}
		if err != nil {
			return err
		}
		if t.ProgrammeID != prog.ID {
			return &Error{Class: ErrTokenNotFound, Code: CodeTokenNotFound}
		}
		if spend {
			if err := tx.DeletePasswordToken(hash); err != nil {
				return err
			}
		}
		if !s.clock.Now().Before(t.ExpiresAt) {
			return &Error{Class: ErrTokenNotFound, Code: CodeTokenExpired}
		}
		sealed = t.Sealed
		return nil
	})
	if err != nil {
		return "", internal("redeem password token", err)
	}
	plain, err := s.open(sealed)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// seal encrypts with AES-256-GCM under the installation's sealing key.
func (s *Service) seal(plain []byte) ([]byte, error) {
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func (s *Service) open(sealed []byte) ([]byte, error) {
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed password token is truncated")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return nil, errors.New("sealed password token does not decrypt")
	}
	return plain, nil
}

func (s *Service) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.keys.hash(purposeSeal, "password-token"))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
