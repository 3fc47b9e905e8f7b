package boltstore

import (
	"bytes"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// Decoding stored JSON is most of the cost of an authenticated request: every
// call reads its programme, session and user. The records read on every request
// are therefore kept decoded in memory, each next to the exact bytes it was
// decoded from. A read still looks the key up in its own transaction and uses
// the decoded copy only when the stored bytes are identical to those bytes, so
// the cache cannot serve anything but what the transaction sees: there is no
// invalidation to get wrong, rolled-back writes and writes by other
// transactions simply stop matching. Callers get a deep copy, never the cached value.

// cacheEntries bounds each kind's cache; past it, an arbitrary entry makes room.
// An entry costs about a kilobyte (the stored bytes and the decoded record), so
// a kind's cache stays under about 10 MiB.
const cacheEntries = 10_000

// decodedCache holds decoded records of one kind by their key.
type decodedCache[T any] struct {
	clone func(*T) *T
	limit int // most entries held
	mu    sync.RWMutex
	m     map[string]decodedEntry[T]
}

type decodedEntry[T any] struct {
	raw []byte // the stored bytes v was decoded from
	v   *T
}

func newDecodedCache[T any](clone func(*T) *T) *decodedCache[T] {
	return &decodedCache[T]{clone: clone, limit: cacheEntries, m: make(map[string]decodedEntry[T])}
}

// recordCaches are the caches of the kinds read on every authenticated request.
type recordCaches struct {
	programmes *decodedCache[core.Programme]
	sessions   *decodedCache[core.Session]
	users      *decodedCache[core.User]
	identities *decodedCache[identityRecord]
	factors    *decodedCache[core.Factor]
}

func newRecordCaches() *recordCaches {
	return &recordCaches{
		programmes: newDecodedCache(cloneProgramme),
		sessions:   newDecodedCache(cloneSession),
		users:      newDecodedCache(cloneUser),
		identities: newDecodedCache(cloneIdentityRecord),
		factors:    newDecodedCache(cloneFactor),
	}
}

// getCached is get through c: the record under key, copied from the cache when
// the stored bytes match the cached ones, decoded (and cached) otherwise.
func getCached[T any](c *decodedCache[T], b *bolt.Bucket, key []byte, what string) (*T, error) {
	data := b.Get(key)
	if data == nil {
		return nil, notFound(what)
	}
	c.mu.RLock()
	e, ok := c.m[string(key)]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, data) {
		return c.clone(e.v), nil
	}
	v, err := decode[T](data, what)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.limit {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[string(key)] = decodedEntry[T]{raw: bytes.Clone(data), v: c.clone(v)}
	c.mu.Unlock()
	return v, nil
}

// The clone functions copy a record deeply: the copy shares no memory with it.
// TestCloneSharesNothing fails when a field added to one of these types is not copied.

func cloneProgramme(p *core.Programme) *core.Programme {
	c := *p
	c.APIKeyHash = bytes.Clone(p.APIKeyHash)
	c.UIKeyHash = bytes.Clone(p.UIKeyHash)
	c.APIKeySealed = bytes.Clone(p.APIKeySealed)
	c.RetiredKeys = slices.Clone(p.RetiredKeys)
	for i := range c.RetiredKeys {
		c.RetiredKeys[i].Hash = bytes.Clone(p.RetiredKeys[i].Hash)
	}
	c.Settings.AllowedOrigins = slices.Clone(p.Settings.AllowedOrigins)
	c.Settings.ResourceTypes = slices.Clone(p.Settings.ResourceTypes)
	return &c
}

func cloneSession(s *core.Session) *core.Session {
	c := *s
	c.TokenHash = bytes.Clone(s.TokenHash)
	c.SignIn = bytes.Clone(s.SignIn)
	return &c
}

func cloneUser(u *core.User) *core.User {
	c := *u
	c.Mobile = clonePointer(u.Mobile)
	c.DateOfBirth = clonePointer(u.DateOfBirth)
	c.Roles = slices.Clone(u.Roles)
	c.LinkedIdentities = slices.Clone(u.LinkedIdentities)
	return &c
}

func cloneIdentityRecord(r *identityRecord) *identityRecord {
	i := *r.Identity
	i.Profile = bytes.Clone(r.Identity.Profile)
	return &identityRecord{Identity: &i, Profile: bytes.Clone(r.Profile)}
}

func cloneFactor(f *core.Factor) *core.Factor {
	c := *f
	c.Mobile = clonePointer(f.Mobile)
	c.Push = clonePointer(f.Push)
	c.CredentialID = bytes.Clone(f.CredentialID)
	c.PublicKey = bytes.Clone(f.PublicKey)
	c.UserHandle = bytes.Clone(f.UserHandle)
	c.AAGUID = bytes.Clone(f.AAGUID)
	c.DeviceSecretHash = bytes.Clone(f.DeviceSecretHash)
	c.EnrolledBy = bytes.Clone(f.EnrolledBy)
	return &c
}

// clonePointer copies the value p points to (p holds no references).
func clonePointer[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
