package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/deputyhq/deputy/core"
)

// FuzzDecodeRequests feeds arbitrary bodies to the strict decoder and the field
// checks of every request type: they must never panic, and every rejection must
// be a 400-class error.
func FuzzDecodeRequests(f *testing.F) {
	seeds := []string{
		`{"email":"a@b.co","password":{"value":"Secret-123"}}`,
		`{"profileId":"1","rootUser":{"name":"A","surname":"B","email":"a@b.co","mobile":{"countryCode":"+44","number":"123"},"dateOfBirth":{"year":1990,"month":1,"day":2}},"company":{"name":"Acme","type":"LLC","businessAddress":{"addressLine1":"x","city":"y","postCode":"AB1 2CD","country":"GB"}}}`,
		`{"rootUser":{"name":"A","surname":"B","email":"a@b.co","mobile":{"countryCode":"+44","number":"123"},"address":{"country":"GB"}}}`,
		`{"nonce":"123456","email":"a@b.co","newPassword":{"value":"x"}}`,
		`{"oldPassword":{"value":"a"},"newPassword":{"value":"b"}}`,
		`{"advanceSeconds":60}`,
		`{"identity":{"type":"CORPORATE","id":"100000001"}}`,
		`{"deviceId":"phone-1","platform":"APNS","token":"0A1B2C3D0A1B2C3D0A1B2C3D0A1B2C3D0A1B2C3D0A1B2C3D0A1B2C3D0A1B2C3D"}`,
		`{"deviceId":"phone-1","platform":"FCM","token":"cXk2Vb8lRkq0yVd1:APA91bHx7_Q-x7_Q-x7_Q-x7_Q-"}`, `{"identity":{"type":"X","id":"1a"}}`, `{"identity":null}`,
		`{"tag":"t","baseCurrency":"","industry":"FINANCE","companyBusinessAddress":{"country":"gb"},"dateOfBirth":{"year":1e3,"month":1,"day":1}}`,
		`{"address":{"country":"GB"},"nationality":"MT","occupation":"STUDENT","placeOfBirth":"x","resetMobileCounter":true,"userTag":"u"}`,
		`{"unknown":1}`, `[]`, `null`, `{"email":5}`, `{"email":"a@b.co"} {}`, "",
		// The input rules (input_test.go): repeated names, invalid UTF-8,
		// control and invisible characters, impossible dates, look-alike emails.
		`{"email":"a@b.co","email":"e@evil.co","password":{"value":"x"}}`,
		`{"email":"a@b.co","EMAIL":"e@evil.co","password":{"value":"x"}}`,
		`{"oldPassword":{"value":"a","value":"b"},"newPassword":{"value":"c"}}`,
		"{\"email\":\"a\xff@b.co\",\"password\":{\"value\":\"x\"}}",
		"{\"email\":\"a@b.co\",\"password\":{\"value\":\"\xc0\xaf\"}}",
		`{"email":"a@b.co","password":{"value":"\ud800"}}`,
		`{"rootUser":{"name":"\u202eA","surname":"B\u0000","email":"a@b.co","tag":"t\u200b"}}`,
		`{"rootUser":{"name":"A","surname":"B","email":"a@b.co","dateOfBirth":{"year":2001,"month":2,"day":31}}}`,
		`{"rootUser":{"name":"A","surname":"B","email":"a@b.co","dateOfBirth":{"year":2001,"month":13,"day":1}}}`,
		`{"email":"\u0430dmin@b.co","password":{"value":"x"}}`,
		`{"email":"ad\u00admin@b.co","password":{"value":"x"}}`,
		`{"email":"admin@xn--pple-43d.com","password":{"value":"x"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []struct {
			v     any
			check func(*fields, any)
		}{
			{&loginRequest{}, func(f *fields, v any) {
				in := v.(*loginRequest)
				f.email("email", in.Email)
				f.password("password", in.Password)
			}},
			{&corporateCreateRequest{}, func(f *fields, v any) {
				in := v.(*corporateCreateRequest)
				f.common(&in.identityCommon, "profileId", "ipAddress", "baseCurrency")
				if in.RootUser != nil {
					f.rootUser(&in.RootUser.rootUserIn)
				}
				if in.Company != nil {
					f.address("company.businessAddress", in.Company.BusinessAddress)
				}
			}},
			{&consumerCreateRequest{}, func(f *fields, v any) {
				in := v.(*consumerCreateRequest)
				f.common(&in.identityCommon, "profileId", "ipAddress")
				if in.RootUser != nil {
					f.rootUser(&in.RootUser.rootUserIn)
					f.address("rootUser.address", in.RootUser.Address)
				}
			}},
			{&lostPasswordResumeRequest{}, func(f *fields, v any) {
				in := v.(*lostPasswordResumeRequest)
				f.pattern("nonce", in.Nonce, reNonce)
				f.email("email", in.Email)
				f.password("newPassword", in.NewPassword)
			}},
			{&passwordUpdateRequest{}, func(f *fields, v any) {
				in := v.(*passwordUpdateRequest)
				f.password("oldPassword", in.OldPassword)
				f.password("newPassword", in.NewPassword)
			}},
			{&corporatePatchRequest{}, func(f *fields, v any) { v.(*corporatePatchRequest).check(f) }},
			{&consumerPatchRequest{}, func(f *fields, v any) { v.(*consumerPatchRequest).check(f) }},
			{&clockRequest{}, func(*fields, any) {}},
			{&accessTokenRequest{}, func(f *fields, v any) { f.identityID("identity", v.(*accessTokenRequest).Identity) }},
			{&pushTokenRequest{}, func(f *fields, v any) { f.pushToken(v.(*pushTokenRequest)) }},
		}
		for _, tg := range targets {
			err := decodeJSON(body, tg.v)
			if err == nil {
				var f fields
				tg.check(&f, tg.v)
				err = f.err()
			}
			if err != nil && !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("decode %T: error %v is not a 400-class error", tg.v, err)
			}
			if err == nil && !utf8.Valid(body) {
				t.Fatalf("decode %T: accepted invalid UTF-8 %q", tg.v, body)
			}
		}
	})
}

// FuzzHasNumber holds coerceNumbers' shortcut to what it skips: a body
// hasNumber passes over decodes, as coerceNumbers would, to no json.Number,
// so there was nothing to coerce.
func FuzzHasNumber(f *testing.F) {
	for _, s := range []string{`{"verificationCode":"123456"}`, `{"verificationCode":123456}`, `{"a":"x\"1"}`,
		`{"a":"\\"}`, `[-1]`, `{"a":true,"b":null}`, `{"a":"1e5"} 7`, `"\u0031"`, `{"a":["x",{"b":"-"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if hasNumber(body) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) != nil {
			return
		}
		if holdsNumber(doc) {
			t.Fatalf("hasNumber(%q) = false, but it decodes to a number", body)
		}
	})
}

// holdsNumber reports whether a value decoded with UseNumber holds a number.
func holdsNumber(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return true
	case map[string]any:
		return slices.ContainsFunc(slices.Collect(maps.Values(x)), holdsNumber)
	case []any:
		return slices.ContainsFunc(x, holdsNumber)
	}
	return false
}

func TestHasNumber(t *testing.T) {
	for body, want := range map[string]bool{
		`{"verificationCode":"123456"}`: false,
		`{"verificationCode":123456}`:   true,
		`{"a":"x\"1"}`:                  false,
		`{"a":"x\\",1]`:                 true,
		`{"a":[-1]}`:                    true,
		`{"a":true,"b":null}`:           false,
	} {
		if got := hasNumber([]byte(body)); got != want {
			t.Errorf("hasNumber(%s) = %v, want %v", body, got, want)
		}
	}
}
