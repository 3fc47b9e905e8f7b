package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// notSandbox runs the server outside sandbox mode. Messages still go to the
// store-backed outbox sender, so the test can read them from the store.
func notSandbox(c *core.Config) { c.Sandbox = false }

func TestSandboxEndpointsDoNotExistOutsideSandbox(t *testing.T) {
	e := newEnv(t, notSandbox)
	for _, tt := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/multi/sandbox/outbox", nil},
		{"POST", "/multi/sandbox/clock", map[string]any{"advanceSeconds": 60}},
	} {
		r := e.key(tt.method, tt.path, tt.body)
		require.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", tt.method, tt.path, r.body)
		assert.Equal(t, "NOT_FOUND", r.json(t)["code"])
	}
}

func TestResetCodesAreRandomOutsideSandbox(t *testing.T) {
	e := newEnv(t, notSandbox)
	e.corporate("root@acme.test")
	e.startReset("root@acme.test")

	e.svc.WaitForMail() // outside sandbox there is no outbox endpoint that would wait
	var msgs []*core.Message
	require.NoError(t, e.store.View(context.Background(), func(tx core.ReadTx) error {
		var err error
		msgs, err = tx.Outbox(e.prog.ID, nil, 0, 10)
		return err
	}))
	require.Len(t, msgs, 1)
	m := regexp.MustCompile(`code ([0-9]{6})\b`).FindStringSubmatch(msgs[0].Text)
	require.NotNil(t, m, "the email carries a six-digit code: %q", msgs[0].Text)
	code := m[1]
	if code != core.SandboxCode {
		requireConflict(t, e.resume("root@acme.test", core.SandboxCode, "N3w-Password"), "INVALID_NONCE_OR_EMAIL")
	}
	r := e.resume("root@acme.test", code, "N3w-Password")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

func TestSandboxClock(t *testing.T) {
	e := newEnv(t)
	before := e.clock.Now()
	r := e.key("POST", "/multi/sandbox/clock", map[string]any{"advanceSeconds": 3600})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	now := time.UnixMilli(int64(r.json(t)["now"].(float64)))
	assert.WithinDuration(t, before.Add(time.Hour), now, time.Minute)

	assert.Equal(t, []string{"advanceSeconds:REQUIRED"}, e.key("POST", "/multi/sandbox/clock", map[string]any{}).invalidFields(t))
	assert.Equal(t, []string{"advanceSeconds:RANGE"}, e.key("POST", "/multi/sandbox/clock", map[string]any{"advanceSeconds": -1}).invalidFields(t))
}

func TestSandboxOutboxIsNewestFirst(t *testing.T) {
	e := newEnv(t)
	e.corporate("first@acme.test")
	e.corporate("second@acme.test")
	e.startReset("first@acme.test")
	e.svc.WaitForMail() // the email goes in the background: send one after the other
	e.startReset("second@acme.test")
	msgs := e.outbox()
	require.Len(t, msgs, 2)
	assert.Equal(t, "second@acme.test", msgs[0].To)
	assert.Equal(t, "first@acme.test", msgs[1].To)

	other := e.otherProgramme("Other")
	r := e.call("GET", "/multi/sandbox/outbox", nil, "api-key", other)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.JSONEq(t, `{"messages":[]}`, string(r.body), "each programme sees only its own messages")
}

// TestSandboxOutboxScopedToUser: with the public ui key a user's token shows
// only the messages sent for that user; the secret key still sees every
// message of the programme. Bob, given Ada's mobile (nobody checks it is
// his), does not read the texts sent to it for her.
func TestSandboxOutboxScopedToUser(t *testing.T) {
	e, ui := newEnvWithKeys(t, server.Options{})
	_, adaToken := e.corporate("ada@acme.test")
	_, bobToken := e.corporate("bob@acme.test") // the same mobile as Ada's
	e.startReset("ada@acme.test")
	e.startReset("bob@acme.test")
	require.Equal(t, http.StatusNoContent, e.auth(adaToken, "POST", "/multi/authentication_factors/otp/SMS", nil).status)

	assert.Equal(t, []string{"+447700900123", "ada@acme.test"}, e.outboxTo(ui, adaToken), "Ada sees her SMS and her reset email, not Bob's")
	assert.Equal(t, []string{"bob@acme.test"}, e.outboxTo(ui, bobToken), "Bob sees his email, not the SMS for Ada to the number he gave himself")
	assert.Len(t, e.outbox(), 3, "the secret key sees every message")
}

// TestSandboxOutboxOfThoseWhoMayManage: one who may manage users also reads
// the messages for the users of their identity within their rank (an admin
// reads the invite they sent), never those of a user above them or of
// another identity.
func TestSandboxOutboxOfThoseWhoMayManage(t *testing.T) {
	e, ui := newEnvWithKeys(t, server.Options{})
	ada := e.adminRoot("ada@acme.test")
	lin := e.createUser(ada.token, userBody("lin@acme.test", core.RoleCardAssignee))
	e.invite(ada.token, lin)
	max := e.withPassword(ada.token, "max@acme.test", core.RoleFundsManagement)
	e.startReset("max@acme.test")
	cy := e.withPassword(ada.token, "cy@acme.test", core.RoleAccessManagement)
	dee := e.withPassword(ada.token, "dee@acme.test", core.RoleCardAssignee)
	_, bobToken := e.corporate("bob@acme.test")
	e.svc.WaitForMail()

	assert.Equal(t, []string{"max@acme.test", "lin@acme.test", "+447700900123"}, e.outboxTo(ui, ada.token), "the root: her own and every member's")
	assert.Equal(t, []string{"lin@acme.test"}, e.outboxTo(ui, cy.token), "an access manager: not the admin's")
	assert.Equal(t, []string{}, e.outboxTo(ui, dee.token), "a card assignee: her own only")
	assert.Equal(t, []string{}, e.outboxTo(ui, bobToken), "another identity's root")

	// Max demoted: what was sent while he managed funds stays out of the
	// access manager's reach; what is sent since is within it.
	r := e.auth(ada.token, "PATCH", userPath(max.id), map[string]any{"roles": []string{"CARD_ASSIGNEE"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.advance(time.Hour) // past the address's reset pacing; the sessions end
	e.startReset("max@acme.test")
	// Max's three: the reset before, the notice of his new roles and the
	// reset after (the notice goes in the background).
	require.Eventually(t, func() bool { return len(e.outbox()) == 5 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"max@acme.test", "max@acme.test", "lin@acme.test"}, e.outboxTo(ui, e.loginToken(cy.email)),
		"the two since the demotion, not the reset sent while he managed funds")
	assert.Equal(t, []string{"max@acme.test", "max@acme.test", "max@acme.test", "lin@acme.test", "+447700900123"}, e.outboxTo(ui, e.loginToken(ada.email)))
}

// outboxTo lists the addresses of the sandbox messages the holder of token
// reads with the ui key, newest first.
func (e *env) outboxTo(uiKey, token string) []string {
	e.t.Helper()
	r := e.withKey(uiKey).auth(token, "GET", "/multi/sandbox/outbox", nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	var got struct {
		Messages []outboxMessage `json:"messages"`
	}
	require.NoError(e.t, json.Unmarshal(r.body, &got))
	to := []string{}
	for _, m := range got.Messages {
		to = append(to, m.To)
	}
	return to
}
