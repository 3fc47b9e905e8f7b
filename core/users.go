package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deputyhq/deputy/fieldrules"
)

// Machine codes of the user operations (Weavr userCreate, userUpdate ...).
const (
	CodeCannotModifyOwnRoles = "CANNOT_MODIFY_OWN_ROLES"
	CodeAdminRoleRemoval     = "ADMIN_ROLE_REMOVAL_NOT_ALLOWED"
	CodeMobileChangeLimit    = "MOBILE_NO_CHANGE_LIMIT_EXCEEDED"
	CodeRoleNotFound         = "ROLE_NOT_FOUND"
	// CodeCountryOfResidenceInvalid refuses a countryOfResidence that names
	// no country (fieldrules.ValidCountry).
	CodeCountryOfResidenceInvalid = "COUNTRY_OF_RESIDENCE_INVALID"
	// CodeMobileOrCountryCodeInvalid refuses a mobile whose country code is
	// in no use or whose number no number under it can be
	// (fieldrules.PossibleMobile).
	CodeMobileOrCountryCodeInvalid = "MOBILE_OR_COUNTRY_CODE_INVALID"
	maxMobileChanges               = 3
	maxListLimit                   = 100
	defaultListLimit               = 100
)

// NewUser is what it takes to create an authorised user.
type NewUser struct {
	UserDetails
	Roles []Role
}

// CreateUser creates an authorised user in the caller's identity (Weavr
// userCreate). It needs i:users:create, a stepped-up session and, by the rank
// rule, every permission the new user's roles grant.
func (s *Service) CreateUser(ctx context.Context, c *Caller, in NewUser) (*User, error) {
	w, err := s.createUserWork(c, in)
	if err != nil {
		return nil, err
	}
	if err := s.updateAs(ctx, c, func(tx Tx) error { return w.in(ctx, tx) }); err != nil {
		return nil, internal("create user", err)
	}
	return w.result.(*User), nil
}

// createUserWork is CreateUser's work: its checks, then its transaction.
func (s *Service) createUserWork(c *Caller, in NewUser) (*work, error) {
	if err := require(c, PermUsersCreate); err != nil {
		return nil, err
	}
	if err := requireUserDetails("", in.UserDetails); err != nil {
		return nil, err
	}
	roles, err := validRoles(in.Roles)
	if err != nil {
		return nil, err
	}
	if country := in.CountryOfResidence; country != "" && !fieldrules.ValidCountry(country) {
		return nil, Conflict(CodeCountryOfResidenceInvalid)
	}
	if err := requireRank(c, &User{Roles: roles}); err != nil {
		return nil, err
	}
	w := &work{}
	w.in = func(ctx context.Context, tx Tx) error {
		u := newUser(c.User.ProgrammeID, c.User.IdentityType, in.UserDetails, s.clock.Now())
		u.IdentityID, u.Roles = c.User.IdentityID, roles
		if err := s.stepUp(tx, c, createUserOp(u)); err != nil {
			return err
		}
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		u.ID = id
		if err := noRootHasEmail(tx, u); err != nil {
			return err
		}
		if err := tx.InsertUser(u); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return Conflict(CodeEmailNotUnique)
			}
			return err
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, c.User.ID, "user.create", id, map[string]string{"roles": joinRoles(roles)}); err != nil {
			return err
		}
		w.result = u
		return s.finishIdempotent(ctx, tx, u)
	}
	return w, nil
}

// work is an operation split where a bulk needs it (bulks.go): in is its
// transaction, which a bulk runs together with other operations' in one
// store transaction; after, if set, is what it does once that commits
// (an email). The single call runs in in a transaction of its own, then
// after. result is in's outcome, valid once the transaction commits.
type work struct {
	in     func(ctx context.Context, tx Tx) error
	after  func(ctx context.Context) error
	result any
}

// validRoles checks a role list (predefined roles only) and drops repeats.
func validRoles(roles []Role) ([]Role, error) {
	var out []Role
	for _, r := range roles {
		if !ValidRole(r) {
			return nil, Conflict(CodeRoleNotFound)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// sameRoles reports whether two role lists hold the same roles.
func sameRoles(a, b []Role) bool {
	return !slices.ContainsFunc(a, func(r Role) bool { return !slices.Contains(b, r) }) &&
		!slices.ContainsFunc(b, func(r Role) bool { return !slices.Contains(a, r) })
}

// raisesPrivilege reports whether a role change gives the user a permission
// their old roles did not (ADMIN, or no roles at all, give every one): such a
// change needs a stepped-up session, like creating a user. Taking
// permissions away needs none.
func raisesPrivilege(old, roles []Role) bool {
	return !holdsAllOf(&User{Roles: old}, &User{Roles: roles})
}

func joinRoles(rs []Role) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ","
		}
		s += string(r)
	}
	return s
}

// UserPage is one page of a user listing.
type UserPage struct {
	Users []*User
	Count int // all matches
	// Marks are what the admin's table shows of each listed user's state,
	// by user id (Deputy extension fields of usersGet).
	Marks map[string]UserMarks
}

// UserMarks are a listed user's state at a glance.
type UserMarks struct {
	InvitePending bool // invited, not yet accepted, not expired
	Locked        bool // sign-in refused after too many failures
}

// MatchesSearch reports whether u's name, surname, full name, email or tag
// contains q, ignoring case: the users table's search (UserFilter.Search).
func MatchesSearch(u *User, q string) bool {
	q = strings.ToLower(strings.TrimSpace(q))
	for _, v := range []string{u.Name, u.Surname, u.Name + " " + u.Surname, u.Email, u.Tag} {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}

// SearchFilter pre-filters the users a store reads for one search
// (UserFilter.Search), so that it decodes only those that may match: MayMatch
// is false only when MatchesSearch is false for the user the data holds.
// It is for one goroutine.
type SearchFilter struct {
	pieces  [][]byte // the query's space-free pieces, lower-cased
	escaped bool     // the query holds a character JSON escapes: no filtering
	buf     []byte
}

// NewSearchFilter returns the pre-filter of the search q.
func NewSearchFilter(q string) *SearchFilter {
	q = strings.ToLower(strings.TrimSpace(q))
	f := &SearchFilter{escaped: strings.ContainsFunc(q, jsonEscaped)}
	// A full name's space may fall inside q: every space-free piece of q is
	// still in one field, and so in the data.
	for piece := range strings.FieldsSeq(q) {
		f.pieces = append(f.pieces, []byte(piece))
	}
	return f
}

// MayMatch reports whether the user stored as data (the JSON the stores
// keep of a User) may match the search.
func (f *SearchFilter) MayMatch(data []byte) bool {
	if f.escaped {
		return true
	}
	lower, ascii := f.buf[:0], true
	for _, c := range data {
		if c >= 0x80 {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	f.buf = lower
	if !ascii { // Unicode case mapping, which may turn other letters into ASCII ones
		lower = bytes.ToLower(data)
	}
	for _, p := range f.pieces {
		if !bytes.Contains(lower, p) {
			return false
		}
	}
	return true
}

// jsonEscaped reports whether encoding/json writes r other than as itself.
func jsonEscaped(r rune) bool {
	return r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
}

// maxSearch is the longest search text: an email's length.
const maxSearch = 254

// ListUsers lists the caller's identity's authorised users (Weavr usersGet),
// with each one's marks for the admin (UserPage.Marks).
func (s *Service) ListUsers(ctx context.Context, c *Caller, f UserFilter) (*UserPage, error) {
	if err := require(c, PermUsersList); err != nil {
		return nil, err
	}
	if f.Offset < 0 {
		return nil, Invalid("offset", ReasonAtLeast, "0")
	}
	if f.Limit == 0 {
		f.Limit = defaultListLimit
	}
	if f.Limit < 1 || f.Limit > maxListLimit {
		return nil, Invalid("limit", ReasonRange, "1", "100")
	}
	if f.Email != "" { // an email Deputy refuses is a 400, not an absent filter
		var err error
		if f.Email, err = CanonicalEmail("email", f.Email); err != nil {
			return nil, err
		}
	}
	for _, r := range f.Roles {
		if !ValidRole(r) {
			return nil, Invalid("roles", ReasonIn)
		}
	}
	if n := utf8.RuneCountInString(f.Search); n > maxSearch || (n > 0 && strings.TrimSpace(f.Search) == "") {
		return nil, Invalid("search", ReasonSize, "1", strconv.Itoa(maxSearch))
	}
	if f.Search != "" {
		budget := newBudget("search", c.Programme.ID, "user:"+c.User.ID, s.cfg.RateLimits.SearchesPerUser)
		if err := s.store.Update(ctx, func(tx Tx) error { return s.spend(tx, budget) }); err != nil {
			return nil, internal("search budget", err)
		}
	}
	page := UserPage{Marks: map[string]UserMarks{}}
	now := s.clock.Now()
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if page.Users, page.Count, err = tx.ListUsers(c.User.IdentityID, f); err != nil {
			return err
		}
		for _, u := range page.Users {
			inv, err := tx.Invite(u.ID)
			switch {
			case errors.Is(err, ErrRecordNotFound):
				inv = nil
			case err != nil:
				return err
			}
			page.Marks[u.ID] = UserMarks{Locked: u.Locked(now),
				InvitePending: inv != nil && inv.State == InvitePending && !inv.Expired(now)}
		}
		return nil
	})
	if err != nil {
		return nil, internal("list users", err)
	}
	return &page, nil
}

// identityUser reads an authorised user of the caller's identity: root users,
// unknown ids and other identities' users are all "not found".
func identityUser(tx ReadTx, c *Caller, id string) (*User, error) {
	u, err := tx.User(id)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && (u.Root || u.IdentityID != c.User.IdentityID)) {
		return nil, NotFound("user")
	}
	return u, err
}

// requireOwnOr checks the caller holds p, or pOwn when acting on themselves.
func requireOwnOr(c *Caller, id string, p, pOwn Permission) error {
	if c.Can(p) || (id == c.User.ID && c.Can(pOwn)) {
		return nil
	}
	return Forbidden(CodeInsufficientPermissions)
}

// GetUser returns an authorised user of the caller's identity (Weavr userGetById).
func (s *Service) GetUser(ctx context.Context, c *Caller, id string) (*User, error) {
	if err := requireOwnOr(c, id, PermUsersGet, PermUsersGetOwn); err != nil {
		return nil, err
	}
	var u *User
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		u, err = identityUser(tx, c, id)
		return err
	})
	if err != nil {
		return nil, internal("get user", err)
	}
	return u, nil
}

// UserPatch is a partial update; nil fields stay as they are.
type UserPatch struct {
	Name, Surname, Email, Tag, Locale, Brand *string
	Mobile                                   *Mobile
	DateOfBirth                              *Date
	Roles                                    *[]Role
}

// UpdateUser applies a partial update (Weavr userUpdate). Changing another
// user's email, mobile or roles follows the rank rule (requireRank), before
// and, for roles, after the change. Changing an email or a mobile, granting
// ADMIN or taking every role away needs a stepped-up session; a user's first
// mobile, set by themselves before any factor, does not (firstMobile). A changed mobile
// makes the SMS factor INACTIVE (it must be enrolled again) and may change at
// most 3 times; a changed email is the user's new login and is no longer verified.
// An email change spends one of the caller's identity's budget
// (RateLimits.EmailChangesPerIdentity) once the step-up is there, even when it
// is refused as another user's sign-in email (emailFree), since that refusal
// tells that the address has an account. A changed email, mobile or set of roles is revoked as the policy says
// (EMAIL_CHANGED, MOBILE_CHANGED or MOBILE_ADDED for a first one, ROLES_CHANGED):
// the user is told, at the old address too.
func (s *Service) UpdateUser(ctx context.Context, c *Caller, id string, p UserPatch) (*User, error) {
	return s.updateUser(ctx, c, id, p, identityUser, nil)
}

// UpdateRootUser applies a partial update to the root user of the caller's
// identity (Weavr corporateUpdate, consumerUpdate: their root-user fields),
// under exactly UpdateUser's rules.
func (s *Service) UpdateRootUser(ctx context.Context, c *Caller, p UserPatch, profile ProfileEdit) (*User, error) {
	return s.updateUser(ctx, c, c.User.IdentityID, p, identityRoot, profile)
}

// ProfileEdit rewrites an identity's profile (its descriptive fields, kept
// verbatim for the API layer) in the transaction of its root user's update.
type ProfileEdit func(old json.RawMessage) (json.RawMessage, error)

// identityRoot reads the root user of the caller's identity, whose id is the identity's.
func identityRoot(tx ReadTx, c *Caller, id string) (*User, error) {
	u, err := tx.User(id)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && (!u.Root || u.IdentityID != c.User.IdentityID)) {
		return nil, NotFound("user")
	}
	return u, err
}

// updateUser is UpdateUser on the user that find reads, editing the profile
// of the user's identity with profile unless it is nil.
func (s *Service) updateUser(ctx context.Context, c *Caller, id string, p UserPatch, find func(ReadTx, *Caller, string) (*User, error), profile ProfileEdit) (*User, error) {
	if err := requireOwnOr(c, id, PermUsersUpdate, PermUsersUpdateOwn); err != nil {
		return nil, err
	}
	if err := checkUserFields("", p); err != nil {
		return nil, err
	}
	var roles []Role
	if p.Roles != nil {
		if id == c.User.ID {
			return nil, Conflict(CodeCannotModifyOwnRoles)
		}
		if err := require(c, PermUsersUpdate); err != nil {
			return nil, err
		}
		var err error
		if roles, err = validRoles(*p.Roles); err != nil {
			return nil, err
		}
	}
	var out *User
	var afters []func()
	var refused error
	err := s.updateAs(ctx, c, func(tx Tx) error {
		afters, refused = nil, nil
		u, err := find(tx, c, id)
		if err != nil {
			return err
		}
		email := ""
		if p.Email != nil {
			email = NormaliseEmail(*p.Email)
		}
		emailChanged := p.Email != nil && email != u.Email
		mobileChanged := p.Mobile != nil && (u.Mobile == nil || *u.Mobile != *p.Mobile)
		rolesChanged := p.Roles != nil && !sameRoles(u.Roles, roles)
		first, err := firstMobile(tx, c, u, mobileChanged)
		if err != nil {
			return err
		}
		if emailChanged || mobileChanged {
			if err := requireOwnSignIn(c, u); err != nil {
				return err
			}
		}
		if emailChanged && u.CredentialsID != "" {
			return errLinkedEmail
		}
		if err := s.checkUserChange(tx, c, u, emailChanged || (mobileChanged && !first), rolesChanged, roles, updateUserOp(u, p, email, roles)); err != nil {
			return err
		}
		if err := kycDetailsFixed(tx, u, p, emailChanged || mobileChanged); err != nil {
			return err
		}
		// Every refusal that rolls back comes before the email's budget and
		// emailFree: after them, a refusal would roll the spend back and
		// tell, for free, that the email was not refused as taken.
		if mobileChanged {
			if err := mobileChangeAllowed(u); err != nil {
				return err
			}
		}
		if emailChanged {
			if err := s.spend(tx, newBudget("email-change", c.Programme.ID, "identity:"+c.User.IdentityID, s.cfg.RateLimits.EmailChangesPerIdentity)); err != nil {
				return err
			}
			if err := emailFree(tx, u, email, CodeEmailNotUnique); err != nil {
				refused = err
				return nil // commit the count alone: refusals must use up the budget too
			}
		}
		var changes []revocation
		now := s.clock.Now()
		details := map[string]string{}
		apply := func(field string, dst *string, v *string) {
			if v != nil && *v != *dst {
				*dst = *v
				details[field] = "changed"
			}
		}
		apply("name", &u.Name, p.Name)
		apply("surname", &u.Surname, p.Surname)
		apply("tag", &u.Tag, p.Tag)
		apply("locale", &u.Locale, p.Locale)
		apply("brand", &u.Brand, p.Brand)
		if p.DateOfBirth != nil {
			u.DateOfBirth = p.DateOfBirth
			details["dateOfBirth"] = "changed"
		}
		if emailChanged {
			changes = append(changes, revocation{reason: RevokeEmailChanged, user: u, oldEmail: u.Email})
			u.Email, u.EmailVerified = email, false
			details["email"] = "changed"
			if err := moveLinkedEmails(tx, u, now); err != nil {
				return err
			}
		}
		if mobileChanged {
			if u.Mobile != nil {
				changes = append(changes, revocation{reason: RevokeMobileChanged, user: u, keep: c.Session.TokenHash})
			} else {
				changes = append(changes, revocation{reason: RevokeMobileAdded, user: u})
			}
			if err := s.changeMobile(ctx, tx, c.User.ID, u, *p.Mobile, now); err != nil {
				return err
			}
			details["mobile"] = "changed"
		}
		if p.Roles != nil {
			if rolesChanged {
				changes = append(changes, revocation{reason: RevokeRolesChanged, user: u})
			}
			u.Roles = roles
			details["roles"] = joinRoles(roles)
		}
		if profile != nil || (u.Root && u.IdentityType == Consumer) {
			if err := editIdentity(tx, u, profile, details); err != nil {
				return err
			}
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(u); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return Conflict(CodeEmailNotUnique)
			}
			return err
		}
		for _, r := range changes {
			after, err := s.revoke(ctx, tx, r)
			if err != nil {
				return err
			}
			afters = append(afters, after)
		}
		out = u
		if err := s.audit(ctx, tx, u.ProgrammeID, c.User.ID, "user.update", u.ID, details); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, u)
	})
	if err != nil {
		return nil, internal("update user", err)
	}
	if refused != nil {
		return nil, refused
	}
	for _, after := range afters {
		after()
	}
	return out, nil
}

// firstMobile reports whether a mobile change is a user's first mobile, set
// by themselves while they have no mobile and no ACTIVE factor of any kind:
// that is no change of a sign-in detail and needs no step-up (which such a
// user could not do: the step-up needs the factor the mobile is for); the
// SMS enrolment that follows proves they hold the number. Never for another
// user, whose first mobile stays a change under the rank and step-up rules.
func firstMobile(tx ReadTx, c *Caller, u *User, mobileChanged bool) (bool, error) {
	if !mobileChanged || u.Mobile != nil || u.ID != c.User.ID {
		return false, nil
	}
	factors, err := tx.Factors(u.ID)
	if err != nil {
		return false, err
	}
	for _, f := range factors {
		if f.Status == FactorActive {
			return false, nil
		}
	}
	return true, nil
}

// checkUserChange decides whether the caller may make a change to u, in this
// order: the rank rule on another user when the change touches their
// sign-in details (email, mobile) or roles, the rank rule on the new roles,
// the step-up demand for op, and the last admin keeping the role.
func (s *Service) checkUserChange(tx Tx, c *Caller, u *User, signInChanged, rolesChanged bool, roles []Role, op Operation) error {
	if u.ID != c.User.ID { // any change to another user: their name is in what they are sent too
		if err := requireRank(c, u); err != nil {
			return err
		}
	}
	if rolesChanged {
		if err := requireRank(c, &User{Roles: roles}); err != nil {
			return err
		}
	}
	if signInChanged || (rolesChanged && raisesPrivilege(u.Roles, roles)) {
		if err := s.stepUp(tx, c, op); err != nil {
			return err
		}
	}
	if rolesChanged && slices.Contains(u.Roles, RoleAdmin) && !slices.Contains(roles, RoleAdmin) {
		active := true
		_, admins, err := tx.ListUsers(u.IdentityID, UserFilter{Roles: []Role{RoleAdmin}, Active: &active})
		if err != nil {
			return err
		}
		if admins <= 1 {
			return Conflict(CodeAdminRoleRemoval)
		}
	}
	return nil
}

// noRootHasEmail refuses a new user the email of another identity's root
// user (its own identity's is refused as a duplicate) until that root has
// verified it. A root's password is set by whoever created its identity,
// without the address's owner (a public sign-up), so an unverified root
// proves nothing about who owns its email: emailFree keeps a new root off a
// user's email, and this keeps a new user off a squatted root's, whichever
// came first. Otherwise whoever gave a root an address before its owner
// joined the programme would, once the owner accepted another identity's
// invite, set their root's password to each guess and learn from the shared
// sign-in, refused as ambiguous or not, which guess is the owner's password.
// The owner of a root, once they verified its email, may still be invited
// elsewhere. The refusal tells the stepped-up caller only what a sign-up's
// ROOT_EMAIL_NOT_UNIQUE tells anyone: that a root has the address.
func noRootHasEmail(tx ReadTx, u *User) error {
	return emailBarred(tx, u, u.Email, CodeEmailNotUnique, func(o *User) bool { return o.HoldsRootEmail() && !o.EmailVerified })
}

// emailFree refuses to give u an email another user of the programme signs in
// with, in any identity, answering code. Two users may share an email only
// when its owner accepted both invites: were an email change or a new
// identity's root user enough, anyone could take a victim's address and,
// setting their own password to each guess, learn from the shared sign-in
// which guess is the victim's password.
func emailFree(tx ReadTx, u *User, email, code string) error {
	return emailBarred(tx, u, email, code, func(*User) bool { return true })
}

// emailBarred refuses (409 code) to give u an email that another user of
// the programme has, when bars says that user's holding it keeps u off it.
func emailBarred(tx ReadTx, u *User, email, code string, bars func(other *User) bool) error {
	others, err := tx.UsersByEmail(u.ProgrammeID, email)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != u.ID && bars(o) {
			return Conflict(code)
		}
	}
	return nil
}

// changeMobile sets a new mobile number, counting the change and unlinking the
// SMS factor bound to the old number, which actor's audit event tells (its
// authentication_factors webhook) unless it was INACTIVE already, as a
// device reset does. A first number is not a change.
func (s *Service) changeMobile(ctx context.Context, tx Tx, actor string, u *User, m Mobile, now time.Time) error {
	if err := mobileChangeAllowed(u); err != nil {
		return err
	}
	if u.Mobile != nil {
		u.MobileChanges++
	}
	u.Mobile = &m
	f, err := tx.Factor(u.ID, ChannelSMS)
	if errors.Is(err, ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	wasInactive := f.Status == FactorInactive
	if err := retireFactor(tx, f, now); err != nil || wasInactive {
		return err
	}
	return s.audit(ctx, tx, u.ProgrammeID, actor, "factor.unlink", u.ID, map[string]string{"channel": string(ChannelSMS), "reason": "the mobile number changed"})
}

// mobileChangeAllowed refuses a new mobile for u once u changed theirs
// maxMobileChanges times (a first mobile is no change).
func mobileChangeAllowed(u *User) error {
	if u.Mobile != nil && u.MobileChanges >= maxMobileChanges {
		return Conflict(CodeMobileChangeLimit)
	}
	return nil
}

// SetUserActive activates or deactivates an authorised user (Weavr userActivate,
// userDeactivate) under the rank rule; both are idempotent. Deactivation
// revokes as the policy's DEACTIVATED row says (every session and push
// challenge ends at once, a pending invite is void, emailed codes are
// deleted); activation, which also lifts a sign-in lockout and forgets
// failed sign-ins, needs a stepped-up session.
func (s *Service) SetUserActive(ctx context.Context, c *Caller, id string, active bool) error {
	perm, action := PermUsersDeactivate, "user.deactivate"
	if active {
		perm, action = PermUsersActivate, "user.activate"
	}
	if err := require(c, perm); err != nil {
		return err
	}
	var after func()
	err := s.updateAs(ctx, c, func(tx Tx) error {
		after = nil
		u, err := identityUser(tx, c, id)
		if err != nil {
			return err
		}
		if err := requireRank(c, u); err != nil {
			return err
		}
		locked := !u.LockedUntil.IsZero() || u.FailedLogins != 0
		if u.Active == active && !(active && locked) {
			return nil
		}
		// Activation gives a user back every permission they hold, and
		// lifting a lockout, or forgetting failed sign-ins, would reset a
		// password guesser's count: both are privilege changes.
		if active {
			summary := "Unlock user "
			if !u.Active {
				summary = "Activate user "
			}
			if err := s.stepUp(tx, c, Operation{Action: "user.activate", Target: u.ID, Summary: summary + summaryEmail(u.Email)}); err != nil {
				return err
			}
		}
		u.Active, u.UpdatedAt = active, s.clock.Now()
		if active {
			u.LockedUntil, u.FailedLogins = time.Time{}, 0
		} else if after, err = s.revoke(ctx, tx, revocation{reason: RevokeDeactivated, user: u}); err != nil {
			return err
		}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ProgrammeID, c.User.ID, action, u.ID, nil)
	})
	if err == nil && after != nil {
		after()
	}
	return internal(action, err)
}

// errLinkedEmail refuses to change the email of a linked identity's root
// user apart from its credentials' (access.go): it carries theirs, changed
// with a token of the credentials' own identity.
var errLinkedEmail = &Error{Class: ErrPermissionDenied, Code: CodeInsufficientPermissions,
	Message: "this identity signs in with linked credentials: change their email with a token of their own identity"}

// moveLinkedEmails gives the root users of the identities linked to cred's
// credentials cred's new email, which they carry (linkNewRoot): else the old
// address would stay taken, and keep reaching them, after the change.
func moveLinkedEmails(tx Tx, cred *User, now time.Time) error {
	for _, id := range cred.LinkedIdentities {
		lr, err := tx.User(id)
		if err != nil {
			return err
		}
		lr.Email, lr.EmailVerified, lr.UpdatedAt = cred.Email, false, now
		if err := tx.UpdateUser(lr); err != nil {
			return err
		}
	}
	return nil
}

// voidInvite voids the user's pending invite, if any: the invite of a user
// deactivated, or whose email changed, can never be consumed, even after
// reactivation (send a new one).
func voidInvite(tx Tx, userID string) error {
	inv, err := tx.Invite(userID)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && inv.State != InvitePending) {
		return nil
	}
	if err != nil {
		return err
	}
	inv.State = InviteVoid
	return tx.PutInvite(inv)
}

// ListRoles returns the predefined roles (Weavr rolesGet).
func (s *Service) ListRoles(c *Caller) ([]RoleInfo, error) {
	if err := require(c, PermRolesList); err != nil {
		return nil, err
	}
	return Roles(), nil
}

// UserStatus is the admin's view of a user's security state (a Deputy extension).
type UserStatus struct {
	User    *User
	Invite  *Invite // nil when never invited
	KYC     *KYC    // nil when never started
	Factors []*Factor
}

// Expired reports whether a pending invite has run out at now.
func (i *Invite) Expired(now time.Time) bool {
	return i.State == InvitePending && !now.Before(i.ExpiresAt)
}

// UserStatus returns a user's invite, KYC and factor state.
func (s *Service) UserStatus(ctx context.Context, c *Caller, id string) (*UserStatus, error) {
	if err := requireOwnOr(c, id, PermUsersGet, PermUsersGetOwn); err != nil {
		return nil, err
	}
	var st UserStatus
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if st.User, err = identityUser(tx, c, id); err != nil {
			return err
		}
		if st.Invite, err = tx.Invite(id); errors.Is(err, ErrRecordNotFound) {
			st.Invite, err = nil, nil
		}
		if err != nil {
			return err
		}
		if st.KYC, err = tx.KYC(id); errors.Is(err, ErrRecordNotFound) {
			st.KYC, err = nil, nil
		}
		if err != nil {
			return err
		}
		st.Factors, err = tx.Factors(id)
		return err
	})
	if err != nil {
		return nil, internal("user status", err)
	}
	return &st, nil
}

// editIdentity brings the identity of u, a user just edited, along: its
// profile rewritten by edit (nil: kept), noted in details, and, when u is a
// consumer's root user, its name, which is theirs (defaultIdentityName). It
// writes the identity only when it changed.
func editIdentity(tx Tx, u *User, edit ProfileEdit, details map[string]string) error {
	ident, err := tx.Identity(u.IdentityID)
	if err != nil {
		return err
	}
	changed := false
	if edit != nil {
		prof, err := edit(ident.Profile)
		if err != nil {
			return err
		}
		if !bytes.Equal(prof, ident.Profile) {
			ident.Profile, changed = prof, true
			details["profile"] = "changed"
		}
	}
	if name := defaultIdentityName(u.Name, u.Surname); u.Root && ident.Type == Consumer && name != ident.Name {
		ident.Name, changed = name, true
	}
	if !changed {
		return nil
	}
	return tx.UpdateIdentity(ident)
}
