package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// Two operators change different settings of one programme at once, each on
// the settings as they read them: the second is refused instead of writing
// back the first's setting as it was, and its retry keeps both changes.
func TestProgrammeSettingsChangedMeanwhile(t *testing.T) {
	e := newCoreEnv(t)
	read := e.prog.Settings
	first := read
	first.RequireTokenisedPasswords = true
	_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &read, first)
	require.NoError(t, err)

	second := read
	second.SenderName = "Acme Pay"
	_, err = e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &read, second)
	requireCode(t, err, core.ErrConflict, core.CodeSettingsChanged)

	again := first
	again.SenderName = "Acme Pay"
	p, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &first, again)
	require.NoError(t, err)
	assert.True(t, p.Settings.RequireTokenisedPasswords, "the first operator's change stands")
	assert.Equal(t, "Acme Pay", p.Settings.SenderName)

	empty := again
	empty.AllowedOrigins = []string{} // as none, the way they are stored
	_, err = e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, &empty, again)
	require.NoError(t, err, "an empty list is no change")
}
