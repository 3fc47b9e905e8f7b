package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientAddress(t *testing.T) {
	assert.Equal(t, "10.0.0.0", clientAddress(0))
	assert.Equal(t, "10.0.1.44", clientAddress(300))
	assert.Equal(t, "10.1.0.1", clientAddress(1<<16+1))
}

func TestSessionPool(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte("tok_a\n\ntok_b\n"), 0o600))

	q, err := sessionPool(file, 3, 6)
	require.NoError(t, err)
	require.Len(t, q, 2, "the blank line is no session")
	s := <-q
	assert.Equal(t, session{token: "tok_a", left: 3}, *s)

	_, err = sessionPool(file, 3, 7)
	assert.ErrorContains(t, err, "2 sessions of 3 step-ups each are too few for 7")
	_, err = sessionPool(file, 0, 1)
	assert.ErrorContains(t, err, "-per-session")
}

func TestRunRefusesMissingFlags(t *testing.T) {
	assert.ErrorContains(t, run([]string{"-op", "create"}, nil), "-url and -api-key")
	assert.ErrorContains(t, run([]string{"-url", "http://127.0.0.1:1", "-api-key", "k", "-op", "create"}, nil), "-token")
	assert.ErrorContains(t, run([]string{"-url", "http://127.0.0.1:1", "-api-key", "k", "-op", "fly"}, nil), `-op "fly"`)
}
