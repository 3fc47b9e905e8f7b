package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// concurrency is how many goroutines the concurrency tests run at once.
const concurrency = 50

// testValuesAreCopies checks that neither the records a store returns nor the
// ones it was given share memory with what it keeps.
func testValuesAreCopies(t *testing.T, s core.Store) {
	insertUsers(t, s)
	u := root101()
	hash := []byte("tok-1")
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		x := session("", "101", t0)
		x.TokenHash = hash
		if err := tx.InsertSession(x); err != nil {
			return err
		}
		// Scribbling on what was written, inside the transaction, must not reach the store.
		hash[0] = 'X'
		x.UserID = "999"
		return nil
	})
	u.Name = "Changed"

	got, err := getUser(t, s, "101")
	require.NoError(t, err)
	assert.Equal(t, root101(), got, "user after the caller changed its copy")
	got.Name = "Changed"
	got, err = getUser(t, s, "101")
	require.NoError(t, err)
	assert.Equal(t, root101(), got, "user after the caller changed a returned copy")

	sess, err := getSession(t, s, "tok-1")
	require.NoError(t, err)
	assert.Equal(t, "101", sess.UserID)
	requireSessions(t, s, nil, []string{"Xok-1"})
	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteUserSessions("101") })
	require.NoError(t, err)
	assert.Equal(t, 1, n, "sessions of user 101")
	requireSessions(t, s, nil, []string{"tok-1"})
}

func testRollbackOnError(t *testing.T, s core.Store) {
	insertAll(t, s, []*core.Programme{programme("p1", "Alpha")}, nil, nil)
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx core.Tx) error {
		if err := tx.InsertIdentity(identity("101", "p1")); err != nil {
			return err
		}
		if err := tx.InsertUser(root101()); err != nil {
			return err
		}
		if err := tx.AppendAudit(auditEvent("p1", 1)); err != nil {
			return err
		}
		if err := tx.PutMeta("k", []byte("v")); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom, "Update returns fn's error")

	_, err = getUser(t, s, "101")
	requireNotFound(t, err)
	_, err = read(t, s, func(tx core.ReadTx) (*core.Identity, error) { return tx.Identity("101") })
	requireNotFound(t, err)
	_, err = read(t, s, func(tx core.ReadTx) ([]byte, error) { return tx.Meta("k") })
	requireNotFound(t, err)
	assert.Empty(t, usersByEmail(t, s, "p1", "root@example.com"), "index entries of the rolled-back user")
	events, err := read(t, s, func(tx core.ReadTx) ([]*core.AuditEvent, error) { return tx.AuditEvents("p1", 0, 10) })
	require.NoError(t, err)
	assert.Empty(t, events, "audit events of the rolled-back Update")

	boom = errors.New("boom in View")
	err = s.View(t.Context(), func(core.ReadTx) error { return boom })
	require.ErrorIs(t, err, boom, "View returns fn's error")
}

func testCanceledContext(t *testing.T, s core.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(core.Tx) error {
		called = true
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "Update ran fn with a canceled context")
	err = s.View(ctx, func(core.ReadTx) error {
		called = true
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "View ran fn with a canceled context")
}

func testNextIDUniqueUnderConcurrency(t *testing.T, s core.Store) {
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
	)
	for range concurrency {
		wg.Go(func() {
			pair, err := write(t, s, func(tx core.Tx) ([2]string, error) {
				a, err := tx.NextID()
				if err != nil {
					return [2]string{}, err
				}
				b, err := tx.NextID()
				return [2]string{a, b}, err
			})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range pair {
				assert.False(t, ids[id], "id %s handed out twice", id)
				ids[id] = true
			}
		})
	}
	wg.Wait()
	require.Len(t, ids, 2*concurrency)

	pair, err := write(t, s, func(tx core.Tx) ([2]uint64, error) {
		var pair [2]uint64
		for i := range pair {
			id, err := tx.NextID()
			if err != nil {
				return pair, err
			}
			if pair[i], err = strconv.ParseUint(id, 10, 64); err != nil {
				return pair, err
			}
		}
		return pair, nil
	})
	require.NoError(t, err, "ids are decimal numbers")
	assert.Greater(t, pair[1], pair[0], "ids increase")
	for id := range ids {
		assert.Regexp(t, `^[0-9]+$`, id)
	}
}

// testUpdateIsIsolated runs concurrent read-modify-write Updates of one
// record: none may see another's state before it commits, so none is lost.
func testUpdateIsIsolated(t *testing.T, s core.Store) {
	u := root101()
	u.FailedLogins = 0
	insertAll(t, s, []*core.Programme{programme("p1", "Alpha")}, nil, []*core.User{u})

	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			assert.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
				u, err := tx.User("101")
				if err != nil {
					return err
				}
				u.FailedLogins++
				return tx.UpdateUser(u)
			}))
		})
	}
	wg.Wait()

	got, err := getUser(t, s, "101")
	require.NoError(t, err)
	assert.Equal(t, concurrency, got.FailedLogins, "increments by %d concurrent Updates", concurrency)
}

// testConcurrentFailuresStayApart runs concurrent Updates of which every other
// one fails: the failures leave nothing behind and take none of the others
// down with them (with group commit they may have shared a transaction).
func testConcurrentFailuresStayApart(t *testing.T, s core.Store) {
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			err := s.Update(t.Context(), func(tx core.Tx) error {
				if err := tx.PutMeta(fmt.Sprint("k", i), []byte{byte(i)}); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
			if i%2 == 1 {
				assert.ErrorIs(t, err, boom, "Update %d", i)
			} else {
				assert.NoError(t, err, "Update %d", i)
			}
		})
	}
	wg.Wait()

	for i := range concurrency {
		got, err := read(t, s, func(tx core.ReadTx) ([]byte, error) { return tx.Meta(fmt.Sprint("k", i)) })
		if i%2 == 1 {
			assert.ErrorIs(t, err, core.ErrRecordNotFound, "meta written by failed Update %d", i)
			continue
		}
		if assert.NoError(t, err, "meta written by Update %d", i) {
			assert.Equal(t, []byte{byte(i)}, got)
		}
	}
}
