package command

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestPrintWebhooksEscapes: the table of endpoints shows an old endpoint's
// URL and disabled reason with their non-printing characters escaped (a C1
// control would drive the terminal, a bidi override show another host), and
// says which endpoints may reach private addresses.
func TestPrintWebhooksEscapes(t *testing.T) {
	hooks := []*core.Webhook{
		{ID: "wh_1", URL: "https://9.9.9.9/\u009b2J\u202emoc.live", Disabled: true, DisabledReason: "410 Gone\u009b"},
		{ID: "wh_2", URL: "http://127.0.0.1:8080/hooks", Events: []string{"login", "stepup"}, AllowPrivate: true},
	}
	var out bytes.Buffer
	require.NoError(t, printWebhooks(&out, hooks, false))
	s := out.String()
	assert.NotContains(t, s, "\u009b")
	assert.NotContains(t, s, "\u202e")
	assert.Contains(t, s, `https://9.9.9.9/\u009b2J\u202emoc.live`)
	assert.Contains(t, s, `disabled: 410 Gone\u009b`)
	assert.Regexp(t, `wh_1 .* refused +disabled`, s)
	assert.Regexp(t, `wh_2 +http://127\.0\.0\.1:8080/hooks +login,stepup +allowed +enabled`, s)
}
