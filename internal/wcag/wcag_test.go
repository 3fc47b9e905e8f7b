package wcag_test

import (
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/internal/wcag"
)

// The ratios WCAG's own examples give: black on white is 21:1, a colour on
// itself 1:1, and #767676 on white is the lightest grey at AA (4.54:1).
func TestContrast(t *testing.T) {
	black, white := color.Black, color.White
	assert.InDelta(t, 21, wcag.Contrast(black, white), 0.01)
	assert.InDelta(t, 21, wcag.Contrast(white, black), 0.01)
	assert.InDelta(t, 1, wcag.Contrast(white, white), 0.001)
	assert.InDelta(t, 4.54, wcag.Contrast(color.RGBA{0x76, 0x76, 0x76, 0xff}, white), 0.01)
	assert.Less(t, wcag.Contrast(color.RGBA{0x77, 0x77, 0x77, 0xff}, white), wcag.AA)
}

// Over blends a translucent colour with what is under it.
func TestOver(t *testing.T) {
	halfBlack := color.RGBA{0, 0, 0, 0x80} // premultiplied
	got := wcag.Over(halfBlack, color.White)
	r, g, b, a := got.RGBA()
	assert.Equal(t, uint32(0xffff), a)
	assert.InDelta(t, 0x7fff, r, 0x100)
	assert.Equal(t, r, g)
	assert.Equal(t, r, b)
	r, _, _, _ = wcag.Over(color.Black, color.White).RGBA()
	assert.Zero(t, r, "an opaque colour hides what is under it")
}
