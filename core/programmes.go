package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/deputyhq/deputy/password"
)

// NewProgramme is what it takes to create a programme.
type NewProgramme struct {
	Name     string
	Settings ProgrammeSettings
}

// CreatedProgramme is a new programme with its two keys, which exist in plain
// text only here: the store keeps keyed hashes.
type CreatedProgramme struct {
	Programme *Programme
	APIKey    string // secret: the embedder's backend only
	UIKey     string // public: first-party clients, always with a user's token
}

// CreateProgramme creates a tenant and its secret api key.
func (s *Service) CreateProgramme(ctx context.Context, in NewProgramme) (*CreatedProgramme, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return nil, Invalid("name", ReasonRequired)
	}
	if len(in.Name) > 100 {
		return nil, Invalid("name", ReasonSize, "1", "100")
	}
	// The name goes into confirmation SMS texts and emails' sender name:
	// text, as the API's is, whichever command line or socket sent it.
	if err := CheckText("name", in.Name); err != nil {
		return nil, err
	}
	if err := s.checkSettings(in.Settings); err != nil {
		return nil, err
	}
	key, err := randomToken(apiKeyPrefix)
	if err != nil {
		return nil, err
	}
	uiKey, err := randomToken(uiKeyPrefix)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal(sealAPIKey, []byte(key))
	if err != nil {
		return nil, err
	}
	p := &Programme{Name: in.Name, APIKeyHash: s.keys.hash(purposeAPIKey, key), APIKeySealed: sealed, UIKeyHash: s.keys.hash(purposeAPIKey, uiKey), Settings: in.Settings, CreatedAt: s.clock.Now()}
	err = s.store.Update(ctx, func(tx Tx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		p.ID = id
		if err := tx.InsertProgramme(p); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return Conflict(CodeProgrammeNameNotUnique)
			}
			return err
		}
		return s.audit(ctx, tx, id, ActorSystem, "programme.create", id, map[string]string{"name": p.Name})
	})
	if err != nil {
		return nil, internal("create programme", err)
	}
	return &CreatedProgramme{Programme: p, APIKey: key, UIKey: uiKey}, nil
}

// apiKeyPrefix marks secret api keys so they are recognisable (and greppable) if leaked.
const apiKeyPrefix = "dsk_"

// profile returns the programme's password profile.
func (p *Programme) profile() password.Profile {
	prof, ok := password.ProfileByName(p.Settings.PasswordProfile)
	if !ok {
		prof, _ = password.ProfileByName("")
	}
	return prof
}

// checkOrigins accepts web origins of the form scheme://host[:port].
func checkOrigins(origins []string) error {
	for _, o := range origins {
		if _, ok := NormaliseOrigin(o); !ok {
			return Invalid("allowedOrigins", ReasonRegex, "scheme://host[:port]")
		}
	}
	return nil
}

// NormaliseOrigin returns the serialised form of a web origin
// (RFC 6454 section 6.1: lower-case scheme and host, default port left out),
// or false if s is not an http or https origin without path, query or user.
// Its result is safe to place in a CSP source list.
func NormaliseOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		if a.Is6() {
			host = "[" + a.String() + "]"
		}
	} else if strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return "", false
	}
	if strings.HasPrefix(u.Host, "[") != strings.HasPrefix(host, "[") {
		return "", false // a bracketed host that is not an IPv6 address, or the reverse
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", false
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// maxSenderNameLen bounds a programme's sender name, in bytes (a programme's
// name is held to the same).
const maxSenderNameLen = 100

// checkSettings validates a programme's settings.
func (s *Service) checkSettings(set ProgrammeSettings) error {
	if len(set.SenderName) > maxSenderNameLen {
		return Invalid("senderName", ReasonSize, "0", strconv.Itoa(maxSenderNameLen))
	}
	if err := CheckText("senderName", set.SenderName); err != nil {
		return err // it names every email's sender
	}
	if _, ok := password.ProfileByName(set.PasswordProfile); !ok {
		return Invalid("passwordProfile", ReasonIn, "weavr", "nist")
	}
	if err := checkScope(set.StepUpScope); err != nil {
		return err
	}
	if err := checkOrigins(set.AllowedOrigins); err != nil {
		return err
	}
	if err := checkDeclaredResourceTypes(set.ResourceTypes); err != nil {
		return err
	}
	if err := s.checkLinkTemplate("inviteUrl", set.InviteURL, LinkUserID, LinkCode); err != nil {
		return err
	}
	return s.checkLinkTemplate("resetUrl", set.ResetURL, LinkEmail, LinkCode)
}

// Programme returns a programme by id (operator commands).
func (s *Service) Programme(ctx context.Context, id string) (*Programme, error) {
	var p *Programme
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		p, err = tx.Programme(id)
		return err
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, NotFound("programme")
	}
	return p, internal("read programme", err)
}

// CodeSettingsChanged refuses an operator's change of a programme's settings
// made on settings another change has replaced since.
const CodeSettingsChanged = "SETTINGS_CHANGED"

// UpdateProgrammeSettings replaces a programme's settings (operator commands).
// from, when not nil, is the settings the change was made on: when another
// change has committed since, it fails with a conflict
// (CodeSettingsChanged), so that two operators changing different settings
// at once never undo each other's.
func (s *Service) UpdateProgrammeSettings(ctx context.Context, id string, from *ProgrammeSettings, set ProgrammeSettings) (*Programme, error) {
	if err := s.checkSettings(set); err != nil {
		return nil, err
	}
	var p *Programme
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if p, err = tx.Programme(id); err != nil {
			if errors.Is(err, ErrRecordNotFound) {
				return NotFound("programme")
			}
			return err
		}
		if from != nil && !sameSettings(*from, p.Settings) {
			return &Error{Class: ErrConflict, Code: CodeSettingsChanged, Message: "the programme's settings changed meanwhile: run the command again"}
		}
		p.Settings = set
		if err := tx.UpdateProgramme(p); err != nil {
			return err
		}
		return s.audit(ctx, tx, p.ID, ActorSystem, "programme.settings", p.ID, nil)
	})
	if err != nil {
		return nil, internal("update programme", err)
	}
	return p, nil
}

// sameSettings compares settings as they are stored: every field is
// omitempty, so an empty list and none are the same.
func sameSettings(a, b ProgrammeSettings) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}
