package password

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fuzzHashSeeds = []string{
	refHash,
	refDefaultHash,
	"",
	"$",
	"$$$$$",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
	"$argon2id$v=19$m=64,t=2,p=255$ZGVwdXR5LXRlc3Qtc2FsdA$lKYoIvQhQ/7ky2fA9xNp1Kz9ygv0h0N+nzU9HnafG2U",
	"$argon2id$v=19$m=4294967295,t=4294967295,p=1$ZGVwdXR5LXRlc3Qtc2FsdA$lKYoIvQhQ/7ky2fA9xNp1Kz9ygv0h0N+nzU9HnafG2U",
	"$argon2id$v=19$m=064,t=2,p=1$ZGVwdXR5LXRlc3Qtc2FsdA$lKYoIvQhQ/7ky2fA9xNp1Kz9ygv0h0N+nzU9HnafG2U",
	"$argon2id$v=19$m=64,t=2,p=1$ZGVwdXR5LXRlc3Qtc2FsdA==$lKYoIvQhQ/7ky2fA9xNp1Kz9ygv0h0N+nzU9HnafG2U",
	"$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
	"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
}

// FuzzParse checks that parse never panics, and that whatever it accepts is
// valid and encodes back to exactly the same string.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzHashSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		p, salt, key, err := parse(encoded)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidHash)
			return
		}
		require.NoError(t, p.Validate())
		require.Equal(t, encoded, encode(p, salt, key))
	})
}

// FuzzVerify checks that Verify never panics, fails exactly on what parse
// rejects, and that any password verifies against its own hash.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzHashSeeds {
		f.Add(refPlain, s)
	}
	f.Add("", refHash)
	f.Add("\x00\xff", refHash)
	h := NewHasher(testParams, 1)
	f.Fuzz(func(t *testing.T, plain, encoded string) {
		ctx := t.Context()
		p, _, _, parseErr := parse(encoded)
		if parseErr == nil && (p.Memory > 4096 || p.Time > 4) {
			t.Skip("too costly to fuzz")
		}
		ok, rehash, err := h.Verify(ctx, plain, encoded)
		if parseErr != nil {
			require.ErrorIs(t, err, ErrInvalidHash)
			require.False(t, ok || rehash)
		} else {
			require.NoError(t, err)
			require.False(t, rehash && !ok, "rehash only after a match")
		}

		own, err := h.Hash(ctx, plain)
		require.NoError(t, err)
		ok, rehash, err = h.Verify(ctx, plain, own)
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, rehash)
	})
}

// FuzzCheck checks that profiles never panic on request input, fail only with
// their sentinel errors, and accept only passwords within their length bounds.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "Passw0rd!", "password", "aaaaaaaa", "Ä0!éééé", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "🔑🐴🔋📎🔑🐴🔋📎"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, plain string) {
		for _, p := range []Profile{Weavr{}, NIST{}} {
			err := p.Check(plain)
			if err != nil {
				assert.True(t, errors.Is(err, ErrTooShort) || errors.Is(err, ErrTooLong) || errors.Is(err, ErrTooSimple), "%s: %v", p.Name(), err)
				continue
			}
			n := utf8.RuneCountInString(plain)
			assert.True(t, p.MinLen() <= n && n <= p.MaxLen(), "%s accepted %d characters", p.Name(), n)
		}
	})
}
