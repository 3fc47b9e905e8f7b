package tui

import (
	"fmt"
	"image/color"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/internal/wcag"
)

// Backgrounds the palettes are measured against: pure black and white, and
// the common dark (VS Code, One Dark) and light (Solarized) themes.
var (
	darkBackgrounds  = []string{"#000000", "#1e1e1e", "#282c34"}
	lightBackgrounds = []string{"#ffffff", "#fdf6e3", "#eeeeee"}
)

func hex(s string) color.Color {
	var r, g, b uint8
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b); err != nil {
		panic(err)
	}
	return color.RGBA{R: r, G: g, B: b, A: 0xff}
}

// texts are the palette's text colours, by what they colour.
func texts(p palette) map[string]color.Color {
	return map[string]color.Color{"accent (titles, focused labels)": p.accent, "dim (hints, labels, status line)": p.dim,
		"errors": p.err, "success": p.ok, "help keys (footer)": p.key, "help descriptions (footer)": p.desc}
}

// Every text of each palette reads at 4.5:1 or better (WCAG 2.2 AA) on the
// backgrounds of its kind of terminal, and the SANDBOX badge on its own.
func TestPaletteContrast(t *testing.T) {
	for _, tc := range []struct {
		name string
		pal  palette
		bgs  []string
	}{{"dark", darkPalette(), darkBackgrounds}, {"light", lightPalette(), lightBackgrounds}} {
		for what, fg := range texts(tc.pal) {
			for _, bg := range tc.bgs {
				ratio := wcag.Contrast(fg, hex(bg))
				assert.GreaterOrEqual(t, ratio, wcag.AA, "%s terminal: %s on %s is %.2f:1", tc.name, what, bg, ratio)
			}
		}
		ratio := wcag.Contrast(tc.pal.badgeFg, tc.pal.badgeBg)
		assert.GreaterOrEqual(t, ratio, wcag.AA, "%s terminal: the SANDBOX badge is %.2f:1", tc.name, ratio)
	}
	// The help bubble's own defaults, which the UI used to show, fail.
	assert.Less(t, wcag.Contrast(hex("#4A4A4A"), hex("#000000")), wcag.AA)
}

// On a 16- or 8-colour terminal (where bright black is black) no text turns
// into the background's colour: not black on a dark terminal, not white on
// a light one; the badge's text and background stay apart.
func TestPaletteFewColours(t *testing.T) {
	basic := func(c color.Color) ansi.BasicColor {
		b, ok := colorprofile.ANSI.Convert(c).(ansi.BasicColor)
		if !ok {
			t.Fatalf("%v is not a basic colour on a 16-colour terminal", c)
		}
		return b % 8 // an 8-colour terminal shows bright colours as normal ones
	}
	for _, tc := range []struct {
		name    string
		pal     palette
		invalid ansi.BasicColor
	}{{"dark", darkPalette(), ansi.Black}, {"light", lightPalette(), ansi.White}} {
		for what, fg := range texts(tc.pal) {
			assert.NotEqual(t, tc.invalid, basic(fg), "%s terminal, 8 colours: %s", tc.name, what)
		}
		assert.NotEqual(t, basic(tc.pal.badgeFg), basic(tc.pal.badgeBg), "%s terminal, 8 colours: the badge", tc.name)
	}
}
