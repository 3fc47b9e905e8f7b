package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The JSON log escapes C1 controls, bidi overrides and invalid UTF-8 in
// string and error attributes, which JSON itself would keep; the record
// stays valid JSON with the text readable.
func TestJSONLogEscapesWhatDoesNotPrint(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "info")
	require.NoError(t, err)
	log.Error("webhook delivery", "err", errors.New("tls: name \u202egnp.exe"), "receiver", "csi \u009b31m", "plain", "Zoë",
		"checkpoint", "deputy/audit/1\n5\nAQ==\n\n— deputy-audit AAAA\n")
	for _, raw := range []string{"\u202e", "\u009b"} {
		assert.NotContains(t, buf.String(), raw)
	}
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, `tls: name \u202egnp.exe`, rec["err"])
	assert.Equal(t, `csi \u009b31m`, rec["receiver"])
	assert.Equal(t, "Zoë", rec["plain"], "printable text as it is")
	assert.Equal(t, "deputy/audit/1\n5\nAQ==\n\n— deputy-audit AAAA\n", rec["checkpoint"], "lines as they are: JSON escapes newlines")
	assert.Equal(t, "webhook delivery", rec["msg"])
}
