// Package escape makes text from outside safe to show on a terminal or in a
// log: characters that do not print (controls, C1 controls, bidi overrides,
// invalid UTF-8) are written in Go's escaped syntax instead.
package escape

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NonPrinting returns s, or when s holds a character that does not print,
// s with each such character escaped as strconv.Quote escapes it.
func NonPrinting(s string) string {
	return quoteIf(s, func(c rune) bool { return !unicode.IsPrint(c) })
}

// ForJSON is NonPrinting for text a JSON encoder writes, which escapes C0
// controls itself: text whose only such characters are those (the lines of
// a signed note) is returned as it is, so that a reader of the JSON gets it
// back whole.
func ForJSON(s string) string {
	return quoteIf(s, func(c rune) bool { return c >= ' ' && !unicode.IsPrint(c) })
}

// quoteIf returns s, or s escaped as strconv.Quote escapes it when s is not
// valid UTF-8 or holds a character for which unsafe is true.
func quoteIf(s string, unsafe func(rune) bool) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafe) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
