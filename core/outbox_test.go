package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestOutboxReachesPastHiddenMessages: an access manager reads the
// messages of a member within their rank, also behind more than a page of
// messages sent to that member while an admin (hidden from them), up to
// the newest maxOutboxScan (1,000) of their users' messages.
func TestOutboxReachesPastHiddenMessages(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	manager := e.steppedUpMember(root, "cy@acme.test", "7700900001", []core.Role{core.RoleAccessManagement})
	bea := e.createUser(root, "bea@acme.test", []core.Role{core.RoleCardAssignee})
	e.svc.WaitForMail()
	appendFor := func(roles []core.Role, text string, n int) {
		require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
			for range n {
				m := &core.Message{ProgrammeID: e.prog.ID, Recipient: core.Recipient{UserID: bea.ID, Roles: roles},
					Channel: "EMAIL", To: "bea@acme.test", Text: text, At: e.clock.Now()}
				if err := tx.AppendOutbox(m); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	texts := func() []string {
		ms, err := e.svc.Outbox(e.ctx, e.prog.ID, manager, 10)
		require.NoError(t, err)
		var out []string
		for _, m := range ms {
			if m.UserID == bea.ID {
				out = append(out, m.Text)
			}
		}
		return out
	}

	appendFor(bea.Roles, "sent as a card assignee", 1)
	appendFor([]core.Role{core.RoleAdmin}, "sent as an admin", 250)
	assert.Equal(t, []string{"sent as a card assignee"}, texts(), "behind 250 hidden ones")

	appendFor([]core.Role{core.RoleAdmin}, "sent as an admin", 1000)
	assert.Empty(t, texts(), "beyond the newest 1,000")
}
