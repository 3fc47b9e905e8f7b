package core_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// The step-up scope: unset is SESSION, anything but the two scopes is refused.
func TestStepUpScopeSetting(t *testing.T) {
	e := newCoreEnv(t)
	for _, c := range []struct {
		set  core.StepUpScope
		want core.StepUpScope
	}{
		{"", core.StepUpSession},
		{core.StepUpSession, core.StepUpSession},
		{core.StepUpOperation, core.StepUpOperation},
	} {
		assert.Equal(t, c.want, core.ProgrammeSettings{StepUpScope: c.set}.Scope(), "%q", c.set)
	}
	_, err := e.svc.CreateProgramme(e.ctx, core.NewProgramme{Name: "Forever", Settings: core.ProgrammeSettings{StepUpScope: "FOREVER"}})
	var ce *core.Error
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Equal(t, "stepUpScope", ce.Fields[0].Field)
	p := e.programme("Bound", core.ProgrammeSettings{StepUpScope: core.StepUpOperation})
	assert.Equal(t, core.StepUpOperation, p.Settings.Scope())
}

// FuzzOperationReference: a step-up accepts only a reference the server made
// for this session; anything else is a 400 naming operation, never a panic
// or another answer.
func FuzzOperationReference(f *testing.F) {
	e := newCoreEnv(f)
	prog := e.programme("Bound", core.ProgrammeSettings{StepUpScope: core.StepUpOperation})
	c := e.enrolled(prog, "ada@acme.test")
	_, err := e.svc.CreateUser(e.ctx, c, core.NewUser{UserDetails: core.UserDetails{Name: "Pia", Surname: "Sand", Email: "pia@acme.test"}})
	var ce *core.Error
	require.ErrorAs(f, err, &ce)
	require.NotNil(f, ce.Operation)
	genuine := ce.Operation.Reference
	other := e.enrolled(prog, "bob@acme.test")
	_, err = e.svc.CreateUser(e.ctx, other, core.NewUser{UserDetails: core.UserDetails{Name: "Pia", Surname: "Sand", Email: "pia@acme.test"}})
	require.ErrorAs(f, err, &ce)
	for _, s := range []string{ce.Operation.Reference, genuine[:len(genuine)-1], genuine + "A", genuine[1:], "x", "====", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if ref == genuine || ref == "" {
			return // a step-up of the operation, or of the session
		}
		err := e.svc.StepUpSMS(e.ctx, c, ref)
		var ce *core.Error
		if !errors.As(err, &ce) || !errors.Is(err, core.ErrInvalid) || len(ce.Fields) != 1 || ce.Fields[0].Field != "operation" {
			t.Fatalf("StepUpSMS(%q) = %v, want a 400 naming operation", ref, err)
		}
	})
}
