package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// fullCorporateBody uses every field of Weavr's CorporateCreateRequest.
func fullCorporateBody(email string) map[string]any {
	return map[string]any{
		"profileId": "1234", "tag": "corp_tag-1", "ipAddress": "192.0.2.10", "acceptedTerms": true,
		"baseCurrency": "EUR", "feeGroup": "standard", "sourceOfFunds": "OTHER", "sourceOfFundsOther": "savings",
		"industry": "FINANCE",
		"rootUser": map[string]any{
			"name": "Ada", "surname": "Lovelace", "email": email,
			"mobile":          map[string]any{"countryCode": "+44", "number": "7700900123"},
			"companyPosition": "DIRECTOR",
			"dateOfBirth":     map[string]any{"year": 1990, "month": 12, "day": 10},
			"tag":             "root-tag", "locale": "en-GB", "brand": "Acme1",
		},
		"company": map[string]any{
			"type": "LLC", "name": "Acme Ltd", "registrationNumber": "C1234567", "registrationCountry": "MT",
			"businessAddress": map[string]any{"addressLine1": "1 High St", "addressLine2": "Floor 2", "city": "Valletta",
				"postCode": "VLT 1000", "state": "Malta", "country": "MT"},
		},
	}
}

// fullConsumerBody uses every field of Weavr's ConsumerCreateRequest.
func fullConsumerBody(email string) map[string]any {
	return map[string]any{
		"profileId": "5678", "tag": "cons-tag", "ipAddress": "2001:db8::1", "acceptedTerms": true,
		"baseCurrency": "GBP", "feeGroup": "basic", "sourceOfFunds": "PERSONAL_SAVINGS", "sourceOfFundsOther": "none",
		"rootUser": map[string]any{
			"name": "Grace", "surname": "Hopper", "email": email,
			"mobile":       map[string]any{"countryCode": "+356", "number": "79000000"},
			"dateOfBirth":  map[string]any{"year": 1985, "month": 1, "day": 31},
			"occupation":   "STUDENT",
			"address":      map[string]any{"addressLine1": "2 Low St", "city": "Sliema", "postCode": "SLM 1", "country": "MT"},
			"placeOfBirth": "Valletta", "nationality": "MT",
			"tag": "user_tag", "locale": "mt", "brand": "Brand2",
		},
	}
}

// consumerBody is a minimal valid consumerCreate request: the fields Weavr
// requires, which Deputy requires too and echoes.
func consumerBody(email string) map[string]any {
	return map[string]any{"profileId": "1", "ipAddress": "192.0.2.1",
		"rootUser": map[string]any{"name": "Grace", "surname": "Hopper", "email": email,
			"mobile":      map[string]any{"countryCode": "+356", "number": "79000000"},
			"dateOfBirth": map[string]any{"year": 1985, "month": 1, "day": 31},
			"address":     map[string]any{"country": "MT"}}}
}

// asJSON round-trips v so it compares equal to decoded bodies.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestCorporateCreateKeepsAndReturnsWeavrFields(t *testing.T) {
	e := newEnv(t)
	in := fullCorporateBody("Ada@Acme.test")
	r := e.key("POST", "/multi/corporates", in)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	id := str(t, got, "id", "id")
	assert.Regexp(t, `^[0-9]+$`, id)
	assert.NotZero(t, got["creationTimestamp"])

	want := asJSON(t, map[string]any{
		"id":        map[string]any{"type": "CORPORATE", "id": id},
		"profileId": "1234", "tag": "corp_tag-1", "ipAddress": "192.0.2.10", "acceptedTerms": true,
		"baseCurrency": "EUR", "feeGroup": "standard", "sourceOfFunds": "OTHER", "sourceOfFundsOther": "savings",
		"industry": "FINANCE",
		"rootUser": map[string]any{
			"id":   map[string]any{"type": "CORPORATE", "id": id},
			"name": "Ada", "surname": "Lovelace", "email": "ada@acme.test",
			"mobile":          map[string]any{"countryCode": "+44", "number": "7700900123"},
			"companyPosition": "DIRECTOR",
			"dateOfBirth":     map[string]any{"year": 1990, "month": 12, "day": 10},
			"tag":             "root-tag", "locale": "en-GB", "brand": "Acme1",
			"active": true, "emailVerified": false, "mobileNumberVerified": false, "passwordAlreadySet": false,
		},
		"company": map[string]any{
			"type": "LLC", "name": "Acme Ltd", "registrationNumber": "C1234567", "countryOfRegistration": "MT",
			"businessAddress": map[string]any{"addressLine1": "1 High St", "addressLine2": "Floor 2", "city": "Valletta",
				"postCode": "VLT 1000", "state": "Malta", "country": "MT"},
		},
		"creationTimestamp": got["creationTimestamp"],
	})
	assert.Equal(t, want, any(got))

	// GET returns the same corporate to its root user (without the creation-only passwordAlreadySet).
	pr := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, pr.status, "%s", pr.body)
	g := e.auth(str(t, pr.json(t), "token"), "GET", "/multi/corporates", nil)
	require.Equal(t, http.StatusOK, g.status, "%s", g.body)
	delete(want.(map[string]any)["rootUser"].(map[string]any), "passwordAlreadySet")
	assert.Equal(t, want, any(g.json(t)))
}

func TestConsumerCreateKeepsAndReturnsWeavrFields(t *testing.T) {
	e := newEnv(t)
	r := e.key("POST", "/multi/consumers", fullConsumerBody("grace@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := r.json(t)
	id := str(t, got, "id", "id")
	want := asJSON(t, map[string]any{
		"id":        map[string]any{"type": "CONSUMER", "id": id},
		"profileId": "5678", "tag": "cons-tag", "ipAddress": "2001:db8::1", "acceptedTerms": true,
		"baseCurrency": "GBP", "feeGroup": "basic", "sourceOfFunds": "PERSONAL_SAVINGS", "sourceOfFundsOther": "none",
		"rootUser": map[string]any{
			"id":   map[string]any{"type": "CONSUMER", "id": id},
			"name": "Grace", "surname": "Hopper", "email": "grace@acme.test",
			"mobile":       map[string]any{"countryCode": "+356", "number": "79000000"},
			"dateOfBirth":  map[string]any{"year": 1985, "month": 1, "day": 31},
			"occupation":   "STUDENT",
			"address":      map[string]any{"addressLine1": "2 Low St", "city": "Sliema", "postCode": "SLM 1", "country": "MT"},
			"placeOfBirth": "Valletta", "nationality": "MT",
			"tag": "user_tag", "locale": "mt", "brand": "Brand2",
			"active": true, "emailVerified": false, "mobileNumberVerified": false,
		},
		"creationTimestamp": got["creationTimestamp"],
	})
	assert.Equal(t, want, any(got))

	pr := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, pr.status, "%s", pr.body)
	token := str(t, pr.json(t), "token")
	g := e.auth(token, "GET", "/multi/consumers", nil)
	require.Equal(t, http.StatusOK, g.status, "%s", g.body)
	assert.Equal(t, want, any(g.json(t)))

	lr := e.login("grace@acme.test", testPassword)
	require.Equal(t, http.StatusOK, lr.status)
	assert.Equal(t, map[string]any{"type": "CONSUMER", "id": id}, lr.json(t)["identity"])
}

func TestIdentityGetIsTheCallersOwnType(t *testing.T) {
	e := newEnv(t)
	corpID, corpToken := e.corporate("corp@acme.test")
	r := e.key("POST", "/multi/consumers", consumerBody("cons@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	consID := str(t, r.json(t), "id", "id")
	r = e.key("POST", "/multi/passwords/"+consID+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	consToken := str(t, r.json(t), "token")

	r = e.auth(corpToken, "GET", "/multi/corporates", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, corpID, str(t, r.json(t), "id", "id"))
	r = e.auth(consToken, "GET", "/multi/consumers", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, consID, str(t, r.json(t), "id", "id"))

	// Weavr declares 403 on all four routes of one type, and 404 on corporateUpdate alone.
	patch := map[string]any{"locale": "en"}
	for _, c := range []struct {
		token, method, path string
		body                any
	}{
		{corpToken, "GET", "/multi/consumers", nil}, {corpToken, "PATCH", "/multi/consumers", patch},
		{consToken, "GET", "/multi/corporates", nil}, {consToken, "PATCH", "/multi/corporates", patch},
	} {
		r := e.auth(c.token, c.method, c.path, c.body)
		if assert.Equal(t, http.StatusForbidden, r.status, "%s %s with the other type's token: %s", c.method, c.path, r.body) {
			assert.Equal(t, "INSUFFICIENT_PERMISSIONS", r.errorCode(t))
		}
	}
	assert.Equal(t, http.StatusUnauthorized, e.key("GET", "/multi/consumers", nil).status, "no bearer token")
}

func TestRootEmailNotUnique(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.key("POST", "/multi/corporates", corporateBody("root@acme.test")).status)
	tests := []struct {
		name, path string
		body       any
	}{
		{"same email", "/multi/corporates", corporateBody("root@acme.test")},
		{"different case", "/multi/corporates", corporateBody("ROOT@Acme.Test")},
		{"a consumer with a corporate root's email", "/multi/consumers", consumerBody("root@acme.test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireConflict(t, e.key("POST", tt.path, tt.body), "ROOT_EMAIL_NOT_UNIQUE")
		})
	}
	require.Equal(t, http.StatusOK, e.key("POST", "/multi/consumers", consumerBody("cons@acme.test")).status)
	requireConflict(t, e.key("POST", "/multi/consumers", consumerBody("cons@acme.test")), "ROOT_EMAIL_NOT_UNIQUE")

	otherKey := e.otherProgramme("Other")
	r := e.call("POST", "/multi/corporates", corporateBody("root@acme.test"), "api-key", otherKey)
	assert.Equal(t, http.StatusOK, r.status, "emails are unique per programme only: %s", r.body)
	assert.Equal(t, 2, count(e.auditActions(), "identity.create"), "failed creations leave nothing behind")
}

// with returns a deep copy of body with the value at path set (or deleted when v is nil).
func with(t *testing.T, body map[string]any, v any, path ...string) map[string]any {
	t.Helper()
	out := asJSON(t, body).(map[string]any)
	cur := out
	for _, p := range path[:len(path)-1] {
		next, ok := cur[p].(map[string]any)
		require.True(t, ok, "path %v", path)
		cur = next
	}
	if v == nil {
		delete(cur, path[len(path)-1])
	} else {
		cur[path[len(path)-1]] = v
	}
	return out
}

func TestIdentityCreateBadRequests(t *testing.T) {
	e := newEnv(t)
	corp := fullCorporateBody("root@acme.test")
	cons := fullConsumerBody("cons@acme.test")
	tests := []struct {
		name string
		path string
		body map[string]any
		want []string
	}{
		// Fields Weavr does not define, at every level.
		{"unknown top-level field", "/multi/corporates", with(t, corp, 1, "nickname"), []string{"nickname:NOT_IN"}},
		{"unknown rootUser field", "/multi/corporates", with(t, corp, "x", "rootUser", "nickname"), []string{"rootUser.nickname:NOT_IN"}},
		{"unknown mobile field", "/multi/corporates", with(t, corp, "x", "rootUser", "mobile", "extension"), []string{"rootUser.mobile.extension:NOT_IN"}},
		{"unknown dateOfBirth field", "/multi/corporates", with(t, corp, 1, "rootUser", "dateOfBirth", "hour"), []string{"rootUser.dateOfBirth.hour:NOT_IN"}},
		{"unknown company field", "/multi/corporates", with(t, corp, "x", "company", "vatNumber"), []string{"company.vatNumber:NOT_IN"}},
		{"unknown businessAddress field", "/multi/corporates", with(t, corp, "x", "company", "businessAddress", "floor"), []string{"company.businessAddress.floor:NOT_IN"}},
		{"consumer field on a corporate", "/multi/corporates", with(t, corp, "STUDENT", "rootUser", "occupation"), []string{"rootUser.occupation:NOT_IN"}},
		{"unknown consumer top-level field", "/multi/consumers", with(t, cons, "x", "company"), []string{"company:NOT_IN"}},
		{"unknown consumer address field", "/multi/consumers", with(t, cons, "x", "rootUser", "address", "floor"), []string{"rootUser.address.floor:NOT_IN"}},

		// Required fields, named by their path.
		{"no rootUser", "/multi/corporates", with(t, corp, nil, "rootUser"), []string{"rootUser:REQUIRED"}},
		{"no rootUser.name", "/multi/corporates", with(t, corp, nil, "rootUser", "name"), []string{"rootUser.name:REQUIRED"}},
		{"no rootUser.surname", "/multi/corporates", with(t, corp, nil, "rootUser", "surname"), []string{"rootUser.surname:REQUIRED"}},
		{"no rootUser.email", "/multi/corporates", with(t, corp, nil, "rootUser", "email"), []string{"rootUser.email:REQUIRED"}},
		{"no rootUser.mobile", "/multi/corporates", with(t, corp, nil, "rootUser", "mobile"), []string{"rootUser.mobile:REQUIRED"}},
		{"no mobile number", "/multi/corporates", with(t, corp, nil, "rootUser", "mobile", "number"), []string{"rootUser.mobile.number:REQUIRED"}},
		{"no company", "/multi/corporates", with(t, corp, nil, "company"), []string{"company:REQUIRED"}},
		{"no company.name", "/multi/corporates", with(t, corp, nil, "company", "name"), []string{"company.name:REQUIRED"}},
		{"blank company.name", "/multi/corporates", with(t, corp, "   ", "company", "name"), []string{"company.name:REQUIRED"}},
		{"no businessAddress.addressLine1", "/multi/corporates", with(t, corp, nil, "company", "businessAddress", "addressLine1"), []string{"company.businessAddress.addressLine1:REQUIRED"}},
		{"no businessAddress.country", "/multi/corporates", with(t, corp, nil, "company", "businessAddress", "country"), []string{"company.businessAddress.country:REQUIRED"}},
		{"no consumer rootUser", "/multi/consumers", with(t, cons, nil, "rootUser"), []string{"rootUser:REQUIRED"}},
		{"no consumer rootUser.email", "/multi/consumers", with(t, cons, nil, "rootUser", "email"), []string{"rootUser.email:REQUIRED"}},
		{"no consumer address.country", "/multi/consumers", with(t, cons, nil, "rootUser", "address", "country"), []string{"rootUser.address.country:REQUIRED"}},
		{"empty body object", "/multi/corporates", map[string]any{}, []string{"profileId:REQUIRED", "ipAddress:REQUIRED", "baseCurrency:REQUIRED", "rootUser:REQUIRED", "company:REQUIRED"}},
		{"empty consumer body object", "/multi/consumers", map[string]any{}, []string{"profileId:REQUIRED", "ipAddress:REQUIRED", "rootUser:REQUIRED"}},

		// Formats.
		{"mobile countryCode without +", "/multi/corporates", with(t, corp, "44", "rootUser", "mobile", "countryCode"), []string{"rootUser.mobile.countryCode:REGEX"}},
		{"mobile countryCode too long", "/multi/corporates", with(t, corp, "+4412", "rootUser", "mobile", "countryCode"), []string{"rootUser.mobile.countryCode:REGEX"}},
		{"mobile number with letters", "/multi/corporates", with(t, corp, "77009OO123", "rootUser", "mobile", "number"), []string{"rootUser.mobile.number:REGEX"}},
		{"malformed email", "/multi/corporates", with(t, corp, "root-at-acme", "rootUser", "email"), []string{"rootUser.email:REGEX"}},
		{"lower-case registrationCountry", "/multi/corporates", with(t, corp, "mt", "company", "registrationCountry"), []string{"company.registrationCountry:REGEX"}},
		{"unknown company type", "/multi/corporates", with(t, corp, "PARTNERSHIP", "company", "type"), []string{"company.type:IN"}},
		{"unknown industry", "/multi/corporates", with(t, corp, "FARMING", "industry"), []string{"industry:IN"}},
		{"unknown companyPosition", "/multi/corporates", with(t, corp, "CEO", "rootUser", "companyPosition"), []string{"rootUser.companyPosition:IN"}},
		{"month 13", "/multi/corporates", with(t, corp, 13, "rootUser", "dateOfBirth", "month"), []string{"rootUser.dateOfBirth.month:RANGE"}},
		{"ipAddress too short", "/multi/corporates", with(t, corp, "1.2", "ipAddress"), []string{"ipAddress:SIZE"}},
		{"ipAddress no address", "/multi/corporates", with(t, corp, "localhost", "ipAddress"), []string{"ipAddress:REGEX"}},
		{"ipAddress with a zone", "/multi/consumers", with(t, cons, "fe80::1%eth0", "ipAddress"), []string{"ipAddress:REGEX"}},
		{"profileId not digits", "/multi/consumers", with(t, cons, "p-1", "profileId"), []string{"profileId:REGEX"}},
		{"currency too long", "/multi/consumers", with(t, cons, "EURO", "baseCurrency"), []string{"baseCurrency:REGEX"}},
		{"registrationCountry of three letters", "/multi/corporates", with(t, corp, "MLT", "company", "registrationCountry"), []string{"company.registrationCountry:REGEX"}},
		{"consumer dateOfBirth 31 February", "/multi/consumers", with(t, cons, map[string]any{"year": 1990, "month": 2, "day": 31}, "rootUser", "dateOfBirth"), []string{"rootUser.dateOfBirth.day:RANGE"}},
		{"consumer dateOfBirth without a day", "/multi/consumers", with(t, cons, nil, "rootUser", "dateOfBirth", "day"), []string{"rootUser.dateOfBirth.day:RANGE"}},
		{"lower-case currency", "/multi/corporates", with(t, corp, "eur", "baseCurrency"), []string{"baseCurrency:REGEX"}},
		{"name over 50 characters", "/multi/corporates", with(t, corp, "Adaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "rootUser", "name"), []string{"rootUser.name:SIZE"}},
		{"bad locale", "/multi/consumers", with(t, cons, "english", "rootUser", "locale"), []string{"rootUser.locale:REGEX"}},
		{"bad nationality", "/multi/consumers", with(t, cons, "Malta", "rootUser", "nationality"), []string{"rootUser.nationality:REGEX"}},
		{"corporate sourceOfFunds on a consumer", "/multi/consumers", with(t, cons, "DONATION", "sourceOfFunds"), []string{"sourceOfFunds:IN"}},

		// Wrong JSON types, named by their path.
		{"mobile as a string", "/multi/corporates", with(t, corp, "+44 7700900123", "rootUser", "mobile"), []string{"rootUser.mobile:IN"}},
		{"year as a string", "/multi/corporates", with(t, corp, "1990", "rootUser", "dateOfBirth", "year"), []string{"rootUser.dateOfBirth.year:IN"}},
		{"acceptedTerms as a string", "/multi/consumers", with(t, cons, "yes", "acceptedTerms"), []string{"acceptedTerms:IN"}},
		{"year beyond int", "/multi/corporates", with(t, corp, 1e20, "rootUser", "dateOfBirth", "year"), []string{"rootUser.dateOfBirth.year:RANGE"}},
		{"year with a fraction", "/multi/corporates", with(t, corp, 1990.5, "rootUser", "dateOfBirth", "year"), []string{"rootUser.dateOfBirth.year:IN"}},
		{"unknown field under a differently cased key", "/multi/corporates", with(t, corp, map[string]any{"countryCode": "+44", "number": "1", "extra": 1}, "rootUser", "Mobile"), []string{"rootUser.Mobile.extra:NOT_IN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.key("POST", tt.path, tt.body)
			assert.Equal(t, tt.want, r.invalidFields(t), "body: %s", r.body)
		})
	}
	assert.Zero(t, count(e.auditActions(), "identity.create"), "no rejected request created anything")
}

// TestIntegerSpelledAsFloatNamesTheField: a whole number written with an
// exponent or a fraction (1e3, 1990.0) where an integer belongs is a 400
// naming the field as the request spells it, also inside the Go structs
// the request types embed (rootUser's shared fields, the root-user part of
// an identity update), which are no part of the JSON.
func TestIntegerSpelledAsFloatNamesTheField(t *testing.T) {
	e := newEnv(t)
	_, corpToken := e.corporate("corp@acme.test")
	r := e.key("POST", "/multi/consumers", consumerBody("cons@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.key("POST", "/multi/passwords/"+str(t, r.json(t), "id", "id")+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	consToken := str(t, r.json(t), "token")

	for _, year := range []string{"1e3", "1990.0", "1.99E3"} {
		dob := `"dateOfBirth":{"year":` + year + `,"month":1,"day":1}`
		for _, tt := range []struct {
			name, method, path, token, body string
			want                            string
		}{
			{"corporateCreate", "POST", "/multi/corporates", "", corporateRaw(`"Ada"`, `"ada@acme.test"`, ","+dob), "rootUser.dateOfBirth.year:IN"},
			{"consumerCreate", "POST", "/multi/consumers", "", consumerRaw("," + dob), "rootUser.dateOfBirth.year:IN"},
			{"corporateUpdate", "PATCH", "/multi/corporates", corpToken, "{" + dob + "}", "dateOfBirth.year:IN"},
			{"consumerUpdate", "PATCH", "/multi/consumers", consToken, "{" + dob + "}", "dateOfBirth.year:IN"},
		} {
			t.Run(tt.name+"/"+year, func(t *testing.T) {
				var r resp
				if tt.token == "" {
					r = e.key(tt.method, tt.path, tt.body)
				} else {
					r = e.auth(tt.token, tt.method, tt.path, tt.body)
				}
				assert.Equal(t, []string{tt.want}, r.invalidFields(t), "%s", r.body)
			})
		}
	}
	assert.Zero(t, count(e.auditActions(), "user.update"), "no refused update changed anything")
}

// TestIdentityCreateRequiresWeavrFields: every field Weavr's
// CorporateCreateRequest and ConsumerCreateRequest require is required here
// too (and kept, so every identity Deputy creates answers as Weavr's
// Corporate and Consumer say it must); a create without one, or with it
// blank, is a 400 naming it and creates nothing.
func TestIdentityCreateRequiresWeavrFields(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path string
		body func(string) map[string]any
		// required are the paths Weavr requires, as the field names of the 400.
		required [][]string
	}{
		{"/multi/corporates", corporateBody, [][]string{
			{"profileId"}, {"ipAddress"}, {"baseCurrency"}, {"rootUser"}, {"company"},
			{"rootUser", "name"}, {"rootUser", "surname"}, {"rootUser", "email"}, {"rootUser", "mobile"}, {"rootUser", "companyPosition"},
			{"rootUser", "mobile", "countryCode"}, {"rootUser", "mobile", "number"},
			{"company", "name"}, {"company", "type"}, {"company", "registrationCountry"},
		}},
		{"/multi/consumers", consumerBody, [][]string{
			{"profileId"}, {"ipAddress"}, {"rootUser"},
			{"rootUser", "name"}, {"rootUser", "surname"}, {"rootUser", "email"}, {"rootUser", "mobile"},
			{"rootUser", "dateOfBirth"}, {"rootUser", "address"},
			{"rootUser", "mobile", "countryCode"}, {"rootUser", "mobile", "number"}, {"rootUser", "address", "country"},
		}},
	}
	for _, tt := range tests {
		for _, path := range tt.required {
			name := strings.Join(path, ".")
			t.Run(tt.path+"/"+name, func(t *testing.T) {
				body := tt.body("root@acme.test")
				r := e.key("POST", tt.path, with(t, body, nil, path...))
				require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
				assert.Equal(t, []string{name + ":REQUIRED"}, r.invalidFields(t), "missing")
				if _, isObject := walk(body, path).(map[string]any); !isObject {
					r = e.key("POST", tt.path, with(t, body, "  ", path...))
					assert.Equal(t, []string{name + ":REQUIRED"}, r.invalidFields(t), "blank")
				}
			})
		}
	}
	assert.Zero(t, count(e.auditActions(), "identity.create"), "no rejected request created anything")
}

// walk returns the value at path in body, nil where there is none.
func walk(body map[string]any, path []string) any {
	var cur any = body
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// TestIdentityUpdateKeepsWeavrFields: corporateUpdate cannot blank the
// baseCurrency Weavr's Corporate requires (Weavr's Currency is three letters).
func TestIdentityUpdateKeepsWeavrFields(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	r := e.auth(token, "PATCH", "/multi/corporates", map[string]any{"baseCurrency": ""})
	assert.Equal(t, []string{"baseCurrency:REGEX"}, r.invalidFields(t), "%s", r.body)
	r = e.auth(token, "PATCH", "/multi/corporates", map[string]any{"baseCurrency": "EUR"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "EUR", r.json(t)["baseCurrency"])
}

// TestLinkedIdentityCreateRequiresWeavrFields: linking a new identity to a
// signed-in root user's credentials (a bearer token beside the secret key)
// needs the same fields as any other create.
func TestLinkedIdentityCreateRequiresWeavrFields(t *testing.T) {
	e := newEnv(t)
	owner := e.adminRoot("owner@acme.test")
	tests := []struct {
		path    string
		body    map[string]any
		missing []string
	}{
		{"/multi/corporates", corporateBody(owner.email), []string{"profileId"}},
		{"/multi/corporates", corporateBody(owner.email), []string{"baseCurrency"}},
		{"/multi/corporates", corporateBody(owner.email), []string{"rootUser", "companyPosition"}},
		{"/multi/corporates", corporateBody(owner.email), []string{"company", "type"}},
		{"/multi/consumers", consumerBody(owner.email), []string{"ipAddress"}},
		{"/multi/consumers", consumerBody(owner.email), []string{"rootUser", "dateOfBirth"}},
		{"/multi/consumers", consumerBody(owner.email), []string{"rootUser", "address"}},
	}
	for _, tt := range tests {
		name := strings.Join(tt.missing, ".")
		t.Run(tt.path+"/"+name, func(t *testing.T) {
			r := e.auth(owner.token, "POST", tt.path, with(t, tt.body, nil, tt.missing...))
			assert.Equal(t, []string{name + ":REQUIRED"}, r.invalidFields(t), "body: %s", r.body)
		})
	}
	identities := func() int { return len(identityIDs(t, e.auth(owner.token, "GET", identitiesPath, nil))) }
	assert.Equal(t, 1, identities(), "no refused link created anything")
	r := e.auth(owner.token, "POST", "/multi/consumers", consumerBody(owner.email))
	require.Equal(t, http.StatusOK, r.status, "the complete request links: %s", r.body)
	assert.Equal(t, "1", r.json(t)["profileId"])
}

// TestIdentityWrittenBeforeWeavrFieldsStillReads: identities stored before
// Deputy required the fields Weavr requires (profileId, ipAddress,
// baseCurrency, company type and country, companyPosition, a consumer's date
// of birth and address) are not changed by the upgrade and still read, get
// and patch: they answer the fields they were given and leave the rest out,
// which Deputy's own description allows. (Weavr's requires them: such an
// identity is the one answer a generated Weavr client may find short.)
func TestIdentityWrittenBeforeWeavrFieldsStillReads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// What the server kept before: a corporate's profile with only the
	// company name, a consumer's with nothing, and one with no profile at all.
	tests := []struct {
		name    string
		typ     core.IdentityType
		company string
		profile json.RawMessage
		path    string
	}{
		{"corporate", core.Corporate, "Old Ltd", json.RawMessage(`{"company":{"name":"Old Ltd"}}`), "/multi/corporates"},
		{"consumer", core.Consumer, "", json.RawMessage(`{}`), "/multi/consumers"},
		{"consumer without a profile", core.Consumer, "", nil, "/multi/consumers"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := []string{"old-corp@acme.test", "old-cons@acme.test", "older@acme.test"}[i]
			ident, _, err := e.svc.CreateIdentity(ctx, e.prog, core.NewIdentity{
				Type: tt.typ, Name: tt.company, Profile: tt.profile,
				Root: core.UserDetails{Name: "Old", Surname: "Timer", Email: email,
					Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900555"}},
			})
			require.NoError(t, err)
			r := e.key("POST", "/multi/passwords/"+ident.ID+"/create", map[string]any{"password": pw(testPassword)})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			token := str(t, r.json(t), "token")

			for _, call := range []struct {
				method string
				body   any
			}{{"GET", nil}, {"PATCH", map[string]any{"surname": "Timely"}}, {"PATCH", map[string]any{"feeGroup": "legacy"}}} {
				status, got := e.unheldToWeavr(t, token, call.method, tt.path, call.body)
				require.Equal(t, http.StatusOK, status, "%s %s: %v", call.method, tt.path, got)
				assert.Equal(t, ident.ID, got["id"].(map[string]any)["id"])
				root := got["rootUser"].(map[string]any)
				assert.Equal(t, email, root["email"])
				for _, absent := range []string{"profileId", "ipAddress", "baseCurrency"} {
					assert.NotContains(t, got, absent, "nothing is made up")
				}
				assert.NotContains(t, root, "companyPosition")
				assert.NotContains(t, root, "address")
				if tt.typ == core.Corporate {
					assert.Equal(t, map[string]any{"name": "Old Ltd"}, got["company"], "the company as it was kept")
				}
			}
		})
	}
}

// unheldToWeavr calls the API with token, holding the answer to Deputy's
// description only (an identity written before Deputy required Weavr's
// fields may answer without them), and returns the status and body.
func (e *env) unheldToWeavr(t *testing.T, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	client := &http.Client{Transport: apispec.NewValidator(t).DeputyOnly().Transport(nil), Timeout: 30 * time.Second}
	r := e.callWith(client, method, path, body, "api-key", e.apiKey, "Authorization", "Bearer "+token)
	return r.status, r.json(t)
}

// The identity's own fields follow the rank rule of its root user: only the
// root user and a user holding every permission the root holds (an ADMIN)
// change them; any other authorised user is refused and nothing changes.
func TestIdentityFieldsFollowTheRankRule(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	for _, c := range []struct {
		role core.Role
		code string
	}{
		{core.RoleAccessManagement, core.CodeRankInsufficient},
		{core.RoleFundsManagement, "INSUFFICIENT_PERMISSIONS"},
		{core.RoleCardsManagement, "INSUFFICIENT_PERMISSIONS"},
		{core.RoleCardAssignee, "INSUFFICIENT_PERMISSIONS"},
	} {
		m := e.newMember(root.token, string(c.role)+"@acme.test", c.role)
		for _, body := range []map[string]any{
			{"baseCurrency": "USD"},
			{"feeGroup": "free"},
			{"companyBusinessAddress": map[string]any{"addressLine1": "9 Fake St", "city": "Nowhere", "postCode": "N1", "country": "GB"}},
		} {
			r := e.auth(m.token, "PATCH", "/multi/corporates", body)
			require.Equal(t, http.StatusForbidden, r.status, "%s %v: %s", c.role, body, r.body)
			assert.Equal(t, c.code, r.errorCode(t), "%s %v", c.role, body)
		}
	}
	got := e.auth(root.token, "GET", "/multi/corporates", nil).json(t)
	assert.Equal(t, "GBP", got["baseCurrency"], "nothing changed")
	assert.Nil(t, got["feeGroup"], "nothing changed")
	assert.Nil(t, got["company"].(map[string]any)["businessAddress"], "nothing changed")

	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	r := e.auth(admin.token, "PATCH", "/multi/corporates", map[string]any{"baseCurrency": "USD"})
	require.Equal(t, http.StatusOK, r.status, "an ADMIN may: %s", r.body)
	assert.Equal(t, "USD", r.json(t)["baseCurrency"])
}

// The root user's sign-in is theirs alone: an ADMIN, who holds every
// permission the root holds and may change the identity's other fields, is
// refused the root's email and mobile even stepped up (with them, a password
// reset or step-up codes would go to the admin), on corporates and consumers.
func TestOnlyTheRootChangesTheRootsSignIn(t *testing.T) {
	e := newEnv(t)
	for _, kind := range []string{"corporates", "consumers"} {
		body := map[string]func(string) map[string]any{"corporates": corporateBody, "consumers": consumerBody}[kind]
		_, token := e.identity(kind, body("root@"+kind+".test"))
		e.stepUp(token)
		admin := e.newMember(token, "admin@"+kind+".test", core.RoleAdmin)
		before := e.auth(token, "GET", "/multi/"+kind, nil).json(t)["rootUser"]
		for _, body := range []map[string]any{
			{"email": "admin.inbox@" + kind + ".test"},
			{"mobile": map[string]any{"countryCode": "+44", "number": "7700900999"}},
		} {
			r := e.auth(admin.token, "PATCH", "/multi/"+kind, body)
			require.Equal(t, http.StatusForbidden, r.status, "%s %v: %s", kind, body, r.body)
			assert.Equal(t, core.CodeRankInsufficient, r.errorCode(t), "%s %v", kind, body)
		}
		assert.Equal(t, before, e.auth(token, "GET", "/multi/"+kind, nil).json(t)["rootUser"], "%s: nothing changed", kind)
		r := e.auth(admin.token, "PATCH", "/multi/"+kind, map[string]any{"tag": "renamed"})
		require.Equal(t, http.StatusOK, r.status, "%s: other fields stay the admin's to change: %s", kind, r.body)
		r = e.auth(token, "PATCH", "/multi/"+kind, map[string]any{"email": "owner.new@" + kind + ".test"})
		require.Equal(t, http.StatusOK, r.status, "%s: the root changes their own: %s", kind, r.body)
		assert.Equal(t, "owner.new@"+kind+".test", str(t, r.json(t), "rootUser", "email"))
	}
}

// Parallel updates of different identity fields each read the profile in
// their own transaction: none overwrites another's change (no lost update),
// on either store.
func TestIdentityUpdatesInParallelLoseNothing(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("ada@acme.test")
	address := map[string]any{"addressLine1": "1 High St", "city": "London", "postCode": "SW1A 1AA", "country": "GB"}
	bodies := []map[string]any{
		{"tag": "acme-2"}, {"baseCurrency": "EUR"}, {"feeGroup": "gold"}, {"industry": "FINANCE"},
		{"sourceOfFunds": "DIVIDENDS"}, {"sourceOfFundsOther": "none"}, {"companyBusinessAddress": address},
		{"name": "Augusta"}, {"userTag": "ada-1"},
	}
	var wg sync.WaitGroup
	errs := make([]string, len(bodies))
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := e.auth(token, "PATCH", "/multi/corporates", body); r.status != http.StatusOK {
				errs[i] = fmt.Sprintf("%v: %d %s", body, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	for _, msg := range errs {
		assert.Empty(t, msg)
	}
	got := e.auth(token, "GET", "/multi/corporates", nil).json(t)
	assert.Equal(t, "acme-2", got["tag"])
	assert.Equal(t, "EUR", got["baseCurrency"])
	assert.Equal(t, "gold", got["feeGroup"])
	assert.Equal(t, "FINANCE", got["industry"])
	assert.Equal(t, "DIVIDENDS", got["sourceOfFunds"])
	assert.Equal(t, "none", got["sourceOfFundsOther"])
	assert.Equal(t, address, got["company"].(map[string]any)["businessAddress"])
	assert.Equal(t, "Augusta", str(t, got, "rootUser", "name"))
	assert.Equal(t, "ada-1", str(t, got, "rootUser", "tag"))
}

// racingStore changes an identity's feeGroup just before each transaction a
// request runs, as a parallel corporateUpdate committing then would.
type racingStore struct {
	core.Store
	t        *testing.T
	identity atomic.Pointer[string]
	mu       sync.Mutex
	last     string // the feeGroup the latest change set
	n        int
}

func (s *racingStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	if id := s.identity.Load(); id != nil && core.RequestRef(ctx) != "" {
		s.mu.Lock()
		s.n++
		fee := fmt.Sprintf("racer-%d", s.n)
		s.last = fee
		s.mu.Unlock()
		require.NoError(s.t, s.Store.Update(ctx, func(tx core.Tx) error {
			ident, err := tx.Identity(*id)
			if err != nil {
				return err
			}
			var p map[string]any
			if err := json.Unmarshal(ident.Profile, &p); err != nil {
				return err
			}
			p["feeGroup"] = fee
			if ident.Profile, err = json.Marshal(p); err != nil {
				return err
			}
			return tx.UpdateIdentity(ident)
		}))
	}
	return s.Store.Update(ctx, fn)
}

// corporateUpdate answers the identity as its transaction left it, not as
// read before: a change another request committed in between is in the
// answer (and in what an idempotency-ref replays), also when the request
// changes only the root user.
func TestIdentityUpdateAnswersWhatItsTransactionSaw(t *testing.T) {
	racer := &racingStore{t: t}
	e, _ := newEnvOverStore(t, server.Options{}, func(s core.Store) core.Store { racer.Store = s; return racer })
	rootID, token := e.corporate("ada@acme.test")
	for _, body := range []map[string]any{{"name": "Augusta"}, {"tag": "acme-2"}} {
		racer.identity.Store(&rootID)
		r := e.auth(token, "PATCH", "/multi/corporates", body)
		racer.identity.Store(nil)
		require.Equal(t, http.StatusOK, r.status, "%v: %s", body, r.body)
		racer.mu.Lock()
		want := racer.last
		racer.mu.Unlock()
		require.NotEmpty(t, want, "the racer ran")
		assert.Equal(t, want, r.json(t)["feeGroup"], "%v answers the feeGroup its transaction saw", body)
		assert.Equal(t, want, e.auth(token, "GET", "/multi/corporates", nil).json(t)["feeGroup"])
	}
}

// TestConsumerNameFollowsItsRootUser: a consumer's name is its root user's
// full name, so renaming the root user renames the identity in
// GET /multi/identities.
func TestConsumerNameFollowsItsRootUser(t *testing.T) {
	e := newEnv(t)
	r := e.key("POST", "/multi/consumers", fullConsumerBody("grace@acme.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	id := str(t, r.json(t), "id", "id")
	pr := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, pr.status, "%s", pr.body)
	token := str(t, pr.json(t), "token")
	names := func() []any {
		g := e.auth(token, "GET", "/multi/identities", nil)
		require.Equal(t, http.StatusOK, g.status, "%s", g.body)
		var out []any
		for _, it := range g.json(t)["identities"].([]any) {
			out = append(out, it.(map[string]any)["name"])
		}
		return out
	}
	require.Equal(t, []any{"Grace Hopper"}, names())

	u := e.auth(token, "PATCH", "/multi/consumers", map[string]any{"surname": "Murray"})
	require.Equal(t, http.StatusOK, u.status, "%s", u.body)
	assert.Equal(t, []any{"Grace Murray"}, names())
	u = e.auth(token, "PATCH", "/multi/consumers", map[string]any{"tag": "t2"})
	require.Equal(t, http.StatusOK, u.status, "%s", u.body)
	assert.Equal(t, []any{"Grace Murray"}, names())
}

// The conflicts of Weavr's corporateUpdate and consumerUpdate: a root user's
// new email another user holds, and a fourth new mobile, answer 409 with
// their errorCode from Weavr's enum (the validator holds the bodies to it).
func TestIdentityUpdateConflicts(t *testing.T) {
	for _, path := range []string{"/multi/corporates", "/multi/consumers"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t)
			root := e.weavrRoot(strings.TrimPrefix(path, "/multi"), "root@acme.test")
			other := e.adminRoot("other@acme.test")
			wantConflict(t, e.auth(root.token, "PATCH", path, map[string]any{"email": other.email}), "EMAIL_NOT_UNIQUE")
			for i, n := range []string{"7700900001", "7700900002", "7700900003"} {
				r := e.auth(root.token, "PATCH", path, map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": n}})
				require.Equal(t, http.StatusOK, r.status, "change %d: %s", i+1, r.body)
				e.stepUp(root.token) // a new mobile needs enrolling again
			}
			r := e.auth(root.token, "PATCH", path, map[string]any{"mobile": map[string]any{"countryCode": "+44", "number": "7700900004"}})
			wantConflict(t, r, "MOBILE_NO_CHANGE_LIMIT_EXCEEDED", "a fourth change")
		})
	}
}
