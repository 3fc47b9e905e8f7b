package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func bulk(id, identityID string, state core.BulkState, count int) (*core.Bulk, []*core.BulkOperation) {
	b := &core.Bulk{
		ID:          id,
		ProgrammeID: "p1",
		IdentityID:  identityID,
		SubmittedBy: "101",
		Kind:        core.BulkUserCreate,
		Count:       count,
		State:       state,
		Mode:        core.BulkStop,
		RunBy:       "102",
		SessionHash: []byte("session-hash-" + id),
		Completed:   1,
		Failed:      1,
		PauseReason: core.BulkSessionEnded,
		CreatedAt:   t0.Add(-time.Hour),
		StartedAt:   t0.Add(-time.Minute),
		FinishedAt:  t0,
	}
	ops := make([]*core.BulkOperation, count)
	for i := range ops {
		ops[i] = &core.BulkOperation{BulkID: id, Seq: i + 1, Status: core.BulkOpSubmitted,
			User: &core.NewUser{UserDetails: core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: "ada@example.com"}, Roles: []core.Role{core.RoleAdmin}}}
	}
	return b, ops
}

// A bulk and its operations round-trip; operations read in order from a
// sequence number; updates replace them; unknown ones are not found.
func testBulk(t *testing.T, s core.Store) {
	b, ops := bulk("500", "100", core.BulkRunning, 5)
	requireComplete(t, b)
	done := &core.BulkOperation{BulkID: "500", Seq: 2, Status: core.BulkOpFailed, User: ops[1].User, UserID: "103",
		Created: user("103", "p1", "100", "ada@example.com"),
		Error: &core.BulkOpError{Class: "conflict", Code: "EMAIL_NOT_UNIQUE", Message: "taken",
			Fields: []core.FieldError{{Field: "email", Reason: core.ReasonRegex, Params: []string{"x"}}}}, At: t0}
	requireComplete(t, done)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertBulk(b, ops) })

	got, err := read(t, s, func(tx core.ReadTx) (*core.Bulk, error) { return tx.Bulk("500") })
	require.NoError(t, err)
	assert.Equal(t, b, got)
	all, err := read(t, s, func(tx core.ReadTx) ([]*core.BulkOperation, error) { return tx.BulkOperations("500", 0, 0) })
	require.NoError(t, err)
	assert.Equal(t, ops, all)
	some, err := read(t, s, func(tx core.ReadTx) ([]*core.BulkOperation, error) { return tx.BulkOperations("500", 3, 2) })
	require.NoError(t, err)
	assert.Equal(t, ops[2:4], some, "two from the third")

	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdateBulkOperation(done) })
	second, err := read(t, s, func(tx core.ReadTx) ([]*core.BulkOperation, error) { return tx.BulkOperations("500", 2, 1) })
	require.NoError(t, err)
	assert.Equal(t, []*core.BulkOperation{done}, second)

	_, err = read(t, s, func(tx core.ReadTx) (*core.Bulk, error) { return tx.Bulk("501") })
	requireNotFound(t, err)
	err = s.Update(t.Context(), func(tx core.Tx) error { return tx.UpdateBulk(&core.Bulk{ID: "501", State: core.BulkRunning}) })
	requireNotFound(t, err)
	err = s.Update(t.Context(), func(tx core.Tx) error {
		return tx.UpdateBulkOperation(&core.BulkOperation{BulkID: "500", Seq: 6, Status: core.BulkOpCompleted})
	})
	requireNotFound(t, err)
	none, err := read(t, s, func(tx core.ReadTx) ([]*core.BulkOperation, error) { return tx.BulkOperations("501", 0, 0) })
	require.NoError(t, err)
	assert.Empty(t, none)
	err = s.Update(t.Context(), func(tx core.Tx) error { return tx.InsertBulk(b, ops) })
	assert.ErrorIs(t, err, core.ErrDuplicate, "a second bulk with the id")
}

// DeleteBulk removes a bulk, its operations and its index entries, and
// nothing of a bulk whose id it begins.
func testDeleteBulk(t *testing.T, s core.Store) {
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.InsertBulk(bulk("500", "100", core.BulkRunning, 3)); err != nil {
			return err
		}
		return tx.InsertBulk(bulk("5000", "100", core.BulkRunning, 2))
	})
	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteBulk("500") })
	_, err := read(t, s, func(tx core.ReadTx) (*core.Bulk, error) { return tx.Bulk("500") })
	requireNotFound(t, err)
	_, err = read(t, s, func(tx core.ReadTx) (any, error) {
		ops, err := tx.BulkOperations("500", 0, 0)
		assert.Empty(t, ops, "its operations")
		if err != nil {
			return nil, err
		}
		ops, err = tx.BulkOperations("5000", 0, 0)
		assert.Len(t, ops, 2, "the operations of bulk 5000")
		if err != nil {
			return nil, err
		}
		bs, n, err := tx.Bulks("100", "", 0, 10)
		assert.Equal(t, 1, n)
		if assert.Len(t, bs, 1) {
			assert.Equal(t, "5000", bs[0].ID)
		}
		if err != nil {
			return nil, err
		}
		running, err := tx.RunningBulks(0)
		if assert.Len(t, running, 1) {
			assert.Equal(t, "5000", running[0].ID)
		}
		return nil, err
	})
	require.NoError(t, err)
	err = s.Update(t.Context(), func(tx core.Tx) error { return tx.DeleteBulk("500") })
	requireNotFound(t, err)
}

// Bulks lists an identity's bulks in id order, by state, paged with the
// count of all matches; RunningBulks follows every state change.
func testBulkIndexes(t *testing.T, s core.Store) {
	ids := []string{"999", "1000", "1001", "1002"} // numeric order, not text order
	mustUpdate(t, s, func(tx core.Tx) error {
		for i, id := range ids {
			state := core.BulkSubmitted
			if i%2 == 1 {
				state = core.BulkRunning
			}
			if err := tx.InsertBulk(bulk(id, "100", state, 1)); err != nil {
				return err
			}
		}
		return tx.InsertBulk(bulk("998", "200", core.BulkRunning, 1))
	})
	listed := func(state core.BulkState, offset, limit int) ([]string, int) {
		t.Helper()
		var out []string
		var count int
		_, err := read(t, s, func(tx core.ReadTx) (any, error) {
			bs, n, err := tx.Bulks("100", state, offset, limit)
			for _, b := range bs {
				out = append(out, b.ID)
			}
			count = n
			return nil, err
		})
		require.NoError(t, err)
		return out, count
	}
	running := func() []string {
		t.Helper()
		var out []string
		_, err := read(t, s, func(tx core.ReadTx) (any, error) {
			bs, err := tx.RunningBulks(0)
			for _, b := range bs {
				out = append(out, b.ID)
			}
			return nil, err
		})
		require.NoError(t, err)
		return out
	}
	got, n := listed("", 0, 10)
	assert.Equal(t, ids, got)
	assert.Equal(t, 4, n)
	got, n = listed("", 1, 2)
	assert.Equal(t, []string{"1000", "1001"}, got)
	assert.Equal(t, 4, n)
	got, n = listed(core.BulkRunning, 0, 10)
	assert.Equal(t, []string{"1000", "1002"}, got)
	assert.Equal(t, 2, n)
	got, n = listed(core.BulkRunning, 5, 10)
	assert.Empty(t, got)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"998", "1000", "1002"}, running())

	mustUpdate(t, s, func(tx core.Tx) error {
		b, err := tx.Bulk("1000")
		if err != nil {
			return err
		}
		b.State = core.BulkPaused
		if err := tx.UpdateBulk(b); err != nil {
			return err
		}
		if b, err = tx.Bulk("999"); err != nil {
			return err
		}
		b.State = core.BulkRunning
		return tx.UpdateBulk(b)
	})
	assert.Equal(t, []string{"998", "999", "1002"}, running())
	_, err := read(t, s, func(tx core.ReadTx) (any, error) {
		bs, err := tx.RunningBulks(2)
		assert.Len(t, bs, 2, "limit")
		return nil, err
	})
	require.NoError(t, err)
}
