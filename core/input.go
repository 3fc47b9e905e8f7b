package core

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
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
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp) {
			return false
		}
	}
	return true
}

// CheckText is ValidText as an ErrInvalid naming field.
func CheckText(field, s string) error {
	if ValidText(s) {
		return nil
	}
	return Invalid(field, "REGEX", TextRule)
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
		fe = append(fe, FieldError{Field: field + "." + part, Reason: "RANGE", Params: []string{strconv.Itoa(lo), strconv.Itoa(hi)}})
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

// Email limits (RFC 5321 §4.5.3.1).
const (
	maxEmailLen = 254
	maxLocalLen = 64
)

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
	bad := Invalid(field, "REGEX", "email")
	e := norm.NFC.String(strings.ToLower(email))
	if !utf8.ValidString(email) || !plainEmailRunes(e) || norm.NFKC.String(e) != e {
		return "", bad
	}
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return "", bad
	}
	local, domain := e[:at], e[at+1:]
	if !validLocalPart(local) {
		return "", bad
	}
	domain, ok := canonicalDomain(domain)
	if !ok {
		return "", bad
	}
	e = local + "@" + domain
	if len(e) > maxEmailLen {
		return "", bad
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

// atext are the symbols RFC 5322 §3.2.3 allows in a dot-atom besides letters and digits.
const atext = "!#$%&'*+/=?^_`{|}~-"

// plainEmailRunes reports whether every rune of e is ASCII-printable (no
// space) or a letter or combining mark.
func plainEmailRunes(e string) bool {
	for _, r := range e {
		switch {
		case r > 0x20 && r < 0x7f:
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsMark(r)):
		default:
			return false
		}
	}
	return true
}

// validLocalPart checks a lower-cased, NFC local part: a dot-atom of atext and
// letters of one script family.
func validLocalPart(local string) bool {
	if local == "" || len(local) > maxLocalLen || !oneScript(local) {
		return false
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return false
		}
		for _, r := range atom {
			ascii := r < utf8.RuneSelf
			if ascii && !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune(atext, r)) {
				return false
			}
		}
	}
	return true
}

// canonicalDomain validates a lower-cased domain as an IDNA2008 name for
// registration (RFC 5891 §4) whose labels each pass oneScript, and returns it
// in ASCII.
func canonicalDomain(domain string) (string, bool) {
	uni, err := idna.Registration.ToUnicode(domain)
	if err != nil || !strings.Contains(uni, ".") {
		return "", false
	}
	for _, label := range strings.Split(uni, ".") {
		if label == "" || !oneScript(label) || norm.NFKC.String(label) != label || !plainEmailRunes(label) {
			return "", false
		}
	}
	ascii, err := idna.Registration.ToASCII(uni)
	if err != nil {
		return "", false
	}
	return ascii, true
}

// scriptSets are the mixes of scripts UTS #39 §5.2 "highly restrictive"
// allows in one identifier, besides a single script.
var scriptSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// oneScript reports whether the letters of s come from one script, or from
// one of scriptSets; Common and Inherited characters (digits, symbols,
// combining marks) belong to any script.
func oneScript(s string) bool {
	var scripts []string
	for _, r := range s {
		if sc := scriptOf(r); sc != "" && !slices.Contains(scripts, sc) {
			scripts = append(scripts, sc)
		}
	}
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range scriptSets {
		all := true
		for _, sc := range scripts {
			all = all && slices.Contains(set, sc)
		}
		if all {
			return true
		}
	}
	return false
}

// scriptOf names the Unicode script of r, or "" for Common and Inherited.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) {
			return "Latin"
		}
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			if name == "Common" || name == "Inherited" {
				return ""
			}
			return name
		}
	}
	return ""
}
