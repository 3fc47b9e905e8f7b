package password

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// testParams keep tests fast; DefaultParams are exercised by TestDefaultParams only.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Hashes made by the reference implementation's CLI (argon2 20171227):
//
//	echo -n "correct horse battery staple" | argon2 deputy-test-salt -id -t 2 -m 6 -p 1 -l 32 -e
//	echo -n "Tr0ub4dour&3" | argon2 saltsaltsaltsalt -id -t 2 -k 19456 -p 1 -l 32 -e
const (
	refPlain        = "correct horse battery staple"
	refHash         = "$argon2id$v=19$m=64,t=2,p=1$ZGVwdXR5LXRlc3Qtc2FsdA$lKYoIvQhQ/7ky2fA9xNp1Kz9ygv0h0N+nzU9HnafG2U"
	refDefaultPlain = "Tr0ub4dour&3"
	refDefaultHash  = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$HfMEmPb1XPt+xjP19YAyYjqDbE4LUUpg4jPX1SPSors"
)

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHashRoundTrip(t *testing.T) {
	h := NewHasher(testParams, 1)
	ctx := t.Context()

	encoded, err := h.Hash(ctx, refPlain)
	require.NoError(t, err)
	m := phcPattern.FindStringSubmatch(encoded)
	require.NotNil(t, m, "got %q, want a PHC string", encoded)
	assert.Equal(t, []string{"64", "1", "1"}, m[1:4])
	assert.Len(t, m[4], 22, "16-byte salt in unpadded base64")
	assert.Len(t, m[5], 43, "32-byte key in unpadded base64")

	ok, rehash, err := h.Verify(ctx, refPlain, encoded)
	require.NoError(t, err)
	assert.True(t, ok, "right password")
	assert.False(t, rehash)

	ok, rehash, err = h.Verify(ctx, refPlain+"!", encoded)
	require.NoError(t, err)
	assert.False(t, ok, "wrong password")
	assert.False(t, rehash, "no rehash without a match")

	again, err := h.Hash(ctx, refPlain)
	require.NoError(t, err)
	assert.NotEqual(t, encoded, again, "each hash has its own salt")
}

func TestHashMatchesArgon2(t *testing.T) {
	encoded, err := NewHasher(testParams, 1).Hash(t.Context(), refPlain)
	require.NoError(t, err)
	p, salt, key, err := parse(encoded)
	require.NoError(t, err)
	assert.Equal(t, testParams, p)
	assert.Equal(t, argon2.IDKey([]byte(refPlain), salt, 1, 64, 1, 32), key)
}

func TestVerifyReferenceHash(t *testing.T) {
	h := NewHasher(testParams, 1)
	ok, rehash, err := h.Verify(t.Context(), refPlain, refHash)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, rehash, "encoded with t=2, hasher has t=1")

	ok, rehash, err = h.Verify(t.Context(), strings.ToUpper(refPlain), refHash)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.False(t, rehash)
}

// TestDefaultParams is the one test paying for 19 MiB hashes.
func TestDefaultParams(t *testing.T) {
	h := NewHasher(DefaultParams, 1)

	encoded, err := h.Hash(t.Context(), refDefaultPlain)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$"), "got %q", encoded)

	ok, rehash, err := h.Verify(t.Context(), refDefaultPlain, refDefaultHash)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.False(t, rehash)
}

// TestArgon2KeyConcurrent derives keys from several goroutines at once,
// which share the pool of work areas, and checks each against x/crypto's: an
// area handed to two derivations at once, or back to the pool while in use,
// would mix them. Larger parameters than the pool keeps are among them.
func TestArgon2KeyConcurrent(t *testing.T) {
	small := Params{Memory: 256, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}
	large := Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				p := small
				if i%5 == 4 {
					p = large
				}
				plain, salt := fmt.Sprintf("password %d-%d", g, i), []byte(fmt.Sprintf("salt-%02d-%02d-salt", g, i))
				want := argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
				assert.Equal(t, want, argon2Key(plain, salt, p, small.Memory), "goroutine %d, key %d", g, i)
			}
		})
	}
	wg.Wait()
}

// TestHashReusesMemory checks that hashes reuse argon2id's work area instead
// of allocating one each (x/crypto's IDKey does): forty hashes allocate fewer
// than 25 areas' worth. Without the race detector they allocate about none;
// with it, sync.Pool drops a quarter of what it is given on purpose, about
// ten (25 or more: a chance below one in ten million).
func TestHashReusesMemory(t *testing.T) {
	p := Params{Memory: 4096, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := NewHasher(p, 1)
	_, err := h.Hash(t.Context(), refPlain) // an area in the pool
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 40 {
		_, err := h.Hash(t.Context(), refPlain)
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	area := uint64(p.Memory) << 10
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, 25*area, "bytes allocated by forty hashes")
}

func TestVerifyRehash(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Params)
	}{
		{"memory", func(p *Params) { p.Memory = 128 }},
		{"time", func(p *Params) { p.Time = 2 }},
		{"threads", func(p *Params) { p.Threads = 2 }},
		{"salt length", func(p *Params) { p.SaltLen = 32 }},
		{"key length", func(p *Params) { p.KeyLen = 16 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newParams := testParams
			tt.change(&newParams)
			encoded, err := NewHasher(testParams, 1).Hash(t.Context(), refPlain)
			require.NoError(t, err)
			h := NewHasher(newParams, 1)

			ok, rehash, err := h.Verify(t.Context(), refPlain, encoded)
			require.NoError(t, err)
			assert.True(t, ok, "old hashes still verify")
			assert.True(t, rehash)

			fresh, err := h.Hash(t.Context(), refPlain)
			require.NoError(t, err)
			ok, rehash, err = h.Verify(t.Context(), refPlain, fresh)
			require.NoError(t, err)
			assert.True(t, ok)
			assert.False(t, rehash, "after rehashing")
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "ZGVwdXR5LXRlc3Qtc2FsdA"
		key  = "lKYoIvQhQ/7ky2fA9xNp1Kz9ygv0h0N+nzU9HnafG2U"
	)
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"no leading dollar", "argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=2,p=1$" + salt + "$" + key},
		{"no key", "$argon2id$v=19$m=64,t=2,p=1$" + salt},
		{"extra field", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "$"},
		{"params reordered", "$argon2id$v=19$t=2,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=2$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=2,p=1,keyid=x$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=2,p=1$" + salt + "$" + key},
		{"sign", "$argon2id$v=19$m=+64,t=2,p=1$" + salt + "$" + key},
		{"empty value", "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key},
		{"not a number", "$argon2id$v=19$m=6x,t=2,p=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=2,p=0$" + salt + "$" + key},
		{"threads overflow", "$argon2id$v=19$m=64,t=2,p=256$" + salt + "$" + key},
		{"memory below 8 KiB per thread", "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key},
		{"memory above 2 GiB", "$argon2id$v=19$m=2097153,t=2,p=1$" + salt + "$" + key},
		{"time above bound", "$argon2id$v=19$m=64,t=17,p=1$" + salt + "$" + key},
		{"memory overflow", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"padded base64", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "==$" + key},
		{"url base64", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, "/", "_")},
		{"newline in base64", "$argon2id$v=19$m=64,t=2,p=1$" + salt[:4] + "\n" + salt[4:] + "$" + key},
		{"non-zero trailing bits", "$argon2id$v=19$m=64,t=2,p=1$" + salt[:21] + "B$" + key},
		{"salt too short", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$" + key},
		{"key too short", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$a2V5"},
		{"empty key", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$"},
	}
	h := NewHasher(testParams, 1)
	h.derive = func(string, []byte, Params) []byte {
		t.Error("a malformed hash was computed")
		return nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), refPlain, tt.encoded)
			require.ErrorIs(t, err, ErrInvalidHash)
			assert.False(t, ok)
			assert.False(t, rehash)
			assert.NotContains(t, err.Error(), salt, "errors do not quote the hash")
			assert.NotContains(t, err.Error(), key)
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(testParams, 1)
	var calls []Params
	h.derive = func(plain string, salt []byte, p Params) []byte {
		calls = append(calls, p)
		assert.Len(t, salt, int(testParams.SaltLen))
		return argon2Key(plain, salt, p, p.Memory)
	}
	h.VerifyDummy(t.Context(), refPlain)
	h.VerifyDummy(t.Context(), "")
	assert.Equal(t, []Params{testParams, testParams}, calls, "one full computation with h's params per call")
}

// TestHasherBoundsConcurrency starts more hashes than slots and checks, each
// time every goroutine is blocked, that exactly as many as there are slots are
// inside argon2.
func TestHasherBoundsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots, callers = 2, 6
		h := NewHasher(testParams, slots)
		release := make(chan struct{})
		var inside atomic.Int32
		h.derive = func(plain string, salt []byte, p Params) []byte {
			inside.Add(1)
			defer inside.Add(-1)
			<-release
			return argon2Key(plain, salt, p, p.Memory)
		}

		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				if i%2 == 0 {
					_, err := h.Hash(t.Context(), refPlain)
					assert.NoError(t, err)
				} else {
					h.VerifyDummy(t.Context(), refPlain)
				}
			})
		}
		for done := range callers {
			synctest.Wait()
			assert.Equal(t, int32(min(slots, callers-done)), inside.Load(), "hashes running after %d finished", done)
			release <- struct{}{}
		}
		wg.Wait()
	})
}

func TestHasherWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(testParams, 1)
		release := make(chan struct{})
		h.derive = func(plain string, salt []byte, p Params) []byte {
			<-release
			return argon2Key(plain, salt, p, p.Memory)
		}
		holder := make(chan error)
		go func() {
			_, err := h.Hash(t.Context(), refPlain)
			holder <- err
		}()
		synctest.Wait() // the holder has the only slot

		ctx, cancel := context.WithCancel(t.Context())
		waiters := make(chan error, 2)
		go func() {
			_, err := h.Hash(ctx, refPlain)
			waiters <- err
		}()
		go func() {
			_, _, err := h.Verify(ctx, refPlain, refHash)
			waiters <- err
		}()
		synctest.Wait()
		require.Empty(t, waiters, "waiting while the slot is taken")

		cancel()
		for range 2 {
			assert.ErrorIs(t, <-waiters, context.Canceled)
		}
		h.VerifyDummy(ctx, refPlain) // returns at once

		close(release)
		assert.NoError(t, <-holder)

		for range 20 { // a free slot does not win over an ended context
			_, err := h.Hash(ctx, refPlain)
			assert.ErrorIs(t, err, context.Canceled)
		}
	})
}

func TestNewHasher(t *testing.T) {
	assert.Equal(t, runtime.GOMAXPROCS(0), cap(NewHasher(testParams, 0).sem), "0 slots means GOMAXPROCS")
	assert.Equal(t, runtime.GOMAXPROCS(0), cap(NewHasher(testParams, -1).sem))
	assert.Equal(t, 3, cap(NewHasher(testParams, 3).sem))
	assert.PanicsWithValue(t, "password: NewHasher: argon2 time 0 not in 1..16", func() {
		NewHasher(Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	})
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Params)
		wantErr string
	}{
		{"test params", func(*Params) {}, ""},
		{"zero threads", func(p *Params) { p.Threads = 0 }, "threads"},
		{"zero time", func(p *Params) { p.Time = 0 }, "time"},
		{"time at bound", func(p *Params) { p.Time = 16 }, ""},
		{"time above bound", func(p *Params) { p.Time = 17 }, "time"},
		{"8 KiB per thread", func(p *Params) { p.Memory, p.Threads = 32, 4 }, ""},
		{"under 8 KiB per thread", func(p *Params) { p.Memory, p.Threads = 31, 4 }, "memory"},
		{"memory at bound", func(p *Params) { p.Memory = 2 << 20 }, ""},
		{"memory above bound", func(p *Params) { p.Memory = 2<<20 + 1 }, "memory"},
		{"salt 8 bytes", func(p *Params) { p.SaltLen = 8 }, ""},
		{"salt 7 bytes", func(p *Params) { p.SaltLen = 7 }, "salt"},
		{"salt 65 bytes", func(p *Params) { p.SaltLen = 65 }, "salt"},
		{"key 16 bytes", func(p *Params) { p.KeyLen = 16 }, ""},
		{"key 15 bytes", func(p *Params) { p.KeyLen = 15 }, "key"},
		{"key 65 bytes", func(p *Params) { p.KeyLen = 65 }, "key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams
			tt.change(&p)
			err := p.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
	assert.NoError(t, DefaultParams.Validate())
}

// BenchmarkHashDefault measures one argon2id computation with DefaultParams.
func BenchmarkHashDefault(b *testing.B) {
	salt := randomBytes(DefaultParams.SaltLen)
	for b.Loop() {
		argon2Key(refDefaultPlain, salt, DefaultParams, DefaultParams.Memory)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkHashParallel measures the throughput of a Hasher with DefaultParams
// and GOMAXPROCS slots under parallel load.
func BenchmarkHashParallel(b *testing.B) {
	h := NewHasher(DefaultParams, 0)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(context.Background(), refDefaultPlain); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// waitRecorder is an Observer keeping the contexts it saw and the waits it was told.
type waitRecorder struct {
	mu    sync.Mutex
	ctxs  []context.Context
	waits []time.Duration
}

func (r *waitRecorder) Hashing(ctx context.Context) func(time.Duration) {
	r.mu.Lock()
	r.ctxs = append(r.ctxs, ctx)
	r.mu.Unlock()
	return func(wait time.Duration) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.waits = append(r.waits, wait)
	}
}

// TestHasherObserverSeesQueueWait runs two hashes through one slot, each
// taking a (virtual) second: the observer hears of both, with the caller's
// context, and of the second one's second in the queue.
func TestHasherObserverSeesQueueWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &waitRecorder{}
		h := NewHasher(testParams, 1, WithObserver(rec))
		h.derive = func(plain string, salt []byte, p Params) []byte {
			time.Sleep(time.Second) // virtual time inside the bubble
			return argon2Key(plain, salt, p, p.Memory)
		}
		type ctxKey struct{}
		ctx := context.WithValue(t.Context(), ctxKey{}, "caller")
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				_, err := h.Hash(ctx, refPlain)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.ElementsMatch(t, []time.Duration{0, time.Second}, rec.waits)
		require.Len(t, rec.ctxs, 2)
		assert.Equal(t, "caller", rec.ctxs[0].Value(ctxKey{}))
	})
}

// countingHasher is a Hasher with testParams that counts the keys it derives.
func countingHasher() (*Hasher, *atomic.Int64) {
	h := NewHasher(testParams, 1)
	derived := new(atomic.Int64)
	h.derive = func(plain string, salt []byte, p Params) []byte {
		derived.Add(1)
		return argon2Key(plain, salt, p, p.Memory)
	}
	return h, derived
}

// TestVerifyEachOneHashPerSalt: hashes under one salt are checked with one
// argon2id key however many there are, each hash of another salt or other
// parameters costs a key of its own, and each verdict is right.
func TestVerifyEachOneHashPerSalt(t *testing.T) {
	ctx := t.Context()
	h, derived := countingHasher()
	shared := []byte("one-salt-16bytes")
	hash := func(plain string, salt []byte) string {
		e, err := h.HashWithSalt(ctx, plain, salt)
		require.NoError(t, err)
		return e
	}
	mine, other := hash(refPlain, shared), hash("An0ther-Passw0rd", shared)
	foreign := hash(refPlain, []byte("another-salt-16b"))
	older, err := NewHasher(Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).HashWithSalt(ctx, refPlain, shared)
	require.NoError(t, err)

	for _, c := range []struct {
		name    string
		encoded []string
		want    []Check
		keys    int64
	}{
		{"three under one salt", []string{other, mine, other}, []Check{{}, {OK: true}, {}}, 1},
		{"none matches", []string{other, other}, []Check{{}, {}}, 1},
		{"a hash under another salt", []string{other, foreign}, []Check{{}, {OK: true, Rehash: true}}, 2},
		{"a hash with older parameters", []string{older, other}, []Check{{OK: true, Rehash: true}, {}}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			derived.Store(0)
			got, err := h.VerifyEach(ctx, refPlain, c.encoded, shared)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			assert.Equal(t, c.keys, derived.Load(), "argon2id keys computed")
		})
	}

	derived.Store(0)
	_, err = h.VerifyEach(ctx, refPlain, []string{mine, "$argon2id$v=19$m=64"}, shared)
	require.ErrorIs(t, err, ErrInvalidHash)
	assert.Zero(t, derived.Load(), "nothing hashed before the input is known good")

	got, err := h.VerifyEach(ctx, refPlain, []string{foreign}, nil)
	require.NoError(t, err)
	assert.Equal(t, []Check{{OK: true}}, got, "a nil salt takes any")
}

// TestPasswordsAreNormalised: a password is the same password composed or
// decomposed, full-width or not (NFKC); a hash made before Deputy normalised
// still takes the password as then typed, and asks for a rehash; a wrong
// password in a form other than NFKC costs two keys, known hash or dummy.
func TestPasswordsAreNormalised(t *testing.T) {
	ctx := t.Context()
	h, derived := countingHasher()
	const composed, decomposed, wide = "Contrase\u00f1a-1", "Contrasen\u0303a-1", "Ｃｏｎｔｒａｓｅ\u00f1ａ-１"
	encoded, err := h.Hash(ctx, decomposed)
	require.NoError(t, err)
	for _, typed := range []string{composed, decomposed, wide} {
		ok, rehash, err := h.Verify(ctx, typed, encoded)
		require.NoError(t, err)
		assert.True(t, ok, "%q", typed)
		assert.False(t, rehash, "%q", typed)
	}

	salt := []byte("one-salt-16bytes")
	legacy := encode(testParams, salt, argon2Key(decomposed, salt, testParams, testParams.Memory))
	ok, rehash, err := h.Verify(ctx, decomposed, legacy)
	require.NoError(t, err)
	assert.True(t, ok, "a hash of the password as typed then")
	assert.True(t, rehash, "stored again normalised")

	derived.Store(0)
	ok, _, err = h.Verify(ctx, wide+"x", encoded)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.EqualValues(t, 2, derived.Load(), "keys for a wrong password not in NFKC")
	derived.Store(0)
	h.VerifyDummy(ctx, wide+"x")
	assert.EqualValues(t, 2, derived.Load(), "keys for the same password and no account")
	derived.Store(0)
	h.VerifyDummy(ctx, refPlain)
	assert.EqualValues(t, 1, derived.Load(), "a password in NFKC costs one")
}

// TestHashWithSalt: the salt given is the one stored, and one of another
// length than the parameters' is refused.
func TestHashWithSalt(t *testing.T) {
	h := NewHasher(testParams, 1)
	salt := []byte("deputy-test-salt")
	encoded, err := h.HashWithSalt(t.Context(), refPlain, salt)
	require.NoError(t, err)
	_, stored, _, err := parse(encoded)
	require.NoError(t, err)
	assert.Equal(t, salt, stored)
	again, err := h.HashWithSalt(t.Context(), refPlain, salt)
	require.NoError(t, err)
	assert.Equal(t, encoded, again, "one password, one salt, one hash")

	_, err = h.HashWithSalt(t.Context(), refPlain, salt[:8])
	require.EqualError(t, err, "salt of 8 bytes, want 16")
}
