package password

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type checkCase struct {
	name    string
	plain   string
	wantErr error
}

func runChecks(t *testing.T, p Profile, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.plain)
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			if tt.plain != "" {
				assert.NotContains(t, err.Error(), tt.plain, "errors never quote the password")
			}
		})
	}
}

func TestWeavrCheck(t *testing.T) {
	runChecks(t, Weavr{}, []checkCase{
		{"empty", "", ErrTooShort},
		{"7 characters", "Pa0!abc", ErrTooShort},
		{"8 characters", "Pa0!abcd", nil},
		{"30 characters", "Pa0!" + strings.Repeat("a", 26), nil},
		{"31 characters", "Pa0!" + strings.Repeat("a", 27), ErrTooLong},
		{"7 characters in 12 bytes", "Ä0!éééé", ErrTooShort},
		{"30 characters in 57 bytes", "Ä0!" + strings.Repeat("é", 27), nil},
		{"31 characters in 59 bytes", "Ä0!" + strings.Repeat("é", 28), ErrTooLong},
		{"length checked first", "abc", ErrTooShort},
		{"no lower-case letter", "PASSW0RD!", ErrTooSimple},
		{"no upper-case letter", "passw0rd!", ErrTooSimple},
		{"no digit", "Password!", ErrTooSimple},
		{"no special character", "Passw0rdd", ErrTooSimple},
		{"space is special", "Passw0rd ", nil},
		{"unicode letters", "Ärger0!ü", nil},
		{"common but complex enough", "P@ssw0rd", nil},
	})
}

func TestNISTCheck(t *testing.T) {
	runChecks(t, NIST{}, []checkCase{
		{"empty", "", ErrTooShort},
		{"7 characters", "zebra!x", ErrTooShort},
		{"8 characters", "zebra!xy", nil},
		{"8 characters in 32 bytes", "🔑🐴🔋📎🔑🐴🔋📎", nil},
		{"64 characters with spaces", strings.Repeat("horse ", 10) + "ok!?", nil},
		{"100 characters", strings.Repeat("Ünïcode ", 12) + "abcd", nil},
		{"101 characters", strings.Repeat("Ünïcode ", 12) + "abcde", ErrTooLong},
		{"no composition rules", "correct horse battery staple", nil},
		{"all digits not common", "31415926535", nil},
		{"common", "iloveyou", ErrTooSimple},
		{"common, any case", "PassWord1", ErrTooSimple},
		{"common digits", "12345678", ErrTooSimple},
		{"common keyboard walk", "qwertyuiop", ErrTooSimple},
		{"common non-ASCII", "Contraseña", ErrTooSimple},
		{"one character repeated", "aaaaaaaa", ErrTooSimple},
		{"one multibyte character repeated", "éééééééééé", ErrTooSimple},
		{"one emoji repeated", strings.Repeat("🔑", 8), ErrTooSimple},
		{"spaces only", strings.Repeat(" ", 12), ErrTooSimple},
		{"two characters alternating", "abababab", nil},
		{"length checked first", "aaa", ErrTooShort},
		{"common, full-width", "ｉｌｏｖｅｙｏｕ", ErrTooSimple},
		{"common, decomposed", "Contrasen\u0303a", ErrTooSimple},
		{"7 characters and a ligature of two", "zebra!\ufb01", nil},
		{"one decomposed character repeated", strings.Repeat("e\u0301", 8), ErrTooSimple},
	})
}

func TestProfileRules(t *testing.T) {
	tests := []struct {
		profile Profile
		name    string
		minLen  int
		maxLen  int
		history int
		ids     []string
		length  string
	}{
		{Weavr{}, "weavr", 8, 30, 5, []string{"length", "lower", "upper", "digit", "special"}, "8 to 30 characters"},
		{NIST{}, "nist", 8, 100, 0, []string{"length", "common", "repeated"}, "8 to 100 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.profile
			assert.Equal(t, tt.name, p.Name())
			assert.Equal(t, tt.minLen, p.MinLen())
			assert.Equal(t, tt.maxLen, p.MaxLen())
			assert.Equal(t, tt.history, p.History())

			rules := p.Describe()
			var ids []string
			for _, r := range rules {
				ids = append(ids, r.ID)
				assert.NotEmpty(t, r.Text, r.ID)
			}
			assert.Equal(t, tt.ids, ids)
			assert.Equal(t, tt.length, rules[0].Text)

			rules[0] = Rule{ID: "changed"}
			assert.Equal(t, "length", p.Describe()[0].ID, "Describe returns a copy")
		})
	}
}

// TestRuleCheck tests each rule on its own, as a UI showing the policy live does.
func TestRuleCheck(t *testing.T) {
	rules := map[string]Rule{}
	for _, p := range []Profile{Weavr{}, NIST{}} {
		for _, r := range p.Describe() {
			rules[p.Name()+"/"+r.ID] = r
		}
	}
	tests := []struct {
		rule    string
		plain   string
		wantErr error
	}{
		{"weavr/length", "abc", ErrTooShort},
		{"weavr/lower", "abc", nil},
		{"weavr/lower", "ABC", ErrTooSimple},
		{"weavr/upper", "aBc", nil},
		{"weavr/upper", "abc", ErrTooSimple},
		{"weavr/digit", "a1", nil},
		{"weavr/digit", "ab", ErrTooSimple},
		{"weavr/special", "a-b", nil},
		{"weavr/special", "a1B", ErrTooSimple},
		{"weavr/special", "", ErrTooSimple},
		{"nist/length", strings.Repeat("x", 200), ErrTooLong},
		{"nist/common", "iloveyou", ErrTooSimple},
		{"nist/common", "ILOVEYOU", ErrTooSimple},
		{"nist/common", "iloveyou?", nil},
		{"nist/repeated", "zzz", ErrTooSimple},
		{"nist/repeated", "zzy", nil},
		{"nist/repeated", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.plain, func(t *testing.T) {
			r, ok := rules[tt.rule]
			require.True(t, ok, "no rule %s", tt.rule)
			assert.Equal(t, tt.wantErr, r.Check(tt.plain))
		})
	}
}

func TestCheckErrorNamesRule(t *testing.T) {
	err := Weavr{}.Check("passw0rd!")
	assert.EqualError(t, err, "password too simple (at least one upper-case letter)")
	err = NIST{}.Check("1234567")
	assert.EqualError(t, err, "password too short (8 to 100 characters)")
}

func TestProfileByName(t *testing.T) {
	tests := []struct {
		name   string
		want   Profile
		wantOK bool
	}{
		{"", Weavr{}, true},
		{"weavr", Weavr{}, true},
		{"nist", NIST{}, true},
		{"NIST", nil, false},
		{"owasp", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ProfileByName(tt.name)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCommonPasswordsList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
	assert.GreaterOrEqual(t, len(lines), 300)
	assert.Len(t, commonPasswords(), len(lines), "no duplicates")
	for _, w := range lines {
		assert.Equal(t, strings.ToLower(w), w, "lower-case")
		assert.False(t, strings.ContainsFunc(w, unicode.IsSpace), "%q has no spaces", w)
		assert.GreaterOrEqual(t, utf8.RuneCountInString(w), NIST{}.MinLen(), "%q is long enough to matter", w)
		assert.True(t, errors.Is(NIST{}.Check(w), ErrTooSimple), "%q is rejected as common", w)
	}
}
