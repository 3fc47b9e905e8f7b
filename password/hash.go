// Package password owns how Deputy stores and accepts passwords: argon2id
// hashes in PHC string format, computed by a Hasher that bounds how many run at
// once, and the policy profiles (Weavr, NIST SP 800-63B) that decide which new
// passwords are acceptable.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/deputyhq/deputy/password/internal/argon2"
)

// Params are argon2id cost parameters (RFC 9106 section 3.1).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's recommended argon2id minimum (Password Storage
// Cheat Sheet): m=19 MiB, t=2, p=1, with a 16-byte salt and a 32-byte key.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on Params beyond RFC 9106's minimums, so that a corrupt stored hash
// cannot make a single verification take unbounded memory or time.
const (
	minSaltLen = 8 // RFC 9106 section 3.1
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
	maxMemory  = 2 << 20 // KiB: 2 GiB, RFC 9106's first recommended option
	maxTime    = 16
)

// ErrInvalidHash reports a stored hash that is not an argon2id PHC string
// this package accepts.
var ErrInvalidHash = errors.New("invalid password hash")

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// Validate reports whether p can be used: at least one pass and one thread,
// at least 8 KiB of memory per thread (RFC 9106 section 3.1), and sizes within
// the bounds this package accepts.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("argon2 threads must be at least 1")
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2 time %d not in 1..%d", p.Time, maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2 memory %d KiB not in %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2 salt length %d not in %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2 key length %d not in %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id, running at most a fixed
// number of hashes at once so that memory stays bounded under a login flood.
// Build one with NewHasher; it is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{}
	// dummy is a well-formed hash of no password, for VerifyDummy.
	dummy string
	// derive computes the key; tests replace it to watch concurrency.
	derive func(plain string, salt []byte, p Params) []byte
	obs    Observer
}

// Observer watches a Hasher's work, for metrics and traces. Hashing is called
// with the caller's context when a hash is asked for; the function it returns
// is called once, when the hash is computed or given up, with how long it
// waited for a free slot.
type Observer interface {
	Hashing(ctx context.Context) (done func(wait time.Duration))
}

// Option configures a Hasher.
type Option func(*Hasher)

// WithObserver has o watch every hash (nil watches none).
func WithObserver(o Observer) Option {
	return func(h *Hasher) { h.obs = o }
}

// NewHasher returns a Hasher that hashes with p and runs at most
// maxConcurrent hashes at once (runtime.GOMAXPROCS(0) when maxConcurrent <= 0).
// It panics if p is invalid (see Params.Validate).
func NewHasher(p Params, maxConcurrent int, opts ...Option) *Hasher {
	if err := p.Validate(); err != nil {
		panic("password: NewHasher: " + err.Error())
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{
		params: p,
		sem:    make(chan struct{}, maxConcurrent),
		dummy:  encode(p, randomBytes(p.SaltLen), randomBytes(p.KeyLen)),
	}
	h.derive = func(plain string, salt []byte, q Params) []byte { return argon2Key(plain, salt, q, p.Memory) }
	for _, o := range opts {
		o(h)
	}
	return h
}

// Hash returns the PHC string of plain under a fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<key>.
// It fails only if ctx has ended or ends while waiting for a free hashing slot.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	return h.HashWithSalt(ctx, plain, randomBytes(h.params.SaltLen))
}

// HashWithSalt is Hash under a salt the caller chose, of Params.SaltLen
// bytes. Like Hash, it hashes plain's Normalise form. Hashes that share a salt are checked together at the cost of one
// (VerifyEach); a salt must still be unique to the secret's owner, never
// shared between people.
func (h *Hasher) HashWithSalt(ctx context.Context, plain string, salt []byte) (string, error) {
	if len(salt) != int(h.params.SaltLen) {
		return "", fmt.Errorf("salt of %d bytes, want %d", len(salt), h.params.SaltLen)
	}
	key, err := h.key(ctx, Normalise(plain), salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether plain matches the PHC string encoded, recomputing it
// with the parameters encoded in it. rehash is true when plain matches but
// encoded was made with parameters other than h's: the caller should store a
// fresh Hash of plain. A malformed encoded gives an error matching ErrInvalidHash.
func (h *Hasher) Verify(ctx context.Context, plain, encoded string) (ok, rehash bool, err error) {
	checks, err := h.VerifyEach(ctx, plain, []string{encoded}, nil)
	if err != nil {
		return false, false, err
	}
	return checks[0].OK, checks[0].Rehash, nil
}

// Check is what VerifyEach found for one stored hash.
type Check struct {
	OK bool // the password is this hash's
	// Rehash: OK, but the hash was made with parameters other than the
	// Hasher's, or under a salt other than the one the caller wants.
	Rehash bool
}

// VerifyEach checks plain against each PHC string of encoded, computing one
// argon2id key per distinct parameters and salt among them: hashes that
// share a salt (HashWithSalt) cost one hash together, however many there
// are. A hash whose salt is not salt needs a Rehash when it matches (a nil
// salt accepts any). A malformed hash gives an error matching
// ErrInvalidHash, before any hashing.
//
// plain is compared in its Normalise form. When that differs from plain as
// given, a hash the normalised form does not match is also tried against
// plain as given, which is how hashes made before Deputy normalised were
// made: one that matches that way needs a Rehash. Whether the second key is
// computed depends only on plain, not on who has an account.
func (h *Hasher) VerifyEach(ctx context.Context, plain string, encoded []string, salt []byte) ([]Check, error) {
	type derivation struct {
		p    Params
		salt string
	}
	type stored struct {
		derivation
		key []byte
	}
	all := make([]stored, len(encoded))
	for i, e := range encoded {
		p, s, key, err := parse(e)
		if err != nil {
			return nil, err
		}
		all[i] = stored{derivation{p, string(s)}, key}
	}
	type keyed struct {
		derivation
		plain string
	}
	keys := map[keyed][]byte{}
	matches := func(st stored, plain string) (bool, error) {
		k := keyed{st.derivation, plain}
		got, done := keys[k]
		if !done {
			var err error
			if got, err = h.key(ctx, plain, []byte(st.salt), st.p); err != nil {
				return false, err
			}
			keys[k] = got
		}
		return subtle.ConstantTimeCompare(got, st.key) == 1, nil
	}
	normal := Normalise(plain)
	checks := make([]Check, len(all))
	for i, st := range all {
		ok, err := matches(st, normal)
		if err != nil {
			return nil, err
		}
		legacy := false
		if !ok && normal != plain {
			if legacy, err = matches(st, plain); err != nil {
				return nil, err
			}
		}
		foreign := salt != nil && st.salt != string(salt)
		checks[i] = Check{OK: ok || legacy, Rehash: legacy || ok && (st.p != h.params || foreign)}
	}
	return checks, nil
}

// Normalise is the form in which passwords are checked and hashed: Unicode
// NFKC (NIST SP 800-63B-4 3.1.1.2), so that a password typed on another
// keyboard or system, composed or decomposed, full-width or not, is the same
// password.
func Normalise(plain string) string { return norm.NFKC.String(plain) }

// VerifyDummy spends the time of a failed Verify against a hash made with h's
// parameters. Call it when no account matches, so that response times do not
// reveal which accounts exist.
func (h *Hasher) VerifyDummy(ctx context.Context, plain string) {
	_, _, _ = h.Verify(ctx, plain, h.dummy)
}

// key derives the argon2id key of plain once a hashing slot is free.
func (h *Hasher) key(ctx context.Context, plain string, salt []byte, p Params) ([]byte, error) {
	done := func(time.Duration) {}
	if h.obs != nil {
		done = h.obs.Hashing(ctx)
	}
	start := time.Now()
	err := ctx.Err() // an ended caller gets no hash, even with a slot free
	if err == nil {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		done(time.Since(start))
		return nil, fmt.Errorf("waiting to hash password: %w", err)
	}
	wait := time.Since(start)
	defer func() { <-h.sem; done(wait) }()
	return h.derive(plain, salt, p), nil
}

// areas keeps argon2id's work areas between hashes: a busy server reuses
// about as many as it hashes at once instead of dropping Params.Memory of
// garbage per hash (which kept the collector running and the kernel faulting
// in fresh pages), and the collector frees those left idle.
var areas = sync.Pool{New: func() any { return new(argon2.Area) }}

// argon2Key derives the key of plain under salt and p in an area from the
// pool. The area goes back only if p needs no more than keep KiB, a Hasher's
// own Params.Memory: the area of a hash stored under larger parameters
// (verified once and rehashed) must not stay pinned at that size.
func argon2Key(plain string, salt []byte, p Params, keep uint32) []byte {
	a := areas.Get().(*argon2.Area)
	key := a.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if p.Memory <= keep {
		areas.Put(a)
	}
	return key
}

// randomBytes returns n bytes from crypto/rand, whose Read never fails: it
// crashes the program instead (Go 1.24).
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parse reads a PHC string as encode writes it, accepting nothing else: each
// field in order, decimals without leading zeros, canonical unpadded base64.
func parse(encoded string) (p Params, salt, key []byte, err error) {
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("%w: not an argon2id PHC string", ErrInvalidHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported version", ErrInvalidHash)
	}
	costs := strings.Split(fields[3], ",")
	if len(costs) != 3 {
		return Params{}, nil, nil, fmt.Errorf("%w: want parameters m,t,p", ErrInvalidHash)
	}
	m, errM := parseDecimal(costs[0], "m", 32)
	t, errT := parseDecimal(costs[1], "t", 32)
	threads, errP := parseDecimal(costs[2], "p", 8)
	salt, errS := parseBase64(fields[4])
	key, errK := parseBase64(fields[5])
	if err := errors.Join(errM, errT, errP, errS, errK); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", ErrInvalidHash, err)
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", ErrInvalidHash, err)
	}
	return p, salt, key, nil
}

// parseDecimal reads "name=value" where value is a decimal of at most bits
// bits without sign or leading zeros. Errors do not quote the input.
func parseDecimal(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	n, err := strconv.ParseUint(v, 10, bits)
	if !ok || err != nil || (v[0] == '0' && len(v) > 1) {
		return 0, fmt.Errorf("parameter %s is not a decimal below 2^%d", name, bits)
	}
	return n, nil
}

// parseBase64 decodes s, accepting only the encoding b64 itself produces
// (the decoder alone skips newlines and tolerates non-zero trailing bits).
func parseBase64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, errors.New("salt or key is not unpadded base64")
	}
	return b, nil
}
