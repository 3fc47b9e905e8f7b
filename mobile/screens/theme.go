package screens

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Theme is the companion's theme: Fyne's default, with the colours of text
// that carries meaning (success, warning, error, links, placeholders, text on
// primary buttons) changed so that each reads at 4.5:1 or better on its
// background in the light and the dark variant (WCAG 2.2 AA, checked by
// contrast_test.go). Fyne's own are as low as 1.5:1 on white.
func Theme() fyne.Theme { return contrastTheme{theme.DefaultTheme()} }

type contrastTheme struct{ fyne.Theme }

// contrastColors are the colours contrastTheme changes, by variant.
var contrastColors = map[fyne.ThemeVariant]map[fyne.ThemeColorName]color.Color{
	theme.VariantLight: {
		theme.ColorNameSuccess:     color.NRGBA{R: 0x1b, G: 0x5e, B: 0x20, A: 0xff},
		theme.ColorNameWarning:     color.NRGBA{R: 0x8a, G: 0x4b, B: 0x00, A: 0xff},
		theme.ColorNameError:       color.NRGBA{R: 0xb0, G: 0x00, B: 0x20, A: 0xff},
		theme.ColorNamePrimary:     color.NRGBA{R: 0x15, G: 0x65, B: 0xc0, A: 0xff},
		theme.ColorNameHyperlink:   color.NRGBA{R: 0x15, G: 0x65, B: 0xc0, A: 0xff},
		theme.ColorNamePlaceHolder: color.NRGBA{R: 0x5f, G: 0x5f, B: 0x5f, A: 0xff},
	},
	theme.VariantDark: {
		theme.ColorNamePrimary:             color.NRGBA{R: 0x64, G: 0xb5, B: 0xf6, A: 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{R: 0x64, G: 0xb5, B: 0xf6, A: 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{R: 0x10, G: 0x10, B: 0x10, A: 0xff},
		theme.ColorNameError:               color.NRGBA{R: 0xff, G: 0x6b, B: 0x6b, A: 0xff},
		theme.ColorNameForegroundOnError:   color.NRGBA{R: 0x10, G: 0x10, B: 0x10, A: 0xff},
	},
}

func (t contrastTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if c, ok := contrastColors[v][n]; ok {
		return c
	}
	return t.Theme.Color(n, v)
}
