package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// An address's email budgets count its mailbox: case and a "+tag" aside.
func TestMailboxKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ada@acme.test", "to:ada@acme.test"},
		{"Ada+Invites@ACME.test", "to:ada@acme.test"},
		{"ada+1+2@acme.test", "to:ada@acme.test"},
		{"+tag@acme.test", "to:+tag@acme.test"}, // nothing before the tag: kept whole
		{"a.da@acme.test", "to:a.da@acme.test"},
	} {
		assert.Equal(t, tc.want, mailboxKey(tc.in), "mailboxKey(%q)", tc.in)
	}
}
