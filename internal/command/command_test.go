package command_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/internal/command"
)

// run executes the deputy command line and returns its standard output and
// error. It fails the test if the command does not return within limit.
func run(t testing.TB, limit time.Duration, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- command.Run(context.Background(), append([]string{"deputy"}, args...), &out, &errOut) }()
	select {
	case err = <-done:
	case <-time.After(limit):
		t.Fatalf("deputy %v still running after %v", args, limit)
	}
	return out.String(), err
}

// openService opens the database at path for a check; it closes it at cleanup.
func openService(t *testing.T, path string) (*boltstore.Store, *core.Service) {
	t.Helper()
	store, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	outbox := core.NewOutbox(store, core.SystemClock{})
	svc, err := core.New(context.Background(), core.Config{Offline: true, Logger: slog.New(slog.DiscardHandler)}, store,
		core.Integrations{SMS: outbox, Email: outbox}, core.SystemClock{})
	require.NoError(t, err)
	return store, svc
}

func TestProgrammeCreateJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	stdout, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme Cards", "--json")
	require.NoError(t, err)

	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout: %s", stdout)
	require.ElementsMatch(t, []string{"id", "name", "apiKey", "uiKey"}, keys(got), "stdout: %s", stdout)
	assert.Regexp(t, `^[0-9]+$`, got["id"])
	assert.Equal(t, "Acme Cards", got["name"])

	_, svc := openService(t, db)
	prog, kind, err := svc.AuthenticateKey(context.Background(), got["apiKey"])
	require.NoError(t, err, "the printed apiKey is the programme's secret api key")
	assert.Equal(t, got["id"], prog.ID)
	assert.Equal(t, core.SecretKey, kind)
	prog, kind, err = svc.AuthenticateKey(context.Background(), got["uiKey"])
	require.NoError(t, err, "the printed uiKey is the programme's public ui key")
	assert.Equal(t, got["id"], prog.ID)
	assert.Equal(t, core.UIKey, kind)
}

func TestProgrammeCreateText(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	stdout, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme Cards")
	require.NoError(t, err)
	assert.Contains(t, stdout, `"Acme Cards"`)
	assert.Contains(t, stdout, "shown once")

	_, err = run(t, 30*time.Second, "programme", "create", "--db", db)
	require.Error(t, err, "--name is required")
	assert.Contains(t, err.Error(), "name")
}

func TestFlagsFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "from-env.db")
	t.Setenv("DEPUTY_DB", db)
	stdout, err := run(t, 30*time.Second, "programme", "create", "--name", "Env Programme", "--json")
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout: %s", stdout)

	store, _ := openService(t, db)
	var names []string
	require.NoError(t, store.View(context.Background(), func(tx core.ReadTx) error {
		progs, err := tx.Programmes()
		for _, p := range progs {
			names = append(names, p.Name)
		}
		return err
	}))
	assert.Equal(t, []string{"Env Programme"}, names, "the programme went to $DEPUTY_DB")
}

func TestDatabaseInUseIsAClearErrorNotAHang(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	held, err := boltstore.Open(db, boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { held.Close() })

	for _, args := range [][]string{
		{"programme", "create", "--db", db, "--name", "Second"},
		{"serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:0"},
	} {
		start := time.Now()
		_, err := run(t, 10*time.Second, args...)
		require.Error(t, err, "deputy %v", args)
		var inUse *boltstore.InUseError
		assert.True(t, errors.As(err, &inUse), "got %T %v, want *boltstore.InUseError", err, err)
		assert.Contains(t, err.Error(), "in use")
		assert.Less(t, time.Since(start), 5*time.Second, "deputy %v gives up promptly", args)
	}
}

// TestOperatorCommandsRefuseMissingDatabase: a command that acts on an
// existing programme, given a --db where no database is (a mistyped path),
// says so and leaves nothing behind, rather than make a new, empty database
// there and answer that the programme is not found.
func TestOperatorCommandsRefuseMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "deputy.dbb")
	for _, args := range [][]string{
		{"programme", "rotate-key", "--db", db, "--id", "100000001", "--key", "ui"},
		{"programme", "settings", "--db", db, "--id", "100000001", "--otp-attempts", "3"},
		{"programme", "webhooks", "list", "--db", db, "--id", "100000001"},
		{"audit", "export", "--db", db, "--id", "100000001", "--out", filepath.Join(dir, "audit.jsonl")},
	} {
		_, err := run(t, 30*time.Second, args...)
		if assert.Error(t, err, "deputy %v", args) {
			assert.ErrorIs(t, err, fs.ErrNotExist, "deputy %v", args)
			assert.Contains(t, err.Error(), "--db", "deputy %v", args)
		}
		left, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, left, "deputy %v wrote nothing", args)
	}
}

// lockedBuffer collects log lines from the server goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeAnswersProbesAndStopsOnCancel(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logR, logW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- command.Run(ctx, []string{"deputy", "serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:0", "--log-format", "json"}, io.Discard, logW)
		logW.Close()
	}()

	// The listening address is in the "deputy serving" log line (port 0 picks a free port).
	addrs := make(chan string, 1)
	logs := &lockedBuffer{}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "deputy serving" {
				addrs <- line.Addr
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("serve returned before listening: %v\nlogs: %s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log its address\nlogs: %s", logs.String())
	}

	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := client.Get("http://" + addr + path)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", path, body)
		assert.JSONEq(t, `{"status":"ok"}`, string(body), path)
		assert.NotEmpty(t, res.Header.Get("request-ref"), path)
	}
	res, err := client.Get("http://" + addr + "/multi/sandbox/outbox")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "sandbox routes exist (and want an api-key)")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a cancelled serve stops cleanly")
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	<-logsDone
	assert.Contains(t, logs.String(), "shutting down")
	_, err = client.Get("http://" + addr + "/healthz")
	assert.Error(t, err, "nothing listens any more")

	store, err := boltstore.Open(db, boltstore.Options{})
	require.NoError(t, err, "the database was released")
	require.NoError(t, store.Close())
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestProgrammeNameIsText: a programme's name goes into every confirmation
// SMS and the sender name of every email, and is listed on operators'
// terminals, so it follows core.TextRule as the API's text does; the command
// line took a newline (a second SMS line), an escape or a bidi override.
func TestProgrammeNameIsText(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	for _, name := range []string{"Acme\nYour code is 000000", "Acme\x1b]0;owned\x07", "Acme\u202eskraC", "Acme\u0085Cards"} {
		_, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", name)
		require.Error(t, err, "%q", name)
		assert.Contains(t, err.Error(), "name", "%q", name)
		_, err = run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme", "--sender-name", name)
		require.Error(t, err, "sender name %q", name)
		assert.Contains(t, err.Error(), "senderName", "%q", name)
	}
	_, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme", "--sender-name", strings.Repeat("A", 101))
	require.Error(t, err, "a sender name of 101 characters")
}
