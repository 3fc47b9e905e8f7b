package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// The user list index (buckets user_list and user_counts) answers
// core.UserLister without reading users that are not on the page.
//
// Each authorised user has one key in user_list for every combination of its
// values in three dimensions, each value either "any" or the user's own:
//
//	active: "*" or "1" / "0"
//	tag:    "*" or "t:"+tag (only when the tag is not empty)
//	role:   "*" or "r:"+role, for each of its roles
//
// so 2 x (1 or 2) x (1 + roles) keys, each [identityID, active, tag, role]
// followed by the user's id in the fixed-width form of listID. A filter with at
// most one value per dimension is one prefix, under which the users appear in
// id order; user_counts holds, under the same prefix, how many keys user_list
// has there. Root users are not indexed.

var _ core.UserLister = (*readTx)(nil)

// Values of the dimensions of a user_list prefix.
const (
	listAny      = "*"
	listActive   = "1"
	listInactive = "0"
	listTag      = "t:"
	listRole     = "r:"
)

// listPrefix is the user_list prefix, and user_counts key, of one value per dimension.
func listPrefix(identityID, active, tag, role string) []byte {
	return compositeKey(identityID, active, tag, role)
}

// listPrefixes returns the prefixes under which u is indexed: none for a root
// user or a user that is not there (nil).
func listPrefixes(u *core.User) [][]byte {
	if u == nil || u.Root {
		return nil
	}
	actives := []string{listAny, listInactive}
	if u.Active {
		actives[1] = listActive
	}
	tags := []string{listAny}
	if u.Tag != "" {
		tags = append(tags, listTag+u.Tag)
	}
	roles := []string{listAny}
	for _, r := range distinctRoles(u.Roles) {
		roles = append(roles, listRole+string(r))
	}
	prefixes := make([][]byte, 0, len(actives)*len(tags)*len(roles))
	for _, a := range actives {
		for _, t := range tags {
			for _, r := range roles {
				prefixes = append(prefixes, listPrefix(u.IdentityID, a, t, r))
			}
		}
	}
	return prefixes
}

// distinctRoles returns the roles without repeats, sorted.
func distinctRoles(roles []core.Role) []core.Role {
	return slices.Compact(slices.Sorted(slices.Values(roles)))
}

// listID is the fixed-width form of a user id that ends its user_list keys, so
// that keys under one prefix sort by id: a decimal id that fits in a uint64
// (written without leading zeros, as NextID writes them) is 0x00 and the number
// as 8 big-endian bytes; any other id is 0x01 and its bytes, after every
// numeric one.
func listID(id string) []byte {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && strconv.FormatUint(n, 10) == id {
		return binary.BigEndian.AppendUint64([]byte{0}, n)
	}
	return append([]byte{1}, id...)
}

// parseListID turns the end of a user_list key back into the user id.
func parseListID(b []byte) (string, error) {
	switch {
	case len(b) == 9 && b[0] == 0:
		return strconv.FormatUint(binary.BigEndian.Uint64(b[1:]), 10), nil
	case len(b) > 0 && b[0] == 1:
		return string(b[1:]), nil
	default:
		return "", fmt.Errorf("user_list index: corrupt user id %x", b)
	}
}

// reindexUserList moves u's user_list keys and counts from old (nil when u is
// new) to u, touching only the prefixes that differ: toggling Active, say,
// leaves the keys under "*" for active alone.
func (w *writeTx) reindexUserList(old, u *core.User) error {
	before, after := listPrefixes(old), listPrefixes(u)
	if old != nil && old.ID == u.ID {
		before, after = without(before, after), without(after, before)
	}
	list, counts := w.bucket(bucketUserList), w.bucket(bucketUserCounts)
	if old != nil {
		id := listID(old.ID)
		for _, p := range before {
			if err := list.Delete(slices.Concat(p, id)); err != nil {
				return err
			}
			if err := addCount(counts, p, -1); err != nil {
				return err
			}
		}
	}
	id := listID(u.ID)
	for _, p := range after {
		if err := list.Put(slices.Concat(p, id), []byte{}); err != nil {
			return err
		}
		if err := addCount(counts, p, 1); err != nil {
			return err
		}
	}
	return nil
}

// without returns the keys of a that are not in b.
func without(a, b [][]byte) [][]byte {
	var d [][]byte
	for _, k := range a {
		if !slices.ContainsFunc(b, func(x []byte) bool { return bytes.Equal(k, x) }) {
			d = append(d, k)
		}
	}
	return d
}

// addCount adds delta to the count under key, deleting it when it reaches zero.
func addCount(counts *bolt.Bucket, key []byte, delta int64) error {
	n := int64(readCount(counts, key)) + delta
	switch {
	case n < 0:
		return errors.New("user_counts index: count below zero")
	case n == 0:
		return counts.Delete(key)
	default:
		return counts.Put(key, binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
}

// readCount reads the count under key; a missing key counts zero.
func readCount(counts *bolt.Bucket, key []byte) uint64 {
	if v := counts.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// ListUsers implements core.UserLister through the user list index: an email
// is looked up in identity_email; a filter with at most one role is one
// user_list prefix, whose count comes from user_counts and whose page is found
// by stepping over Offset keys; several roles merge their prefixes in id order.
// Only the users on the page are read.
func (r *readTx) ListUsers(identityID string, f core.UserFilter) ([]*core.User, int, error) {
	offset, limit := max(f.Offset, 0), max(f.Limit, 0)
	if f.Email != "" {
		return r.listUserByEmail(identityID, f, offset, limit)
	}
	active := listAny
	if f.Active != nil {
		active = listInactive
		if *f.Active {
			active = listActive
		}
	}
	tag := listAny
	if f.Tag != "" {
		tag = listTag + f.Tag
	}
	roles := distinctRoles(f.Roles)
	prefixes := make([][]byte, 0, max(len(roles), 1))
	for _, role := range roles {
		prefixes = append(prefixes, listPrefix(identityID, active, tag, listRole+string(role)))
	}
	if len(prefixes) == 0 {
		prefixes = append(prefixes, listPrefix(identityID, active, tag, listAny))
	}

	var (
		ids   []string
		total int
		err   error
	)
	if len(prefixes) == 1 {
		ids, total, err = r.listPrefix(prefixes[0], offset, limit)
	} else {
		ids, total, err = r.listMerged(prefixes, offset, limit)
	}
	if err != nil {
		return nil, 0, err
	}
	users := make([]*core.User, 0, len(ids))
	for _, id := range ids {
		u, err := r.User(id)
		if err != nil {
			return nil, 0, fmt.Errorf("user_list index: %w", err)
		}
		users = append(users, u)
	}
	return users, total, nil
}

// listPrefix returns the ids of the page [offset, offset+limit) of the users
// under one prefix, and how many there are in all.
func (r *readTx) listPrefix(prefix []byte, offset, limit int) ([]string, int, error) {
	total := int(readCount(r.bucket(bucketUserCounts), prefix))
	if limit == 0 || offset >= total {
		return nil, total, nil
	}
	c := r.bucket(bucketUserList).Cursor()
	k, _ := c.Seek(prefix)
	for range offset {
		if k == nil {
			break
		}
		k, _ = c.Next()
	}
	ids := make([]string, 0, min(limit, total-offset))
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(ids) < limit; k, _ = c.Next() {
		id, err := parseListID(k[len(prefix):])
		if err != nil {
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	return ids, total, nil
}

// listMerged returns the ids of the page [offset, offset+limit) of the users
// under any of several prefixes, and how many there are in all: it walks the
// prefixes side by side in id order, taking each user once.
func (r *readTx) listMerged(prefixes [][]byte, offset, limit int) ([]string, int, error) {
	list := r.bucket(bucketUserList)
	// heads[i] is the listID under prefixes[i] at its cursor, nil when done.
	cursors := make([]*bolt.Cursor, len(prefixes))
	heads := make([][]byte, len(prefixes))
	advance := func(i int, k []byte) {
		if k != nil && bytes.HasPrefix(k, prefixes[i]) {
			heads[i] = k[len(prefixes[i]):]
		} else {
			heads[i] = nil
		}
	}
	for i, p := range prefixes {
		cursors[i] = list.Cursor()
		k, _ := cursors[i].Seek(p)
		advance(i, k)
	}
	var ids []string
	total := 0
	for {
		var least []byte
		for _, h := range heads {
			if h != nil && (least == nil || bytes.Compare(h, least) < 0) {
				least = h
			}
		}
		if least == nil {
			return ids, total, nil
		}
		if total >= offset && len(ids) < limit {
			id, err := parseListID(least)
			if err != nil {
				return nil, 0, err
			}
			ids = append(ids, id)
		}
		total++
		// Keys stay valid for the life of the transaction, so least may
		// still be compared with after its cursor moves.
		for i, h := range heads {
			if h != nil && bytes.Equal(h, least) {
				k, _ := cursors[i].Next()
				advance(i, k)
			}
		}
	}
}

// listUserByEmail answers a filter with an email: the identity has at most
// one user with it, who must match the rest of f too.
func (r *readTx) listUserByEmail(identityID string, f core.UserFilter, offset, limit int) ([]*core.User, int, error) {
	id := r.bucket(bucketIdentityEmail).Get(compositeKey(identityID, f.Email))
	if id == nil {
		return nil, 0, nil
	}
	u, err := r.User(string(id))
	if err != nil {
		return nil, 0, fmt.Errorf("identity_email index: %w", err)
	}
	if u.Root ||
		(f.Active != nil && u.Active != *f.Active) ||
		(f.Tag != "" && u.Tag != f.Tag) ||
		(len(f.Roles) > 0 && !slices.ContainsFunc(f.Roles, func(r core.Role) bool { return slices.Contains(u.Roles, r) })) {
		return nil, 0, nil
	}
	if offset > 0 || limit == 0 {
		return nil, 1, nil
	}
	return []*core.User{u}, 1, nil
}
