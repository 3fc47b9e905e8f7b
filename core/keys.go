package core

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// uiKeyPrefix marks public ui keys.
const uiKeyPrefix = "dpk_"

// AuthenticateKey returns the programme a key belongs to and which key it is.
// A rotated key keeps working until its grace period ends.
func (s *Service) AuthenticateKey(ctx context.Context, key string) (*Programme, KeyKind, error) {
	if key == "" {
		return nil, UIKey, errMissingKey
	}
	var (
		p    *Programme
		kind KeyKind
	)
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		p, kind, err = s.programmeForKey(tx, key)
		return err
	})
	return p, kind, err
}

var (
	errMissingKey = Invalid("api-key", ReasonRequired)
	errUnknownKey = &Error{Class: ErrUnauthenticated, Message: "unknown api-key"}
)

// programmeForKey finds the programme of a non-empty key in tx.
func (s *Service) programmeForKey(tx ReadTx, key string) (*Programme, KeyKind, error) {
	hash := s.keys.hash(purposeAPIKey, key)
	p, err := tx.ProgrammeByKeyHash(hash)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, UIKey, errUnknownKey
	}
	if err != nil {
		return nil, UIKey, internal("authenticate key", err)
	}
	switch {
	case bytes.Equal(hash, p.APIKeyHash):
		return p, SecretKey, nil
	case bytes.Equal(hash, p.UIKeyHash):
		return p, UIKey, nil
	}
	now := s.clock.Now()
	for _, r := range p.RetiredKeys {
		if bytes.Equal(hash, r.Hash) && now.Before(r.Until) {
			return p, r.Kind, nil
		}
	}
	return nil, UIKey, errUnknownKey
}

// RotateKey replaces one of a programme's keys; the old one keeps working for
// grace (0 ends it, and every older key of its kind still in a grace period,
// at once). The new key is returned once, in plain text.
func (s *Service) RotateKey(ctx context.Context, programmeID string, kind KeyKind, grace time.Duration) (string, error) {
	if grace < 0 || grace > 30*24*time.Hour {
		return "", Invalid("grace", ReasonRange, "0", "720h")
	}
	prefix := apiKeyPrefix
	if kind == UIKey {
		prefix = uiKeyPrefix
	}
	key, err := randomToken(prefix)
	if err != nil {
		return "", err
	}
	var sealed []byte
	if kind == SecretKey {
		if sealed, err = s.seal(sealAPIKey, []byte(key)); err != nil {
			return "", err
		}
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.Programme(programmeID)
		if errors.Is(err, ErrRecordNotFound) {
			return NotFound("programme")
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		old := &p.APIKeyHash
		if kind == UIKey {
			old = &p.UIKeyHash
		}
		// A rotation without grace revokes every older key of its kind at
		// once, including those still in an earlier rotation's grace period.
		kept := p.RetiredKeys[:0]
		for _, r := range p.RetiredKeys {
			if now.Before(r.Until) && (grace > 0 || r.Kind != kind) {
				kept = append(kept, r)
			}
		}
		if grace > 0 {
			kept = append(kept, RetiredKey{Kind: kind, Hash: *old, Until: now.Add(grace)})
		}
		p.RetiredKeys = kept
		*old = s.keys.hash(purposeAPIKey, key)
		if kind == SecretKey {
			p.APIKeySealed = sealed
		}
		if err := tx.UpdateProgramme(p); err != nil {
			return err
		}
		return s.audit(ctx, tx, p.ID, ActorSystem, "programme.rotate_key", p.ID, map[string]string{"key": kind.String(), "grace": grace.String()})
	})
	if err != nil {
		return "", internal("rotate key", err)
	}
	return key, nil
}
