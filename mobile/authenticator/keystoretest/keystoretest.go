// Package keystoretest is the contract suite every authenticator.KeyStore
// must pass: MemoryStore and FileStore run it in their tests, and a platform
// KeyStore (Android Keystore, iOS Keychain) should run it on a device or
// simulator before it is plugged into the companion.
package keystoretest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
)

// Run runs the contract suite. open must return a new, empty store for each
// call; the suite registers its own cleanup through t.
func Run(t *testing.T, open func(t *testing.T) authenticator.KeyStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s authenticator.KeyStore)
	}{
		{"SaveLoad", testSaveLoad},
		{"SaveDuplicate", testSaveDuplicate},
		{"SaveInvalid", testSaveInvalid},
		{"LoadMissing", testLoadMissing},
		{"LoadReturnsCopy", testLoadReturnsCopy},
		{"List", testList},
		{"Delete", testDelete},
		{"NextCounter", testNextCounter},
		{"NextCounterOverflow", testNextCounterOverflow},
		{"NextCounterConcurrent", testNextCounterConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

// NewCredential returns a valid credential for rpID with a fresh key (made by
// the store when it is an authenticator.KeyGenerator) and a random id.
func NewCredential(t *testing.T, s authenticator.KeyStore, rpID string) authenticator.Credential {
	t.Helper()
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	var key crypto.Signer
	if g, ok := s.(authenticator.KeyGenerator); ok {
		var err error
		key, err = g.GenerateKey(context.Background(), id, rpID)
		require.NoError(t, err)
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		key = k
	}
	return authenticator.Credential{
		ID:              id,
		RPID:            rpID,
		RPName:          "Relying Party " + rpID,
		UserHandle:      []byte("user-" + rpID),
		UserName:        "alice@" + rpID,
		UserDisplayName: "Alice",
		Key:             key,
	}
}

// requireSameKey checks that got signs verifiably for want's public key.
func requireSameKey(t *testing.T, want, got crypto.Signer) {
	t.Helper()
	require.NotNil(t, got)
	wantPub, ok := want.Public().(*ecdsa.PublicKey)
	require.True(t, ok, "want key is %T", want.Public())
	digest := sha256.Sum256([]byte("keystoretest"))
	sig, err := got.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(wantPub, digest[:], sig), "loaded key's signature does not verify with the saved public key")
}

func testSaveLoad(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(c))
	got, err := s.Load(c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.ID, got.ID)
	assert.Equal(t, c.RPID, got.RPID)
	assert.Equal(t, c.RPName, got.RPName)
	assert.Equal(t, c.UserHandle, got.UserHandle)
	assert.Equal(t, c.UserName, got.UserName)
	assert.Equal(t, c.UserDisplayName, got.UserDisplayName)
	assert.Equal(t, uint32(0), got.SignCount)
	requireSameKey(t, c.Key, got.Key)
}

func testSaveDuplicate(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(c))
	_, err := s.NextCounter(c.ID)
	require.NoError(t, err)
	assert.ErrorIs(t, s.Save(c), authenticator.ErrCredentialExists)
	got, err := s.Load(c.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), got.SignCount, "a refused Save must not reset the counter")
}

func testSaveInvalid(t *testing.T, s authenticator.KeyStore) {
	valid := NewCredential(t, s, "example.com")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name   string
		mutate func(c *authenticator.Credential)
	}{
		{"EmptyID", func(c *authenticator.Credential) { c.ID = nil }},
		{"LongID", func(c *authenticator.Credential) { c.ID = make([]byte, 1024) }},
		{"NoRPID", func(c *authenticator.Credential) { c.RPID = "" }},
		{"NoUserHandle", func(c *authenticator.Credential) { c.UserHandle = nil }},
		{"LongUserHandle", func(c *authenticator.Credential) { c.UserHandle = make([]byte, 65) }},
		{"NoKey", func(c *authenticator.Credential) { c.Key = nil }},
		{"P384Key", func(c *authenticator.Credential) { c.Key = p384 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.mutate(&c)
			assert.Error(t, s.Save(c))
			if len(c.ID) > 0 {
				_, err := s.Load(c.ID)
				assert.ErrorIs(t, err, authenticator.ErrNoCredential)
			}
		})
	}
}

func testLoadMissing(t *testing.T, s authenticator.KeyStore) {
	for _, id := range [][]byte{nil, {}, []byte("missing"), make([]byte, 1023)} {
		_, err := s.Load(id)
		assert.ErrorIs(t, err, authenticator.ErrNoCredential, "Load(%x)", id)
	}
}

func testLoadReturnsCopy(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	id := bytes.Clone(c.ID)
	require.NoError(t, s.Save(c))
	c.ID[0] ^= 0xff // the caller's slice is not the store's
	got, err := s.Load(id)
	require.NoError(t, err)
	got.ID[0] ^= 0xff
	got.UserHandle[0] ^= 0xff
	again, err := s.Load(id)
	require.NoError(t, err)
	assert.Equal(t, id, again.ID)
	assert.Equal(t, []byte("user-example.com"), again.UserHandle)
}

func testList(t *testing.T, s authenticator.KeyStore) {
	var want [][]byte
	for range 3 {
		c := NewCredential(t, s, "a.example")
		require.NoError(t, s.Save(c))
		want = append(want, c.ID)
	}
	require.NoError(t, s.Save(NewCredential(t, s, "b.example")))
	slices.SortFunc(want, bytes.Compare)

	got, err := s.List("a.example")
	require.NoError(t, err)
	var ids [][]byte
	for _, c := range got {
		assert.Equal(t, "a.example", c.RPID)
		ids = append(ids, c.ID)
	}
	assert.Equal(t, want, ids, "List returns the RP's credentials ordered by id")

	none, err := s.List("c.example")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func testDelete(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(c))
	require.NoError(t, s.Delete(c.ID))
	_, err := s.Load(c.ID)
	assert.ErrorIs(t, err, authenticator.ErrNoCredential)
	assert.ErrorIs(t, s.Delete(c.ID), authenticator.ErrNoCredential)
	_, err = s.NextCounter(c.ID)
	assert.ErrorIs(t, err, authenticator.ErrNoCredential)
	list, err := s.List("example.com")
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testNextCounter(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(c))
	for want := uint32(1); want <= 3; want++ {
		got, err := s.NextCounter(c.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	loaded, err := s.Load(c.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(3), loaded.SignCount)
	_, err = s.NextCounter([]byte("missing"))
	assert.ErrorIs(t, err, authenticator.ErrNoCredential)
}

func testNextCounterOverflow(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	c.SignCount = math.MaxUint32 - 1
	require.NoError(t, s.Save(c))
	got, err := s.NextCounter(c.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(math.MaxUint32), got)
	_, err = s.NextCounter(c.ID)
	assert.ErrorIs(t, err, authenticator.ErrCounterOverflow)
	loaded, err := s.Load(c.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(math.MaxUint32), loaded.SignCount, "overflow leaves the counter unchanged")
}

func testNextCounterConcurrent(t *testing.T, s authenticator.KeyStore) {
	c := NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(c))
	const n = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = make(map[uint32]bool)
	)
	for range n {
		wg.Go(func() {
			got, err := s.NextCounter(c.ID)
			mu.Lock()
			defer mu.Unlock()
			if assert.NoError(t, err) {
				assert.False(t, seen[got], "counter %d returned twice", got)
				seen[got] = true
			}
		})
	}
	wg.Wait()
	for i := uint32(1); i <= n; i++ {
		assert.True(t, seen[i], "counter %d never returned", i)
	}
	loaded, err := s.Load(c.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(n), loaded.SignCount, "after %d concurrent increments", n)
}
