package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/core"
)

// Outside sandbox a programme's link templates must be https.
func TestLinkTemplatesAreHTTPSOutsideSandbox(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	for _, set := range []core.ProgrammeSettings{
		{InviteURL: "http://app.example/invite?user_id={userId}&nonce={code}"},
		{ResetURL: "http://app.example/reset?email={email}&nonce={code}"},
		{InviteURL: "http://app.example/invite"},
	} {
		set.PasswordProfile = "weavr"
		_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, set)
		assert.ErrorIs(t, err, core.ErrInvalid, "%+v", set)
	}
	_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, core.ProgrammeSettings{PasswordProfile: "weavr",
		InviteURL: "https://app.example/invite?user_id={userId}&nonce={code}", ResetURL: "https://app.example/reset?email={email}&nonce={code}"})
	assert.NoError(t, err)
}
