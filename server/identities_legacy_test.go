package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// TestIdentityWrittenBeforeWeavrFieldsStillReads: identities stored before
// Deputy required the fields Weavr requires (profileId, ipAddress,
// baseCurrency, company type and country, companyPosition, a consumer's date
// of birth and address) are not changed by the upgrade and still read, get
// and patch: they answer the fields they were given and leave the rest out,
// which Deputy's own description allows. (Weavr's requires them: such an
// identity is the one answer a generated Weavr client may find short.)
func TestIdentityWrittenBeforeWeavrFieldsStillReads(t *testing.T) {
	e := newEnv(t)
	spec, err := apispec.Load()
	require.NoError(t, err)
	ctx := context.Background()
	// What the server kept before: a corporate's profile with only the
	// company name, a consumer's with nothing, and one with no profile at all.
	tests := []struct {
		name    string
		typ     core.IdentityType
		company string
		profile json.RawMessage
		path    string
	}{
		{"corporate", core.Corporate, "Old Ltd", json.RawMessage(`{"company":{"name":"Old Ltd"}}`), "/multi/corporates"},
		{"consumer", core.Consumer, "", json.RawMessage(`{}`), "/multi/consumers"},
		{"consumer without a profile", core.Consumer, "", nil, "/multi/consumers"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := []string{"old-corp@acme.test", "old-cons@acme.test", "older@acme.test"}[i]
			ident, _, err := e.svc.CreateIdentity(ctx, e.prog, core.NewIdentity{
				Type: tt.typ, Name: tt.company, Profile: tt.profile,
				Root: core.UserDetails{Name: "Old", Surname: "Timer", Email: email,
					Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900555"}},
			})
			require.NoError(t, err)
			r := e.key("POST", "/multi/passwords/"+ident.ID+"/create", map[string]any{"password": pw(testPassword)})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			token := str(t, r.json(t), "token")

			for _, call := range []struct {
				method string
				body   any
			}{{"GET", nil}, {"PATCH", map[string]any{"surname": "Timely"}}, {"PATCH", map[string]any{"feeGroup": "legacy"}}} {
				status, got := e.unheldToWeavr(t, spec, token, call.method, tt.path, call.body)
				require.Equal(t, http.StatusOK, status, "%s %s: %v", call.method, tt.path, got)
				assert.Equal(t, ident.ID, got["id"].(map[string]any)["id"])
				root := got["rootUser"].(map[string]any)
				assert.Equal(t, email, root["email"])
				for _, absent := range []string{"profileId", "ipAddress", "baseCurrency"} {
					assert.NotContains(t, got, absent, "nothing is made up")
				}
				assert.NotContains(t, root, "companyPosition")
				assert.NotContains(t, root, "address")
				if tt.typ == core.Corporate {
					assert.Equal(t, map[string]any{"name": "Old Ltd"}, got["company"], "the company as it was kept")
				}
			}
		})
	}
}

// unheldToWeavr calls the API with token outside Weavr's description (an
// identity written before Deputy required Weavr's fields may answer without
// them), holding the answer to Deputy's own, and returns the status and body.
func (e *env) unheldToWeavr(t *testing.T, spec *apispec.Spec, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("api-key", e.apiKey)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	res.Body = io.NopCloser(bytes.NewReader(b))
	assert.NoError(t, spec.ValidateResponse(req.Context(), req, res, b), "Deputy's description: %s", b)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return res.StatusCode, out
}
