package fieldrules_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/fieldrules"
)

func TestFormats(t *testing.T) {
	for _, tt := range []struct {
		check func(string) bool
		in    string
		want  bool
	}{
		{fieldrules.ValidTag, "team_a-1", true},
		{fieldrules.ValidTag, "team a", false},
		{fieldrules.ValidTag, "", false},
		{fieldrules.ValidCountryCode, "+356", true},
		{fieldrules.ValidCountryCode, "356", false},
		{fieldrules.ValidCountryCode, "+1234", false},
		{fieldrules.ValidMobileNumber, "79123456", true},
		{fieldrules.ValidMobileNumber, "7912 3456", false},
		{fieldrules.ValidMobileNumber, "1234567890123", false},
		{fieldrules.ValidCountry, "GB", true},
		{fieldrules.ValidCountry, "SS", true},
		{fieldrules.ValidCountry, "gb", false},
		{fieldrules.ValidCountry, "UK", false},
		{fieldrules.ValidCountry, "XX", false},
		{fieldrules.ValidCountry, "", false},
	} {
		assert.Equal(t, tt.want, tt.check(tt.in), "%q", tt.in)
	}
}

// TestCanonicalEmail covers the forms the admin UI and the server must agree
// on; core's tests cover every refusal.
func TestCanonicalEmail(t *testing.T) {
	for in, want := range map[string]string{
		"Ada@Example.COM":       "ada@example.com",
		"ada@bücher.example":    "ada@xn--bcher-kva.example",
		"josé@example.com":      "josé@example.com",
		"ada@example":           "",
		"ad\u200ba@example.com": "",
		"a..b@example.com":      "",
	} {
		got, ok := fieldrules.CanonicalEmail(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
}

// TestMobileKey: one phone, one key, however its number is written after
// the country code; other phones, other keys.
func TestMobileKey(t *testing.T) {
	for _, tt := range []struct{ cc, number, want string }{
		{"+44", "7700900123", "+447700900123"},
		{"+44", "07700900123", "+447700900123"},
		{"+44", "007700900123", "+447700900123"},
		{"+1", "2025550123", "+12025550123"},
		{"+1", "12025550123", "+12025550123"},
		{"+39", "0612345678", "+39612345678"},
		{"+39", "612345678", "+39612345678"},
		{"+356", "79123456", "+35679123456"},
		{"+44", "7700900456", "+447700900456"},
		{"+999", "0123", "+999123"}, // no such country code: as written
	} {
		assert.Equal(t, tt.want, fieldrules.MobileKey(tt.cc, tt.number), "%s %s", tt.cc, tt.number)
	}
}
