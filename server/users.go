package server

import (
	"math"
	"net/url"
	"slices"
	"strconv"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/fieldrules"
	"github.com/deputyhq/deputy/kycsig"
)

// userJSON is Weavr's User.
type userJSON struct {
	ID                 string         `json:"id"`
	Identity           identityIDJSON `json:"identity"`
	Name               string         `json:"name"`
	Surname            string         `json:"surname"`
	Email              string         `json:"email"`
	Mobile             *mobileJSON    `json:"mobile,omitempty"`
	Active             bool           `json:"active"`
	DateOfBirth        *dateJSON      `json:"dateOfBirth,omitempty"`
	Tag                string         `json:"tag,omitempty"`
	CountryOfResidence string         `json:"countryOfResidence,omitempty"`
	Locale             string         `json:"locale,omitempty"`
	Brand              string         `json:"brand,omitempty"`
	Roles              []string       `json:"roles,omitempty"`
	// Deputy extension fields, in usersGet only.
	InvitePending bool `json:"invitePending,omitempty"`
	Locked        bool `json:"locked,omitempty"`
}

func userResponse(u *core.User) userJSON {
	out := userJSON{
		ID: u.ID, Identity: identityIDJSON{Type: string(u.IdentityType), ID: u.IdentityID},
		Name: u.Name, Surname: u.Surname, Email: u.Email, Mobile: mobileOut(u.Mobile), Active: u.Active,
		DateOfBirth: dateOut(u.DateOfBirth), Tag: u.Tag, CountryOfResidence: u.CountryOfResidence, Locale: u.Locale, Brand: u.Brand,
	}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return out
}

type userCreateRequest struct {
	Name               string      `json:"name"`
	Surname            string      `json:"surname"`
	Email              string      `json:"email"`
	Mobile             *mobileJSON `json:"mobile,omitempty"`
	DateOfBirth        *dateJSON   `json:"dateOfBirth,omitempty"`
	Tag                string      `json:"tag,omitempty" empty:"REGEX"`
	CountryOfResidence string      `json:"countryOfResidence,omitempty" empty:"REGEX"`
	Locale             string      `json:"locale,omitempty" empty:"REGEX"`
	Brand              string      `json:"brand,omitempty" empty:"REGEX"`
	Roles              []string    `json:"roles,omitempty"`
}

var roleNames = func() []string {
	var out []string
	for _, r := range core.Roles() {
		out = append(out, string(r.Role))
	}
	return out
}()

// roles checks a role list against the predefined roles and keeps each
// once, as core does (a role listed twice grants nothing more), so that
// what a bulk stores of a row is no bigger than the user it asks for.
func (f *fields) roles(field string, rs []string) []core.Role {
	var out []core.Role
	for _, r := range rs {
		if slices.Contains(out, core.Role(r)) {
			continue
		}
		f.oneOf(field, r, roleNames...)
		if r == "" {
			f.add(field, core.ReasonIn, roleNames...)
		}
		out = append(out, core.Role(r))
	}
	return out
}

// userFields checks the optional personal fields shared by create and update.
func (f *fields) userFields(tag, locale, brand, country string, m *mobileJSON, d *dateJSON) {
	f.tag("tag", tag)
	f.pattern("locale", locale, reLocale)
	f.size("brand", brand, 1, 25)
	f.pattern("brand", brand, reBrand)
	f.pattern("countryOfResidence", country, reCountry)
	f.mobile("mobile", m)
	f.date("dateOfBirth", d)
}

// userCreate implements Weavr userCreate.
func (s *Server) userCreate(r *request) (reply, error) {
	var in userCreateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	nu := in.check(&f)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	u, err := s.svc.CreateUser(answering(r, userAnswer), r.caller, nu)
	if err != nil {
		return reply{}, err
	}
	return userAnswer(u)
}

// check checks a userCreate body into f and returns the user it asks for:
// the one check of the single call and of each row of a bulk.
func (in *userCreateRequest) check(f *fields) core.NewUser {
	if f.required("name", in.Name) {
		f.size("name", in.Name, 1, fieldrules.MaxNameLength)
	}
	if f.required("surname", in.Surname) {
		f.size("surname", in.Surname, 1, fieldrules.MaxNameLength)
	}
	f.email("email", in.Email)
	f.userFields(in.Tag, in.Locale, in.Brand, in.CountryOfResidence, in.Mobile, in.DateOfBirth)
	return core.NewUser{
		UserDetails: core.UserDetails{
			Name: in.Name, Surname: in.Surname, Email: in.Email, Mobile: in.Mobile.core(), DateOfBirth: in.DateOfBirth.core(),
			Tag: in.Tag, Locale: in.Locale, Brand: in.Brand, CountryOfResidence: in.CountryOfResidence,
		},
		Roles: f.roles("roles", in.Roles),
	}
}

// userCreateBody is the userCreate body that asks for nu.
func userCreateBody(nu *core.NewUser) userCreateRequest {
	out := userCreateRequest{Name: nu.Name, Surname: nu.Surname, Email: nu.Email, Mobile: mobileOut(nu.Mobile),
		DateOfBirth: dateOut(nu.DateOfBirth), Tag: nu.Tag, CountryOfResidence: nu.CountryOfResidence, Locale: nu.Locale, Brand: nu.Brand}
	for _, r := range nu.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return out
}

// userAnswer answers userCreate and userUpdate.
func userAnswer(u *core.User) (reply, error) { return ok(userResponse(u)) }

type usersResponse struct {
	Users         []userJSON `json:"users"`
	Count         int        `json:"count"`
	ResponseCount int        `json:"responseCount"`
}

// usersGet implements Weavr usersGet.
func (s *Server) usersGet(r *request) (reply, error) {
	q := r.URL.Query()
	var f fields
	filter := core.UserFilter{
		Offset: queryOffset(&f, q),
		Limit:  queryInt(&f, q, "limit", 100, 1, 100),
		Tag:    q.Get("tag"),
		Email:  q.Get("email"),
		Search: q.Get("search"),
		Roles:  f.roles("roles", q["roles"]),
	}
	if v := q.Get("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.add("active", core.ReasonIn, "true", "false")
		}
		filter.Active = &b
	}
	if filter.Email != "" {
		f.email("email", filter.Email)
	}
	// tag is any text (Weavr's query schema is a plain string): one that no
	// user's tag can be (fields.tag) matches nobody, an empty page.
	if err := f.err(); err != nil {
		return reply{}, err
	}
	page, err := s.svc.ListUsers(r.Context(), r.caller, filter)
	if err != nil {
		return reply{}, err
	}
	out := usersResponse{Users: make([]userJSON, 0, len(page.Users)), Count: page.Count, ResponseCount: len(page.Users)}
	for _, u := range page.Users {
		j := userResponse(u)
		j.InvitePending, j.Locked = page.Marks[u.ID].InvitePending, page.Marks[u.ID].Locked
		out.Users = append(out.Users, j)
	}
	return ok(out)
}

// queryInt reads an optional integer query parameter within [min, max].
func queryInt(f *fields, q url.Values, name string, def, min, max int) int {
	v := q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		f.add(name, core.ReasonRange, strconv.Itoa(min), strconv.Itoa(max))
		return def
	}
	return n
}

// maxOffset is the greatest offset a list reads from: past every list.
const maxOffset = 1<<31 - 1

// queryOffset reads the optional offset query parameter of Weavr's lists,
// which has no maximum: any offset past maxOffset reads as maxOffset, where
// the page is empty.
func queryOffset(f *fields, q url.Values) int {
	return min(queryInt(f, q, "offset", 0, 0, math.MaxInt), maxOffset)
}

// querySequence reads bulkIdOperations' optional sequence (Weavr: any
// int64); one that no operation can have selects none (-1), not all (0).
func querySequence(f *fields, q url.Values) int {
	if q.Get("sequence") == "" {
		return 0
	}
	n := queryInt(f, q, "sequence", 0, math.MinInt, math.MaxInt)
	if n < 1 || n > core.MaxBulkOperations {
		return -1
	}
	return n
}

// userGetByID implements Weavr userGetById.
func (s *Server) userGetByID(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	u, err := s.svc.GetUser(r.Context(), r.caller, id)
	if err != nil {
		return reply{}, err
	}
	return ok(userResponse(u))
}

type userPatchRequest struct {
	Name        *string     `json:"name"`
	Surname     *string     `json:"surname"`
	Email       *string     `json:"email"`
	Mobile      *mobileJSON `json:"mobile"`
	DateOfBirth *dateJSON   `json:"dateOfBirth"`
	Tag         *string     `json:"tag" empty:"REGEX"`
	Locale      *string     `json:"locale" empty:"REGEX"`
	Brand       *string     `json:"brand" empty:"REGEX"`
	Roles       *[]string   `json:"roles"`
}

// patch checks the fields of a user update but its roles, adding the
// problems to f, and returns them as a core.UserPatch.
func (in *userPatchRequest) patch(f *fields) core.UserPatch {
	for name, v := range map[string]*string{"name": in.Name, "surname": in.Surname} {
		if v != nil && f.required(name, *v) {
			f.size(name, *v, 1, fieldrules.MaxNameLength)
		}
	}
	if in.Email != nil {
		f.email("email", *in.Email)
	}
	f.userFields(deref(in.Tag), deref(in.Locale), deref(in.Brand), "", in.Mobile, in.DateOfBirth)
	return core.UserPatch{
		Name: in.Name, Surname: in.Surname, Email: in.Email, Tag: in.Tag, Locale: in.Locale, Brand: in.Brand,
		Mobile: in.Mobile.core(), DateOfBirth: in.DateOfBirth.core(),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// userUpdate implements Weavr userUpdate.
func (s *Server) userUpdate(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	var in userPatchRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	patch := in.patch(&f)
	if in.Roles != nil {
		roles := f.roles("roles", *in.Roles)
		if roles == nil {
			roles = []core.Role{}
		}
		patch.Roles = &roles
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	u, err := s.svc.UpdateUser(answering(r, userAnswer), r.caller, id, patch)
	if err != nil {
		return reply{}, err
	}
	return userAnswer(u)
}

// userSetActive implements Weavr userActivate and userDeactivate.
func (s *Server) userSetActive(active bool) endpoint {
	return func(r *request) (reply, error) {
		id, err := userIDParam(r)
		if err != nil {
			return reply{}, err
		}
		if err := s.svc.SetUserActive(r.Context(), r.caller, id, active); err != nil {
			return reply{}, err
		}
		return noContent()
	}
}

// userInviteSend implements Weavr userInviteSend.
func (s *Server) userInviteSend(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.svc.SendInvite(answering(r, noResult), r.caller, id); err != nil {
		return reply{}, err
	}
	return noContent()
}

// userDeviceReset serves the Deputy extension POST /multi/users/{user_id}/device/reset.
func (s *Server) userDeviceReset(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.svc.ResetUserDevice(answering(r, noResult), r.caller, id); err != nil {
		return reply{}, err
	}
	return noContent()
}

type inviteValidateRequest struct {
	InviteCode string `json:"inviteCode"`
}

type inviteConsumeRequest struct {
	InviteCode string        `json:"inviteCode"`
	Password   *passwordJSON `json:"password"`
	Mobile     *mobileJSON   `json:"mobile"`
}

func (f *fields) nonce(field, v string) {
	if f.required(field, v) {
		f.pattern(field, v, reNonce)
	}
}

// inviteCode checks an invite code: URL-safe characters, 43 of them from
// core outside sandbox, Weavr's six digits in sandbox.
func (f *fields) inviteCode(field, v string) {
	if f.required(field, v) {
		f.pattern(field, v, reInviteCode)
	}
}

// userInviteValidate implements Weavr userInviteValidate.
func (s *Server) userInviteValidate(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	var in inviteValidateRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.inviteCode("inviteCode", in.InviteCode)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.ValidateInvite(r.Context(), r.prog, id, in.InviteCode, s.inviteClient(r)); err != nil {
		return reply{}, err
	}
	return noContent()
}

// inviteClient is the client address invite checks are budgeted by: the
// caller's with the public ui key (an invite page or the companion on the
// invitee's device); none with the secret key, whose caller is the embedder's
// backend, one address for all its users.
func (s *Server) inviteClient(r *request) string {
	if r.key == core.SecretKey {
		return ""
	}
	return s.clientIP(r.Request)
}

// userInviteConsume implements Weavr userInviteConsume.
func (s *Server) userInviteConsume(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	var in inviteConsumeRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.inviteCode("inviteCode", in.InviteCode)
	f.password("password", in.Password)
	f.mobile("mobile", in.Mobile)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	plain, err := s.passwordToSet(r, "password", in.Password)
	if err != nil {
		return reply{}, err
	}
	out, err := s.svc.ConsumeInvite(answering(r, inviteConsumed), r.prog, id, in.InviteCode, plain, in.Mobile.core(), s.inviteClient(r))
	if err != nil {
		return reply{}, err
	}
	return inviteConsumed(out)
}

// inviteConsumed answers userInviteConsume: the new session's token.
func inviteConsumed(out *core.PasswordSet) (reply, error) { return ok(tokenResponse{Token: out.Token}) }

type emailVerifyRequest struct {
	Email            string `json:"email"`
	VerificationCode string `json:"verificationCode"`
}

// emailVerificationSend implements Weavr authorisedUserEmailVerificationCodeSend
// (any user's email) and, with scope.RootOf, corporateRootUserEmailVerificationCodeSend
// and consumerRootUserEmailVerificationCodeSend.
func (s *Server) emailVerificationSend(scope core.EmailScope) endpoint {
	return func(r *request) (reply, error) {
		email, err := emailBody(r)
		if err != nil {
			return reply{}, err
		}
		if err := s.svc.SendEmailVerification(answering(r, noResult), r.prog, scope, email); err != nil {
			return reply{}, err
		}
		return noContent()
	}
}

// emailVerify implements Weavr authorisedUserEmailVerify and, with
// scope.RootOf, corporateRootUserEmailVerify and consumerRootUserEmailVerify.
func (s *Server) emailVerify(scope core.EmailScope) endpoint {
	return func(r *request) (reply, error) { return s.verifyEmail(r, scope) }
}

func (s *Server) verifyEmail(r *request, scope core.EmailScope) (reply, error) {
	var in emailVerifyRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.email("email", in.Email)
	f.nonce("verificationCode", in.VerificationCode)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.VerifyEmail(r.Context(), r.prog, scope, in.Email, in.VerificationCode); err != nil {
		return reply{}, err
	}
	return noContent()
}

type kycResponse struct {
	Reference string `json:"reference"`
}

// userKYC implements Weavr userKyc for the signed-in authorised user.
func (s *Server) userKYC(r *request) (reply, error) {
	k, err := s.svc.StartKYC(r.Context(), r.caller)
	if err != nil {
		return reply{}, err
	}
	return ok(kycResponse{Reference: k.Reference})
}

type roleJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// rolesGet implements Weavr rolesGet.
func (s *Server) rolesGet(r *request) (reply, error) {
	roles, err := s.svc.ListRoles(r.caller)
	if err != nil {
		return reply{}, err
	}
	out := make([]roleJSON, 0, len(roles))
	for _, ri := range roles {
		out = append(out, roleJSON{ID: ri.ID, Name: string(ri.Role), Description: ri.Description})
	}
	return ok(out)
}

type inviteStatusJSON struct {
	State     string `json:"state"`
	ExpiresAt int64  `json:"expiresAt"`
}

type kycStatusJSON struct {
	Status    string `json:"status"`
	Reference string `json:"reference"`
}

type userStatusResponse struct {
	EmailVerified bool              `json:"emailVerified"`
	PasswordSet   bool              `json:"passwordSet"`
	Locked        bool              `json:"locked"`
	LockedUntil   int64             `json:"lockedUntil,omitempty"`
	Invite        *inviteStatusJSON `json:"invite,omitempty"`
	KYC           *kycStatusJSON    `json:"kyc,omitempty"`
	Factors       []factorJSON      `json:"factors,omitempty"`
}

// userStatus serves the Deputy extension GET /multi/users/{user_id}/status.
func (s *Server) userStatus(r *request) (reply, error) {
	id, err := userIDParam(r)
	if err != nil {
		return reply{}, err
	}
	st, err := s.svc.UserStatus(r.Context(), r.caller, id)
	if err != nil {
		return reply{}, err
	}
	now := s.svc.Now()
	out := userStatusResponse{EmailVerified: st.User.EmailVerified, PasswordSet: st.User.PasswordSet, Locked: st.User.Locked(now)}
	if out.Locked {
		out.LockedUntil = st.User.LockedUntil.UnixMilli()
	}
	if inv := st.Invite; inv != nil {
		state := string(inv.State)
		if inv.Expired(now) {
			state = "EXPIRED"
		}
		out.Invite = &inviteStatusJSON{State: state, ExpiresAt: inv.ExpiresAt.UnixMilli()}
	}
	if k := st.KYC; k != nil {
		out.KYC = &kycStatusJSON{Status: string(k.Status), Reference: k.Reference}
	}
	out.Factors = factorsJSON(st.Factors)
	return ok(out)
}

type kycDecisionRequest struct {
	Reference string `json:"reference"`
	Status    string `json:"status"`
}

// kycCallback takes a KYC provider's signed decision (Deputy extension).
func (s *Server) kycCallback(r *request) (reply, error) {
	if err := kycsig.Verify(s.kycSecret, r.Header.Get(kycsig.Header), r.body, s.svc.Now()); err != nil {
		return reply{}, &core.Error{Class: core.ErrUnauthenticated, Message: "The KYC callback signature is missing, stale or wrong."}
	}
	var in kycDecisionRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("reference", in.Reference) {
		f.pattern("reference", in.Reference, reDigits)
	}
	if f.required("status", in.Status) {
		f.oneOf("status", in.Status, string(core.KYCApproved), string(core.KYCRejected))
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.DecideKYC(r.Context(), r.prog, in.Reference, core.KYCStatus(in.Status)); err != nil {
		return reply{}, err
	}
	return noContent()
}

type sandboxKYCRequest struct {
	Status string `json:"status"`
}

// sandboxKYC decides a sandbox KYC case, as the sandbox provider's reviewer.
func (s *Server) sandboxKYC(r *request) (reply, error) {
	ref := r.PathValue("reference")
	var in sandboxKYCRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.pattern("reference", ref, reDigits)
	if f.required("status", in.Status) {
		f.oneOf("status", in.Status, string(core.KYCApproved), string(core.KYCRejected))
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.DecideKYC(r.Context(), r.prog, ref, core.KYCStatus(in.Status)); err != nil {
		return reply{}, err
	}
	return noContent()
}
