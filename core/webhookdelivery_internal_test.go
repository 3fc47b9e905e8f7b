package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// TestRoundSendersStart: a chain starts while its round is young and no
// chain to its endpoint failed; an endpoint's failure stops only its own.
func TestRoundSendersStart(t *testing.T) {
	old := newRoundSenders(time.Now().Add(-webhookStartBy))
	assert.False(t, old.start("we_1"), "too long after the claim: its lease could end mid-request")

	r := newRoundSenders(time.Now())
	must.True(t, r.start("we_1"))
	must.True(t, r.start("we_2"))
	r.end("we_1", true)
	r.end("we_2", false)
	assert.False(t, r.start("we_1"), "its endpoint failed in this round")
	must.True(t, r.start("we_2"))
	r.end("we_2", false)
	assert.Empty(t, r.all, "every sender given back")
}
