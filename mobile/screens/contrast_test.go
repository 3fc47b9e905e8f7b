package screens_test

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/internal/wcag"
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
			on := wcag.Over(th.Color(p.on, v), bg) // fills may be translucent over the window
			r := wcag.Contrast(wcag.Over(th.Color(p.text, v), on), on)
			assert.GreaterOrEqual(t, r, wcag.AA, "variant %d: %s on %s is %.2f:1", v, p.text, p.on, r)
		}
	}
}
