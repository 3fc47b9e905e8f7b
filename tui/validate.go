package tui

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deputyhq/deputy/fieldrules"
	"github.com/deputyhq/deputy/server/client"
)

// The rules the server checks on a user's fields (package fieldrules, which
// the server's decoding uses too), checked here first so the admin sees a
// mistake before anything is sent. The server stays the judge: its field
// errors are shown the same way.

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
			errs.add(field, client.ReasonRequired)
		case n > fieldrules.MaxNameLength:
			errs.add(field, client.ReasonSize, "1", strconv.Itoa(fieldrules.MaxNameLength))
		}
	}
	if !validEmail(in.email) {
		if strings.TrimSpace(in.email) == "" {
			errs.add("email", client.ReasonRequired)
		} else {
			errs.add("email", client.ReasonRegex, "email")
		}
	}
	if in.tag != "" {
		if utf8.RuneCountInString(in.tag) > fieldrules.MaxNameLength {
			errs.add("tag", client.ReasonSize, "1", strconv.Itoa(fieldrules.MaxNameLength))
		}
		if !fieldrules.ValidTag(in.tag) {
			errs.add("tag", client.ReasonRegex)
		}
	}
	if in.countryCode != "" || in.number != "" || hadMobile {
		switch {
		case in.countryCode == "":
			errs.add("mobile.countryCode", client.ReasonRequired)
		case !fieldrules.ValidCountryCode(in.countryCode):
			errs.add("mobile.countryCode", client.ReasonRegex)
		}
		switch {
		case in.number == "":
			errs.add("mobile.number", client.ReasonRequired)
		case !fieldrules.ValidMobileNumber(in.number):
			errs.add("mobile.number", client.ReasonRegex)
		}
	}
	return errs
}

// validEmail is the server's email rule.
func validEmail(v string) bool {
	_, ok := fieldrules.CanonicalEmail(v)
	return ok
}
