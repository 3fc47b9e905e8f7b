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

// The user list index answers core.UserLister without reading the users that
// are not on the page. It has three buckets.
//
// user_list has, for each authorised user, one key for every combination of
// its values in three dimensions, each value either "any" or the user's own:
//
//	active: "*" or "1" / "0"
//	tag:    "*" or "t:"+tag (only when the tag is not empty)
//	role:   "*" or "r:"+role, for each of its roles
//
// so 2 x (1 or 2) x (1 + roles) keys, each a list prefix [identityID, active,
// tag, role] followed by the user's id in the fixed-width form of listID. A
// filter with at most one value per dimension is one list prefix, under which
// the users appear in id order.
//
// user_counts holds, under each list prefix, how many keys user_list has
// there. Under [identityID, active, tag, "s:"+[roles...]] it also counts the
// users with exactly that set of roles (sorted, none repeated; users without
// roles are not counted there), so that the users holding any of several
// roles are counted by summing the few role sets that meet them.
//
// user_list_blocks cuts the keys under each list prefix into runs of 1 to
// blockMax keys in id order: a block's key is the list prefix and a listID at
// or before its run's first key (the run's first id when the block was made),
// its value how many user_list keys the run has; the run ends where the next
// block of the prefix starts. Every key of user_list is in the run of one block. A page at offset n steps over
// whole blocks until the one holding the n-th key, then over fewer than
// blockMax keys, instead of over n keys.
//
// Root users are not indexed.

var _ core.UserLister = (*readTx)(nil)

// Values of the dimensions of a list prefix.
const (
	listAny      = "*"
	listActive   = "1"
	listInactive = "0"
	listTag      = "t:"
	listRole     = "r:"
	listRoleSet  = "s:"
)

// Bounds of the runs of user_list_blocks.
const (
	// blockMax is the most keys a block holds: one more splits it in halves.
	blockMax = 256
	// blockMin is the fewest keys a block holds before it is merged into the
	// block before it, when the two fit in blockMax.
	blockMin = 32
)

// listPrefix is the list prefix, and user_counts key, of one value per dimension.
func listPrefix(identityID, active, tag, role string) []byte {
	return compositeKey(identityID, active, tag, role)
}

// listActiveValue is the active dimension's value of a user or a filter.
func listActiveValue(active bool) string {
	if active {
		return listActive
	}
	return listInactive
}

// listDimensions returns the values of u's active and tag dimensions, and its
// roles without repeats, sorted.
func listDimensions(u *core.User) (actives, tags []string, roles []core.Role) {
	actives = []string{listAny, listActiveValue(u.Active)}
	tags = []string{listAny}
	if u.Tag != "" {
		tags = append(tags, listTag+u.Tag)
	}
	return actives, tags, distinctRoles(u.Roles)
}

// listPrefixes returns the list prefixes under which u is indexed: none for a
// root user or a user that is not there (nil).
func listPrefixes(u *core.User) [][]byte {
	if u == nil || u.Root {
		return nil
	}
	actives, tags, roles := listDimensions(u)
	values := []string{listAny}
	for _, r := range roles {
		values = append(values, listRole+string(r))
	}
	prefixes := make([][]byte, 0, len(actives)*len(tags)*len(values))
	for _, a := range actives {
		for _, t := range tags {
			for _, v := range values {
				prefixes = append(prefixes, listPrefix(u.IdentityID, a, t, v))
			}
		}
	}
	return prefixes
}

// roleSetKeys returns the user_counts keys of u's set of roles: none for a
// root user, a user that is not there (nil) or a user without roles.
func roleSetKeys(u *core.User) [][]byte {
	if u == nil || u.Root || len(u.Roles) == 0 {
		return nil
	}
	actives, tags, roles := listDimensions(u)
	set := make([]string, len(roles))
	for i, r := range roles {
		set[i] = string(r)
	}
	value := listRoleSet + string(compositeKey(set...))
	keys := make([][]byte, 0, len(actives)*len(tags))
	for _, a := range actives {
		for _, t := range tags {
			keys = append(keys, listPrefix(u.IdentityID, a, t, value))
		}
	}
	return keys
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

// splitCompositeKey returns the parts of a composite key.
func splitCompositeKey(k []byte) ([]string, error) {
	var parts []string
	for len(k) > 0 {
		n, size := binary.Uvarint(k)
		if size <= 0 || uint64(len(k)-size) < n {
			return nil, fmt.Errorf("corrupt composite key %x", k)
		}
		parts = append(parts, string(k[size:size+int(n)]))
		k = k[size+int(n):]
	}
	return parts, nil
}

// reindexUserList moves u's keys in the user list index from old (nil when
// u is new) to u, touching only the keys that differ: toggling Active, say,
// leaves the keys under "*" for active alone.
func (w *writeTx) reindexUserList(old, u *core.User) error {
	id := listID(u.ID)
	before, after := listPrefixes(old), listPrefixes(u)
	setsBefore, setsAfter := roleSetKeys(old), roleSetKeys(u)
	if old != nil {
		if old.ID != u.ID {
			return fmt.Errorf("user_list index: user %s replaced by user %s", old.ID, u.ID)
		}
		before, after = without(before, after), without(after, before)
		setsBefore, setsAfter = without(setsBefore, setsAfter), without(setsAfter, setsBefore)
	}
	counts := w.bucket(bucketUserCounts)
	for _, p := range before {
		if err := w.removeListEntry(p, id); err != nil {
			return err
		}
	}
	for _, p := range after {
		if err := w.addListEntry(p, id); err != nil {
			return err
		}
	}
	for _, k := range setsBefore {
		if err := addCount(counts, k, -1); err != nil {
			return err
		}
	}
	for _, k := range setsAfter {
		if err := addCount(counts, k, 1); err != nil {
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

// addListEntry puts the key of id under prefix into user_list and counts it
// in user_counts and in its block.
func (w *writeTx) addListEntry(prefix, id []byte) error {
	entry := slices.Concat(prefix, id)
	if err := w.bucket(bucketUserList).Put(entry, []byte{}); err != nil {
		return err
	}
	if err := addCount(w.bucket(bucketUserCounts), prefix, 1); err != nil {
		return err
	}
	blocks := w.bucket(bucketUserListBlocks)
	block, n := blockOf(blocks, prefix, entry)
	if block == nil {
		// The entry comes before every block of the prefix: the first block,
		// if there is one, now starts with it.
		block = entry
		if k, v := blocks.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			first := bytes.Clone(k)
			n = readUint(v)
			if err := blocks.Delete(first); err != nil {
				return err
			}
		}
	}
	n++
	if n <= blockMax {
		return blocks.Put(block, putUint(n))
	}
	// Split the run in halves: the second starts at its (n/2)-th key.
	c := w.bucket(bucketUserList).Cursor()
	k, _ := c.Seek(block)
	for range n / 2 {
		k, _ = c.Next()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return errors.New("user_list_blocks index: a block counts more keys than user_list has")
	}
	if err := blocks.Put(bytes.Clone(k), putUint(n-n/2)); err != nil {
		return err
	}
	return blocks.Put(block, putUint(n/2))
}

// removeListEntry deletes the key of id under prefix from user_list and
// uncounts it in user_counts and in its block.
func (w *writeTx) removeListEntry(prefix, id []byte) error {
	entry := slices.Concat(prefix, id)
	if err := w.bucket(bucketUserList).Delete(entry); err != nil {
		return err
	}
	if err := addCount(w.bucket(bucketUserCounts), prefix, -1); err != nil {
		return err
	}
	blocks := w.bucket(bucketUserListBlocks)
	block, n := blockOf(blocks, prefix, entry)
	if block == nil || n == 0 {
		return errors.New("user_list_blocks index: no block holds a key of user_list")
	}
	n--
	if n == 0 {
		return blocks.Delete(block)
	}
	if n < blockMin {
		c := blocks.Cursor()
		c.Seek(block)
		if k, v := c.Prev(); k != nil && bytes.HasPrefix(k, prefix) && readUint(v)+n <= blockMax {
			prev, m := bytes.Clone(k), readUint(v)
			if err := blocks.Delete(block); err != nil {
				return err
			}
			return blocks.Put(prev, putUint(m+n))
		}
	}
	return blocks.Put(block, putUint(n))
}

// blockOf returns a copy of the key, and the count, of the block of prefix
// whose run holds entry (a user_list key under prefix): the block with the
// greatest start not after entry. The key is nil when entry comes before
// every block of prefix.
func blockOf(blocks *bolt.Bucket, prefix, entry []byte) ([]byte, uint64) {
	c := blocks.Cursor()
	k, v := c.Seek(entry)
	switch {
	case k == nil:
		k, v = c.Last()
	case !bytes.Equal(k, entry):
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, 0
	}
	return bytes.Clone(k), readUint(v)
}

// addCount adds delta to the count under key, deleting it when it reaches zero.
func addCount(counts *bolt.Bucket, key []byte, delta int64) error {
	n := int64(readUint(counts.Get(key))) + delta
	switch {
	case n < 0:
		return errors.New("user_counts index: count below zero")
	case n == 0:
		return counts.Delete(key)
	default:
		return counts.Put(key, putUint(uint64(n)))
	}
}

// readUint reads a count; a missing one is zero.
func readUint(v []byte) uint64 {
	if len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putUint(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// ListUsers implements core.UserLister through the user list index: an email
// is looked up in identity_email; a filter with at most one role is one list
// prefix, whose count comes from user_counts and whose page is found through
// user_list_blocks; several roles are counted through their role sets and
// paged by walking their prefixes side by side in id order. Only the users on
// the page are read.
func (r *readTx) ListUsers(identityID string, f core.UserFilter) ([]*core.User, int, error) {
	if f.Email != "" {
		return r.listUserByEmail(identityID, f, max(f.Offset, 0), max(f.Limit, 0))
	}
	if f.Search != "" {
		return r.searchUsers(identityID, f)
	}
	ids, total, err := r.listIDs(identityID, f)
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

// searchUsers lists the users f's other fields select that match its
// search: it reads every one of them, as no index holds parts of names, and
// decodes those its core.SearchFilter lets through.
func (r *readTx) searchUsers(identityID string, f core.UserFilter) ([]*core.User, int, error) {
	offset, limit := max(f.Offset, 0), max(f.Limit, 0)
	all := f
	all.Offset, all.Limit = 0, 0
	_, n, err := r.listIDs(identityID, all)
	if err != nil {
		return nil, 0, err
	}
	all.Limit = n
	ids, _, err := r.listIDs(identityID, all)
	if err != nil {
		return nil, 0, err
	}
	var page []*core.User
	total := 0
	users, search := r.bucket(bucketUsers), core.NewSearchFilter(f.Search)
	for _, id := range ids {
		if !search.MayMatch(users.Get([]byte(id))) {
			continue
		}
		u, err := r.User(id)
		if err != nil {
			return nil, 0, fmt.Errorf("user_list index: %w", err)
		}
		if !core.MatchesSearch(u, f.Search) {
			continue
		}
		if total >= offset && len(page) < limit {
			page = append(page, u)
		}
		total++
	}
	return page, total, nil
}

// listIDs returns the ids of the page of users that f selects, ignoring its
// email, and how many it selects in all.
func (r *readTx) listIDs(identityID string, f core.UserFilter) ([]string, int, error) {
	offset, limit := max(f.Offset, 0), max(f.Limit, 0)
	active := listAny
	if f.Active != nil {
		active = listActiveValue(*f.Active)
	}
	tag := listAny
	if f.Tag != "" {
		tag = listTag + f.Tag
	}
	switch roles := distinctRoles(f.Roles); len(roles) {
	case 0:
		return r.listPrefix(listPrefix(identityID, active, tag, listAny), offset, limit)
	case 1:
		return r.listPrefix(listPrefix(identityID, active, tag, listRole+string(roles[0])), offset, limit)
	default:
		return r.listRoles(identityID, active, tag, roles, offset, limit)
	}
}

// listPrefix returns the ids of the page [offset, offset+limit) of the users
// under one list prefix, and how many there are in all.
func (r *readTx) listPrefix(prefix []byte, offset, limit int) ([]string, int, error) {
	total := int(readUint(r.bucket(bucketUserCounts).Get(prefix)))
	if limit == 0 || offset >= total {
		return nil, total, nil
	}
	// Step over the blocks that end before the offset.
	start, skip := prefix, offset
	if offset > 0 {
		bc := r.bucket(bucketUserListBlocks).Cursor()
		k, v := bc.Seek(prefix)
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = bc.Next() {
			n := int(readUint(v))
			if skip < n {
				break
			}
			skip -= n
		}
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil, 0, errors.New("user_list_blocks index: blocks count fewer keys than user_counts")
		}
		start = k
	}
	c := r.bucket(bucketUserList).Cursor()
	k, _ := c.Seek(start)
	for ; skip > 0 && k != nil; skip-- {
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

// listRoles returns the ids of the page [offset, offset+limit) of the users
// holding any of several roles, and how many there are in all. The total sums
// the counts of the role sets that meet roles; the page walks the roles' list
// prefixes side by side in id order, taking each user once.
func (r *readTx) listRoles(identityID, active, tag string, roles []core.Role, offset, limit int) ([]string, int, error) {
	total := 0
	sets := compositeKey(identityID, active, tag)
	c := r.bucket(bucketUserCounts).Cursor()
	for k, v := c.Seek(sets); k != nil && bytes.HasPrefix(k, sets); k, v = c.Next() {
		parts, err := splitCompositeKey(k[len(sets):])
		if err != nil || len(parts) != 1 {
			return nil, 0, fmt.Errorf("user_counts index: corrupt key %x", k)
		}
		set, ok := bytes.CutPrefix([]byte(parts[0]), []byte(listRoleSet))
		if !ok {
			continue
		}
		held, err := splitCompositeKey(set)
		if err != nil {
			return nil, 0, fmt.Errorf("user_counts index: %w", err)
		}
		if slices.ContainsFunc(roles, func(r core.Role) bool { return slices.Contains(held, string(r)) }) {
			total += int(readUint(v))
		}
	}
	if limit == 0 || offset >= total {
		return nil, total, nil
	}

	prefixes := make([][]byte, len(roles))
	for i, role := range roles {
		prefixes[i] = listPrefix(identityID, active, tag, listRole+string(role))
	}
	list := r.bucket(bucketUserList)
	// heads[i] is the listID under prefixes[i] at cursors[i], nil when done.
	// Keys stay valid for the life of the transaction, so a head may still be
	// compared with after its cursor moves.
	cursors := make([]*bolt.Cursor, len(prefixes))
	heads := make([][]byte, len(prefixes))
	at := func(i int, k []byte) {
		heads[i] = nil
		if k != nil && bytes.HasPrefix(k, prefixes[i]) {
			heads[i] = k[len(prefixes[i]):]
		}
	}
	for i, p := range prefixes {
		cursors[i] = list.Cursor()
		k, _ := cursors[i].Seek(p)
		at(i, k)
	}
	ids := make([]string, 0, min(limit, total-offset))
	for n := 0; len(ids) < limit; n++ {
		var least []byte
		for _, h := range heads {
			if h != nil && (least == nil || bytes.Compare(h, least) < 0) {
				least = h
			}
		}
		if least == nil {
			break
		}
		if n >= offset {
			id, err := parseListID(least)
			if err != nil {
				return nil, 0, err
			}
			ids = append(ids, id)
		}
		for i, h := range heads {
			if h != nil && bytes.Equal(h, least) {
				k, _ := cursors[i].Next()
				at(i, k)
			}
		}
	}
	return ids, total, nil
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
		(f.Search != "" && !core.MatchesSearch(u, f.Search)) ||
		(len(f.Roles) > 0 && !slices.ContainsFunc(f.Roles, func(r core.Role) bool { return slices.Contains(u.Roles, r) })) {
		return nil, 0, nil
	}
	if offset > 0 || limit == 0 {
		return nil, 1, nil
	}
	return []*core.User{u}, 1, nil
}
