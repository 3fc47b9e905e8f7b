package command_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// signUp creates a corporate whose root user has email, mobile +447700900123
// and the password Sup3r-Secret, and returns the root user's id and the
// token of the session setting the password opened.
func signUp(t testing.TB, s *serving, key, email string) (id, token string) {
	t.Helper()
	return signUpWithMobile(t, s, key, email, "7700900123")
}

// signUpWithMobile is signUp with the root user's UK mobile number.
func signUpWithMobile(t testing.TB, s *serving, key, email, mobile string) (id, token string) {
	t.Helper()
	status, body := s.call(t, "POST", "/multi/corporates", key, "", map[string]any{
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": email, "companyPosition": "DIRECTOR",
			"mobile": map[string]string{"countryCode": "+44", "number": mobile}},
		"company":   map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var corp struct{ ID struct{ ID string } }
	require.NoError(t, json.Unmarshal(body, &corp))
	status, body = s.call(t, "POST", "/multi/passwords/"+corp.ID.ID+"/create", key, "", map[string]any{"password": map[string]string{"value": "Sup3r-Secret"}})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var signedIn struct{ Token string }
	require.NoError(t, json.Unmarshal(body, &signedIn))
	return corp.ID.ID, signedIn.Token
}

// TestBackupUnderLoadRestores: `deputy backup` copies the database of a
// running server through its control socket while requests keep writing; a
// server started on the copy lets the users created before it sign in.
func TestBackupUnderLoadRestores(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "deputy.db"), filepath.Join(dir, "backup.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db)
	signUp(t, s, p["apiKey"], "before@acme.test")

	stop, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // writes go on while the backup runs
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			signUp(t, s, p["apiKey"], fmt.Sprintf("load%d@acme.test", i))
			if i == 0 {
				close(started)
			}
		}
	})
	<-started
	stdout, err := run(t, time.Minute, "backup", "--db", db, "--out", out, "--json")
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	var got struct {
		Bytes int64
		Via   string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout: %s", stdout)
	assert.Equal(t, "running server", got.Via)
	info, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, got.Bytes, info.Size())
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the copy holds password hashes: owner only")
	leftovers, _ := filepath.Glob(out + ".partial-*")
	assert.Empty(t, leftovers, "no temporary file is left behind")

	_, err = run(t, time.Minute, "backup", "--db", db, "--out", out)
	assert.ErrorContains(t, err, "exists already", "a backup never overwrites a file")

	// The copy's audit checkpoints, if the load made one before the backup,
	// are signed with the original's key: a restore brings it along (README).
	restored := startServe(t, "--sandbox", "--db", out, "--audit-key", db+".audit-key")
	status, body := restored.call(t, "POST", "/multi/login_with_password", p["apiKey"], "", map[string]any{"email": "before@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
	assert.Equal(t, http.StatusOK, status, "a user created before the backup signs in on the copy: %s", body)
}

// TestBackupWithoutServer copies a database no server holds, from the file.
func TestBackupWithoutServer(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "deputy.db"), filepath.Join(dir, "copy.db")
	p := createProgramme(t, db)
	stdout, err := run(t, time.Minute, "backup", "--db", db, "--out", out)
	require.NoError(t, err)
	assert.Contains(t, stdout, "(file)")
	assert.Contains(t, stdout, "checked")
	assert.Equal(t, []string{"secret", "ui"}, keyKinds(t, out, 0, p["apiKey"], p["uiKey"]), "the copy holds the programme and its keys")

	_, err = run(t, time.Minute, "backup", "--db", filepath.Join(dir, "missing.db"), "--out", filepath.Join(dir, "x.db"))
	assert.ErrorContains(t, err, "--db")
}

// TestBackupLeavesTheFileAsItWas: a backup without a server reads the file
// and writes nothing to it, so a copy taken before an upgrade is the
// database as the old build left it (opening it as a store brings its schema
// up to date, and commits even when there is nothing to migrate), and a
// bbolt file that is not Deputy's (or an empty file) is refused, not given
// Deputy's buckets.
func TestBackupLeavesTheFileAsItWas(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "deputy.db")
	createProgramme(t, db)
	other := filepath.Join(dir, "other.db")
	b, err := bolt.Open(other, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("theirs")); return err }))
	require.NoError(t, b.Close())
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))

	for _, c := range []struct {
		db, want string
	}{{db, ""}, {other, "not a Deputy database"}, {empty, "not a Deputy database"}} {
		before, err := os.ReadFile(c.db)
		require.NoError(t, err)
		out := c.db + ".copy"
		_, err = run(t, time.Minute, "backup", "--db", c.db, "--out", out)
		if c.want == "" {
			require.NoError(t, err)
		} else {
			assert.ErrorContains(t, err, c.want)
			assert.NoFileExists(t, out)
		}
		after, err := os.ReadFile(c.db)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(before, after), "%s is as it was", c.db)
	}
}
