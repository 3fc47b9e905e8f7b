package command

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteAtomicallyNeverOverwrites: a file that appears at the path while
// the copy is written (a second backup or export to the same --out, a second
// server creating the same audit key) is kept; the write fails instead of
// replacing it, and leaves no partial file behind.
func TestWriteAtomicallyNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	_, err := writeAtomically(path, func(w io.Writer) (int64, error) {
		require.NoError(t, os.WriteFile(path, []byte("theirs"), 0o600)) // someone else got there first
		n, err := io.WriteString(w, "ours")
		return int64(n), err
	})
	require.ErrorIs(t, err, os.ErrExist)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(got), "the file that was there first is kept")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no partial file left: %v", entries)

	fresh := filepath.Join(dir, "fresh.db")
	n, err := writeAtomically(fresh, func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, "ours")
		return int64(n), err
	})
	require.NoError(t, err)
	assert.EqualValues(t, 4, n)
	got, err = os.ReadFile(fresh)
	require.NoError(t, err)
	assert.Equal(t, "ours", string(got))
}
