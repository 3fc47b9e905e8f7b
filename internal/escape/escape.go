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
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool { return !unicode.IsPrint(c) }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
