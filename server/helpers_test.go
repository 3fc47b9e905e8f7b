package server_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// invalidField is one entry of a 400 body's syntaxErrors.invalidFields.
type invalidField struct {
	FieldName string   `json:"fieldName"`
	Error     string   `json:"error"`
	Params    []string `json:"params"`
}

// badRequest is Weavr's BadRequestError body.
type badRequest struct {
	Message      string `json:"message"`
	SyntaxErrors *struct {
		InvalidFields []invalidField `json:"invalidFields"`
	} `json:"syntaxErrors"`
}

// badRequest decodes a 400 body, failing the test when the status is not 400.
func (r resp) badRequest(t *testing.T) badRequest {
	t.Helper()
	require.Equal(t, 400, r.status, "body: %s", r.body)
	var b badRequest
	require.NoError(t, json.Unmarshal(r.body, &b), "body: %s", r.body)
	return b
}

// invalidFields returns "fieldName:error" for every field a 400 body names.
func (r resp) invalidFields(t *testing.T) []string {
	t.Helper()
	b := r.badRequest(t)
	if b.SyntaxErrors == nil {
		return nil
	}
	var out []string
	for _, f := range b.SyntaxErrors.InvalidFields {
		out = append(out, f.FieldName+":"+f.Error)
	}
	return out
}

// str digs a string out of a decoded JSON object by path.
func str(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		require.True(t, ok, "at %q of %v: not an object", p, path)
		cur = obj[p]
	}
	s, ok := cur.(string)
	require.True(t, ok, "%v: got %#v, want a string", path, cur)
	return s
}

// outboxMessage is one message of GET /multi/sandbox/outbox.
type outboxMessage struct {
	Channel string `json:"channel"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// outbox reads the sandbox outbox of e's programme, newest first.
func (e *env) outbox() []outboxMessage {
	e.t.Helper()
	r := e.key("GET", "/multi/sandbox/outbox", nil)
	require.Equal(e.t, 200, r.status, "%s", r.body)
	var out struct {
		Messages []outboxMessage `json:"messages"`
	}
	require.NoError(e.t, json.Unmarshal(r.body, &out))
	return out.Messages
}

// otherProgramme creates a second programme on the same server and returns its api key.
func (e *env) otherProgramme(name string) string {
	e.t.Helper()
	p, err := e.svc.CreateProgramme(context.Background(), core.NewProgramme{Name: name})
	require.NoError(e.t, err)
	return p.APIKey
}

// deactivate marks a user inactive by writing the store directly: no API does it yet.
func (e *env) deactivate(userID string) {
	e.t.Helper()
	err := e.store.Update(context.Background(), func(tx core.Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		u.Active = false
		return tx.UpdateUser(u)
	})
	require.NoError(e.t, err)
}

// auditActions lists the actions of e's programme's audit log, oldest first.
func (e *env) auditActions() []string {
	e.t.Helper()
	var actions []string
	err := e.store.View(context.Background(), func(tx core.ReadTx) error {
		evs, err := tx.AuditEvents(e.prog.ID, 0, 10000)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			actions = append(actions, ev.Action)
		}
		return nil
	})
	require.NoError(e.t, err)
	return actions
}

// count returns how often s occurs in list.
func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// pw is a SensitivePassword body value.
func pw(v string) map[string]any { return map[string]any{"value": v} }
