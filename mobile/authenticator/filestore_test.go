package authenticator_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/authenticator/keystoretest"
)

func TestMemoryStoreContract(t *testing.T) {
	keystoretest.Run(t, func(*testing.T) authenticator.KeyStore { return authenticator.NewMemoryStore() })
}

func TestFileStoreContract(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) authenticator.KeyStore {
		s, err := authenticator.OpenFileStore(filepath.Join(t.TempDir(), "keys"))
		require.NoError(t, err)
		return s
	})
}

// TestFileStoreAcrossReopen runs real ceremonies with a FileStore that is
// closed and reopened between them: the credential and its counter survive.
func TestFileStoreAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "companion", "keys")
	rp := newRP(t)
	user := newUser()
	open := func() (*authenticator.FileStore, *authenticator.Authenticator) {
		s, err := authenticator.OpenFileStore(dir)
		require.NoError(t, err)
		return s, newAuthenticator(t, s, newVerifier(true))
	}

	_, a := open()
	cred := register(t, rp, user, a)
	for want := uint32(1); want <= 2; want++ {
		_, a = open()
		got := login(t, rp, user, a)
		assert.Equal(t, want, got.Authenticator.SignCount)
		assert.False(t, got.Authenticator.CloneWarning)
	}

	s, _ := open()
	c, err := s.Load(cred.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), c.SignCount, "the counter persists across reopen")
	assert.Equal(t, user.id, c.UserHandle)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "one file per credential and no temporary files left")
	name := entries[0].Name()
	assert.True(t, strings.HasSuffix(name, ".cred"), name)
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "credential file mode")
		di, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o700), di.Mode().Perm(), "store directory mode")
	}

	// Unlinking the device deletes the file.
	require.NoError(t, s.Delete(cred.ID))
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestFileStoreCorruptFile(t *testing.T) {
	dir := t.TempDir()
	s, err := authenticator.OpenFileStore(dir)
	require.NoError(t, err)
	c := keystoretest.NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(c))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	path := filepath.Join(dir, entries[0].Name())
	require.NoError(t, os.WriteFile(path, []byte(`{"version":1,"id":"AA=="`), 0o600))

	_, err = s.Load(c.ID)
	assert.ErrorIs(t, err, authenticator.ErrCorruptCredential)
	_, err = s.List("example.com")
	assert.ErrorIs(t, err, authenticator.ErrCorruptCredential)
	_, err = s.NextCounter(c.ID)
	assert.ErrorIs(t, err, authenticator.ErrCorruptCredential)

	// A file that holds another credential than its name says is refused.
	other := keystoretest.NewCredential(t, s, "example.com")
	require.NoError(t, s.Save(other))
	otherPath := ""
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if p := filepath.Join(dir, e.Name()); p != path {
			otherPath = p
		}
	}
	data, err := os.ReadFile(otherPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = s.Load(c.ID)
	assert.ErrorIs(t, err, authenticator.ErrCorruptCredential)

	// Files that are not credentials are ignored.
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("hello"), 0o600))
	list, err := s.List("example.com")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func TestFileStoreNeedsECDSAKey(t *testing.T) {
	s, err := authenticator.OpenFileStore(t.TempDir())
	require.NoError(t, err)
	c := keystoretest.NewCredential(t, s, "example.com")
	c.Key = countingSigner{Signer: c.Key} // a signer whose key cannot be exported
	assert.ErrorIs(t, s.Save(c), authenticator.ErrInvalidRequest)
}

func TestOpenFileStoreOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := authenticator.OpenFileStore(path)
	assert.Error(t, err)
	_, err = authenticator.OpenFileStore("")
	assert.Error(t, err)
	assert.False(t, errors.Is(err, authenticator.ErrNoCredential))
}
