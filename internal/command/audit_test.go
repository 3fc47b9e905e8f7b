package command_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// publishedCheckpoint waits for a server's log line publishing a checkpoint
// of size events, and returns the signed checkpoint it carries.
func publishedCheckpoint(t *testing.T, s *serving, size int) []byte {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		for sc.Scan() {
			var l struct {
				Msg, Checkpoint string
				Size            int
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "audit checkpoint" && l.Size == size {
				found = l.Checkpoint
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "a checkpoint of %d events in the log:\n%s", size, s.logs.String())
	return []byte(found)
}

// rewriteAudit changes the database at db as someone holding the file could:
// edit runs on the programme's audit events, and the stored checkpoints
// (which would give the rewrite away) are deleted.
func rewriteAudit(t *testing.T, db, programmeID string, edit func(events *bolt.Bucket)) {
	t.Helper()
	f, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte("v1"))
		edit(root.Bucket([]byte("audit")).Bucket([]byte(programmeID)))
		return root.Bucket([]byte("audit_checkpoints")).DeleteBucket([]byte(programmeID))
	}))
}

// TestAuditExportVerifies: a server signs and logs checkpoints; an export
// taken while it runs verifies offline with the verifier key alone. Someone
// who then edits an event, or cuts the last ones, in the database (and deletes
// the stored checkpoints) is found by a checkpoint saved from the log.
func TestAuditExportVerifies(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--audit-checkpoint-events", "1", "--audit-checkpoint-interval", "1s")
	signUp(t, s, p["apiKey"], "ada@acme.test")
	signUp(t, s, p["apiKey"], "bob@acme.test")
	// programme.create, then per sign-up identity.create and password.create
	saved := publishedCheckpoint(t, s, 5)
	vkey, err := run(t, 30*time.Second, "audit", "key", "--db", db)
	require.NoError(t, err)
	vkey = strings.TrimSpace(vkey)
	assert.Regexp(t, `^deputy-audit\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$`, vkey)
	key, err := os.ReadFile(db + ".audit-key")
	require.NoError(t, err)
	assert.NotContains(t, s.logs.String(), strings.TrimSpace(string(key)), "the signing key is never logged")

	exported := filepath.Join(dir, "audit.jsonl")
	out, err := run(t, time.Minute, "audit", "export", "--db", db, "--id", p["id"], "--out", exported)
	require.NoError(t, err)
	assert.Contains(t, out, "Exported the audit log")
	savedFile := filepath.Join(dir, "saved.note")
	require.NoError(t, os.WriteFile(savedFile, saved, 0o600))
	out, err = run(t, time.Minute, "audit", "verify", "--in", exported, "--key", vkey, "--checkpoint", savedFile, "--json")
	require.NoError(t, err)
	var rep struct{ Events, Checkpoints, Covered int }
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, 5, rep.Covered, "the saved checkpoint covers 5 events: %s", out)
	assert.GreaterOrEqual(t, rep.Events, 5)
	_, err = run(t, time.Minute, "audit", "verify", "--in", exported, "--key", vkey, "--id", p["id"]+"0")
	require.ErrorContains(t, err, "the export is the log of", "--id names another programme")
	s.stop()
	// A server whose next checkpoint is an hour away signs the events it has
	// not when it stops.
	s = startServe(t, "--sandbox", "--db", db, "--audit-checkpoint-events", "1000000", "--audit-checkpoint-interval", "1h")
	signUp(t, s, p["apiKey"], "cy@acme.test")
	s.stop()

	sealed := filepath.Join(dir, "sealed.jsonl")
	_, err = run(t, time.Minute, "audit", "export", "--db", db, "--id", p["id"], "--out", sealed)
	require.NoError(t, err)
	out, err = run(t, time.Minute, "audit", "verify", "--in", sealed, "--key", vkey, "--id", p["id"], "--json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, rep.Events, rep.Covered, "a server stopping signs what it had not: %s", out)
	assert.Greater(t, rep.Events, 5)

	backup := filepath.Join(dir, "untouched.db")
	_, err = run(t, time.Minute, "backup", "--db", db, "--out", backup)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		edit func(events *bolt.Bucket)
		want string
	}{
		{"an event changed", func(events *bolt.Bucket) {
			key := binary.BigEndian.AppendUint64(nil, 2)
			changed := strings.Replace(string(events.Get(key)), "identity.create", "identity.delete", 1)
			require.NoError(t, events.Put(key, []byte(changed)))
		}, "do not match their signed checkpoint"},
		{"the last events cut", func(events *bolt.Bucket) {
			last := events.Sequence()
			for seq := uint64(4); seq <= last; seq++ {
				require.NoError(t, events.Delete(binary.BigEndian.AppendUint64(nil, seq)))
			}
			require.NoError(t, events.SetSequence(3))
		}, "cut from the end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			copyDB := filepath.Join(t.TempDir(), "deputy.db")
			_, err := run(t, time.Minute, "backup", "--db", backup, "--out", copyDB)
			require.NoError(t, err)
			rewriteAudit(t, copyDB, p["id"], c.edit)
			exported := filepath.Join(t.TempDir(), "audit.jsonl")
			_, err = run(t, time.Minute, "audit", "export", "--db", copyDB, "--id", p["id"], "--out", exported)
			require.NoError(t, err)
			_, err = run(t, time.Minute, "audit", "verify", "--in", exported, "--key", vkey, "--checkpoint", savedFile)
			require.ErrorContains(t, err, "audit log tampered with")
			assert.ErrorContains(t, err, c.want)
		})
	}
}

// TestServeRefusesAnotherAuditKey: a server given another signing key than
// the one that signed the stored checkpoints (a wrong --audit-key path makes
// a new key) does not start, and a key file others may read is refused.
func TestServeRefusesAnotherAuditKey(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--audit-checkpoint-events", "1", "--audit-checkpoint-interval", "1s")
	signUp(t, s, p["apiKey"], "ada@acme.test")
	publishedCheckpoint(t, s, 3)
	s.stop()

	other := filepath.Join(dir, "other.audit-key")
	_, err := run(t, 30*time.Second, "serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:0", "--audit-key", other)
	require.ErrorContains(t, err, "signed by another key")

	require.NoError(t, os.Chmod(db+".audit-key", 0o644))
	_, err = run(t, 30*time.Second, "serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "open to others (mode 0644)")
	_, err = run(t, 30*time.Second, "audit", "key", "--db", db)
	require.ErrorContains(t, err, "open to others")
	require.NoError(t, os.Chmod(db+".audit-key", 0o600))
	s = startServe(t, "--sandbox", "--db", db)
	s.stop()
}
