package tui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// userActionMsg answers activate, deactivate and invite; notice says what was done.
type userActionMsg struct {
	outcome
	notice string
}

// displayName is "Grace Hopper <grace@acme.test>".
func displayName(u client.User) string {
	return strings.TrimSpace(u.Name+" "+u.Surname) + " <" + u.Email + ">"
}

// setActiveOp activates or deactivates u (Weavr userActivate, userDeactivate).
func setActiveOp(u client.User, active bool) op {
	verb, done, fn := "deactivate", "Deactivated ", (*client.Session).DeactivateUser
	if active {
		verb, done, fn = "activate", "Activated ", (*client.Session).ActivateUser
	}
	return op{name: verb + " " + u.Email, label: sentenceCase(verb) + "ing " + u.Email + "…",
		run: func(ctx context.Context, a api) result {
			err := fn(a.s, ctx, u.ID)
			return userActionMsg{outcome: outcome{err}, notice: done + displayName(u) + "."}
		}}
}

// inviteOp emails u an invite (Weavr userInviteSend), with one idempotency-ref
// for the call and any retry after a step-up.
func inviteOp(u client.User) op {
	ref := client.NewIdempotencyRef()
	return op{name: "send an invite to " + u.Email, label: "Sending an invite to " + u.Email + "…",
		run: func(ctx context.Context, a api) result {
			err := a.s.SendInvite(ctx, u.ID, client.IdempotencyRef(ref))
			return userActionMsg{outcome: outcome{err}, notice: "Invite emailed to " + u.Email + "."}
		}}
}

// confirmBox asks before an action that changes what a user can do.
type confirmBox struct {
	prompt string
	yes    tea.Cmd
	yesKey key.Binding
	noKey  key.Binding
}

func newConfirm(prompt string, yes tea.Cmd) *confirmBox {
	return &confirmBox{
		prompt: prompt, yes: yes,
		yesKey: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		noKey:  key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n/esc", "no")),
	}
}

// activeKeys enables the activate key for a user who is inactive or
// locked out (activating lifts a lockout), and the deactivate key for an
// active one: neither is offered where it would do nothing.
func activeKeys(activate, deactivate *key.Binding, u client.User, locked bool) {
	activate.SetEnabled(!u.Active || locked)
	deactivate.SetEnabled(u.Active)
}

// confirmActive asks whether to activate or deactivate u.
func confirmActive(u client.User, active bool) *confirmBox {
	if active {
		return newConfirm("Activate "+displayName(u)+"? They can sign in again (a sign-in lockout is lifted too).", do(setActiveOp(u, true)))
	}
	return newConfirm("Deactivate "+displayName(u)+"? Their sessions end and they cannot sign in until activated.", do(setActiveOp(u, false)))
}

// confirmInvite asks whether to email u an invite; last is their latest
// invite, when known, which a new one replaces.
func confirmInvite(u client.User, last *client.InviteStatus) *confirmBox {
	prompt := "Email an invite to " + displayName(u) + "? They set a password with the code it carries."
	if last != nil && last.State == client.InvitePending {
		prompt += " It replaces the invite sent before, whose code stops working."
	}
	return newConfirm(prompt, do(inviteOp(u)))
}

// update handles a key while the box is open: it returns the box as it
// stands after (nil once an answer closed it) and the command to run.
func (c *confirmBox) update(msg tea.KeyPressMsg) (*confirmBox, tea.Cmd) {
	switch {
	case key.Matches(msg, c.yesKey):
		return nil, c.yes
	case key.Matches(msg, c.noKey):
		return nil, nil
	}
	return c, nil
}

// over draws the box, when one is open, over body near the foot of a w×h
// screen.
func (c *confirmBox) over(body string, st *styles, w, h int) string {
	if c == nil {
		return body
	}
	box := c.view(st, min(w, 76))
	return overlayTop(body, box, w, h, max(1, h-lineCount(box)-1))
}

func (c *confirmBox) keys() []key.Binding { return []key.Binding{c.yesKey, c.noKey} }

func (c *confirmBox) view(st *styles, width int) string {
	text := wrapText(c.prompt, width-4)
	return st.box.Width(width).Render(text + "\n" + st.header.Render("y") + " yes · " + st.header.Render("n") + " no")
}

// allRoles returns the five predefined roles in the order the UI lists them.
func allRoles() []string {
	return []string{client.RoleAdmin, client.RoleAccessManagement, client.RoleFundsManagement, client.RoleCardsManagement, client.RoleCardAssignee}
}

// roleShort is a role's short name for tables.
func roleShort(r string) string {
	switch r {
	case client.RoleAdmin:
		return "admin"
	case client.RoleAccessManagement:
		return "access"
	case client.RoleFundsManagement:
		return "funds"
	case client.RoleCardsManagement:
		return "cards"
	case client.RoleCardAssignee:
		return "assignee"
	}
	return strings.ToLower(r)
}

// rolesShort is a user's roles for tables; a user without roles holds every
// permission (Weavr's rule), which the table says.
func rolesShort(rs []string) string {
	if len(rs) == 0 {
		return "all (no roles)"
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = roleShort(r)
	}
	return strings.Join(out, ",")
}
