package screens_test

import (
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/mobile/screens"
)

// TestThemeContrast computes, from the companion's theme, the contrast of
// every text colour against the background it is drawn on, in the light and
// the dark variant: at least 4.5:1 (WCAG 2.2 AA, 1.4.3). Disabled controls
// are exempt there, and a countdown is never shown only on one.
func TestThemeContrast(t *testing.T) {
	th := screens.Theme()
	pairs := []struct{ text, on fyne.ThemeColorName }{
		{theme.ColorNameForeground, theme.ColorNameBackground},
		{theme.ColorNameSuccess, theme.ColorNameBackground},
		{theme.ColorNameWarning, theme.ColorNameBackground},
		{theme.ColorNameError, theme.ColorNameBackground},
		{theme.ColorNamePrimary, theme.ColorNameBackground},
		{theme.ColorNameHyperlink, theme.ColorNameBackground},
		{theme.ColorNamePlaceHolder, theme.ColorNameBackground},
		{theme.ColorNameForeground, theme.ColorNameInputBackground},
		{theme.ColorNamePlaceHolder, theme.ColorNameInputBackground},
		{theme.ColorNameForeground, theme.ColorNameButton},
		{theme.ColorNameForegroundOnPrimary, theme.ColorNamePrimary},
		{theme.ColorNameForegroundOnError, theme.ColorNameError},
		{theme.ColorNameForegroundOnSuccess, theme.ColorNameSuccess},
		{theme.ColorNameForegroundOnWarning, theme.ColorNameWarning},
	}
	for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		bg := th.Color(theme.ColorNameBackground, v)
		for _, p := range pairs {
			on := over(th.Color(p.on, v), bg) // fills may be translucent over the window
			r := contrast(over(th.Color(p.text, v), on), on)
			assert.GreaterOrEqual(t, r, 4.5, "variant %d: %s on %s is %.2f:1", v, p.text, p.on, r)
		}
	}
}

// over is c drawn over the opaque colour under.
func over(c, under color.Color) color.Color {
	r, g, b, a := c.RGBA() // alpha-premultiplied
	ur, ug, ub, _ := under.RGBA()
	mix := func(x, u uint32) uint16 { return uint16(x + u*(0xffff-a)/0xffff) }
	return color.RGBA64{R: mix(r, ur), G: mix(g, ug), B: mix(b, ub), A: 0xffff}
}

// contrast is the WCAG 2.2 contrast ratio of two opaque colours.
func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is WCAG's relative luminance (sRGB).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 0xffff
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}
