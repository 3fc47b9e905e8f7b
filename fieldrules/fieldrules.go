// Package fieldrules holds the formats of a user's fields that the API
// enforces and the admin UI checks before it sends anything (name, tag,
// mobile number, email address): one definition for both, so the two cannot
// disagree on what a valid address is.
package fieldrules

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// MaxNameLength bounds a user's name, surname and tag, in characters (Weavr's
// user schemas).
const MaxNameLength = 50

// Formats of Weavr's user fields, as the regular expressions a 400 quotes.
const (
	TagPattern          = `^[a-zA-Z0-9_-]+$`
	CountryCodePattern  = `^\+[0-9]{1,3}$`
	MobileNumberPattern = `^[0-9]{1,12}$`
)

var (
	reTag          = regexp.MustCompile(TagPattern)
	reCountryCode  = regexp.MustCompile(CountryCodePattern)
	reMobileNumber = regexp.MustCompile(MobileNumberPattern)
)

// ValidTag reports whether s follows TagPattern.
func ValidTag(s string) bool { return reTag.MatchString(s) }

// ValidCountryCode reports whether s follows CountryCodePattern.
func ValidCountryCode(s string) bool { return reCountryCode.MatchString(s) }

// countries are the 249 officially assigned ISO 3166-1 alpha-2 codes, as
// the iso-codes project (Debian's iso_3166-1.json) lists them.
var countries = func() map[string]bool {
	const list = "" +
		"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ " +
		"BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR " +
		"CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
		"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
		"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ " +
		"LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ " +
		"MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF " +
		"PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI " +
		"SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR " +
		"TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
	out := map[string]bool{}
	for _, c := range strings.Fields(list) {
		out[c] = true
	}
	return out
}()

// ValidCountry reports whether s is an officially assigned ISO 3166-1
// alpha-2 code: upper case, not a user-assigned (XX, ZZ), exceptionally
// reserved (UK, EU) or withdrawn one. Weavr's userCreate answers a
// countryOfResidence that is not with 409 COUNTRY_OF_RESIDENCE_INVALID.
func ValidCountry(s string) bool { return countries[s] }

// PossibleMobile reports whether countryCode, which follows
// CountryCodePattern, is a country calling code in use and number, which
// follows MobileNumberPattern, has a length that numbers under it can have
// (libphonenumber's metadata). Weavr answers a mobile that is not with 409
// MOBILE_OR_COUNTRY_CODE_INVALID.
func PossibleMobile(countryCode, number string) bool {
	cc, err := strconv.Atoi(strings.TrimPrefix(countryCode, "+"))
	if err != nil || phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
		return false
	}
	// The code and the number are one string to the parser, which finds
	// the code again: "+1"+"2345..." is "+12"+"345..." to it.
	p, err := phonenumbers.Parse(countryCode+number, phonenumbers.UNKNOWN_REGION)
	return err == nil && int(p.GetCountryCode()) == cc && phonenumbers.IsPossibleNumber(p)
}

// MobileKey is the one form of a phone number under all the ways it can be
// written: +cc followed by the national significant number without leading
// zeros, so that a national prefix given after the country code ("+44" with
// "07700...", "+1" with "1202...") names the same phone as the number
// without it. The rare numbers whose leading zero belongs to them share a
// key with the number without it: stricter, never looser, for what counts
// per number. A number the metadata cannot parse keys as written, less its
// leading zeros.
func MobileKey(countryCode, number string) string {
	if p, err := phonenumbers.Parse(countryCode+number, phonenumbers.UNKNOWN_REGION); err == nil {
		return "+" + strconv.Itoa(int(p.GetCountryCode())) + strings.TrimLeft(phonenumbers.GetNationalSignificantNumber(p), "0")
	}
	return countryCode + strings.TrimLeft(number, "0")
}

// ValidMobileNumber reports whether s follows MobileNumberPattern.
func ValidMobileNumber(s string) bool { return reMobileNumber.MatchString(s) }

// Email limits (RFC 5321 §4.5.3.1).
const (
	maxEmailLen = 254
	maxLocalLen = 64
)

// CanonicalEmail returns email in the one form Deputy stores, compares and
// sends to, and false when Deputy refuses the address (core.CanonicalEmail
// says which addresses, and why).
func CanonicalEmail(email string) (string, bool) {
	e := norm.NFC.String(strings.ToLower(email))
	if !utf8.ValidString(email) || !plainEmailRunes(e) || norm.NFKC.String(e) != e {
		return "", false
	}
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return "", false
	}
	local, domain := e[:at], e[at+1:]
	if !validLocalPart(local) {
		return "", false
	}
	domain, ok := canonicalDomain(domain)
	if !ok {
		return "", false
	}
	e = local + "@" + domain
	if len(e) > maxEmailLen {
		return "", false
	}
	return e, true
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
