package boltstore

import (
	"context"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestCloneSharesNothing fills every field of each cached kind, clones it and
// checks that the copy is equal and shares no memory: a field added to one of
// these types without being copied by its clone function fails here.
func TestCloneSharesNothing(t *testing.T) {
	check := func(t *testing.T, v any, clone func() any) {
		t.Helper()
		fillEveryField(reflect.ValueOf(v).Elem(), 1)
		c := clone()
		require.Equal(t, v, c)
		assertDisjoint(t, reflect.ValueOf(v).Elem(), reflect.ValueOf(c).Elem(), reflect.TypeOf(v).Elem().Name())
	}
	p := &core.Programme{}
	check(t, p, func() any { return cloneProgramme(p) })
	s := &core.Session{}
	check(t, s, func() any { return cloneSession(s) })
	u := &core.User{}
	check(t, u, func() any { return cloneUser(u) })
	f := &core.Factor{}
	check(t, f, func() any { return cloneFactor(f) })
	i := &identityRecord{}
	check(t, i, func() any { return cloneIdentityRecord(i) })
}

// fillEveryField sets v and everything it holds to non-zero values.
func fillEveryField(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillEveryField(v.Elem(), seed)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(int64(seed)*1000, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillEveryField(v.Field(i), seed+i)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillEveryField(v.Index(i), seed+i)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillEveryField(k, seed)
		fillEveryField(e, seed)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("s" + strconv.Itoa(seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%100 + 1))
	default:
		panic("fillEveryField: unhandled kind " + v.Kind().String())
	}
}

// assertDisjoint fails where a and b (equal values) share a pointer, slice or map.
func assertDisjoint(t *testing.T, a, b reflect.Value, path string) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if !a.IsNil() {
			assert.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
			assertDisjoint(t, a.Elem(), b.Elem(), path)
		}
	case reflect.Slice:
		if a.Len() > 0 {
			assert.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
			for i := range a.Len() {
				assertDisjoint(t, a.Index(i), b.Index(i), path+"["+strconv.Itoa(i)+"]")
			}
		}
	case reflect.Map:
		assert.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				assertDisjoint(t, a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
			}
		}
	}
}

func openForCache(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "deputy.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func cacheTestUser() *core.User {
	return &core.User{ID: "100000002", IdentityID: "100000002", IdentityType: core.Corporate, ProgrammeID: "p1",
		Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"},
		Roles: []core.Role{core.RoleAdmin}, Active: true, CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(1, 0).UTC()}
}

func readUser(t *testing.T, s *Store, id string) *core.User {
	t.Helper()
	var u *core.User
	require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
		var err error
		u, err = tx.User(id)
		return err
	}))
	return u
}

// TestCacheCopiesOut: changing a record a read returned changes neither the
// store nor what the next read returns.
func TestCacheCopiesOut(t *testing.T) {
	s := openForCache(t)
	want := cacheTestUser()
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error { return tx.InsertUser(cacheTestUser()) }))

	first := readUser(t, s, want.ID)
	first.Name, first.Mobile.Number, first.Roles[0] = "Mallory", "0000", core.RoleAccessManagement
	assert.Equal(t, want, readUser(t, s, want.ID))
	assert.Len(t, s.cache.users.m, 1, "the user was cached")
}

// TestCacheStaysBounded: past its limit the cache makes room, and every read
// still returns its own record.
func TestCacheStaysBounded(t *testing.T) {
	s := openForCache(t)
	s.cache.users.limit = 3
	var ids []string
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
		for i := range 10 {
			u := cacheTestUser()
			u.ID, u.Email = strconv.Itoa(100000010+i), "user"+strconv.Itoa(i)+"@acme.test"
			ids = append(ids, u.ID)
			if err := tx.InsertUser(u); err != nil {
				return err
			}
		}
		return nil
	}))
	for range 3 {
		for _, id := range ids {
			assert.Equal(t, id, readUser(t, s, id).ID)
			assert.LessOrEqual(t, len(s.cache.users.m), 3)
		}
	}
}

// TestCacheFollowsWrites: a read after a committed write sees the write; a
// write that rolled back is never seen, although its transaction read and
// cached the record it changed.
func TestCacheFollowsWrites(t *testing.T) {
	s := openForCache(t)
	u := cacheTestUser()
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error { return tx.InsertUser(u) }))
	readUser(t, s, u.ID) // cached

	u.Name, u.Active = "Augusta", false
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error { return tx.UpdateUser(u) }))
	assert.Equal(t, u, readUser(t, s, u.ID))

	errAbort := assert.AnError
	err := s.Update(t.Context(), func(tx core.Tx) error {
		changed := *u
		changed.Name = "Rolled Back"
		if err := tx.UpdateUser(&changed); err != nil {
			return err
		}
		got, err := tx.User(u.ID) // decoded from the uncommitted bytes, and cached
		require.NoError(t, err)
		require.Equal(t, "Rolled Back", got.Name)
		return errAbort
	})
	require.ErrorIs(t, err, errAbort)
	assert.Equal(t, u, readUser(t, s, u.ID))
}

// TestCacheUnderConcurrentWrites: readers racing writers of one user always
// see a committed state, whole, and never one older than a state they saw before.
func TestCacheUnderConcurrentWrites(t *testing.T) {
	s := openForCache(t)
	u := cacheTestUser()
	u.Tag = "n0" // Tag always names the count: a torn record would not
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error { return tx.InsertUser(u) }))
	const writers, writesEach = 4, 50
	ctx := context.Background()
	var writing, reading sync.WaitGroup
	for range writers {
		writing.Go(func() {
			for range writesEach {
				err := s.Update(ctx, func(tx core.Tx) error {
					cur, err := tx.User(u.ID)
					if err != nil {
						return err
					}
					cur.FailedLogins++
					cur.Tag = "n" + strconv.Itoa(cur.FailedLogins)
					return tx.UpdateUser(cur)
				})
				assert.NoError(t, err)
			}
		})
	}
	done := make(chan struct{})
	reads := make([]int, writers)
	for r := range writers {
		reading.Go(func() {
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				var cur *core.User
				err := s.View(ctx, func(tx core.ReadTx) error {
					var err error
					cur, err = tx.User(u.ID)
					return err
				})
				if !assert.NoError(t, err) {
					return
				}
				assert.GreaterOrEqual(t, cur.FailedLogins, last, "went back in time")
				assert.Equal(t, "n"+strconv.Itoa(cur.FailedLogins), cur.Tag, "a torn record")
				last = cur.FailedLogins
				reads[r]++
			}
		})
	}
	writing.Wait()
	close(done)
	reading.Wait()
	assert.Equal(t, writers*writesEach, readUser(t, s, u.ID).FailedLogins, "every increment counted")
	for r, n := range reads {
		assert.Positive(t, n, "reader %d read", r)
	}
}
