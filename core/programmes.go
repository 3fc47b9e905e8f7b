package core

import (
	"context"
	"errors"
	"strings"

	"github.com/deputyhq/deputy/core/password"
)

// NewProgramme is what it takes to create a programme.
type NewProgramme struct {
	Name     string
	Settings ProgrammeSettings
}

// CreatedProgramme is a new programme with its secret api key, which exists in
// plain text only here: the store keeps a keyed hash.
type CreatedProgramme struct {
	Programme *Programme
	APIKey    string
}

// CreateProgramme creates a tenant and its secret api key.
func (s *Service) CreateProgramme(ctx context.Context, in NewProgramme) (*CreatedProgramme, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return nil, Invalid("name", "REQUIRED")
	}
	if len(in.Name) > 100 {
		return nil, Invalid("name", "SIZE", "1", "100")
	}
	if _, ok := password.ProfileByName(in.Settings.PasswordProfile); !ok {
		return nil, Invalid("passwordProfile", "IN", "weavr", "nist")
	}
	key, err := randomToken(apiKeyPrefix)
	if err != nil {
		return nil, err
	}
	p := &Programme{Name: in.Name, APIKeyHash: s.keys.hash(purposeAPIKey, key), Settings: in.Settings, CreatedAt: s.clock.Now()}
	err = s.store.Update(ctx, func(tx Tx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		p.ID = id
		if err := tx.InsertProgramme(p); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return Conflict("PROGRAMME_NAME_NOT_UNIQUE")
			}
			return err
		}
		return s.audit(ctx, tx, id, ActorSystem, "programme.create", id, map[string]string{"name": p.Name})
	})
	if err != nil {
		return nil, internal("create programme", err)
	}
	return &CreatedProgramme{Programme: p, APIKey: key}, nil
}

// apiKeyPrefix marks secret api keys so they are recognisable (and greppable) if leaked.
const apiKeyPrefix = "dsk_"

// AuthenticateAPIKey returns the programme whose secret api key this is.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (*Programme, error) {
	if key == "" {
		return nil, Invalid("api-key", "REQUIRED")
	}
	var p *Programme
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		p, err = tx.ProgrammeByAPIKeyHash(s.keys.hash(purposeAPIKey, key))
		return err
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, &Error{Class: ErrUnauthenticated, Message: "unknown api-key"}
	}
	if err != nil {
		return nil, internal("authenticate api key", err)
	}
	return p, nil
}

// profile returns the programme's password profile.
func (p *Programme) profile() password.Profile {
	prof, ok := password.ProfileByName(p.Settings.PasswordProfile)
	if !ok {
		prof, _ = password.ProfileByName("")
	}
	return prof
}
