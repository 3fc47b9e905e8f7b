package core_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// Two operators change different settings of one programme at once, each on
// the settings as they read them: the second is refused instead of writing
// back the first's setting as it was, and its retry keeps both changes.
func TestProgrammeSettingsChangedMeanwhile(t *testing.T) {
	e := newCoreEnv(t)
	read := e.prog.Settings
	first := read
	first.RequireTokenisedPasswords = true
	_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &read, first)
	require.NoError(t, err)

	second := read
	second.SenderName = "Acme Pay"
	_, err = e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &read, second)
	requireCode(t, err, core.ErrConflict, core.CodeSettingsChanged)

	again := first
	again.SenderName = "Acme Pay"
	p, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &first, again)
	require.NoError(t, err)
	assert.True(t, p.Settings.RequireTokenisedPasswords, "the first operator's change stands")
	assert.Equal(t, "Acme Pay", p.Settings.SenderName)

	empty := again
	empty.AllowedOrigins = []string{} // as none, the way they are stored
	_, err = e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &empty, again)
	require.NoError(t, err, "an empty list is no change")
}

func TestNormaliseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:5555":         "http://localhost:5555",
		"HTTPS://Shop.Example":          "https://shop.example",
		"https://shop.example:443":      "https://shop.example",
		"http://shop.example:80":        "http://shop.example",
		"http://shop.example:443":       "http://shop.example:443",
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://[::1]:8080":             "http://[::1]:8080",
		"http://[0:0:0:0:0:0:0:1]":      "http://[::1]",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	} {
		got, ok := core.NormaliseOrigin(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{
		"", "null", "localhost:5555", "ftp://shop.example", "https://", "https://shop.example/",
		"https://shop.example/path", "https://shop.example?q", "https://shop.example#f", "https://user@shop.example",
		"https://shop.example:0", "https://shop.example:65536", "https://shop.example:", "https://shop.example:x",
		"https://shop example", "https://shop.example;a", "https://bücher.example", "http://[fe80::1%25eth0]",
		"http://[shop.example]", "https://shop.example, https://evil.example", "javascript:alert(1)", "https://*.shop.example",
	} {
		_, ok := core.NormaliseOrigin(in)
		assert.False(t, ok, "%q", in)
	}
}

// FuzzNormaliseOrigin: an accepted origin is a fixed point and holds nothing
// that could end a CSP source or a header (it goes into frame-ancestors).
func FuzzNormaliseOrigin(f *testing.F) {
	for _, s := range []string{"http://localhost:5555", "HTTPS://Shop.Example:443", "http://[::1]:80", "https://a.b/c", "null", "http://a b"} {
		f.Add(s)
	}
	reSafe := regexp.MustCompile(`^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$`)
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := core.NormaliseOrigin(in)
		if !ok {
			return
		}
		if !reSafe.MatchString(got) {
			t.Fatalf("core.NormaliseOrigin(%q) = %q: not a plain origin", in, got)
		}
		if again, ok := core.NormaliseOrigin(got); !ok || again != got {
			t.Fatalf("core.NormaliseOrigin(%q) = %q, then %q, %v", in, got, again, ok)
		}
	})
}

// An allowed origin the capture component would never match (a wildcard, a
// path) is refused when the settings are saved, not silently kept.
func TestAllowedOriginsAreOrigins(t *testing.T) {
	e := newCoreEnv(t)
	for _, o := range []string{"https://*.shop.example", "https://shop.example/", "null"} {
		_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, core.ProgrammeSettings{AllowedOrigins: []string{o}})
		assert.Equal(t, []string{"allowedOrigins:" + core.ReasonRegex}, fieldReasons(t, err), o)
	}
	_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, core.ProgrammeSettings{AllowedOrigins: []string{"HTTPS://Shop.Example:443"}})
	require.NoError(t, err)
}
