package password

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Errors returned by Profile.Check, one for each of Weavr's
// PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG and PASSWORD_TOO_SIMPLE codes.
var (
	ErrTooShort  = errors.New("password too short")
	ErrTooLong   = errors.New("password too long")
	ErrTooSimple = errors.New("password too simple")
)

// Profile is a password policy: which new passwords are accepted, and how many
// earlier passwords of the same user may not be reused.
type Profile interface {
	// Name is the profile's stable configuration name.
	Name() string
	// Check returns nil if plain satisfies every rule, or else an error
	// matching ErrTooShort, ErrTooLong or ErrTooSimple for the first rule it
	// breaks.
	Check(plain string) error
	// MinLen and MaxLen bound the length in characters (Unicode code points).
	MinLen() int
	MaxLen() int
	// History is how many of the user's previous passwords may not be reused.
	History() int
	// Describe lists the rules in the order Check applies them.
	Describe() []Rule
}

// Rule is one human-readable line of a profile, with a test for it, so that a
// UI can show which rules a password being typed already satisfies.
type Rule struct {
	ID   string // stable identifier, e.g. "length"
	Text string // e.g. "8 to 30 characters"
	// Check returns nil if plain satisfies the rule, else ErrTooShort,
	// ErrTooLong or ErrTooSimple. It judges plain's Normalise form, which is
	// what is hashed.
	Check func(plain string) error
}

// normalised has each rule judge the Normalise form of what it is given.
func normalised(rules ...Rule) []Rule {
	for i, r := range rules {
		rules[i].Check = func(plain string) error { return r.Check(Normalise(plain)) }
	}
	return rules
}

// ProfileByName returns the profile called name; "" means Weavr.
func ProfileByName(name string) (Profile, bool) {
	switch name {
	case "", Weavr{}.Name():
		return Weavr{}, true
	case NIST{}.Name():
		return NIST{}, true
	}
	return nil, false
}

// Weavr is the default profile, as Weavr applies it: 8 to 30 characters with at
// least one lower-case letter, one upper-case letter, one digit and one special
// character, and none of the last 5 passwords reused.
type Weavr struct{}

// Name returns "weavr".
func (Weavr) Name() string { return "weavr" }

// MinLen returns 8.
func (Weavr) MinLen() int { return 8 }

// MaxLen returns 30.
func (Weavr) MaxLen() int { return 30 }

// History returns 5.
func (Weavr) History() int { return 5 }

// Describe lists the length rule then the four character classes.
func (Weavr) Describe() []Rule { return slices.Clone(weavrRules) }

// Check applies Describe's rules in order.
func (Weavr) Check(plain string) error { return check(weavrRules, plain) }

var weavrRules = normalised(
	lengthRule(Weavr{}.MinLen(), Weavr{}.MaxLen()),
	containsRule("lower", "at least one lower-case letter", unicode.IsLower),
	containsRule("upper", "at least one upper-case letter", unicode.IsUpper),
	containsRule("digit", "at least one digit", unicode.IsDigit),
	containsRule("special", "at least one special character (not a letter or digit)", func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}),
)

// NIST follows NIST SP 800-63B section 5.1.1.2 (memorized secrets): 8 to 100
// characters of any kind, spaces and Unicode included, with no composition
// rules, but not a commonly used password nor one character repeated. It keeps
// no history. Passwords are compared in their Normalise form (NFKC).
type NIST struct{}

// Name returns "nist".
func (NIST) Name() string { return "nist" }

// MinLen returns 8.
func (NIST) MinLen() int { return 8 }

// MaxLen returns 100: SP 800-63B requires at least 64, and 100 is the most any
// password field of the API carries (Weavr's SensitivePassword).
func (NIST) MaxLen() int { return 100 }

// History returns 0.
func (NIST) History() int { return 0 }

// Describe lists the length rule then the two blocklist rules.
func (NIST) Describe() []Rule { return slices.Clone(nistRules) }

// Check applies Describe's rules in order.
func (NIST) Check(plain string) error { return check(nistRules, plain) }

var nistRules = normalised(
	lengthRule(NIST{}.MinLen(), NIST{}.MaxLen()),
	Rule{ID: "common", Text: "not a commonly used password", Check: func(plain string) error {
		if _, found := commonPasswords()[strings.ToLower(plain)]; found {
			return ErrTooSimple
		}
		return nil
	}},
	Rule{ID: "repeated", Text: "not one character repeated", Check: func(plain string) error {
		first, _ := utf8.DecodeRuneInString(plain)
		if plain != "" && strings.Trim(plain, string(first)) == "" {
			return ErrTooSimple
		}
		return nil
	}},
)

// commonText is a few hundred of the most common passwords of at least 8
// characters, lower-case, one per line.
//
//go:embed common.txt
var commonText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	words := strings.Fields(commonText)
	set := make(map[string]struct{}, len(words))
	for _, w := range words {
		set[w] = struct{}{}
	}
	return set
})

func check(rules []Rule, plain string) error {
	for _, r := range rules {
		if err := r.Check(plain); err != nil {
			return fmt.Errorf("%w (%s)", err, r.Text)
		}
	}
	return nil
}

func lengthRule(minLen, maxLen int) Rule {
	return Rule{ID: "length", Text: fmt.Sprintf("%d to %d characters", minLen, maxLen), Check: func(plain string) error {
		switch n := utf8.RuneCountInString(plain); {
		case n < minLen:
			return ErrTooShort
		case n > maxLen:
			return ErrTooLong
		}
		return nil
	}}
}

func containsRule(id, text string, class func(rune) bool) Rule {
	return Rule{ID: id, Text: text, Check: func(plain string) error {
		if !strings.ContainsFunc(plain, class) {
			return ErrTooSimple
		}
		return nil
	}}
}
