package core_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// A programme's declared resource types are refused, naming the entry, when
// malformed, Weavr's own, listed twice or one too many; the settings stay
// as they were.
func TestDeclaredResourceTypesChecked(t *testing.T) {
	e := newCoreEnv(t)
	tooMany := make([]core.ResourceType, core.MaxDeclaredResourceTypes+1)
	for i := range tooMany {
		tooMany[i] = core.ResourceType(fmt.Sprintf("kind_%d", i))
	}
	for _, c := range []struct {
		types []core.ResourceType
		field string
	}{
		{[]core.ResourceType{"card_orders", "Card_orders"}, "resourceTypes[1]"},
		{[]core.ResourceType{"card orders"}, "resourceTypes[0]"},
		{[]core.ResourceType{"x"}, "resourceTypes[0]"},
		{[]core.ResourceType{"sends"}, "resourceTypes[0]"},
		{[]core.ResourceType{"card_orders", "card_orders"}, "resourceTypes[1]"},
		{tooMany, "resourceTypes"},
	} {
		_, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, core.ProgrammeSettings{PasswordProfile: "weavr", ResourceTypes: c.types})
		var ce *core.Error
		require.True(t, errors.As(err, &ce), "%v: %v", c.types, err)
		if assert.Len(t, ce.Fields, 1) {
			assert.Equal(t, c.field, ce.Fields[0].Field, "%v", c.types)
		}
	}
	p, err := e.svc.Programme(e.ctx, e.prog.ID)
	require.NoError(t, err)
	assert.Empty(t, p.Settings.ResourceTypes)
	assert.True(t, p.Settings.AcceptsResourceType(core.ResourceSends))
	assert.False(t, p.Settings.AcceptsResourceType("card_orders"))

	p, err = e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, core.ProgrammeSettings{PasswordProfile: "weavr", ResourceTypes: tooMany[:core.MaxDeclaredResourceTypes]})
	require.NoError(t, err)
	assert.True(t, p.Settings.AcceptsResourceType("kind_0"))
	assert.Len(t, p.Settings.ResourceTypeNames(), len(core.ResourceTypes)+core.MaxDeclaredResourceTypes)
}
