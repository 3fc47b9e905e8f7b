package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// Many links at once never take credentials past their limit of 100
// identities (their own and 99 linked): each link re-reads the credentials'
// list in its transaction, and the refused ones create nothing.
func TestParallelLinksKeepTheLimit(t *testing.T) {
	e := newEnv(t)
	a := e.adminRoot("ada@acme.test")
	const n = 130
	results := atOnce(n, func(i int) resp {
		body := corporateBody(a.email)
		body["company"].(map[string]any)["name"] = fmt.Sprintf("Linked %d", i)
		return e.auth(a.token, "POST", "/multi/corporates", body)
	})
	linked := 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			linked++
		case http.StatusConflict:
			assert.Equal(t, core.CodeIdentityLimitExceeded, r.errorCode(t))
		default:
			t.Fatalf("unexpected answer %d: %s", r.status, r.body)
		}
	}
	assert.Equal(t, 99, linked, "exactly up to the limit")
	assert.Equal(t, 100, count(e.auditActions(), "identity.create"), "the credentials' own identity and 99 links")
	assert.Equal(t, 99, count(e.auditActions(), "identity.link"))
	r := e.auth(e.loginToken(a.email), "GET", identitiesPath+"?limit=100", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.EqualValues(t, 100, r.json(t)["count"])
}

// A linked identity's root user signs in with its credentials, whose email
// it carries: its own email is not changed apart from theirs, and a change
// of the credentials' email is the linked roots' too.
func TestLinkedRootEmailFollowsCredentials(t *testing.T) {
	e := newEnv(t)
	l := e.linkedRoot("ada@acme.test")
	b := e.accessToken(e.loginToken(l.a.email), l.b)
	e.stepUp(b)
	r := e.auth(b, "PATCH", "/multi/corporates", map[string]any{"email": "mallory@acme.test"})
	require.Equal(t, http.StatusForbidden, r.status, "a linked root's own email change: %s", r.body)
	assert.Equal(t, core.CodeInsufficientPermissions, r.errorCode(t))

	r = e.auth(l.a.token, "PATCH", "/multi/corporates", map[string]any{"email": "ada2@acme.test"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	b = e.accessToken(e.loginToken("ada2@acme.test"), l.b)
	r = e.auth(b, "GET", "/multi/corporates", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "ada2@acme.test", str(t, r.json(t), "rootUser", "email"), "the linked root follows its credentials")
	r = e.key("POST", "/multi/corporates", corporateBody("ada@acme.test"))
	assert.Equal(t, http.StatusOK, r.status, "the old email is nobody's any more: %s", r.body)
}
