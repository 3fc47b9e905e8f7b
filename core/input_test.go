package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// fieldReasons lists "field:REASON" for every field an ErrInvalid names.
func fieldReasons(t *testing.T, err error) []string {
	t.Helper()
	var ce *core.Error
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, core.ErrInvalid)
	var out []string
	for _, f := range ce.Fields {
		out = append(out, f.Field+":"+f.Reason)
	}
	return out
}

func TestCanonicalEmail(t *testing.T) {
	accepted := []struct{ in, want string }{
		{"ada@acme.test", "ada@acme.test"},
		{"Ada.Lovelace+deputy@Acme.TEST", "ada.lovelace+deputy@acme.test"},
		{"o'brien_x-y@mail.acme.io", "o'brien_x-y@mail.acme.io"},
		{"e\u0301mile@acme.test", "\u00e9mile@acme.test"}, // NFC: e + combining acute is é
		{"ИВАН@example.com", "иван@example.com"},          // Cyrillic alone, Latin domain
		{"山田たろう@example.jp", "山田たろう@example.jp"},          // Han with Hiragana (UTS #39)
		{"ada@bücher.de", "ada@xn--bcher-kva.de"},         // the domain in its ASCII form
		{"ada@XN--BCHER-KVA.de", "ada@xn--bcher-kva.de"},  // the same address
		{"ada@xn--80ak6aa92e.com", "ada@xn--80ak6aa92e.com"},
	}
	for _, tt := range accepted {
		got, err := core.CanonicalEmail("email", tt.in)
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
		again, err := core.CanonicalEmail("email", got)
		require.NoError(t, err, "canonical %q", got)
		assert.Equal(t, got, again, "canonical form is stable")
	}
	refused := []struct{ name, in string }{
		{"empty", ""},
		{"no at", "ada.acme.test"},
		{"no domain dot", "ada@localhost"},
		{"trailing dot", "ada@acme.test."},
		{"empty local part", "@acme.test"},
		{"leading dot", ".ada@acme.test"},
		{"double dot", "ada..l@acme.test"},
		{"quoted local part", `"ada l"@acme.test`},
		{"display name", "Ada <ada@acme.test>"},
		{"space", "ada @acme.test"},
		{"surrounding space", " ada@acme.test"},
		{"tab", "ada\t@acme.test"},
		{"zero-width space", "ad\u200ba@acme.test"},
		{"zero-width joiner in domain", "ada@ac\u200dme.test"},
		{"soft hyphen", "ad\u00ada@acme.test"},
		{"soft hyphen in domain", "ada@ac\u00adme.test"},
		{"bidi override", "ada\u202e@acme.test"},
		{"BOM", "\ufeffada@acme.test"},
		{"Cyrillic a in Latin local part", "\u0430dmin@acme.test"},
		{"Greek omicron in Latin local part", "b\u03bfb@acme.test"},
		{"Cyrillic a in Latin domain", "admin@\u0430cme.test"},
		{"mixed-script punycode domain", "admin@xn--pple-43d.com"}, // Cyrillic а + "pple"
		{"fullwidth letter", "\uff41da@acme.test"},
		{"fullwidth at", "ada\uff20acme.test"},
		{"ligature", "\ufb01ona@acme.test"},
		{"Arabic-Indic digit", "ada\u0661@acme.test"},
		{"look-alike hyphen", "ada\u2010l@acme.test"},
		{"division slash", "a\u2215b@acme.test"},
		{"underscore in domain", "ada@ac_me.test"},
		{"hyphen-led label", "ada@-acme.test"},
		{"invalid UTF-8", "ad\xffa@acme.test"},
		{"local part over 64 bytes", string(make([]byte, 65)) + "@acme.test"},
		{"over 254 bytes", "ada@" + longDomain(260)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			got, err := core.CanonicalEmail("rootUser.email", tt.in)
			assert.Empty(t, got)
			assert.Equal(t, []string{"rootUser.email:REGEX"}, fieldReasons(t, err))
			if strings.TrimSpace(tt.in) == tt.in { // lookups forgive surrounding spaces
				assert.Empty(t, core.NormaliseEmail(tt.in), "a refused address matches no user")
			}
		})
	}
}

// longDomain is a valid domain of at least n bytes.
func longDomain(n int) string {
	d := "test"
	for len(d) < n {
		d = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz." + d
	}
	return d
}

func TestCheckText(t *testing.T) {
	for _, ok := range []string{"", "Ada", "Zoë-Anne O'Brien", "Łukasz", "Иван", "山田", "José María", "مریم"} {
		assert.NoError(t, core.CheckText("name", ok), "%q", ok)
	}
	for _, bad := range []string{
		"Ada\x00", "Ada\n", "Ada\t", "\x1b[31mAda", "Ada\x7f", "Ada\u0085", // C0, DEL, C1
		"\u202eadA", "Ada\u2066", "Ada\u200f", // bidi
		"A\u200bda", "A\u200dda", "A\u2060da", "\ufeffAda", "A\u00adda", // zero-width, soft hyphen
		"Ada\u2028", "Ada\u2029", "Ada\ue000", // separators, private use
		"Ad\xffa", // invalid UTF-8
	} {
		err := core.CheckText("surname", bad)
		assert.Equal(t, []string{"surname:REGEX"}, fieldReasons(t, err), "%q", bad)
		assert.False(t, core.ValidText(bad), "%q", bad)
	}
}

func TestDateCheck(t *testing.T) {
	tests := []struct {
		date core.Date
		want []string
	}{
		{core.Date{Year: 2000, Month: 2, Day: 29}, nil}, // leap year (divisible by 400)
		{core.Date{Year: 2024, Month: 2, Day: 29}, nil},
		{core.Date{Year: 2001, Month: 12, Day: 31}, nil},
		{core.Date{Year: 2001, Month: 2, Day: 31}, []string{"dateOfBirth.day:RANGE"}},
		{core.Date{Year: 2001, Month: 2, Day: 29}, []string{"dateOfBirth.day:RANGE"}},
		{core.Date{Year: 1900, Month: 2, Day: 29}, []string{"dateOfBirth.day:RANGE"}}, // not a leap year
		{core.Date{Year: 2001, Month: 4, Day: 31}, []string{"dateOfBirth.day:RANGE"}},
		{core.Date{Year: 2001, Month: 13, Day: 1}, []string{"dateOfBirth.month:RANGE"}},
		{core.Date{Year: 2001, Month: 0, Day: 0}, []string{"dateOfBirth.month:RANGE", "dateOfBirth.day:RANGE"}},
		{core.Date{Year: 1899, Month: 1, Day: 1}, []string{"dateOfBirth.year:RANGE"}},
	}
	for _, tt := range tests {
		err := tt.date.Check("dateOfBirth")
		if tt.want == nil {
			assert.NoError(t, err, "%+v", tt.date)
			continue
		}
		assert.Equal(t, tt.want, fieldReasons(t, err), "%+v", tt.date)
	}
	var ce *core.Error
	require.True(t, errors.As(core.Date{Year: 2001, Month: 2, Day: 29}.Check("d"), &ce))
	assert.Equal(t, []string{"1", "28"}, ce.Fields[0].Params, "the range names the month's last day")
}

// TestCoreAppliesInputRules: core refuses what the HTTP layer refuses, so no
// other entry point can store a look-alike email, an impossible date or a
// control character, and nothing is written.
func TestCoreAppliesInputRules(t *testing.T) {
	e := newCoreEnv(t)
	details := func(change func(*core.UserDetails)) core.UserDetails {
		d := core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test",
			Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"}}
		change(&d)
		return d
	}
	for _, tt := range []struct {
		name   string
		change func(*core.UserDetails)
		want   string
	}{
		{"look-alike email", func(d *core.UserDetails) { d.Email = "\u0430da@acme.test" }, "rootUser.email:REGEX"},
		{"zero-width email", func(d *core.UserDetails) { d.Email = "a\u200bda@acme.test" }, "rootUser.email:REGEX"},
		{"bidi in name", func(d *core.UserDetails) { d.Name = "\u202eAda" }, "rootUser.name:REGEX"},
		{"control in surname", func(d *core.UserDetails) { d.Surname = "Love\x00lace" }, "rootUser.surname:REGEX"},
		{"impossible date", func(d *core.UserDetails) { d.DateOfBirth = &core.Date{Year: 2001, Month: 2, Day: 31} }, "rootUser.dateOfBirth.day:RANGE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.CreateIdentity(e.ctx, e.prog, core.NewIdentity{Type: core.Consumer, Root: details(tt.change)})
			assert.Equal(t, []string{tt.want}, fieldReasons(t, err))
		})
	}
	_, root, err := e.svc.CreateIdentity(e.ctx, e.prog, core.NewIdentity{Type: core.Consumer,
		Root: details(func(d *core.UserDetails) { d.Email = "ADA@Acme.Test" })})
	require.NoError(t, err, "nothing of the refused attempts was written")
	assert.Equal(t, "ada@acme.test", root.Email)

	_, token := e.root(e.prog, "grace@acme.test")
	c := e.caller(e.prog, token)
	_, err = e.svc.ListUsers(e.ctx, c, core.UserFilter{Email: "gr\u0430ce@acme.test"})
	assert.Equal(t, []string{"email:REGEX"}, fieldReasons(t, err), "a refused email filter is no absent filter")
	_, err = e.svc.UpdateUser(e.ctx, c, root.ID, core.UserPatch{Name: ptr("A\u200bda")})
	assert.Equal(t, []string{"name:REGEX"}, fieldReasons(t, err))
}

func ptr[T any](v T) *T { return &v }
