package control_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/internal/control"
)

// openService opens a database, closed when the test ends, and a service on it.
func openService(t *testing.T) (db string, store *boltstore.Store, svc *core.Service) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "deputy.db")
	store, err := boltstore.Open(db, boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	outbox := core.NewOutbox(store, core.SystemClock{})
	svc, err = core.New(context.Background(), core.Config{Logger: slog.New(slog.DiscardHandler)}, store,
		core.Integrations{SMS: outbox, Email: outbox}, core.SystemClock{})
	require.NoError(t, err)
	return db, store, svc
}

// serveControl opens a database, serves its control socket until the test
// ends and returns the database path and the service behind the socket.
func serveControl(t *testing.T) (string, *core.Service) {
	t.Helper()
	db, store, svc := openService(t)
	ln, err := control.Listen(db)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- control.Serve(ctx, ln, svc, store) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
		_, err := os.Stat(control.SocketPath(db))
		assert.ErrorIs(t, err, os.ErrNotExist, "the socket file is removed")
	})
	return db, svc
}

func TestSocketIsTheOwnersOnly(t *testing.T) {
	db, _ := serveControl(t)
	info, err := os.Stat(control.SocketPath(db))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o600, info.Mode()&(os.ModeSocket|os.ModePerm))
}

// TestSocketIsNeverOpenToOthers opens the socket again and again under an
// umask that takes nothing away, while a watcher looks at every file others
// could reach in its directory: none they could connect to may ever appear.
func TestSocketIsNeverOpenToOthers(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0))
	db := filepath.Join(t.TempDir(), "deputy.db")
	dir := filepath.Dir(db)
	done := make(chan struct{})
	var open []string
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-done:
				return
			default:
			}
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || p == dir {
					return nil
				}
				info, err := os.Lstat(p)
				switch {
				case err != nil:
				case info.IsDir() && info.Mode().Perm()&0o011 == 0:
					return fs.SkipDir // others may not enter it
				case info.Mode()&os.ModeSocket != 0 && info.Mode().Perm()&0o022 != 0:
					open = append(open, fmt.Sprintf("%s %v", p, info.Mode()))
				}
				return nil
			})
		}
	}()
	for range 300 {
		ln, err := control.Listen(db)
		require.NoError(t, err)
		require.NoError(t, ln.Close())
	}
	close(done)
	<-watched
	assert.Empty(t, open, "sockets others could connect to")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no socket or making directory left behind")
}

func TestListenReplacesAStaleSocket(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	require.NoError(t, os.WriteFile(control.SocketPath(db), nil, 0o600)) // left by a crashed server
	ln, err := control.Listen(db)
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	_, err = control.Dial(t.Context(), db)
	assert.ErrorContains(t, err, "control socket", "nothing answers once closed")
}

// TestClientDoesWhatTheServiceDoes drives every operation through the socket
// and checks the effect on the service behind it.
func TestClientDoesWhatTheServiceDoes(t *testing.T) {
	db, svc := serveControl(t)
	ctx := t.Context()
	c, err := control.Dial(ctx, db)
	require.NoError(t, err)

	created, err := c.CreateProgramme(ctx, core.NewProgramme{Name: "Acme Cards", Settings: core.ProgrammeSettings{OTPAttempts: 3}})
	require.NoError(t, err)
	assert.Equal(t, "Acme Cards", created.Programme.Name)
	assert.Equal(t, 3, created.Programme.Settings.OTPAttempts)
	assert.Empty(t, created.Programme.APIKeyHash, "key hashes do not cross the socket")
	p, kind, err := svc.AuthenticateKey(ctx, created.APIKey)
	require.NoError(t, err, "the key the socket returned is the programme's")
	assert.Equal(t, created.Programme.ID, p.ID)
	assert.Equal(t, core.SecretKey, kind)

	newKey, err := c.RotateKey(ctx, p.ID, core.SecretKey, 0)
	require.NoError(t, err)
	_, _, err = svc.AuthenticateKey(ctx, created.APIKey)
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "a grace of 0 ends the old key at once")
	_, kind, err = svc.AuthenticateKey(ctx, newKey)
	require.NoError(t, err)
	assert.Equal(t, core.SecretKey, kind)

	got, err := c.Programme(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "Acme Cards", got.Name)
	set := got.Settings
	set.Biometrics, set.AllowedOrigins = true, []string{"https://app.acme.test"}
	updated, err := c.UpdateProgrammeSettings(ctx, p.ID, nil, set)
	require.NoError(t, err)
	assert.Equal(t, set, updated.Settings)
	stored, err := svc.Programme(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, set, stored.Settings)
}

// TestClientReportsTheServicesErrors: refusals come back with core's message.
func TestClientReportsTheServicesErrors(t *testing.T) {
	db, _ := serveControl(t)
	ctx := t.Context()
	c, err := control.Dial(ctx, db)
	require.NoError(t, err)
	_, err = c.CreateProgramme(ctx, core.NewProgramme{Name: "Twice"})
	require.NoError(t, err)
	_, err = c.CreateProgramme(ctx, core.NewProgramme{Name: "Twice"})
	assert.ErrorContains(t, err, "conflict")
	_, err = c.Programme(ctx, "100000999")
	assert.ErrorContains(t, err, "programme not found")
	_, err = c.RotateKey(ctx, "100000999", core.UIKey, 31*24*time.Hour)
	assert.ErrorContains(t, err, "grace")
	_, err = c.Programme(ctx, "../../etc")
	assert.ErrorContains(t, err, "not found")
}

// slowCreate holds CreateProgramme until released: a command in flight.
type slowCreate struct {
	*core.Service
	started, release chan struct{}
}

func (s slowCreate) CreateProgramme(ctx context.Context, in core.NewProgramme) (*core.CreatedProgramme, error) {
	close(s.started)
	<-s.release
	return s.Service.CreateProgramme(ctx, in)
}

// TestServeFinishesCommandsInFlight: a stopping server's control socket lets
// a command it is running finish (its answer and its audit event) before
// Serve returns, so that nothing is written after the server's last audit
// checkpoint.
func TestServeFinishesCommandsInFlight(t *testing.T) {
	db, store, svc := openService(t)
	ops := slowCreate{svc, make(chan struct{}), make(chan struct{})}
	ln, err := control.Listen(db)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- control.Serve(ctx, ln, ops, store) }()
	c, err := control.Dial(t.Context(), db)
	require.NoError(t, err)
	answered := make(chan error, 1)
	go func() {
		_, err := c.CreateProgramme(t.Context(), core.NewProgramme{Name: "Acme Cards"})
		answered <- err
	}()
	<-ops.started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a command in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(ops.release)
	require.NoError(t, <-answered, "the command in flight got its answer")
	require.NoError(t, <-served)
}

// nobody owns the strangers' sockets of the tests below.
const nobody = 65534

// serveControlAsRoot is serveControl for a test that gives files to another
// user, which only root may do; it skips the test otherwise.
func serveControlAsRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving the socket another owner needs root")
	}
	db, _ := serveControl(t)
	return db
}

// TestDialTrustsOnlyTheOwnersSocket: a socket at the database's path owned
// by a user who owns neither the database nor this process, and who could
// have put it there while no server ran, is not trusted (operator commands
// then open the database itself); one of the database's owner is.
func TestDialTrustsOnlyTheOwnersSocket(t *testing.T) {
	db, ctx := serveControlAsRoot(t), context.Background()
	_, err := control.Dial(ctx, db)
	require.NoError(t, err, "this user's socket")
	require.NoError(t, os.Lchown(control.SocketPath(db), nobody, nobody))
	_, err = control.Dial(ctx, db)
	assert.ErrorContains(t, err, "not trusted")
	require.NoError(t, os.Chown(db, nobody, nobody))
	_, err = control.Dial(ctx, db)
	assert.NoError(t, err, "the socket of the database's owner")
}

// TestClientTrustsOnlyTheOwnersSocketOnEveryDial: a Client dials its socket
// for every command, not only in Dial, so a socket put in the server's
// place after Dial (the server stopped meanwhile) is refused then too.
func TestClientTrustsOnlyTheOwnersSocketOnEveryDial(t *testing.T) {
	db, ctx := serveControlAsRoot(t), context.Background()
	c, err := control.Dial(ctx, db)
	require.NoError(t, err)

	path := control.SocketPath(db)
	require.NoError(t, os.Remove(path))
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	impostor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "not the database")
	})}
	go impostor.Serve(ln)
	t.Cleanup(func() { impostor.Close() })
	require.NoError(t, os.Lchown(path, nobody, nobody))

	var out bytes.Buffer
	_, err = c.Backup(ctx, &out)
	assert.ErrorContains(t, err, "not trusted")
	assert.Empty(t, out.String(), "the impostor's answer")
}
