package core

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/deputyhq/deputy/fieldrules"
)

// UserDetails are the personal fields of a user, as the API carries them.
type UserDetails struct {
	Name               string
	Surname            string
	Email              string
	Mobile             *Mobile
	DateOfBirth        *Date
	Tag                string
	Locale             string
	Brand              string
	CountryOfResidence string
}

// NewIdentity is what it takes to create a corporate or consumer with its root user.
// The API layer has validated field formats; core checks what it relies on.
type NewIdentity struct {
	Type    IdentityType
	Name    string          // company name (corporates); defaults to the root user's full name
	Profile json.RawMessage // descriptive fields kept verbatim
	Root    UserDetails
	// LinkTo, when set, links the new identity to the caller's credentials
	// (access.go): the root user is created without a password of its own and
	// signs in with them. It must be the stepped-up session of a root user
	// holding its own credentials, whose email Root gives.
	LinkTo *Caller
}

// CreateIdentity creates an identity and its root user (whose id is the identity's id)
// in one transaction (Weavr corporateCreate / consumerCreate), linked to the
// credentials of in.LinkTo when set. Its root user's email must be one no
// other user of the programme has (ROOT_EMAIL_NOT_UNIQUE; emailFree), unless
// it is the linked credentials' own.
func (s *Service) CreateIdentity(ctx context.Context, prog *Programme, in NewIdentity) (*Identity, *User, error) {
	if !in.Type.Valid() {
		return nil, nil, Invalid("type", ReasonIn, string(Corporate), string(Consumer))
	}
	if err := requireUserDetails("rootUser.", in.Root); err != nil {
		return nil, nil, err
	}
	if in.Root.Mobile == nil {
		return nil, nil, Invalid("rootUser.mobile", ReasonRequired)
	}
	name := strings.TrimSpace(in.Name)
	if in.Type == Corporate && name == "" {
		return nil, nil, Invalid("company.name", ReasonRequired)
	}
	if name == "" {
		name = defaultIdentityName(in.Root.Name, in.Root.Surname)
	}
	now := s.clock.Now()
	ident := &Identity{ProgrammeID: prog.ID, Type: in.Type, Name: name, Profile: in.Profile, CreatedAt: now}
	root := newUser(prog.ID, in.Type, in.Root, now)
	root.Root = true
	err := s.store.Update(ctx, func(tx Tx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		ident.ID, root.ID, root.IdentityID = id, id, id
		var cred *User
		if in.LinkTo != nil {
			if cred, err = s.linkNewRoot(tx, in.LinkTo, root, ident); err != nil {
				return err
			}
		} else if err := emailFree(tx, root, root.Email, CodeRootEmailNotUnique); err != nil {
			return err
		}
		if err := tx.InsertIdentity(ident); err != nil {
			return err
		}
		if err := tx.InsertUser(root); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return Conflict(CodeRootEmailNotUnique)
			}
			return err
		}
		if err := s.audit(ctx, tx, prog.ID, ActorAPI, "identity.create", id, map[string]string{"type": string(in.Type)}); err != nil {
			return err
		}
		if cred != nil {
			if err := recordLink(tx, cred, id, now); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, prog.ID, cred.ID, "identity.link", id, nil); err != nil {
				return err
			}
		}
		return s.finishIdempotent(ctx, tx, &IdentityView{Identity: ident, Root: root})
	})
	if err != nil {
		return nil, nil, internal("create identity", err)
	}
	return ident, root, nil
}

// IdentityView is an identity with its root user, as the API shows it.
type IdentityView struct {
	Identity *Identity
	Root     *User
	// MobileVerified: the root user has an ACTIVE SMS factor.
	MobileVerified bool
}

// Identity returns the caller's own identity (Weavr corporateGet / consumerGet).
func (s *Service) Identity(ctx context.Context, c *Caller) (*IdentityView, error) {
	if err := require(c, PermIdentityGet); err != nil {
		return nil, err
	}
	var v IdentityView
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if v.Identity, err = tx.Identity(c.User.IdentityID); err != nil {
			return err
		}
		if v.Root, err = tx.User(v.Identity.ID); err != nil {
			return err
		}
		f, err := tx.Factor(v.Root.ID, ChannelSMS)
		if errors.Is(err, ErrRecordNotFound) {
			return nil
		}
		v.MobileVerified = err == nil && f.Status == FactorActive
		return err
	})
	if err != nil {
		return nil, internal("read identity", err)
	}
	return &v, nil
}

// requireUserDetails checks the fields every user needs, then the input rules
// of every field given; prefix names the JSON path.
func requireUserDetails(prefix string, d UserDetails) error {
	switch {
	case strings.TrimSpace(d.Name) == "":
		return Invalid(prefix+"name", ReasonRequired)
	case strings.TrimSpace(d.Surname) == "":
		return Invalid(prefix+"surname", ReasonRequired)
	case d.Email == "":
		return Invalid(prefix+"email", ReasonRequired)
	}
	return checkUserFields(prefix, UserPatch{Name: &d.Name, Surname: &d.Surname, Email: &d.Email,
		Tag: &d.Tag, Locale: &d.Locale, Brand: &d.Brand, Mobile: d.Mobile, DateOfBirth: d.DateOfBirth})
}

// checkMobile refuses a mobile, when there is one, that no one can have
// (fieldrules.PossibleMobile): every operation that sets a mobile asks it.
func checkMobile(m *Mobile) error {
	if m != nil && !fieldrules.PossibleMobile(m.CountryCode, m.Number) {
		return Conflict(CodeMobileOrCountryCodeInvalid)
	}
	return nil
}

// checkUserFields applies the input rules (input.go) to the fields p gives:
// free text, the email, the mobile (fieldrules.PossibleMobile) and the date
// of birth; prefix names the JSON path.
func checkUserFields(prefix string, p UserPatch) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", p.Name}, {"surname", p.Surname}, {"tag", p.Tag}, {"locale", p.Locale}, {"brand", p.Brand}} {
		if f.v != nil {
			if err := CheckText(prefix+f.name, *f.v); err != nil {
				return err
			}
		}
	}
	if p.Email != nil {
		if _, err := CanonicalEmail(prefix+"email", *p.Email); err != nil {
			return err
		}
	}
	if err := checkMobile(p.Mobile); err != nil {
		return err
	}
	if p.DateOfBirth != nil {
		return p.DateOfBirth.Check(prefix + "dateOfBirth")
	}
	return nil
}

func newUser(programmeID string, t IdentityType, d UserDetails, now time.Time) *User {
	return &User{
		ProgrammeID:        programmeID,
		IdentityType:       t,
		Name:               strings.TrimSpace(d.Name),
		Surname:            strings.TrimSpace(d.Surname),
		Email:              NormaliseEmail(d.Email),
		Mobile:             d.Mobile,
		DateOfBirth:        d.DateOfBirth,
		Tag:                d.Tag,
		Locale:             d.Locale,
		Brand:              d.Brand,
		CountryOfResidence: d.CountryOfResidence,
		Active:             true,
		CreatedAt:          now,
		UpdatedAt:          now,
	}
}

// defaultIdentityName is the name of an identity that has none of its own
// (a consumer): its root user's full name.
func defaultIdentityName(name, surname string) string {
	return name + " " + surname
}
