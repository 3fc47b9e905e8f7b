package argon2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestIDKeyMatchesXCrypto derives keys in one Area, which each derivation
// leaves dirty for the next and which starts filled with noise, and compares
// each with golang.org/x/crypto/argon2's: the first pass must overwrite
// whatever the area held.
func TestIDKeyMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a Area
	a.blocks = make([]block, 4096)
	for i := range a.blocks {
		for j := range a.blocks[i] {
			a.blocks[i][j] = rng.Uint64()
		}
	}
	for range 60 {
		password, salt := make([]byte, rng.IntN(40)), make([]byte, 8+rng.IntN(24))
		for _, b := range [][]byte{password, salt} {
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
		}
		time, memory := 1+rng.Uint32N(3), 8+rng.Uint32N(6000) // past the area's first size
		threads, keyLen := uint8(1+rng.IntN(4)), 4+rng.Uint32N(96)
		t.Run(fmt.Sprintf("t=%d,m=%d,p=%d,len=%d", time, memory, threads, keyLen), func(t *testing.T) {
			want := xargon2.IDKey(password, salt, time, memory, threads, keyLen)
			if got := a.IDKey(password, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
				t.Fatalf("key %x, x/crypto's %x", got, want)
			}
		})
	}
}

// TestIDKeyDeployedParams checks the parameters Deputy hashes with (19 MiB,
// two passes, one lane) twice in one area.
func TestIDKeyDeployedParams(t *testing.T) {
	var a Area
	for _, pw := range []string{"Str0ng-Passw0rd", "another one"} {
		salt := []byte("sixteen byte slt")
		want := xargon2.IDKey([]byte(pw), salt, 2, 19*1024, 1, 32)
		if got := a.IDKey([]byte(pw), salt, 2, 19*1024, 1, 32); !bytes.Equal(got, want) {
			t.Fatalf("%q: key %x, x/crypto's %x", pw, got, want)
		}
	}
}

// BenchmarkIDKey compares a reused area with x/crypto's fresh memory.
func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("Str0ng-Passw0rd"), []byte("sixteen byte slt")
	b.Run("area", func(b *testing.B) {
		var a Area
		for b.Loop() {
			a.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			xargon2.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
}
