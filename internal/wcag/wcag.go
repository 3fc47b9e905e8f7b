// Package wcag computes the contrast of text colours as WCAG 2.2 defines it
// (1.4.3, relative luminance), so that the admin UI's and the companion's
// palette tests measure alike.
package wcag

import (
	"image/color"
	"math"
)

// AA is the least contrast of normal text at level AA.
const AA = 4.5

// Luminance is the relative luminance of the opaque colour c.
func Luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// Contrast is the contrast ratio of two opaque colours, from 1 to 21.
func Contrast(a, b color.Color) float64 {
	la, lb := Luminance(a), Luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// Over is c drawn over the opaque colour under (c may be translucent).
func Over(c, under color.Color) color.Color {
	r, g, b, a := c.RGBA() // alpha-premultiplied
	ur, ug, ub, _ := under.RGBA()
	mix := func(x, u uint32) uint16 { return uint16(x + u*(0xffff-a)/0xffff) }
	return color.RGBA64{R: mix(r, ur), G: mix(g, ug), B: mix(b, ub), A: 0xffff}
}
