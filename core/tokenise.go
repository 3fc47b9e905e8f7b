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
		return "", Invalid("password.value", ReasonRequired)
	}
	if utf8.RuneCountInString(plain) > 100 {
		return "", Invalid("password.value", ReasonSize, "1", "100")
	}
	token, err := randomToken(passwordTokenPrefix)
	if err != nil {
		return "", err
	}
	sealed, err := s.seal(sealPasswordToken, []byte(plain))
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

// tokenUse is what resolving a password token does to it. The zero value
// spends it.
type tokenUse int

const (
	// spendToken: a sign-in or a current password; the token is spent.
	spendToken tokenUse = iota
	// setWithToken: a password being set; the token then serves one sign-in
	// (PasswordToken.SetPassword) and nothing else.
	setWithToken
	// peekToken: a check that grants nothing; the token stays as it is.
	peekToken
)

// Password resolves a password.value that signs in or proves the current
// password: a token is redeemed (once, only within its programme and life),
// plaintext is passed through unless the programme requires tokens. field
// names the JSON field for errors.
func (s *Service) Password(ctx context.Context, prog *Programme, field, value string) (string, error) {
	return s.password(ctx, prog, field, value, spendToken)
}

// PasswordToSet is Password for a password being set (create, update,
// reset, invite consume). A client sends the token of one flow twice (set
// the password, then sign in with it), so the token is not spent: it then
// serves one sign-in within the rest of its life, and sets no other password.
func (s *Service) PasswordToSet(ctx context.Context, prog *Programme, field, value string) (string, error) {
	return s.password(ctx, prog, field, value, setWithToken)
}

// PeekPassword is Password without spending the token, for an operation that
// only looks at the password and grants nothing (Weavr passwordValidate):
// clients validate a token, then send the same token to set the password.
// The token stays within its programme and life, and its next use spends it.
func (s *Service) PeekPassword(ctx context.Context, prog *Programme, field, value string) (string, error) {
	return s.password(ctx, prog, field, value, peekToken)
}

// password resolves value, doing to a token what use says.
func (s *Service) password(ctx context.Context, prog *Programme, field, value string, use tokenUse) (string, error) {
	if !IsPasswordToken(value) {
		if prog.Settings.RequireTokenisedPasswords {
			return "", &Error{Class: ErrInvalid, Code: CodePlaintextRefused,
				Message: "This programme accepts only tokenised passwords: send the token from POST /multi/tokenize in " + field + ".",
				Fields:  []FieldError{{Field: field, Reason: ReasonRegex, Params: []string{passwordTokenPrefix + "..."}}}}
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
		if t.ProgrammeID != prog.ID || (use == setWithToken && t.SetPassword) {
			return &Error{Class: ErrTokenNotFound, Code: CodeTokenNotFound}
		}
		if err := redeemToken(tx, t, use); err != nil {
			return err
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
	plain, err := s.open(sealPasswordToken, sealed)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// redeemToken does to the stored token t what use says.
func redeemToken(tx Tx, t *PasswordToken, use tokenUse) error {
	if use == peekToken {
		return nil
	}
	if err := tx.DeletePasswordToken(t.TokenHash); err != nil {
		return err
	}
	if use == spendToken {
		return nil
	}
	set := *t
	set.SetPassword = true
	return tx.InsertPasswordToken(&set)
}

// Labels of sealed secrets: each kind has a sealing key of its own.
const (
	sealPasswordToken = "password-token"
	sealAPIKey        = "api-key"        // a programme's secret api key, for webhooks' signature-v2
	sealWebhookSecret = "webhook-secret" // an endpoint's signing secret
	sealIdempotent    = "idempotent-answer"
)

// seal encrypts with AES-256-GCM under the installation's sealing key for label.
func (s *Service) seal(label string, plain []byte) ([]byte, error) {
	aead, err := s.aead(label)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func (s *Service) open(label string, sealed []byte) ([]byte, error) {
	aead, err := s.aead(label)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("sealed %s is truncated", label)
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("sealed %s does not decrypt", label)
	}
	return plain, nil
}

func (s *Service) aead(label string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.keys.hash(purposeSeal, label))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
