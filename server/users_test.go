package server_test

// Tests of issue 4 (authorised users) through the real HTTP server: userCreate,
// usersGet, userGetById, userUpdate, userActivate and userDeactivate. Roles and
// permissions are in authz_test.go, invites in invites_test.go, email
// verification and KYC in kyc_test.go.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

const usersPath = "/multi/users"

// userPath is /multi/users/{id} followed by rest ("activate", "invite/validate" ...).
func userPath(id string, rest ...string) string {
	return strings.Join(append([]string{usersPath, id}, rest...), "/")
}

// userBody is a minimal valid userCreate request with a mobile and the given roles.
func userBody(email string, roles ...core.Role) map[string]any {
	b := map[string]any{"name": "Bea", "surname": "Smith", "email": email,
		"mobile": map[string]any{"countryCode": "+44", "number": "7700900456"}}
	if roles != nil {
		b["roles"] = roleNamesOf(roles)
	}
	return b
}

func roleNamesOf(roles []core.Role) []string {
	out := []string{}
	for _, r := range roles {
		out = append(out, string(r))
	}
	return out
}

// member is a signed-in user: a root or an authorised user.
type member struct {
	id, email, token string
}

// stepUp steps up a session of a user without an ACTIVE SMS factor by
// enrolling their mobile: verifying the enrolment steps the session up.
func (e *env) stepUp(token string) {
	e.t.Helper()
	wantNoContent(e.t, e.auth(token, "POST", enrolPath, nil), "enrol SMS")
	wantNoContent(e.t, e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode)), "verify the enrolment")
}

// stepUpAgain steps up a new session of a user whose SMS factor is ACTIVE, with a challenge.
func (e *env) stepUpAgain(token string) {
	e.t.Helper()
	wantNoContent(e.t, e.auth(token, "POST", stepUpPath, nil), "step-up challenge")
	wantNoContent(e.t, e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode)), "step-up verify")
}

// adminRoot creates a corporate whose root user has a stepped-up session.
func (e *env) adminRoot(email string) member {
	e.t.Helper()
	id, token := e.corporate(email)
	e.stepUp(token)
	return member{id: id, email: email, token: token}
}

// createUser creates a user as token (which must be stepped up) and returns its id.
func (e *env) createUser(token string, body map[string]any) string {
	e.t.Helper()
	r := e.auth(token, "POST", usersPath, body)
	require.Equal(e.t, http.StatusOK, r.status, "create user: %s", r.body)
	return str(e.t, r.json(e.t), "id")
}

// newMember creates an authorised user with roles as creator, sets their
// password with the create-password API and steps up the session that opened.
func (e *env) newMember(creator, email string, roles ...core.Role) member {
	e.t.Helper()
	id := e.createUser(creator, userBody(email, roles...))
	r := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	token := str(e.t, r.json(e.t), "token")
	e.stepUp(token)
	return member{id: id, email: email, token: token}
}

// getUser reads a user as token and returns the decoded body, failing unless 200.
func (e *env) getUser(token, id string) map[string]any {
	e.t.Helper()
	r := e.auth(token, "GET", userPath(id), nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return r.json(e.t)
}

// userList is a decoded usersGet answer.
type userList struct {
	ids                  []string
	count, responseCount int
}

// listUsers lists users as token with the raw query q and fails unless 200.
func (e *env) listUsers(token, q string) userList {
	e.t.Helper()
	r := e.auth(token, "GET", usersPath+"?"+q, nil)
	require.Equal(e.t, http.StatusOK, r.status, "?%s: %s", q, r.body)
	m := r.json(e.t)
	l := userList{count: int(m["count"].(float64)), responseCount: int(m["responseCount"].(float64)), ids: []string{}}
	for _, u := range m["users"].([]any) {
		l.ids = append(l.ids, u.(map[string]any)["id"].(string))
	}
	return l
}

func TestUserCreateNeedsAStepUp(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	fresh := e.loginToken("root@acme.test")

	r := e.auth(fresh, "POST", usersPath, userBody("bea@acme.test"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
	assert.Equal(t, 0, e.listUsers(root.token, "").count, "nothing was created")

	e.stepUpAgain(fresh)
	r = e.auth(fresh, "POST", usersPath, userBody("bea@acme.test"))
	assert.Equal(t, http.StatusOK, r.status, "after the step-up: %s", r.body)

	// A user without an ACTIVE factor cannot step up, so cannot create users.
	_, bare := e.corporate("bare@beta.test")
	r = e.auth(bare, "POST", usersPath, userBody("bea@beta.test"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
}

func TestUserCreateResponse(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	body := map[string]any{
		"name": "Bea", "surname": "Smith", "email": "Bea.Smith@Acme.test",
		"mobile":      map[string]any{"countryCode": "+356", "number": "79000001"},
		"dateOfBirth": map[string]any{"year": 1990, "month": 2, "day": 28},
		"tag":         "team_a-1", "countryOfResidence": "MT", "locale": "en-GB", "brand": "Acme1",
		"roles": []string{"FUNDS_MANAGEMENT_ROLE", "CARDS_MANAGEMENT_ROLE", "FUNDS_MANAGEMENT_ROLE"},
	}
	r := e.auth(root.token, "POST", usersPath, body)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	id := str(t, r.json(t), "id")
	assert.NotEqual(t, root.id, id)
	want := fmt.Sprintf(`{
		"id": %q,
		"identity": {"type": "CORPORATE", "id": %q},
		"name": "Bea", "surname": "Smith", "email": "bea.smith@acme.test",
		"mobile": {"countryCode": "+356", "number": "79000001"},
		"active": true,
		"dateOfBirth": {"year": 1990, "month": 2, "day": 28},
		"tag": "team_a-1", "countryOfResidence": "MT", "locale": "en-GB", "brand": "Acme1",
		"roles": ["FUNDS_MANAGEMENT_ROLE", "CARDS_MANAGEMENT_ROLE"]
	}`, id, root.id)
	assert.JSONEq(t, want, string(r.body), "the new user is active, in the caller's identity, with its roles once each")
	assert.JSONEq(t, want, string(e.auth(root.token, "GET", userPath(id), nil).body), "GET answers the same")

	// The minimal request: no mobile, no roles, no optional field.
	r = e.auth(root.token, "POST", usersPath, map[string]any{"name": "Cy", "surname": "Jones", "email": "cy@acme.test"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.JSONEq(t, fmt.Sprintf(`{"id": %q, "identity": {"type": "CORPORATE", "id": %q},
		"name": "Cy", "surname": "Jones", "email": "cy@acme.test", "active": true}`, str(t, r.json(t), "id"), root.id), string(r.body))
	assert.Equal(t, 2, count(e.auditActions(), "user.create"))
}

func TestUserCreateBadRequests(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	base := userBody("bea@acme.test")
	tests := []struct {
		name string
		body any
		want []string
	}{
		{"no name", with(t, base, nil, "name"), []string{"name:REQUIRED"}},
		{"blank name", with(t, base, "  ", "name"), []string{"name:REQUIRED"}},
		{"name over 50", with(t, base, strings.Repeat("n", 51), "name"), []string{"name:SIZE"}},
		{"no surname", with(t, base, nil, "surname"), []string{"surname:REQUIRED"}},
		{"no email", with(t, base, nil, "email"), []string{"email:REQUIRED"}},
		{"malformed email", with(t, base, "bea-at-acme", "email"), []string{"email:REGEX"}},
		{"none of the three", map[string]any{}, []string{"name:REQUIRED", "surname:REQUIRED", "email:REQUIRED"}},
		{"tag with a space", with(t, base, "team a", "tag"), []string{"tag:REGEX"}},
		{"tag with a dot", with(t, base, "team.a", "tag"), []string{"tag:REGEX"}},
		{"tag of 51", with(t, base, strings.Repeat("t", 51), "tag"), []string{"tag:SIZE"}},
		{"mobile without country code", with(t, base, map[string]any{"number": "7700900456"}, "mobile"), []string{"mobile.countryCode:REQUIRED"}},
		{"mobile country code without +", with(t, base, map[string]any{"countryCode": "44", "number": "7700900456"}, "mobile"), []string{"mobile.countryCode:REGEX"}},
		{"mobile number with letters", with(t, base, map[string]any{"countryCode": "+44", "number": "77009OO456"}, "mobile"), []string{"mobile.number:REGEX"}},
		{"mobile number too long", with(t, base, map[string]any{"countryCode": "+44", "number": "1234567890123"}, "mobile"), []string{"mobile.number:REGEX"}},
		{"mobile not an object", with(t, base, "+447700900456", "mobile"), []string{"mobile:IN"}},
		{"unknown role", with(t, base, []string{"BOSS"}, "roles"), []string{"roles:IN"}},
		{"lower-case role", with(t, base, []string{"admin"}, "roles"), []string{"roles:IN"}},
		{"empty role", with(t, base, []string{""}, "roles"), []string{"roles:IN"}},
		{"bad date of birth", with(t, base, map[string]any{"year": 1800, "month": 13, "day": 1}, "dateOfBirth"), []string{"dateOfBirth.year:RANGE", "dateOfBirth.month:RANGE"}},
		{"unknown field", with(t, base, "x", "nickname"), []string{"nickname:NOT_IN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, e.auth(root.token, "POST", usersPath, tt.body).invalidFields(t))
		})
	}
	assert.Equal(t, 0, e.listUsers(root.token, "").count, "no bad request created a user")

	// The edges that are allowed.
	r := e.auth(root.token, "POST", usersPath, with(t, base, strings.Repeat("t", 50), "tag"))
	assert.Equal(t, http.StatusOK, r.status, "a tag of 50: %s", r.body)
	r = e.auth(root.token, "POST", usersPath, with(t, userBody("cy@acme.test"), "A-z_0-9", "tag"))
	assert.Equal(t, http.StatusOK, r.status, "letters, digits, _ and -: %s", r.body)
}

// Weavr's userCreate answers a countryOfResidence of the right form that
// names no country (ISO 3166-1 alpha-2) with 409 COUNTRY_OF_RESIDENCE_INVALID,
// one of its declared conflicts; the user is not created.
func TestUserCreateCountryOfResidenceMustBeACountry(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	for i, country := range []string{"XX", "ZZ", "EU", "UK", "AA"} {
		body := with(t, userBody(fmt.Sprintf("u%d@acme.test", i)), country, "countryOfResidence")
		wantConflict(t, e.auth(root.token, "POST", usersPath, body), "COUNTRY_OF_RESIDENCE_INVALID", country)
	}
	assert.Equal(t, 0, e.listUsers(root.token, "").count, "no refused creation made a user")
	for i, country := range []string{"GB", "MT", "US", "AX", "SS"} {
		r := e.auth(root.token, "POST", usersPath, with(t, userBody(fmt.Sprintf("ok%d@acme.test", i)), country, "countryOfResidence"))
		assert.Equal(t, http.StatusOK, r.status, "%s: %s", country, r.body)
	}
}

// TestMobileMustBeOneSomeoneCanHave: a mobile whose country code is in no
// use, or whose number has a length no number under its code has, is
// Weavr's 409 MOBILE_OR_COUNTRY_CODE_INVALID wherever a user's mobile is
// set (user creation and update, a corporate's or consumer's root), and
// nothing is written.
func TestMobileMustBeOneSomeoneCanHave(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	bad := []map[string]any{
		{"countryCode": "+999", "number": "7700900456"}, // no such code
		{"countryCode": "+0", "number": "7700900456"},
		{"countryCode": "+44", "number": "123"},          // too short for the UK
		{"countryCode": "+44", "number": "770090045612"}, // too long
		{"countryCode": "+447", "number": "700900456"},   // the UK's digits split otherwise
	}
	for i, m := range bad {
		wantConflict(t, e.auth(root.token, "POST", usersPath, with(t, userBody(fmt.Sprintf("u%d@acme.test", i)), m, "mobile")),
			"MOBILE_OR_COUNTRY_CODE_INVALID", fmt.Sprintf("create %v", m))
		wantConflict(t, e.auth(root.token, "PATCH", userPath(bea), map[string]any{"mobile": m}),
			"MOBILE_OR_COUNTRY_CODE_INVALID", fmt.Sprintf("update %v", m))
		wantConflict(t, e.key("POST", "/multi/corporates", with(t, corporateBody(fmt.Sprintf("c%d@acme.test", i)), m, "rootUser", "mobile")),
			"MOBILE_OR_COUNTRY_CODE_INVALID", fmt.Sprintf("corporate %v", m))
		wantConflict(t, e.key("POST", "/multi/consumers", with(t, consumerBody(fmt.Sprintf("p%d@acme.test", i)), m, "rootUser", "mobile")),
			"MOBILE_OR_COUNTRY_CODE_INVALID", fmt.Sprintf("consumer %v", m))
	}
	assert.Equal(t, 1, e.listUsers(root.token, "").count, "no refused creation made a user")
	r := e.auth(root.token, "GET", userPath(bea), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"number":"7700900456"`, "the refused updates changed nothing")
	assert.Equal(t, 1, count(e.auditActions(), "identity.create"), "nor made an identity")

	for i, m := range []map[string]any{
		{"countryCode": "+1", "number": "2025550123"},
		{"countryCode": "+356", "number": "79000000"},
		{"countryCode": "+49", "number": "15123456789"},
	} {
		r := e.auth(root.token, "POST", usersPath, with(t, userBody(fmt.Sprintf("ok%d@acme.test", i)), m, "mobile"))
		assert.Equal(t, http.StatusOK, r.status, "%v: %s", m, r.body)
	}
}

func TestUserCreateEmailUniqueWithinTheIdentity(t *testing.T) {
	e := newEnv(t)
	acme := e.adminRoot("root@acme.test")
	beta := e.adminRoot("root@beta.test")

	e.createUser(acme.token, userBody("bea@acme.test"))
	wantConflict(t, e.auth(acme.token, "POST", usersPath, userBody("bea@acme.test")), "EMAIL_NOT_UNIQUE", "the same email")
	wantConflict(t, e.auth(acme.token, "POST", usersPath, userBody("BEA@Acme.Test")), "EMAIL_NOT_UNIQUE", "emails compare case-insensitively")
	wantConflict(t, e.auth(acme.token, "POST", usersPath, userBody("root@acme.test")), "EMAIL_NOT_UNIQUE", "the root user's email")

	e.createUser(beta.token, userBody("bea@acme.test")) // another identity may use the same email
	// and another identity's root email, once that root verified it
	// (TestUserCannotTakeARootsEmail)
	wantConflict(t, e.auth(beta.token, "POST", usersPath, userBody("root@acme.test")), "EMAIL_NOT_UNIQUE", "an unverified root's email")
	wantNoContent(t, e.key("POST", "/multi/corporates/verification/email/send", map[string]any{"email": "root@acme.test"}))
	wantNoContent(t, e.key("POST", "/multi/corporates/verification/email/verify", map[string]any{"email": "root@acme.test", "verificationCode": sandboxCode}))
	e.createUser(beta.token, userBody("root@acme.test"))
	e.createUser(acme.token, userBody("cy@acme.test")) // with the same mobile as bea: mobiles need not be unique

	assert.Equal(t, 2, e.listUsers(acme.token, "").count)
	assert.Equal(t, 2, e.listUsers(beta.token, "").count)
	assert.Equal(t, 4, count(e.auditActions(), "user.create"), "the refused creations left nothing behind")
}

func TestUserCreateIdempotency(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")

	first := e.auth(root.token, "POST", usersPath, userBody("bea@acme.test"), "idempotency-ref", "u-1")
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	again := e.auth(root.token, "POST", usersPath, userBody("bea@acme.test"), "idempotency-ref", "u-1")
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	assert.JSONEq(t, string(first.body), string(again.body), "the replay is the same user")
	assert.Equal(t, "Payloads do not match for the same idempotency-ref.",
		e.auth(root.token, "POST", usersPath, userBody("cy@acme.test"), "idempotency-ref", "u-1").badRequest(t).Message)
	assert.Equal(t, 1, e.listUsers(root.token, "").count)

	// A refused creation is not remembered.
	wantConflict(t, e.auth(root.token, "POST", usersPath, userBody("bea@acme.test"), "idempotency-ref", "u-2"), "EMAIL_NOT_UNIQUE")
	r := e.auth(root.token, "POST", usersPath, userBody("dee@acme.test"), "idempotency-ref", "u-2")
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// Fifty identical creations at once make exactly one user.
func TestUserCreateSingleEffectUnderParallelRequests(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	results := atOnce(50, func(int) resp {
		return e.auth(root.token, "POST", usersPath, userBody("bea@acme.test"), "idempotency-ref", "parallel")
	})
	ids := map[string]int{}
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ids[str(t, r.json(t), "id")]++
		case http.StatusConflict:
			assert.Equal(t, "IDEMPOTENCY_REF_IN_FLIGHT", r.errorCode(t))
		default:
			t.Errorf("got %d %s, want 200 or 409 IDEMPOTENCY_REF_IN_FLIGHT", r.status, r.body)
		}
	}
	assert.Len(t, ids, 1, "every 200 carries the same user")
	l := e.listUsers(root.token, "")
	assert.Equal(t, 1, l.count, "exactly one user was created")
	assert.Equal(t, 1, count(e.auditActions(), "user.create"))
	for id := range ids {
		assert.Equal(t, []string{id}, l.ids)
	}
}

func TestUsersList(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	mk := func(email, tag string, roles ...core.Role) string {
		b := userBody(email, roles...)
		if tag != "" {
			b["tag"] = tag
		}
		return e.createUser(root.token, b)
	}
	u1 := mk("u1@acme.test", "team_a", core.RoleFundsManagement)
	u2 := mk("u2@acme.test", "team_b", core.RoleCardsManagement)
	u3 := mk("u3@acme.test", "team_a", core.RoleCardAssignee)
	u4 := mk("u4@acme.test", "", core.RoleFundsManagement, core.RoleCardsManagement)
	u5 := mk("u5@acme.test", "team_b")
	wantNoContent(t, e.auth(root.token, "POST", userPath(u3, "deactivate"), nil))
	// Another identity's users never show.
	beta := e.adminRoot("root@beta.test")
	e.createUser(beta.token, userBody("u1@acme.test", core.RoleFundsManagement))

	all := []string{u1, u2, u3, u4, u5}
	tests := []struct {
		query string
		want  []string
	}{
		{"", all},
		{"active=true", []string{u1, u2, u4, u5}},
		{"active=false", []string{u3}},
		{"email=u2@acme.test", []string{u2}},
		{"email=" + url.QueryEscape("U2@ACME.test"), []string{u2}},
		{"email=root@acme.test", []string{}},
		{"email=nobody@acme.test", []string{}},
		{"tag=team_a", []string{u1, u3}},
		{"tag=team_b", []string{u2, u5}},
		{"tag=team", []string{}},
		{"roles=FUNDS_MANAGEMENT_ROLE", []string{u1, u4}},
		{"roles=CARD_ASSIGNEE", []string{u3}},
		{"roles=ADMIN", []string{}},
		{"roles=FUNDS_MANAGEMENT_ROLE&roles=CARD_ASSIGNEE", []string{u1, u3, u4}},
		{"roles=FUNDS_MANAGEMENT_ROLE&roles=CARDS_MANAGEMENT_ROLE", []string{u1, u2, u4}},
		{"tag=team_a&active=true", []string{u1}},
		{"tag=team_b&roles=CARDS_MANAGEMENT_ROLE", []string{u2}},
		{"active=false&roles=FUNDS_MANAGEMENT_ROLE", []string{}},
		// The Deputy extension search: part of a name, email or tag, any case.
		{"search=U2", []string{u2}},
		{"search=team", []string{u1, u2, u3, u5}},
		{"search=" + url.QueryEscape("bea SMITH"), all},
		{"search=TEAM_A&active=true", []string{u1}},
		{"search=acme&roles=CARDS_MANAGEMENT_ROLE", []string{u2, u4}},
		{"search=u4%40acme&email=u4@acme.test", []string{u4}},
		{"search=zzz", []string{}},
	}
	for _, tt := range tests {
		t.Run("?"+tt.query, func(t *testing.T) {
			l := e.listUsers(root.token, tt.query)
			assert.Equal(t, tt.want, l.ids)
			assert.Equal(t, len(tt.want), l.count)
			assert.Equal(t, len(tt.want), l.responseCount)
		})
	}
	t.Run("pages", func(t *testing.T) {
		for _, p := range []struct {
			query string
			want  []string
		}{
			{"limit=2", []string{u1, u2}},
			{"offset=2&limit=2", []string{u3, u4}},
			{"offset=4&limit=2", []string{u5}},
			{"offset=5", []string{}},
			{"offset=100", []string{}},
			{"limit=1&offset=1&roles=FUNDS_MANAGEMENT_ROLE", []string{u4}},
		} {
			l := e.listUsers(root.token, p.query)
			assert.Equal(t, p.want, l.ids, p.query)
			assert.Equal(t, len(p.want), l.responseCount, "%s: responseCount is the page size", p.query)
		}
		assert.Equal(t, 5, e.listUsers(root.token, "limit=2").count, "count is every match, not the page")
		assert.Equal(t, 2, e.listUsers(root.token, "limit=1&offset=1&roles=FUNDS_MANAGEMENT_ROLE").count)
		assert.Equal(t, 5, e.listUsers(root.token, "offset=100").count)
		assert.Equal(t, 5, e.listUsers(root.token, "limit=100").count)
	})
	t.Run("bad requests", func(t *testing.T) {
		for q, want := range map[string]string{
			"limit=0": "limit:RANGE", "limit=101": "limit:RANGE", "limit=-1": "limit:RANGE", "limit=x": "limit:RANGE",
			"offset=-1": "offset:RANGE", "offset=x": "offset:RANGE",
			"active=maybe": "active:IN", "roles=BOSS": "roles:IN", "roles=ADMIN&roles=admin": "roles:IN",
			"email=not-an-email": "email:REGEX",
			"search=%20%20":      "search:SIZE", "search=" + strings.Repeat("a", 255): "search:SIZE",
			"tag=%ff": "tag:REGEX", "tag=a%00b": "tag:REGEX",
		} {
			assert.Equal(t, []string{want}, e.auth(root.token, "GET", usersPath+"?"+q, nil).invalidFields(t), q)
		}
	})
}

// The order is by id, that is creation order, and stays stable across pages
// while users change.
// Weavr's usersGet takes any string as its tag filter (the query's schema
// is a plain string, not the Tag a user carries): one no user's tag can be,
// with a space or a dot or over 50 characters, matches nobody, an empty
// page, not a 400. Text that is no text (NUL, invalid UTF-8) stays a 400.
func TestUsersListTagFilterIsAnyString(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	b := userBody("u1@acme.test")
	b["tag"] = "team_a"
	e.createUser(root.token, b)
	for _, tag := range []string{"team a", "team.a", "team_a ", strings.Repeat("t", 51), "équipe"} {
		l := e.listUsers(root.token, "tag="+url.QueryEscape(tag))
		assert.Empty(t, l.ids, "%q", tag)
		assert.Zero(t, l.count, "%q", tag)
		assert.Zero(t, l.responseCount, "%q", tag)
	}
	assert.Equal(t, 1, e.listUsers(root.token, "tag=team_a").count)
	assert.Equal(t, []string{"tag:REGEX"}, e.auth(root.token, "GET", usersPath+"?tag=a%00b", nil).invalidFields(t))
}

func TestUsersListStableOrderAcrossPages(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	var created []string
	for i := range 11 {
		created = append(created, e.createUser(root.token, userBody(fmt.Sprintf("u%02d@acme.test", i))))
	}
	for i := 1; i < len(created); i++ {
		a, _ := strconv.ParseUint(created[i-1], 10, 64)
		b, _ := strconv.ParseUint(created[i], 10, 64)
		require.Less(t, a, b, "ids increase")
	}
	// Changing users does not move them.
	_ = e.auth(root.token, "PATCH", userPath(created[0]), map[string]any{"name": "Zed", "tag": "moved"})
	wantNoContent(t, e.auth(root.token, "POST", userPath(created[1], "deactivate"), nil))
	wantNoContent(t, e.auth(root.token, "POST", userPath(created[1], "activate"), nil))

	var paged []string
	for off := 0; ; off += 3 {
		l := e.listUsers(root.token, fmt.Sprintf("offset=%d&limit=3", off))
		assert.Equal(t, len(created), l.count)
		if len(l.ids) == 0 {
			break
		}
		paged = append(paged, l.ids...)
	}
	assert.Equal(t, created, paged, "pages concatenate to the creation order, with no gap or repeat")
	assert.Equal(t, created, e.listUsers(root.token, "").ids)
	assert.False(t, slices.Contains(paged, root.id), "the root user is never listed")
}

func TestUserGetAndPatchNotFound(t *testing.T) {
	e := newEnv(t)
	acme := e.adminRoot("root@acme.test")
	beta := e.adminRoot("root@beta.test")
	betaUser := e.createUser(beta.token, userBody("bea@beta.test"))
	acmeUser := e.createUser(acme.token, userBody("bea@acme.test"))

	for name, id := range map[string]string{
		"own root":                acme.id,
		"unknown":                 "999999999",
		"another identity's user": betaUser,
		"another identity's root": beta.id,
	} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", userPath(id), nil},
				{"PATCH", userPath(id), map[string]any{"tag": "x"}},
				{"PATCH", userPath(id), map[string]any{"email": "new@acme.test"}},
				{"GET", userPath(id, "status"), nil},
				{"POST", userPath(id, "activate"), nil},
				{"POST", userPath(id, "deactivate"), nil},
				{"POST", userPath(id, "invite"), nil},
			} {
				r := e.auth(acme.token, c.method, c.path, c.body)
				assert.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", c.method, c.path, r.body)
			}
		})
	}
	// Nothing happened to beta's user.
	u := e.getUser(beta.token, betaUser)
	assert.Equal(t, true, u["active"])
	assert.NotContains(t, u, "tag")
	assert.Equal(t, "bea@beta.test", u["email"])

	for _, p := range []string{userPath("abc"), userPath("1a"), userPath(strings.Repeat("1", 21))} {
		assert.Equal(t, []string{"user_id:REGEX"}, e.auth(acme.token, "GET", p, nil).invalidFields(t), p)
	}
	assert.Equal(t, http.StatusOK, e.auth(acme.token, "GET", userPath(acmeUser), nil).status)
}

func TestUserPatchIsPartial(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	full := userBody("bea@acme.test", core.RoleFundsManagement, core.RoleCardsManagement)
	full["dateOfBirth"] = map[string]any{"year": 1990, "month": 2, "day": 28}
	full["tag"], full["locale"], full["brand"] = "team_a", "en-GB", "Acme1"
	id := e.createUser(root.token, full)
	before := e.getUser(root.token, id)

	steps := []struct {
		patch  map[string]any
		change map[string]any // what the user record shows afterwards
	}{
		{map[string]any{"name": "Beatrice"}, map[string]any{"name": "Beatrice"}},
		{map[string]any{"surname": "Jones", "tag": "team_b"}, map[string]any{"surname": "Jones", "tag": "team_b"}},
		{map[string]any{"dateOfBirth": map[string]any{"year": 1991, "month": 3, "day": 1}}, map[string]any{"dateOfBirth": map[string]any{"year": 1991, "month": 3, "day": 1}}},
		{map[string]any{"locale": "mt", "brand": "Beta2"}, map[string]any{"locale": "mt", "brand": "Beta2"}},
		{map[string]any{}, map[string]any{}},
		{map[string]any{"roles": []string{"CARD_ASSIGNEE"}}, map[string]any{"roles": []any{"CARD_ASSIGNEE"}}},
		{map[string]any{"roles": []string{"CARDS_MANAGEMENT_ROLE", "FUNDS_MANAGEMENT_ROLE", "CARDS_MANAGEMENT_ROLE"}}, map[string]any{"roles": []any{"CARDS_MANAGEMENT_ROLE", "FUNDS_MANAGEMENT_ROLE"}}},
	}
	want := before
	for i, s := range steps {
		r := e.auth(root.token, "PATCH", userPath(id), s.patch)
		require.Equal(t, http.StatusOK, r.status, "step %d: %s", i, r.body)
		for k, v := range s.change {
			want[k] = asJSON(t, v)
		}
		assert.Equal(t, want, r.json(t), "step %d %v: only the fields sent change", i, s.patch)
		assert.Equal(t, want, e.getUser(root.token, id), "step %d: GET shows the same", i)
	}

	// roles replaces the list: an empty list removes every role.
	r := e.auth(root.token, "PATCH", userPath(id), map[string]any{"roles": []string{}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, r.json(t), "roles")

	for name, c := range map[string]struct {
		body any
		want []string
	}{
		"blank name":         {map[string]any{"name": ""}, []string{"name:REQUIRED"}},
		"long surname":       {map[string]any{"surname": strings.Repeat("s", 51)}, []string{"surname:SIZE"}},
		"bad tag":            {map[string]any{"tag": "a b"}, []string{"tag:REGEX"}},
		"bad email":          {map[string]any{"email": "nope"}, []string{"email:REGEX"}},
		"bad mobile":         {map[string]any{"mobile": map[string]any{"countryCode": "+44"}}, []string{"mobile.number:REQUIRED"}},
		"bad role":           {map[string]any{"roles": []string{"ROOT"}}, []string{"roles:IN"}},
		"identity read-only": {map[string]any{"identity": map[string]any{"type": "CORPORATE", "id": "1"}}, []string{"identity:NOT_IN"}},
		"active read-only":   {map[string]any{"active": false}, []string{"active:NOT_IN"}},
	} {
		assert.Equal(t, c.want, e.auth(root.token, "PATCH", userPath(id), c.body).invalidFields(t), name)
	}
}

func TestUserPatchRoles(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)

	t.Run("nobody changes their own roles", func(t *testing.T) {
		wantConflict(t, e.auth(admin.token, "PATCH", userPath(admin.id), map[string]any{"roles": []string{"ADMIN", "FUNDS_MANAGEMENT_ROLE"}}), "CANNOT_MODIFY_OWN_ROLES")
		wantConflict(t, e.auth(admin.token, "PATCH", userPath(admin.id), map[string]any{"roles": []string{"ADMIN"}}), "CANNOT_MODIFY_OWN_ROLES", "not even to the same list")
		r := e.auth(admin.token, "PATCH", userPath(admin.id), map[string]any{"tag": "me"})
		assert.Equal(t, http.StatusOK, r.status, "other own fields may change: %s", r.body)
	})
	t.Run("the last admin keeps ADMIN", func(t *testing.T) {
		wantConflict(t, e.auth(root.token, "PATCH", userPath(admin.id), map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE"}}), "ADMIN_ROLE_REMOVAL_NOT_ALLOWED")
		wantConflict(t, e.auth(root.token, "PATCH", userPath(admin.id), map[string]any{"roles": []string{}}), "ADMIN_ROLE_REMOVAL_NOT_ALLOWED")
		assert.Equal(t, []any{"ADMIN"}, e.getUser(root.token, admin.id)["roles"], "unchanged")

		second := e.createUser(root.token, userBody("second@acme.test", core.RoleAdmin))
		r := e.auth(root.token, "PATCH", userPath(admin.id), map[string]any{"roles": []string{"FUNDS_MANAGEMENT_ROLE"}})
		require.Equal(t, http.StatusOK, r.status, "with a second admin: %s", r.body)
		assert.Equal(t, []any{"FUNDS_MANAGEMENT_ROLE"}, r.json(t)["roles"])
		wantConflict(t, e.auth(root.token, "PATCH", userPath(second), map[string]any{"roles": []string{"CARD_ASSIGNEE"}}), "ADMIN_ROLE_REMOVAL_NOT_ALLOWED",
			"now the second is the last")
		r = e.auth(root.token, "PATCH", userPath(second), map[string]any{"roles": []string{"ADMIN", "CARD_ASSIGNEE"}})
		assert.Equal(t, http.StatusOK, r.status, "adding roles to the last admin is fine: %s", r.body)
	})
}

func TestUserPatchMobile(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.newMember(root.token, "bea@acme.test") // her SMS factor is ACTIVE
	list, _ := e.factorList(bea.token)
	require.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)
	mobile := func(n string) map[string]any {
		return map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": n}}
	}

	fresh := e.loginToken("root@acme.test")
	r := e.auth(fresh, "PATCH", userPath(bea.id), mobile("7700900001"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
	r = e.auth(fresh, "PATCH", userPath(bea.id), mobile("7700900456"))
	assert.Equal(t, http.StatusOK, r.status, "the same number is no change and needs no step-up: %s", r.body)
	r = e.auth(fresh, "PATCH", userPath(bea.id), map[string]any{"tag": "t"})
	assert.Equal(t, http.StatusOK, r.status, "other fields need no step-up: %s", r.body)
	list, _ = e.factorList(bea.token)
	require.Equal(t, []string{"OTP/SMS/ACTIVE"}, list, "nothing changed the factor yet")

	for i, n := range []string{"7700900001", "7700900002", "7700900003"} {
		r := e.auth(root.token, "PATCH", userPath(bea.id), mobile(n))
		require.Equal(t, http.StatusOK, r.status, "change %d: %s", i+1, r.body)
		assert.Equal(t, map[string]any{"countryCode": "+44", "number": n}, r.json(t)["mobile"])
		if i == 0 {
			assert.Equal(t, http.StatusUnauthorized, e.auth(bea.token, "GET", factorsPath, nil).status,
				"losing the factor ended her sessions (MOBILE_CHANGED)")
			bea.token = e.loginToken("bea@acme.test")
			list, _ = e.factorList(bea.token)
			assert.Equal(t, []string{"OTP/SMS/INACTIVE"}, list, "a new mobile switches the SMS factor off")
			wantConflict(t, e.auth(e.loginToken("bea@acme.test"), "POST", stepUpPath, nil), "CHANNEL_NOT_REGISTERED", "no step-up on the old device")
		}
	}
	wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), mobile("7700900004")), "MOBILE_NO_CHANGE_LIMIT_EXCEEDED", "a fourth change")
	wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": "7700900004"}, "tag": "x"}),
		"MOBILE_NO_CHANGE_LIMIT_EXCEEDED", "with other fields")
	u := e.getUser(root.token, bea.id)
	assert.Equal(t, map[string]any{"countryCode": "+44", "number": "7700900003"}, u["mobile"], "the refused change left the mobile alone")
	assert.Equal(t, "t", u["tag"], "and every other field: the update is all or nothing")
	r = e.auth(root.token, "PATCH", userPath(bea.id), mobile("7700900003"))
	assert.Equal(t, http.StatusOK, r.status, "the current number is still no change: %s", r.body)

	// The user enrols the new number again.
	token := e.loginToken("bea@acme.test")
	e.stepUp(token)
	list, _ = e.factorList(token)
	assert.Equal(t, []string{"OTP/SMS/ACTIVE"}, list)
	assert.NotEmpty(t, e.smsTo("+447700900003"), "the enrolment code went to the new number")

	// A first mobile is not a change.
	cy := e.createUser(root.token, map[string]any{"name": "Cy", "surname": "Jones", "email": "cy@acme.test"})
	for i, n := range []string{"7700900010", "7700900011", "7700900012", "7700900013"} {
		r := e.auth(root.token, "PATCH", userPath(cy), mobile(n))
		assert.Equal(t, http.StatusOK, r.status, "number %d: %s", i+1, r.body)
	}
	wantConflict(t, e.auth(root.token, "PATCH", userPath(cy), mobile("7700900014")), "MOBILE_NO_CHANGE_LIMIT_EXCEEDED")
}

// An email change spends the identity's budget even when refused as another
// user's address (EMAIL_NOT_UNIQUE), since that refusal tells that the address
// has an account. A change that pairs the email with a mobile over its change
// limit must not answer for free whether the address is taken: the mobile's
// refusal comes first, whatever the email, so a user whose mobile is at its
// limit cannot test address after address without spending the budget.
func TestEmailChangeBudgetIsNotDodgedByAMobileOverItsLimit(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{EmailChangesPerIdentity: core.RateLimit{Requests: 2, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	e.adminRoot("victim@beta.test") // another identity's user: the address has an account
	bea := e.newMember(root.token, "bea@acme.test", core.RoleCardAssignee)
	mobile := func(n string) map[string]any { return map[string]any{"countryCode": "+44", "number": n} }
	for _, n := range []string{"7700900001", "7700900002", "7700900003"} {
		r := e.auth(root.token, "PATCH", userPath(bea.id), map[string]any{"mobile": mobile(n)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	token := e.loginToken("bea@acme.test")
	e.stepUp(token) // her new number, enrolled again: a stepped-up session
	probe := func(email string) resp {
		return e.auth(token, "PATCH", userPath(bea.id), map[string]any{"email": email, "mobile": mobile("7700900004")})
	}
	for i := range 5 {
		wantConflict(t, probe(fmt.Sprintf("nobody%d@beta.test", i)), "MOBILE_NO_CHANGE_LIMIT_EXCEEDED", "a free address, probe %d", i+1)
	}
	wantConflict(t, probe("victim@beta.test"), "MOBILE_NO_CHANGE_LIMIT_EXCEEDED", "a taken address answers the same")
	wantConflict(t, e.auth(token, "PATCH", userPath(bea.id), map[string]any{"email": "victim@beta.test"}), "EMAIL_NOT_UNIQUE",
		"an email change alone is refused, and counted")
	require.Equal(t, http.StatusOK, e.auth(token, "PATCH", userPath(bea.id), map[string]any{"email": "bea2@acme.test"}).status, "the budget's second")
	wantRateLimitedWithin(t, e.auth(token, "PATCH", userPath(bea.id), map[string]any{"email": "victim@beta.test"}), "2, 2;w=3600", time.Hour, "over the budget")
}

func TestUserPatchEmail(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.newMember(root.token, "bea@acme.test")
	e.createUser(root.token, userBody("cy@acme.test"))

	fresh := e.loginToken("root@acme.test")
	r := e.auth(fresh, "PATCH", userPath(bea.id), map[string]any{"email": "beatrice@acme.test"})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "STEP_UP_REQUIRED", r.errorCode(t))
	r = e.auth(fresh, "PATCH", userPath(bea.id), map[string]any{"email": "BEA@acme.test"})
	assert.Equal(t, http.StatusOK, r.status, "the same address in other case is no change: %s", r.body)

	wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), map[string]any{"email": "cy@acme.test"}), "EMAIL_NOT_UNIQUE", "another user's email")
	wantConflict(t, e.auth(root.token, "PATCH", userPath(bea.id), map[string]any{"email": "root@acme.test"}), "EMAIL_NOT_UNIQUE", "the root's email")
	assert.Equal(t, "bea@acme.test", e.getUser(root.token, bea.id)["email"])

	r = e.auth(root.token, "PATCH", userPath(bea.id), map[string]any{"email": "Beatrice@Acme.test"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "beatrice@acme.test", r.json(t)["email"])

	old := e.login("bea@acme.test", testPassword)
	assert.Equal(t, http.StatusForbidden, old.status, "the old email no longer signs in: %s", old.body)
	assert.Equal(t, string(e.login("nobody@acme.test", testPassword).body), string(old.body), "like an unknown email")
	assert.Equal(t, http.StatusOK, e.login("beatrice@acme.test", testPassword).status, "the new email is the login")
	assert.Equal(t, []string{bea.id}, e.listUsers(root.token, "email=beatrice%40acme.test").ids, "the email filter follows")
	assert.Empty(t, e.listUsers(root.token, "email=bea%40acme.test").ids)

	e.createUser(root.token, userBody("bea@acme.test")) // the old address is free again
}

func TestUserActivateDeactivate(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.newMember(root.token, "bea@acme.test")
	second := e.loginToken("bea@acme.test")
	wrong := e.login("bea@acme.test", "Wr0ng-Password")
	require.Equal(t, http.StatusForbidden, wrong.status)

	for i := range 2 {
		r := e.auth(root.token, "POST", userPath(bea.id, "deactivate"), nil)
		wantNoContent(t, r, "deactivate %d", i+1)
		assert.Empty(t, r.body)
	}
	for i, tok := range []string{bea.token, second} {
		assert.Equal(t, http.StatusUnauthorized, e.auth(tok, "GET", factorsPath, nil).status, "session %d ended at once", i)
	}
	got := e.login("bea@acme.test", testPassword)
	assert.Equal(t, http.StatusForbidden, got.status)
	assert.Equal(t, string(wrong.body), string(got.body), "a deactivated user is told the same as a wrong password")
	assert.Equal(t, false, e.getUser(root.token, bea.id)["active"])
	assert.Equal(t, 1, count(e.auditActions(), "user.deactivate"), "the repeat changed nothing")

	for i := range 2 {
		wantNoContent(t, e.auth(root.token, "POST", userPath(bea.id, "activate"), nil), "activate %d", i+1)
	}
	assert.Equal(t, true, e.getUser(root.token, bea.id)["active"])
	tok := e.loginToken("bea@acme.test")
	assert.Equal(t, http.StatusOK, e.auth(tok, "GET", factorsPath, nil).status)
	assert.Equal(t, http.StatusUnauthorized, e.auth(bea.token, "GET", factorsPath, nil).status, "ended sessions stay ended")
	assert.Equal(t, 1, count(e.auditActions(), "user.activate"))
}

func TestUserActivateLiftsALockout(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.newMember(root.token, "bea@acme.test").id
	for i := range 5 {
		require.Equal(t, http.StatusForbidden, e.login("bea@acme.test", "Wr0ng-Password").status, "attempt %d", i+1)
	}
	require.Equal(t, http.StatusLocked, e.login("bea@acme.test", testPassword).status)

	r := e.auth(root.token, "GET", userPath(bea, "status"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, true, r.json(t)["locked"])

	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "activate"), nil), "activating an active, locked user")
	assert.Equal(t, false, e.auth(root.token, "GET", userPath(bea, "status"), nil).json(t)["locked"])
	assert.Equal(t, http.StatusOK, e.login("bea@acme.test", testPassword).status, "the lockout is lifted")

	// Failed attempts short of a lockout are forgotten too.
	for range 4 {
		require.Equal(t, http.StatusForbidden, e.login("bea@acme.test", "Wr0ng-Password").status)
	}
	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "activate"), nil))
	require.Equal(t, http.StatusForbidden, e.login("bea@acme.test", "Wr0ng-Password").status)
	assert.Equal(t, http.StatusOK, e.login("bea@acme.test", testPassword).status, "one failure after activation does not lock")
}

// usersGet marks who has an invite waiting and who is locked out (Deputy
// extension fields), and leaves them out for the others.
func TestUsersListMarks(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	invited := e.createUser(root.token, userBody("invited@acme.test", core.RoleCardAssignee))
	locked := e.newMember(root.token, "locked@acme.test", core.RoleCardAssignee)
	plain := e.createUser(root.token, userBody("plain@acme.test", core.RoleCardAssignee))
	wantNoContent(t, e.auth(root.token, "POST", userPath(invited, "invite"), nil))
	for range 5 {
		e.login(locked.email, "Wr0ng-Passw0rd")
	}
	require.Equal(t, http.StatusLocked, e.login(locked.email, testPassword).status)

	users := e.auth(root.token, "GET", usersPath, nil).json(t)["users"].([]any)
	marks := map[string][2]any{}
	for _, u := range users {
		m := u.(map[string]any)
		marks[m["id"].(string)] = [2]any{m["invitePending"], m["locked"]}
	}
	assert.Equal(t, map[string][2]any{invited: {true, nil}, locked.id: {nil, true}, plain: {nil, nil}}, marks)

	e.advance(31 * 24 * time.Hour) // the invite expires, the lockout ends
	users = e.auth(e.loginToken(root.email), "GET", usersPath, nil).json(t)["users"].([]any)
	for _, u := range users {
		assert.NotContains(t, u, "invitePending")
		assert.NotContains(t, u, "locked")
	}
}
