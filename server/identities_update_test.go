package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// The identity's own fields follow the rank rule of its root user: only the
// root user and a user holding every permission the root holds (an ADMIN)
// change them; any other authorised user is refused and nothing changes.
func TestIdentityFieldsFollowTheRankRule(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	for _, c := range []struct {
		role core.Role
		code string
	}{
		{core.RoleAccessManagement, core.CodeRankInsufficient},
		{core.RoleFundsManagement, "INSUFFICIENT_PERMISSIONS"},
		{core.RoleCardsManagement, "INSUFFICIENT_PERMISSIONS"},
		{core.RoleCardAssignee, "INSUFFICIENT_PERMISSIONS"},
	} {
		m := e.newMember(root.token, string(c.role)+"@acme.test", c.role)
		for _, body := range []map[string]any{
			{"baseCurrency": "USD"},
			{"feeGroup": "free"},
			{"companyBusinessAddress": map[string]any{"addressLine1": "9 Fake St", "city": "Nowhere", "postCode": "N1", "country": "GB"}},
		} {
			r := e.auth(m.token, "PATCH", "/multi/corporates", body)
			require.Equal(t, http.StatusForbidden, r.status, "%s %v: %s", c.role, body, r.body)
			assert.Equal(t, c.code, r.errorCode(t), "%s %v", c.role, body)
		}
	}
	got := e.auth(root.token, "GET", "/multi/corporates", nil).json(t)
	assert.Equal(t, "GBP", got["baseCurrency"], "nothing changed")
	assert.Nil(t, got["feeGroup"], "nothing changed")
	assert.Nil(t, got["company"].(map[string]any)["businessAddress"], "nothing changed")

	admin := e.newMember(root.token, "admin@acme.test", core.RoleAdmin)
	r := e.auth(admin.token, "PATCH", "/multi/corporates", map[string]any{"baseCurrency": "USD"})
	require.Equal(t, http.StatusOK, r.status, "an ADMIN may: %s", r.body)
	assert.Equal(t, "USD", r.json(t)["baseCurrency"])
}

// Parallel updates of different identity fields each read the profile in
// their own transaction: none overwrites another's change (no lost update),
// on either store.
func TestIdentityUpdatesInParallelLoseNothing(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("ada@acme.test")
	address := map[string]any{"addressLine1": "1 High St", "city": "London", "postCode": "SW1A 1AA", "country": "GB"}
	bodies := []map[string]any{
		{"tag": "acme-2"}, {"baseCurrency": "EUR"}, {"feeGroup": "gold"}, {"industry": "FINANCE"},
		{"sourceOfFunds": "DIVIDENDS"}, {"sourceOfFundsOther": "none"}, {"companyBusinessAddress": address},
		{"name": "Augusta"}, {"userTag": "ada-1"},
	}
	var wg sync.WaitGroup
	errs := make([]string, len(bodies))
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := e.auth(token, "PATCH", "/multi/corporates", body); r.status != http.StatusOK {
				errs[i] = fmt.Sprintf("%v: %d %s", body, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	for _, msg := range errs {
		assert.Empty(t, msg)
	}
	got := e.auth(token, "GET", "/multi/corporates", nil).json(t)
	assert.Equal(t, "acme-2", got["tag"])
	assert.Equal(t, "EUR", got["baseCurrency"])
	assert.Equal(t, "gold", got["feeGroup"])
	assert.Equal(t, "FINANCE", got["industry"])
	assert.Equal(t, "DIVIDENDS", got["sourceOfFunds"])
	assert.Equal(t, "none", got["sourceOfFundsOther"])
	assert.Equal(t, address, got["company"].(map[string]any)["businessAddress"])
	assert.Equal(t, "Augusta", str(t, got, "rootUser", "name"))
	assert.Equal(t, "ada-1", str(t, got, "rootUser", "tag"))
}

// racingStore changes an identity's feeGroup just before each transaction a
// request runs, as a parallel corporateUpdate committing then would.
type racingStore struct {
	core.Store
	t        *testing.T
	identity atomic.Pointer[string]
	mu       sync.Mutex
	last     string // the feeGroup the latest change set
	n        int
}

func (s *racingStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	if id := s.identity.Load(); id != nil && core.RequestRef(ctx) != "" {
		s.mu.Lock()
		s.n++
		fee := fmt.Sprintf("racer-%d", s.n)
		s.last = fee
		s.mu.Unlock()
		require.NoError(s.t, s.Store.Update(ctx, func(tx core.Tx) error {
			ident, err := tx.Identity(*id)
			if err != nil {
				return err
			}
			var p map[string]any
			if err := json.Unmarshal(ident.Profile, &p); err != nil {
				return err
			}
			p["feeGroup"] = fee
			if ident.Profile, err = json.Marshal(p); err != nil {
				return err
			}
			return tx.UpdateIdentity(ident)
		}))
	}
	return s.Store.Update(ctx, fn)
}

// corporateUpdate answers the identity as its transaction left it, not as
// read before: a change another request committed in between is in the
// answer (and in what an idempotency-ref replays), also when the request
// changes only the root user.
func TestIdentityUpdateAnswersWhatItsTransactionSaw(t *testing.T) {
	racer := &racingStore{t: t}
	e, _ := newEnvOverStore(t, server.Options{}, func(s core.Store) core.Store { racer.Store = s; return racer })
	rootID, token := e.corporate("ada@acme.test")
	for _, body := range []map[string]any{{"name": "Augusta"}, {"tag": "acme-2"}} {
		racer.identity.Store(&rootID)
		r := e.auth(token, "PATCH", "/multi/corporates", body)
		racer.identity.Store(nil)
		require.Equal(t, http.StatusOK, r.status, "%v: %s", body, r.body)
		racer.mu.Lock()
		want := racer.last
		racer.mu.Unlock()
		require.NotEmpty(t, want, "the racer ran")
		assert.Equal(t, want, r.json(t)["feeGroup"], "%v answers the feeGroup its transaction saw", body)
		assert.Equal(t, want, e.auth(token, "GET", "/multi/corporates", nil).json(t)["feeGroup"])
	}
}
