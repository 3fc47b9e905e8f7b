package core

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/deputyhq/deputy/fieldrules"
)

// Input rules every entry point applies (the HTTP API to every string it
// decodes, core again to what it stores): free text, emails and dates.

// TextRule is the rule free text follows, as the regular expression a 400
// quotes: no control characters (C0, DEL, C1), no format characters (bidi
// overrides such as U+202E, zero-width characters, the soft hyphen), no
// private-use characters and no line or paragraph separators.
const TextRule = `^[^\p{Cc}\p{Cf}\p{Co}\p{Zl}\p{Zp}]*$`

// ValidText reports whether s is valid UTF-8 that follows TextRule.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if notText(r) {
			return false
		}
	}
	return true
}

// notText reports whether TextRule refuses r.
func notText(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp)
}

// CheckText is ValidText as an ErrInvalid naming field.
func CheckText(field, s string) error {
	if ValidText(s) {
		return nil
	}
	return Invalid(field, ReasonRegex, TextRule)
}

// Bounds of a Date (Weavr's Date object).
const (
	minYear = 1900
	maxYear = 2100
)

// Check reports every part of d that makes it no calendar date (2001-02-31,
// month 13, 29 February of a common year) as one ErrInvalid naming
// field.year, field.month or field.day with the range allowed.
func (d Date) Check(field string) error {
	var fe []FieldError
	rng := func(part string, lo, hi int) {
		fe = append(fe, FieldError{Field: field + "." + part, Reason: ReasonRange, Params: []string{strconv.Itoa(lo), strconv.Itoa(hi)}})
	}
	if d.Year < minYear || d.Year > maxYear {
		rng("year", minYear, maxYear)
	}
	if d.Month < 1 || d.Month > 12 {
		rng("month", 1, 12)
	}
	days := 31
	if d.Month >= 1 && d.Month <= 12 {
		// Day 0 of the next month is the last day of this one.
		days = time.Date(d.Year, time.Month(d.Month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	}
	if d.Day < 1 || d.Day > days {
		rng("day", 1, days)
	}
	if fe == nil {
		return nil
	}
	return &Error{Class: ErrInvalid, Fields: fe}
}

// CanonicalEmail returns email in the one form Deputy stores, compares and
// sends to, or an ErrInvalid naming field (REGEX "email") when Deputy refuses
// the address. The canonical form is lower case, Unicode NFC, with the domain
// in its ASCII (IDNA "xn--") form. Refused, so that no address can pass for
// another:
//   - anything but ASCII letters, digits and RFC 5322 atext symbols, and
//     letters and combining marks of other scripts: no spaces, control or
//     format characters (zero-width, soft hyphen, bidi), no look-alike
//     punctuation or digits;
//   - compatibility characters, which NFKC would change (fullwidth letters, ligatures);
//   - a local part, or a domain label, mixing scripts beyond what UTS #39's
//     "highly restrictive" level allows (one script, or Latin with Han and
//     Japanese kana, Bopomofo or Hangul): a Cyrillic 'а' in a Latin name is refused;
//   - a domain that is not a valid IDNA2008 name of two labels or more (no trailing dot);
//   - quoted local parts, empty, leading, trailing or doubled dots, and more
//     than 64 bytes before the '@' or 254 in all.
func CanonicalEmail(field, email string) (string, error) {
	e, ok := fieldrules.CanonicalEmail(email)
	if !ok {
		return "", Invalid(field, ReasonRegex, "email")
	}
	return e, nil
}

// NormaliseEmail is CanonicalEmail for lookups: an address Deputy refuses
// belongs to no user, so it becomes "", which matches none.
func NormaliseEmail(email string) string {
	e, err := CanonicalEmail("email", strings.TrimSpace(email))
	if err != nil {
		return ""
	}
	return e
}
