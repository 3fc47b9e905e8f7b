package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

func TestListIDOrder(t *testing.T) {
	// In the order their list ids must sort.
	ids := []string{"0", "9", "10", "101", "1000", "100000000", "18446744073709551615",
		"", "007", "18446744073709551616", "abc", "x1"}
	for i, id := range ids {
		got, err := parseListID(listID(id))
		require.NoError(t, err)
		assert.Equal(t, id, got, "round trip")
		if i > 0 {
			assert.Negative(t, bytes.Compare(listID(ids[i-1]), listID(id)), "listID(%q) < listID(%q)", ids[i-1], id)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {0, 1, 2}, {2, 'a'}} {
		_, err := parseListID(bad)
		assert.Error(t, err, "parseListID(%x)", bad)
	}
}

func TestSplitCompositeKey(t *testing.T) {
	for _, parts := range [][]string{nil, {""}, {"a", "", "bc"}, {string(make([]byte, 300))}} {
		got, err := splitCompositeKey(compositeKey(parts...))
		require.NoError(t, err)
		assert.Equal(t, parts, got)
	}
	_, err := splitCompositeKey([]byte{5, 'a'})
	assert.Error(t, err, "a part longer than the key")
}

// splitListKey splits a user_list or user_list_blocks key into its list prefix and list id.
func splitListKey(t *testing.T, k []byte) (prefix, id []byte) {
	t.Helper()
	rest := k
	for range 4 {
		n, size := binary.Uvarint(rest)
		require.Positive(t, size, "key %x", k)
		rest = rest[size+int(n):]
	}
	return k[:len(k)-len(rest)], rest
}

// checkUserListIndex compares the user list index with what the users bucket
// says it must hold: every user_list key and user_counts count exactly, and
// blocks that cut each prefix's keys into runs of 1 to blockMax keys whose
// counts are right. It returns the most blocks a prefix has.
func checkUserListIndex(t *testing.T, tx *bolt.Tx) int {
	t.Helper()
	root := tx.Bucket(bucketRoot)
	wantList := map[string]bool{}
	wantCounts := map[string]uint64{}
	require.NoError(t, root.Bucket(bucketUsers).ForEach(func(_, data []byte) error {
		u, err := decode[core.User](data, "user")
		if err != nil {
			return err
		}
		for _, p := range listPrefixes(u) {
			wantList[string(slices.Concat(p, listID(u.ID)))] = true
			wantCounts[string(p)]++
		}
		for _, k := range roleSetKeys(u) {
			wantCounts[string(k)]++
		}
		return nil
	}))

	gotList := map[string]bool{}
	entries := map[string][][]byte{} // list prefix -> its keys' list ids, in order
	require.NoError(t, root.Bucket(bucketUserList).ForEach(func(k, _ []byte) error {
		gotList[string(k)] = true
		p, id := splitListKey(t, k)
		entries[string(p)] = append(entries[string(p)], bytes.Clone(id))
		return nil
	}))
	require.Equal(t, wantList, gotList, "user_list keys")
	gotCounts := map[string]uint64{}
	require.NoError(t, root.Bucket(bucketUserCounts).ForEach(func(k, v []byte) error {
		gotCounts[string(k)] = readUint(v)
		return nil
	}))
	require.Equal(t, wantCounts, gotCounts, "user_counts")

	type block struct {
		start []byte
		count uint64
	}
	blocks := map[string][]block{}
	require.NoError(t, root.Bucket(bucketUserListBlocks).ForEach(func(k, v []byte) error {
		p, id := splitListKey(t, k)
		blocks[string(p)] = append(blocks[string(p)], block{bytes.Clone(id), readUint(v)})
		return nil
	}))
	for p := range blocks {
		require.NotEmpty(t, entries[p], "blocks of a prefix without keys")
	}
	for p, ids := range entries {
		bs := blocks[p]
		require.NotEmpty(t, bs, "blocks of a prefix with %d keys", len(ids))
		require.LessOrEqual(t, bytes.Compare(bs[0].start, ids[0]), 0, "first block starts after the first key")
		for i, b := range bs {
			end := len(ids)
			if i+1 < len(bs) {
				end, _ = slices.BinarySearchFunc(ids, bs[i+1].start, bytes.Compare)
			}
			begin, _ := slices.BinarySearchFunc(ids, b.start, bytes.Compare)
			require.Equal(t, uint64(end-begin), b.count, "count of block %d of %d", i, len(bs))
			require.True(t, b.count >= 1 && b.count <= blockMax, "block %d holds %d keys", i, b.count)
		}
	}
	most := 0
	for _, bs := range blocks {
		most = max(most, len(bs))
	}
	return most
}

// allUsers decodes every stored user, in the order of their list ids.
func allUsers(t *testing.T, tx *bolt.Tx) []*core.User {
	t.Helper()
	var us []*core.User
	require.NoError(t, tx.Bucket(bucketRoot).Bucket(bucketUsers).ForEach(func(_, data []byte) error {
		u, err := decode[core.User](data, "user")
		us = append(us, u)
		return err
	}))
	keys := make(map[*core.User][]byte, len(us))
	for _, u := range us {
		keys[u] = listID(u.ID)
	}
	slices.SortFunc(us, func(a, b *core.User) int { return bytes.Compare(keys[a], keys[b]) })
	return us
}

// bruteList answers a filter from every user (in the order of allUsers):
// what ListUsers must return.
func bruteList(us []*core.User, identityID string, f core.UserFilter) ([]string, int) {
	ids := []string{}
	for _, u := range us {
		if !u.Root && u.IdentityID == identityID &&
			(f.Active == nil || u.Active == *f.Active) &&
			(f.Email == "" || u.Email == f.Email) &&
			(f.Tag == "" || u.Tag == f.Tag) &&
			(len(f.Roles) == 0 || slices.ContainsFunc(f.Roles, func(r core.Role) bool { return slices.Contains(u.Roles, r) })) {
			ids = append(ids, u.ID)
		}
	}
	total := len(ids)
	return ids[min(f.Offset, total):min(f.Offset+f.Limit, total)], total
}

var testRoles = []core.Role{core.RoleAdmin, core.RoleAccessManagement, core.RoleFundsManagement, core.RoleCardsManagement, core.RoleCardAssignee}

// randomUser gives u random list dimensions, identity and rootness.
func randomUser(rng *rand.Rand, u *core.User) {
	u.IdentityID = []string{"1", "2"}[rng.IntN(8)/7] // mostly identity 1
	u.Root = rng.IntN(50) == 0
	u.Active = rng.IntN(3) > 0
	u.Tag = []string{"", "red", "blue", "green"}[rng.IntN(4)]
	u.Roles = nil
	for _, r := range testRoles {
		if rng.IntN(4) == 0 {
			u.Roles = append(u.Roles, r)
		}
	}
	if rng.IntN(10) == 0 && len(u.Roles) > 0 {
		u.Roles = append(u.Roles, u.Roles[0]) // a repeated role
	}
}

// TestUserListIndexUnderChurn inserts users in random id order and changes
// them at random, enough for blocks to split and merge, then checks the index
// against the users and ListUsers against a scan of every user.
func TestUserListIndexUnderChurn(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "deputy.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))

	const users = 1500
	ids := rng.Perm(users)
	for start := 0; start < users; start += 500 {
		require.NoError(t, s.Update(ctx, func(tx core.Tx) error {
			for _, n := range ids[start : start+500] {
				u := &core.User{ID: strconv.Itoa(1000 + n*7), ProgrammeID: "p1", Email: fmt.Sprintf("u%d@example.com", n)}
				randomUser(rng, u)
				if err := tx.InsertUser(u); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	// check checks the index and ListUsers, and returns the most blocks of a prefix.
	check := func(t *testing.T) (most int) {
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			most = checkUserListIndex(t, tx)
			us := allUsers(t, tx)
			r := &readTx{tx: tx, cache: newRecordCaches()}
			active := true
			for range 100 {
				f := core.UserFilter{Limit: rng.IntN(120)}
				if rng.IntN(2) == 0 {
					f.Active = &active
				}
				if rng.IntN(3) == 0 {
					f.Tag = "red"
				}
				for _, role := range testRoles {
					if rng.IntN(4) == 0 {
						f.Roles = append(f.Roles, role)
					}
				}
				_, total := bruteList(us, "1", f)
				f.Offset = rng.IntN(total + 10)
				want, _ := bruteList(us, "1", f)
				got, gotTotal, err := r.ListUsers("1", f)
				require.NoError(t, err)
				gotIDs := []string{}
				for _, u := range got {
					gotIDs = append(gotIDs, u.ID)
				}
				require.Equal(t, total, gotTotal, "total of %+v", f)
				require.Equal(t, want, gotIDs, "page of %+v", f)
			}
			return nil
		}))
		return most
	}
	t.Run("after inserts", func(t *testing.T) {
		assert.Greater(t, check(t), 3, "blocks of the longest prefix")
	})

	// Change random users, sometimes in transactions that roll back.
	for round := range 20 {
		err := s.Update(ctx, func(tx core.Tx) error {
			for range 100 {
				id := strconv.Itoa(1000 + rng.IntN(users)*7)
				u, err := tx.User(id)
				if err != nil {
					return err
				}
				switch rng.IntN(4) {
				case 0:
					u.Active = !u.Active
				case 1:
					u.Tag = []string{"", "red", "blue"}[rng.IntN(3)]
				default:
					randomUser(rng, u)
				}
				if err := tx.UpdateUser(u); err != nil {
					return err
				}
			}
			if round%5 == 4 {
				return errRolledBack
			}
			return nil
		})
		if round%5 == 4 {
			require.ErrorIs(t, err, errRolledBack)
		} else {
			require.NoError(t, err)
		}
	}
	t.Run("after updates", func(t *testing.T) { check(t) })

	// Deactivate almost everyone one by one, so that blocks shrink and merge.
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error {
		for n := range users {
			if n%50 == 0 {
				continue
			}
			u, err := tx.User(strconv.Itoa(1000 + n*7))
			if err != nil {
				return err
			}
			u.Active, u.Roles = false, nil
			if err := tx.UpdateUser(u); err != nil {
				return err
			}
		}
		return nil
	}))
	t.Run("after deactivations", func(t *testing.T) { check(t) })
}

// errRolledBack is returned from Update functions to discard their writes.
var errRolledBack = errors.New("test: roll back")

// TestMigration2IndexesUsers upgrades a version 1 file holding users: the
// new buckets exist and the index holds the users stored before.
func TestMigration2IndexesUsers(t *testing.T) {
	db := openRaw(t, filepath.Join(t.TempDir(), "deputy.db"))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:1]) }))
	rng := rand.New(rand.NewPCG(3, 5))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
		for n := range 600 {
			u := &core.User{ID: strconv.Itoa(100 + n), ProgrammeID: "p1", Email: fmt.Sprintf("u%d@example.com", n)}
			randomUser(rng, u)
			if err := w.putUser(u); err != nil { // as a version 1 build stored users
				return err
			}
		}
		return nil
	}))

	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:2]) }))
	assert.Equal(t, uint64(2), fileVersion(t, db))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		for _, name := range []string{"user_list", "user_counts", "user_list_blocks", "invites", "email_codes", "kyc", "kyc_refs"} {
			assert.NotNil(t, root.Bucket([]byte(name)), "bucket %s", name)
		}
		checkUserListIndex(t, tx)
		want, wantTotal := bruteList(allUsers(t, tx), "1", core.UserFilter{Offset: 300, Limit: 50})
		got, total, err := (&readTx{tx: tx, cache: newRecordCaches()}).ListUsers("1", core.UserFilter{Offset: 300, Limit: 50})
		require.NoError(t, err)
		assert.Equal(t, wantTotal, total)
		gotIDs := []string{}
		for _, u := range got {
			gotIDs = append(gotIDs, u.ID)
		}
		assert.Equal(t, want, gotIDs)
		return nil
	}))
}
