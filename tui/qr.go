package tui

import (
	"net/url"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// connectLink is the deputy://connect link that points the companion app at
// this server with the programme's public ui key (never the secret key).
// The server address stays unescaped (":" and "/" are allowed in a query) so
// that the QR code stays small enough for an 80x24 terminal.
func connectLink(server, uiKey string) string {
	return "deputy://connect?server=" + server + "&key=" + url.QueryEscape(uiKey)
}

// qrText renders content as a QR code in text, two modules per character row
// with half blocks, light modules drawn and dark ones blank so that the code
// reads dark-on-light in a terminal with a dark background. It returns "" when
// the content does not fit a QR code.
func qrText(content string) string {
	code, err := qr.Encode(content, qr.L, qr.Auto)
	if err != nil {
		return ""
	}
	const quiet = 1
	n := code.Bounds().Dx()
	light := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		if x < 0 || y < 0 || x >= n || y >= n {
			return true
		}
		r, _, _, _ := code.At(x, y).RGBA()
		return r > 0x8000
	}
	size := n + 2*quiet
	var b strings.Builder
	for y := 0; y < size; y += 2 {
		for x := range size {
			top, bottom := light(x, y), y+1 < size && light(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		if y+2 < size {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
