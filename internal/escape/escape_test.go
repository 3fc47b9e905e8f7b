package escape

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNonPrinting(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, accents: é":  "plain text, accents: é",
		"new\nline\ttab":          `new\nline\ttab`,
		"c1 \u009b31m":            `c1 \u009b31m`,
		"bidi \u202egnp.exe":      `bidi \u202egnp.exe`,
		"bad utf-8 \xff":          `bad utf-8 \xff`,
		`a "quote" stays as sent`: `a "quote" stays as sent`,
	} {
		assert.Equal(t, want, NonPrinting(in), "%q", in)
	}
}

func TestForJSON(t *testing.T) {
	for in, want := range map[string]string{
		"note\nlines\n": "note\nlines\n",
		"bidi \u202e\n": `bidi \u202e\n`,
		"bad \xff":      `bad \xff`,
	} {
		assert.Equal(t, want, ForJSON(in), "%q", in)
	}
}
