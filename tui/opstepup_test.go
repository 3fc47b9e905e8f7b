package tui

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/client"
)

// bindStepUps switches the test programme to operation-bound step-ups, as
// an operator does with `deputy programme settings --step-up-scope operation`.
func (d *deputy) bindStepUps(t *testing.T) {
	t.Helper()
	set := d.inst.Programme.Settings
	set.StepUpScope = core.StepUpOperation
	_, err := d.inst.Service.UpdateProgrammeSettings(context.Background(), d.inst.Programme.ID, nil, set)
	require.NoError(t, err)
}

// Under operation-bound step-ups the create-user and roles flows work as
// under session step-ups, with the server's summary in the prompt and in
// the text, and a step-up for each privileged call: the session is never
// stepped up for the next one.
func TestCreateUserUnderOperationStepUp(t *testing.T) {
	dep := startDeputy(t)
	dep.createUsers(t, 1)
	dep.bindStepUps(t)
	d := newDriver(t, Options{Client: dep.ui, Sandbox: true}, 100, 30)
	d.signIn()

	create := func(name, email string) {
		d.keys("n")
		d.typeText(name)
		d.keys("enter")
		d.typeText("Hopper")
		d.keys("enter")
		d.typeText(email)
		d.keys("ctrl+s")
	}
	create("Grace", "grace@acme.test")
	d.requireScreen("Confirm it's you", "Create user grace@acme.test with roles CARD_ASSIGNEE")
	d.keys("enter")
	d.requireScreen("Type the code texted to your mobile")
	sms, err := dep.c.Outbox(context.Background(), 1)
	require.NoError(t, err)
	assert.Contains(t, sms[0].Text, "approves: Create user grace@acme.test with roles CARD_ASSIGNEE.", "the text names the operation")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireNotScreen("Confirm it's you")
	d.requireScreen("✓ Created Grace Hopper <grace@acme.test>.")

	create("Alan", "alan@acme.test")
	d.requireScreen("Confirm it's you", "Create user alan@acme.test with roles CARD_ASSIGNEE")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Created Alan Hopper <alan@acme.test>.")
	assert.Equal(t, 3, dep.count(t, client.UserFilter{}), "each created once")

	d.keys("r")
	d.requireScreen("Roles of Alan Hopper <alan@acme.test>", "[x] CARD_ASSIGNEE", "[ ] ADMIN")
	d.keys("space", "enter")
	d.requireScreen("Confirm it's you", "Change user alan@acme.test: roles ADMIN, CARD_ASSIGNEE")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireScreen("✓ Saved the roles of Alan Hopper <alan@acme.test>")
	page, err := dep.admin.ListUsers(context.Background(), client.UserFilter{Roles: []string{client.RoleAdmin}})
	require.NoError(t, err)
	require.Len(t, page.Users, 1)
	assert.Equal(t, "alan@acme.test", page.Users[0].Email)
}
