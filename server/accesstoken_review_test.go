package server_test

import (
	"fmt"
	"net/http"
	"sync"
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
	results := make([]resp, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			body := corporateBody(a.email)
			body["company"].(map[string]any)["name"] = fmt.Sprintf("Linked %d", i)
			results[i] = e.auth(a.token, "POST", "/multi/corporates", body)
		})
	}
	close(start)
	wg.Wait()
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
