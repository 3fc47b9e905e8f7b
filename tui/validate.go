package tui

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/deputyhq/deputy/server/client"
)

// The rules the server checks on a user's fields (server/decode.go, after
// Weavr's UserCreateRequest), checked here first so the admin sees a mistake
// before anything is sent. The server stays the judge: its field errors are
// shown the same way.
var (
	reTag         = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	reCountryCode = regexp.MustCompile(`^\+[0-9]{1,3}$`)
	reMobile      = regexp.MustCompile(`^[0-9]{1,12}$`)
)

// fieldErrors maps a field's JSON name ("mobile.number") to what is wrong with it.
type fieldErrors map[string]string

func (f fieldErrors) add(field, reason string, params ...string) {
	if _, ok := f[field]; !ok {
		f[field] = fieldError(client.FieldError{Field: field, Reason: reason, Params: params})
	}
}

// userInput is what the create and edit forms collect.
type userInput struct {
	name, surname, email, countryCode, number, tag string
}

// validate checks in as the server would. hadMobile says whether the user
// already has a mobile number, which cannot be taken away.
func (in userInput) validate(hadMobile bool) fieldErrors {
	errs := fieldErrors{}
	for field, v := range map[string]string{"name": in.name, "surname": in.surname} {
		switch n := utf8.RuneCountInString(v); {
		case strings.TrimSpace(v) == "":
			errs.add(field, "REQUIRED")
		case n > 50:
			errs.add(field, "SIZE", "1", "50")
		}
	}
	if !validEmail(in.email) {
		if strings.TrimSpace(in.email) == "" {
			errs.add("email", "REQUIRED")
		} else {
			errs.add("email", "REGEX", "email")
		}
	}
	if in.tag != "" {
		if utf8.RuneCountInString(in.tag) > 50 {
			errs.add("tag", "SIZE", "1", "50")
		}
		if !reTag.MatchString(in.tag) {
			errs.add("tag", "REGEX")
		}
	}
	if in.countryCode != "" || in.number != "" || hadMobile {
		switch {
		case in.countryCode == "":
			errs.add("mobile.countryCode", "REQUIRED")
		case !reCountryCode.MatchString(in.countryCode):
			errs.add("mobile.countryCode", "REGEX")
		}
		switch {
		case in.number == "":
			errs.add("mobile.number", "REQUIRED")
		case !reMobile.MatchString(in.number):
			errs.add("mobile.number", "REGEX")
		}
	}
	return errs
}

// validEmail is the server's email rule: one plain address, at most 254
// characters, with a dot in the domain.
func validEmail(v string) bool {
	if v == "" || len(v) > 254 {
		return false
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v {
		return false
	}
	return strings.Contains(v[strings.LastIndexByte(v, '@'):], ".")
}
