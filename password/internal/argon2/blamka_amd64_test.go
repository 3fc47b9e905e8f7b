//go:build amd64 && gc && !purego

package argon2

import (
	"bytes"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestIDKeyWithoutSSE4 runs the amd64 code as on a processor without
// SSE4.1, where the permutation is Go's (blamkaRounds).
func TestIDKeyWithoutSSE4(t *testing.T) {
	defer func(was bool) { useSSE4 = was }(useSSE4)
	useSSE4 = false
	var a Area
	for _, threads := range []uint8{1, 3} {
		pw, salt := []byte("Str0ng-Passw0rd"), []byte("sixteen byte slt")
		want := xargon2.IDKey(pw, salt, 2, 96, threads, 32)
		if got := a.IDKey(pw, salt, 2, 96, threads, 32); !bytes.Equal(got, want) {
			t.Fatalf("%d lanes: key %x, x/crypto's %x", threads, got, want)
		}
	}
}
