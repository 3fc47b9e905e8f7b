// Command makeicon draws the companion's icon, a white shield with a tick on
// a rounded indigo square, and writes it as a 512x512 PNG to the paths given
// (assets/icon.png, which packaging uses, and mobile/icon.png, which the app
// embeds). It was run once; the PNGs are committed:
//
//	go run ./mobile/internal/makeicon assets/icon.png mobile/icon.png
package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

const size = 512

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: makeicon OUT.png...")
		os.Exit(2)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, draw()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, out := range os.Args[1:] {
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// draw renders the icon with 4x4 supersampling for smooth edges.
func draw() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{0x3f, 0x51, 0xb5, 0xff}    // indigo
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff} // shield
	tick := color.NRGBA{0x2e, 0x7d, 0x32, 0xff}  // green
	const ss = 4
	for y := range size {
		for x := range size {
			var r, g, b, a float64
			for sy := range ss {
				for sx := range ss {
					px := (float64(x) + (float64(sx)+0.5)/ss) / size
					py := (float64(y) + (float64(sy)+0.5)/ss) / size
					c, ok := sample(px, py, bg, white, tick)
					if !ok {
						continue
					}
					r += float64(c.R)
					g += float64(c.G)
					b += float64(c.B)
					a++
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(255 * a / (ss * ss))})
		}
	}
	return img
}

// sample is the colour at (x, y) in the unit square; ok is false outside the
// rounded square.
func sample(x, y float64, bg, white, tick color.NRGBA) (color.NRGBA, bool) {
	if !inRoundedSquare(x, y, 0.04, 0.18) {
		return color.NRGBA{}, false
	}
	if onTick(x, y) {
		return tick, true
	}
	if inShield(x, y) {
		return white, true
	}
	return bg, true
}

func inRoundedSquare(x, y, margin, radius float64) bool {
	lo, hi := margin+radius, 1-margin-radius
	dx := math.Max(0, math.Max(lo-x, x-hi))
	dy := math.Max(0, math.Max(lo-y, y-hi))
	return x >= margin && x <= 1-margin && y >= margin && y <= 1-margin && dx*dx+dy*dy <= radius*radius
}

// inShield: a flat top with rounded shoulders and sides curving to a point.
func inShield(x, y float64) bool {
	const top, mid, bottom = 0.20, 0.52, 0.84
	const half = 0.27
	switch {
	case y < top || y > bottom:
		return false
	case y <= mid:
		return math.Abs(x-0.5) <= half
	default:
		t := (y - mid) / (bottom - mid) // 0 at mid, 1 at the point
		return math.Abs(x-0.5) <= half*math.Sqrt(1-t*t)
	}
}

// onTick: two thick strokes forming a check mark inside the shield.
func onTick(x, y float64) bool {
	const w = 0.045
	return segDist(x, y, 0.37, 0.50, 0.47, 0.61) <= w || segDist(x, y, 0.47, 0.61, 0.66, 0.39) <= w
}

func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	cx, cy := ax+t*dx, ay+t*dy
	return math.Hypot(px-cx, py-cy)
}
