package server

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/fieldrules"
)

// addressJSON is Weavr's Address (all fields optional here; checked per use).
type addressJSON struct {
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	City         string `json:"city,omitempty"`
	PostCode     string `json:"postCode,omitempty"`
	State        string `json:"state,omitempty"`
	Country      string `json:"country,omitempty"`
}

// address checks an address; required names the fields its schema requires
// (Weavr's Address needs addressLine1, city, postCode and country;
// AddressWithCountryRequired only country).
func (f *fields) address(prefix string, a *addressJSON, required ...string) {
	if a == nil {
		return
	}
	present := map[string]string{
		"addressLine1": a.AddressLine1, "addressLine2": a.AddressLine2, "city": a.City,
		"postCode": a.PostCode, "state": a.State, "country": a.Country,
	}
	blank := map[string]bool{}
	for _, name := range required {
		blank[name] = !f.required(prefix+"."+name, present[name])
	}
	f.size(prefix+".addressLine1", a.AddressLine1, 1, 150)
	f.size(prefix+".addressLine2", a.AddressLine2, 1, 150)
	f.size(prefix+".city", a.City, 1, 50)
	f.size(prefix+".postCode", a.PostCode, 1, 10)
	f.pattern(prefix+".postCode", a.PostCode, rePostCode)
	f.size(prefix+".state", a.State, 1, 50)
	if !blank["country"] {
		f.pattern(prefix+".country", a.Country, reCountry)
	}
}

// rootUserIn holds the root-user fields both identity kinds share.
type rootUserIn struct {
	Name        string      `json:"name"`
	Surname     string      `json:"surname"`
	Email       string      `json:"email"`
	Mobile      *mobileJSON `json:"mobile"`
	DateOfBirth *dateJSON   `json:"dateOfBirth,omitempty"`
	Tag         string      `json:"tag,omitempty" empty:"REGEX"`
	Locale      string      `json:"locale,omitempty" empty:"REGEX"`
	Brand       string      `json:"brand,omitempty" empty:"REGEX"`
}

func (f *fields) rootUser(u *rootUserIn) {
	if u == nil {
		f.add("rootUser", core.ReasonRequired)
		return
	}
	if f.required("rootUser.name", u.Name) {
		f.size("rootUser.name", u.Name, 1, fieldrules.MaxNameLength)
	}
	if f.required("rootUser.surname", u.Surname) {
		f.size("rootUser.surname", u.Surname, 1, fieldrules.MaxNameLength)
	}
	f.email("rootUser.email", u.Email)
	if u.Mobile == nil {
		f.add("rootUser.mobile", core.ReasonRequired)
	}
	f.mobile("rootUser.mobile", u.Mobile)
	f.date("rootUser.dateOfBirth", u.DateOfBirth)
	f.size("rootUser.tag", u.Tag, 1, fieldrules.MaxNameLength)
	f.pattern("rootUser.tag", u.Tag, reTag)
	f.pattern("rootUser.locale", u.Locale, reLocale)
	f.size("rootUser.brand", u.Brand, 1, 25)
	f.pattern("rootUser.brand", u.Brand, reBrand)
}

func (u *rootUserIn) details() core.UserDetails {
	return core.UserDetails{
		Name: u.Name, Surname: u.Surname, Email: u.Email, Mobile: u.Mobile.core(), DateOfBirth: u.DateOfBirth.core(),
		Tag: u.Tag, Locale: u.Locale, Brand: u.Brand,
	}
}

// identityCommon holds the top-level fields both identity kinds share; they are
// kept verbatim in the identity's profile.
type identityCommon struct {
	ProfileID          string `json:"profileId,omitempty"`
	Tag                string `json:"tag,omitempty" empty:"REGEX"`
	IPAddress          string `json:"ipAddress,omitempty"`
	AcceptedTerms      *bool  `json:"acceptedTerms,omitempty"`
	BaseCurrency       string `json:"baseCurrency,omitempty" empty:"REGEX"`
	FeeGroup           string `json:"feeGroup,omitempty"`
	SourceOfFunds      string `json:"sourceOfFunds,omitempty" empty:"IN"`
	SourceOfFundsOther string `json:"sourceOfFundsOther,omitempty"`
}

// common checks the shared top-level fields: required names those that must
// be present (creation: Weavr requires profileId and ipAddress of both kinds,
// and baseCurrency of a corporate, and since Deputy keeps and returns them,
// every identity it creates answers as Weavr's Corporate and Consumer
// require); the others are checked when present.
func (f *fields) common(c *identityCommon, required ...string) {
	present := func(name, v string) bool {
		if slices.Contains(required, name) {
			return f.required(name, v)
		}
		return v != ""
	}
	if present("profileId", c.ProfileID) {
		f.pattern("profileId", c.ProfileID, reDigits)
	}
	f.tag("tag", c.Tag)
	if present("ipAddress", c.IPAddress) {
		f.ipAddress("ipAddress", c.IPAddress)
	}
	if present("baseCurrency", c.BaseCurrency) {
		f.pattern("baseCurrency", c.BaseCurrency, reCurrency)
	}
	f.size("feeGroup", c.FeeGroup, 1, 50)
	f.size("sourceOfFundsOther", c.SourceOfFundsOther, 1, 255)
}

// ipAddress checks the address an identity was created from: Weavr bounds
// its length (5 to 45 characters); Deputy also wants it to be an IPv4 or
// IPv6 address without a zone, so that what it keeps is an address.
func (f *fields) ipAddress(field, v string) {
	if n := len(v); n < 5 || n > 45 {
		f.add(field, core.ReasonSize, "5", "45")
		return
	}
	if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
		f.add(field, core.ReasonRegex, "ipv4", "ipv6")
	}
}

// Corporate shapes (Weavr CorporateCreateRequest / Corporate).
type (
	corporateRootUserIn struct {
		rootUserIn
		CompanyPosition string `json:"companyPosition,omitempty"`
	}
	companyIn struct {
		Type                string       `json:"type,omitempty"`
		Name                string       `json:"name"`
		RegistrationNumber  string       `json:"registrationNumber,omitempty" empty:"SIZE"`
		RegistrationCountry string       `json:"registrationCountry,omitempty"`
		BusinessAddress     *addressJSON `json:"businessAddress,omitempty"`
	}
	corporateCreateRequest struct {
		identityCommon
		RootUser *corporateRootUserIn `json:"rootUser"`
		Company  *companyIn           `json:"company"`
		Industry string               `json:"industry,omitempty" empty:"IN"`
	}
	// corporateProfile is what the identity keeps beside its root user.
	corporateProfile struct {
		identityCommon
		CompanyPosition string     `json:"companyPosition,omitempty"`
		Company         *companyIn `json:"company"`
		Industry        string     `json:"industry,omitempty"`
	}
	companyOut struct {
		Name                  string       `json:"name"`
		Type                  string       `json:"type,omitempty"`
		RegistrationNumber    string       `json:"registrationNumber,omitempty"`
		BusinessAddress       *addressJSON `json:"businessAddress,omitempty"`
		CountryOfRegistration string       `json:"countryOfRegistration,omitempty"`
	}
	rootUserOut struct {
		ID                   identityIDJSON `json:"id"`
		Name                 string         `json:"name"`
		Surname              string         `json:"surname"`
		Email                string         `json:"email"`
		Mobile               *mobileJSON    `json:"mobile,omitempty"`
		CompanyPosition      string         `json:"companyPosition,omitempty"`
		Active               bool           `json:"active"`
		EmailVerified        bool           `json:"emailVerified"`
		MobileNumberVerified bool           `json:"mobileNumberVerified"`
		DateOfBirth          *dateJSON      `json:"dateOfBirth,omitempty"`
		Occupation           string         `json:"occupation,omitempty"`
		Address              *addressJSON   `json:"address,omitempty"`
		Nationality          string         `json:"nationality,omitempty"`
		PlaceOfBirth         string         `json:"placeOfBirth,omitempty"`
		Tag                  string         `json:"tag,omitempty"`
		Locale               string         `json:"locale,omitempty"`
		Brand                string         `json:"brand,omitempty"`
		PasswordAlreadySet   *bool          `json:"passwordAlreadySet,omitempty"`
	}
	corporateOut struct {
		ID       identityIDJSON `json:"id"`
		RootUser rootUserOut    `json:"rootUser"`
		Company  companyOut     `json:"company"`
		Industry string         `json:"industry,omitempty"`
		identityCommon
		CreationTimestamp int64 `json:"creationTimestamp"`
	}
)

var (
	companyTypes    = []string{"SOLE_TRADER", "LLC", "PUBLIC_LIMITED_COMPANY", "LIMITED_LIABILITY_PARTNERSHIP", "NON_PROFIT_ORGANISATION"}
	companyPosition = []string{"DIRECTOR", "AUTHORISED_REPRESENTATIVE"}
	industries      = []string{"ACCOUNTING", "AUDIT", "FINANCE", "PUBLIC_SECTOR_ADMINISTRATION", "ART_ENTERTAINMENT", "AUTO_AVIATION", "BANKING_LENDING", "BUSINESS_CONSULTANCY_LEGAL", "CONSTRUCTION_REPAIR", "EDUCATION_PROFESSIONAL_SERVICES", "INFORMATIONAL_TECHNOLOGIES", "TOBACCO_ALCOHOL", "GAMING_GAMBLING", "MEDICAL_SERVICES", "MANUFACTURING", "PR_MARKETING", "PRECIOUS_GOODS_JEWELRY", "NON_GOVERNMENTAL_ORGANIZATION", "INSURANCE_SECURITY", "RETAIL_WHOLESALE", "TRAVEL_TOURISM", "FREELANCER"}
	occupations     = append(append([]string{}, industries...), "STUDENT", "UNEMPLOYED", "RETIRED", "OTHER")
	corporateFunds  = []string{"LABOUR_CONTRACT", "CIVIL_CONTRACT", "RENT", "FUNDS_FROM_OTHER_AUXILIARY_SOURCES", "SALE_OF_MOVABLE_ASSETS", "SALE_OF_REAL_ESTATE", "ORDINARY_BUSINESS_ACTIVITY", "DIVIDENDS", "LOAN_FROM_FINANCIAL_INSTITUTIONS_CREDIT_UNIONS", "LOAN_FROM_THIRD_PARTIES", "SALE_OF_COMPANY_SHARES_BUSINESS", "OTHER", "DONATION", "INHERITANCE", "ORIGIN_OF_FUNDS_UNKNOWN"}
	consumerFunds   = []string{"PERSONAL_SAVINGS", "FAMILY_SAVINGS", "LABOUR_CONTRACT", "CIVIL_CONTRACT", "RENT", "FUNDS_FROM_OTHER_AUXILIARY_SOURCES", "SALE_OF_MOVABLE_ASSETS", "SALE_OF_REAL_ESTATE", "ORDINARY_BUSINESS_ACTIVITY", "DIVIDENDS", "LOAN_FROM_FINANCIAL_INSTITUTIONS_CREDIT_UNIONS", "LOAN_FROM_THIRD_PARTIES", "INHERITANCE", "SALE_OF_COMPANY_SHARES_BUSINESS", "OTHER"}
)

// corporateCreate implements Weavr corporateCreate.
func (s *Server) corporateCreate(r *request) (reply, error) {
	var in corporateCreateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.common(&in.identityCommon, "profileId", "ipAddress", "baseCurrency")
	f.oneOf("sourceOfFunds", in.SourceOfFunds, corporateFunds...)
	f.oneOf("industry", in.Industry, industries...)
	if in.RootUser == nil {
		f.rootUser(nil)
	} else {
		f.rootUser(&in.RootUser.rootUserIn)
		if f.required("rootUser.companyPosition", in.RootUser.CompanyPosition) {
			f.oneOf("rootUser.companyPosition", in.RootUser.CompanyPosition, companyPosition...)
		}
	}
	if in.Company == nil {
		f.add("company", core.ReasonRequired)
	} else {
		if f.required("company.name", in.Company.Name) {
			f.size("company.name", in.Company.Name, 1, 100)
		}
		if f.required("company.type", in.Company.Type) {
			f.oneOf("company.type", in.Company.Type, companyTypes...)
		}
		f.size("company.registrationNumber", in.Company.RegistrationNumber, 1, 20)
		if f.required("company.registrationCountry", in.Company.RegistrationCountry) {
			f.pattern("company.registrationCountry", in.Company.RegistrationCountry, reCountry)
		}
		f.address("company.businessAddress", in.Company.BusinessAddress, "addressLine1", "city", "postCode", "country")
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	prof, err := json.Marshal(corporateProfile{identityCommon: in.identityCommon, CompanyPosition: in.RootUser.CompanyPosition, Company: in.Company, Industry: in.Industry})
	if err != nil {
		return reply{}, err
	}
	ident, root, err := s.svc.CreateIdentity(answering(r, corporateCreated), r.prog, core.NewIdentity{
		Type: core.Corporate, Name: in.Company.Name, Profile: prof, Root: in.RootUser.details(), LinkTo: r.caller,
	})
	if err != nil {
		return reply{}, err
	}
	return corporateCreated(&core.IdentityView{Identity: ident, Root: root})
}

// corporateCreated answers corporateCreate.
func corporateCreated(v *core.IdentityView) (reply, error) {
	out, err := corporateResponse(v.Identity, v.Root)
	if err != nil {
		return reply{}, err
	}
	set := v.Root.PasswordSet || v.Root.CredentialsID != "" // a linked root has its credentials' password
	out.RootUser.PasswordAlreadySet = &set
	return ok(out)
}

// identityTypeIs refuses a caller whose identity is not of type typ, on the
// routes of one type (/corporates, /consumers): 403 INSUFFICIENT_PERMISSIONS,
// the one refusal Weavr declares on all four of them.
func identityTypeIs(r *request, typ core.IdentityType) error {
	if r.caller.User.IdentityType == typ {
		return nil
	}
	return &core.Error{Class: core.ErrPermissionDenied, Code: core.CodeInsufficientPermissions,
		Message: "This token's identity is not a " + strings.ToLower(string(typ)) + "."}
}

// corporateGet implements Weavr corporateGet for the signed-in identity.
func (s *Server) corporateGet(r *request) (reply, error) {
	if err := identityTypeIs(r, core.Corporate); err != nil {
		return reply{}, err
	}
	v, err := s.svc.Identity(r.Context(), r.caller)
	if err != nil {
		return reply{}, err
	}
	out, err := corporateResponse(v.Identity, v.Root)
	if err != nil {
		return reply{}, err
	}
	out.RootUser.MobileNumberVerified = v.MobileVerified
	return ok(out)
}

func corporateResponse(ident *core.Identity, root *core.User) (*corporateOut, error) {
	var p corporateProfile
	if err := unmarshalProfile(ident.Profile, &p); err != nil {
		return nil, fmt.Errorf("corporate %s profile: %w", ident.ID, err)
	}
	out := &corporateOut{
		ID:                identityIDJSON{Type: string(core.Corporate), ID: ident.ID},
		RootUser:          rootUserResponse(root),
		Company:           companyOut{Name: ident.Name},
		Industry:          p.Industry,
		identityCommon:    p.identityCommon,
		CreationTimestamp: ident.CreatedAt.UnixMilli(),
	}
	out.RootUser.CompanyPosition = p.CompanyPosition
	if c := p.Company; c != nil {
		out.Company.Type, out.Company.RegistrationNumber = c.Type, c.RegistrationNumber
		out.Company.BusinessAddress, out.Company.CountryOfRegistration = c.BusinessAddress, c.RegistrationCountry
	}
	return out, nil
}

// unmarshalProfile reads what the identity keeps beside its root user. The
// fields Weavr requires are there for every identity created since Deputy
// required them; one created before (or with no profile at all) answers
// what it has, and the answer leaves the rest out rather than make it up.
func unmarshalProfile(b []byte, p any) error {
	if len(b) == 0 {
		return nil
	}
	return jsonv2.Unmarshal(b, p, jsonv1.DefaultOptionsV1())
}

func rootUserResponse(u *core.User) rootUserOut {
	return rootUserOut{
		ID:            identityIDJSON{Type: string(u.IdentityType), ID: u.IdentityID},
		Name:          u.Name,
		Surname:       u.Surname,
		Email:         u.Email,
		Mobile:        mobileOut(u.Mobile),
		Active:        u.Active,
		EmailVerified: u.EmailVerified,
		DateOfBirth:   dateOut(u.DateOfBirth),
		Tag:           u.Tag,
		Locale:        u.Locale,
		Brand:         u.Brand,
	}
}

// Consumer shapes (Weavr ConsumerCreateRequest / Consumer).
type (
	consumerRootUserIn struct {
		rootUserIn
		Occupation   string       `json:"occupation,omitempty" empty:"IN"`
		Address      *addressJSON `json:"address,omitempty"`
		PlaceOfBirth string       `json:"placeOfBirth,omitempty"`
		Nationality  string       `json:"nationality,omitempty" empty:"REGEX"`
	}
	consumerCreateRequest struct {
		identityCommon
		RootUser *consumerRootUserIn `json:"rootUser"`
	}
	consumerProfile struct {
		identityCommon
		Occupation   string       `json:"occupation,omitempty"`
		Address      *addressJSON `json:"address,omitempty"`
		PlaceOfBirth string       `json:"placeOfBirth,omitempty"`
		Nationality  string       `json:"nationality,omitempty"`
	}
	consumerOut struct {
		ID       identityIDJSON `json:"id"`
		RootUser rootUserOut    `json:"rootUser"`
		identityCommon
		CreationTimestamp int64 `json:"creationTimestamp"`
	}
)

// consumerCreate implements Weavr consumerCreate.
func (s *Server) consumerCreate(r *request) (reply, error) {
	var in consumerCreateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.common(&in.identityCommon, "profileId", "ipAddress")
	f.oneOf("sourceOfFunds", in.SourceOfFunds, consumerFunds...)
	if in.RootUser == nil {
		f.rootUser(nil)
	} else {
		u := in.RootUser
		f.rootUser(&u.rootUserIn)
		if u.DateOfBirth == nil {
			f.add("rootUser.dateOfBirth", core.ReasonRequired)
		}
		f.oneOf("rootUser.occupation", u.Occupation, occupations...)
		if u.Address == nil {
			f.add("rootUser.address", core.ReasonRequired)
		}
		f.address("rootUser.address", u.Address, "country")
		f.size("rootUser.placeOfBirth", u.PlaceOfBirth, 1, 100)
		f.pattern("rootUser.nationality", u.Nationality, reCountry)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	u := in.RootUser
	prof, err := json.Marshal(consumerProfile{identityCommon: in.identityCommon, Occupation: u.Occupation, Address: u.Address, PlaceOfBirth: u.PlaceOfBirth, Nationality: u.Nationality})
	if err != nil {
		return reply{}, err
	}
	ident, root, err := s.svc.CreateIdentity(answering(r, consumerCreated), r.prog, core.NewIdentity{Type: core.Consumer, Profile: prof, Root: u.details(), LinkTo: r.caller})
	if err != nil {
		return reply{}, err
	}
	return consumerCreated(&core.IdentityView{Identity: ident, Root: root})
}

// consumerCreated answers consumerCreate.
func consumerCreated(v *core.IdentityView) (reply, error) {
	out, err := consumerResponse(v.Identity, v.Root)
	if err != nil {
		return reply{}, err
	}
	return ok(out)
}

// consumerGet implements Weavr consumerGet for the signed-in identity.
func (s *Server) consumerGet(r *request) (reply, error) {
	if err := identityTypeIs(r, core.Consumer); err != nil {
		return reply{}, err
	}
	v, err := s.svc.Identity(r.Context(), r.caller)
	if err != nil {
		return reply{}, err
	}
	out, err := consumerResponse(v.Identity, v.Root)
	if err != nil {
		return reply{}, err
	}
	out.RootUser.MobileNumberVerified = v.MobileVerified
	return ok(out)
}

func consumerResponse(ident *core.Identity, root *core.User) (*consumerOut, error) {
	var p consumerProfile
	if err := unmarshalProfile(ident.Profile, &p); err != nil {
		return nil, fmt.Errorf("consumer %s profile: %w", ident.ID, err)
	}
	out := &consumerOut{
		ID:                identityIDJSON{Type: string(core.Consumer), ID: ident.ID},
		RootUser:          rootUserResponse(root),
		identityCommon:    p.identityCommon,
		CreationTimestamp: ident.CreatedAt.UnixMilli(),
	}
	out.RootUser.Occupation, out.RootUser.Address = p.Occupation, p.Address
	out.RootUser.PlaceOfBirth, out.RootUser.Nationality = p.PlaceOfBirth, p.Nationality
	return out, nil
}

// rootPatchRequest is the part of Weavr's CorporateUpdateRequest and
// ConsumerUpdateRequest that changes the root user. resetMobileCounter is
// accepted and ignored: the mobile change limit is not the identity's to lift.
type rootPatchRequest struct {
	Name               *string     `json:"name"`
	Surname            *string     `json:"surname"`
	Email              *string     `json:"email"`
	Mobile             *mobileJSON `json:"mobile"`
	DateOfBirth        *dateJSON   `json:"dateOfBirth"`
	UserTag            *string     `json:"userTag" empty:"REGEX"`
	Locale             *string     `json:"locale" empty:"REGEX"`
	Brand              *string     `json:"brand" empty:"REGEX"`
	ResetMobileCounter *bool       `json:"resetMobileCounter"`
}

// identityPatch holds the identity's own fields both update requests share,
// kept in its profile; only those present change.
type identityPatch struct {
	Tag                *string `json:"tag" empty:"REGEX"`
	BaseCurrency       *string `json:"baseCurrency" empty:"REGEX"`
	FeeGroup           *string `json:"feeGroup"`
	SourceOfFunds      *string `json:"sourceOfFunds" empty:"IN"`
	SourceOfFundsOther *string `json:"sourceOfFundsOther"`
}

// check checks the fields present as identity creation does; funds are the
// identity kind's sources of funds.
func (p *identityPatch) check(f *fields, funds []string) {
	f.common(&identityCommon{Tag: deref(p.Tag), BaseCurrency: deref(p.BaseCurrency), FeeGroup: deref(p.FeeGroup),
		SourceOfFundsOther: deref(p.SourceOfFundsOther)})
	if p.BaseCurrency != nil && *p.BaseCurrency == "" {
		// Weavr's Currency is three letters: a blank one would leave a
		// corporate without the baseCurrency its answer requires.
		f.add("baseCurrency", core.ReasonRegex, reCurrency.String())
	}
	f.oneOf("sourceOfFunds", deref(p.SourceOfFunds), funds...)
}

func (p *identityPatch) present() bool {
	return p.Tag != nil || p.BaseCurrency != nil || p.FeeGroup != nil || p.SourceOfFunds != nil || p.SourceOfFundsOther != nil
}

func (p *identityPatch) apply(c *identityCommon) {
	set(&c.Tag, p.Tag)
	set(&c.BaseCurrency, p.BaseCurrency)
	set(&c.FeeGroup, p.FeeGroup)
	set(&c.SourceOfFunds, p.SourceOfFunds)
	set(&c.SourceOfFundsOther, p.SourceOfFundsOther)
}

// set copies v into dst when v is present.
func set(dst, v *string) {
	if v != nil {
		*dst = *v
	}
}

// editProfile is a core.ProfileEdit decoding the profile into a value of
// type P, changing it with change and encoding it again.
func editProfile[P any](change func(*P)) core.ProfileEdit {
	return func(old json.RawMessage) (json.RawMessage, error) {
		var p P
		if err := unmarshalProfile(old, &p); err != nil {
			return nil, fmt.Errorf("identity profile: %w", err)
		}
		change(&p)
		return json.Marshal(p)
	}
}

// identityUpdate is the body of corporateUpdate or consumerUpdate.
type identityUpdate interface {
	rootPatch() *rootPatchRequest
	// check adds the problems of the identity's own fields to f.
	check(f *fields)
	// profileEdit edits the profile with the identity's own fields (nil: none present).
	profileEdit() core.ProfileEdit
}

// corporatePatchRequest is Weavr's CorporateUpdateRequest.
type corporatePatchRequest struct {
	rootPatchRequest
	identityPatch
	CompanyBusinessAddress *addressJSON `json:"companyBusinessAddress"`
	Industry               *string      `json:"industry" empty:"IN"`
}

func (in *corporatePatchRequest) rootPatch() *rootPatchRequest { return &in.rootPatchRequest }

func (in *corporatePatchRequest) check(f *fields) {
	in.identityPatch.check(f, corporateFunds)
	f.oneOf("industry", deref(in.Industry), industries...)
	f.address("companyBusinessAddress", in.CompanyBusinessAddress, "addressLine1", "city", "postCode", "country")
}

func (in *corporatePatchRequest) profileEdit() core.ProfileEdit {
	if !in.present() && in.CompanyBusinessAddress == nil && in.Industry == nil {
		return nil
	}
	return editProfile(func(p *corporateProfile) {
		in.apply(&p.identityCommon)
		set(&p.Industry, in.Industry)
		if in.CompanyBusinessAddress != nil {
			if p.Company == nil {
				p.Company = &companyIn{}
			}
			p.Company.BusinessAddress = in.CompanyBusinessAddress
		}
	})
}

// consumerPatchRequest is Weavr's ConsumerUpdateRequest.
type consumerPatchRequest struct {
	rootPatchRequest
	identityPatch
	Address      *addressJSON `json:"address"`
	Nationality  *string      `json:"nationality" empty:"REGEX"`
	Occupation   *string      `json:"occupation" empty:"IN"`
	PlaceOfBirth *string      `json:"placeOfBirth"`
}

func (in *consumerPatchRequest) rootPatch() *rootPatchRequest { return &in.rootPatchRequest }

func (in *consumerPatchRequest) check(f *fields) {
	in.identityPatch.check(f, consumerFunds)
	f.oneOf("occupation", deref(in.Occupation), occupations...)
	f.address("address", in.Address, "country")
	f.size("placeOfBirth", deref(in.PlaceOfBirth), 1, 100)
	f.pattern("nationality", deref(in.Nationality), reCountry)
}

func (in *consumerPatchRequest) profileEdit() core.ProfileEdit {
	if !in.present() && in.Address == nil && in.Nationality == nil && in.Occupation == nil && in.PlaceOfBirth == nil {
		return nil
	}
	return editProfile(func(p *consumerProfile) {
		in.apply(&p.identityCommon)
		set(&p.Occupation, in.Occupation)
		set(&p.Nationality, in.Nationality)
		set(&p.PlaceOfBirth, in.PlaceOfBirth)
		if in.Address != nil {
			p.Address = in.Address
		}
	})
}

// corporateUpdate implements Weavr corporateUpdate.
func (s *Server) corporateUpdate(r *request) (reply, error) {
	return s.rootUpdate(r, core.Corporate, &corporatePatchRequest{}, func(v *core.IdentityView) (reply, error) {
		out, err := corporateResponse(v.Identity, v.Root)
		if err != nil {
			return reply{}, err
		}
		out.RootUser.MobileNumberVerified = v.MobileVerified
		return ok(out)
	})
}

// consumerUpdate implements Weavr consumerUpdate.
func (s *Server) consumerUpdate(r *request) (reply, error) {
	return s.rootUpdate(r, core.Consumer, &consumerPatchRequest{}, func(v *core.IdentityView) (reply, error) {
		out, err := consumerResponse(v.Identity, v.Root)
		if err != nil {
			return reply{}, err
		}
		out.RootUser.MobileNumberVerified = v.MobileVerified
		return ok(out)
	})
}

// maxRootNameUpdate bounds a root user's new name and surname in Weavr's
// corporateUpdate and consumerUpdate, narrower than userUpdate's
// (fieldrules.MaxNameLength), as is rePersonName.
const maxRootNameUpdate = 20

// rootName checks a root user's new name or surname against Weavr's
// corporateUpdate and consumerUpdate rules. It returns v, or nil when it
// refused v, so that userUpdate's own checks do not name the field again.
func (f *fields) rootName(field string, v *string) *string {
	if v == nil {
		return nil
	}
	before := len(f.errs)
	f.size(field, *v, 1, maxRootNameUpdate)
	f.pattern(field, *v, rePersonName)
	if len(f.errs) > before {
		return nil
	}
	return v
}

// rootUpdate updates the identity of type typ the caller belongs to, decoding
// the request into body: its root user with core's UpdateRootUser, under
// exactly the rules of PATCH /multi/users/{id} (rank, step-up for a changed
// email or mobile, the mobile change limit, the revocation policy's notices),
// and its profile in the same transaction. It answers with answer.
func (s *Server) rootUpdate(r *request, typ core.IdentityType, body identityUpdate, answer func(*core.IdentityView) (reply, error)) (reply, error) {
	if err := identityTypeIs(r, typ); err != nil {
		return reply{}, err
	}
	if err := decodeJSON(r.body, body); err != nil {
		return reply{}, err
	}
	in := body.rootPatch()
	var f fields
	f.size("userTag", deref(in.UserTag), 1, fieldrules.MaxNameLength)
	f.pattern("userTag", deref(in.UserTag), reTag)
	body.check(&f)
	common := userPatchRequest{Name: f.rootName("name", in.Name), Surname: f.rootName("surname", in.Surname), Email: in.Email, Mobile: in.Mobile,
		DateOfBirth: in.DateOfBirth, Locale: in.Locale, Brand: in.Brand}
	patch := common.patch(&f)
	patch.Tag = in.UserTag
	if err := f.err(); err != nil {
		return reply{}, err
	}
	v, err := s.svc.Identity(r.Context(), r.caller)
	if err != nil {
		return reply{}, err
	}
	// The answer shows the profile as the update's transaction read (and
	// edited) it, not as v, read before, had it: a change committed in
	// between would be missing from the answer and from its replays. An
	// edit that returns the profile unchanged writes nothing.
	ident := *v.Identity
	inner := body.profileEdit()
	edit := func(old json.RawMessage) (json.RawMessage, error) {
		prof := old
		if inner != nil {
			var err error
			if prof, err = inner(old); err != nil {
				return nil, err
			}
		}
		ident.Profile = prof
		return prof, nil
	}
	answerUser := func(u *core.User) (reply, error) {
		verified := v.MobileVerified && u.Mobile != nil && v.Root.Mobile != nil && *u.Mobile == *v.Root.Mobile
		return answer(&core.IdentityView{Identity: &ident, Root: u, MobileVerified: verified})
	}
	u, err := s.svc.UpdateRootUser(answering(r, answerUser), r.caller, patch, edit)
	if err != nil {
		return reply{}, err
	}
	return answerUser(u)
}
