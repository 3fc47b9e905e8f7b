// Package pgtest gives each test a fresh PostgreSQL database: on the server
// DEPUTY_TEST_PG_URL names (`make test` starts one for the whole run), or
// else on a throwaway server the test process starts the first time a test
// asks (initdb into a temporary directory, a Unix socket there, fsync off),
// which stops when the process ends. A database is empty (URL) or a copy of
// a template built once per process (Template), and is dropped in the
// background once its test ends; templates (and the last drops of a process)
// stay until the server goes, so DEPUTY_TEST_PG_URL should name a throwaway
// server too.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the environment variable holding the URL of a server to use
// (any database of it: tests create their own) instead of starting one.
const EnvURL = "DEPUTY_TEST_PG_URL"

// URL returns the URL of a new, empty database for tb, dropped after tb ends.
// When no PostgreSQL can be started, tb fails under CI=true and is skipped
// otherwise.
func URL(tb testing.TB) string {
	tb.Helper()
	admin := server(tb)
	name, err := createDatabase(admin, "template1")
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return use(tb, admin, name)
}

// Template is a database that Copy copies, built once per test process.
type Template struct {
	prepare func(ctx context.Context, url string) error
	once    sync.Once
	err     error
	// copies are made ahead, one at a time, so that a test seldom waits for its own.
	copies chan made
}

// made is a database made ahead, or why it could not be.
type made struct {
	name string
	err  error
}

// NewTemplate returns a template database that prepare fills, on its first Copy.
func NewTemplate(prepare func(ctx context.Context, url string) error) *Template {
	return &Template{prepare: prepare, copies: make(chan made, 1)}
}

// Copy returns the URL of a new copy of the template for tb, dropped after tb
// ends: cheaper than preparing an empty database each time. Fails and skips
// as URL does.
func (tp *Template) Copy(tb testing.TB) string {
	tb.Helper()
	admin := server(tb)
	tp.once.Do(func() {
		var name string
		if name, tp.err = createDatabase(admin, "template1"); tp.err != nil {
			return
		}
		if tp.err = tp.prepare(context.Background(), withDatabase(admin.Config().ConnString(), name)); tp.err != nil {
			return
		}
		go func() { // for the life of the process: blocked on the channel between copies
			for {
				db, err := createDatabase(admin, name)
				tp.copies <- made{db, err}
			}
		}()
	})
	if tp.err != nil {
		tb.Fatalf("pgtest: prepare the template database: %v", tp.err)
	}
	c := <-tp.copies
	if c.err != nil {
		tb.Fatalf("pgtest: %v", c.err)
	}
	return use(tb, admin, c.name)
}

// Own starts a server of tb's own, stopped when tb ends, for a test that
// stops and starts PostgreSQL (Halt, Resume) without disturbing the others;
// without PostgreSQL it ends tb as URL does.
func Own(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: %v", err)
		}
		tb.Skipf("pgtest: no PostgreSQL for this test (%v): install it with `make pg-deps`", err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	return s
}

// server returns the pool of the server's database postgres, or ends tb:
// failed under CI=true, skipped otherwise.
func server(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	admin, err := adminPool()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: %v", err)
		}
		tb.Skipf("pgtest: no PostgreSQL for this test (%v): install it with `make pg-deps`, or set %s", err, EnvURL)
	}
	return admin
}

// createDatabase creates a database as a copy of template, and names it.
func createDatabase(admin *pgxpool.Pool, template string) (string, error) {
	name := "test_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+name+" TEMPLATE "+template); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return name, nil
}

// use gives the database name to tb, dropping it when tb ends, and returns its URL.
func use(tb testing.TB, admin *pgxpool.Pool, name string) string {
	tb.Cleanup(func() { drops <- name })
	dropOnce.Do(func() { go dropAll(admin) })
	return withDatabase(admin.Config().ConnString(), name)
}

var (
	// drops are the databases of ended tests, dropped in the background (a
	// drop takes about as long as a small test): the server is throwaway,
	// so one the process leaves behind when it exits goes with the server.
	drops    = make(chan string, 16)
	dropOnce sync.Once
)

// dropAll drops the databases sent to drops, for the life of the process.
func dropAll(admin *pgxpool.Pool) {
	for name := range drops {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: drop database %s: %v\n", name, err)
		}
	}
}

// withDatabase returns the URL u with its database replaced by name.
func withDatabase(u, name string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		panic(fmt.Sprintf("pgtest: server URL: %v", err))
	}
	parsed.Path = "/" + name
	return parsed.String()
}

var (
	adminOnce sync.Once
	admin     *pgxpool.Pool
	adminErr  error
	// started is the server this process started, if any: held for the life
	// of the process, as a Server whose pipe to its reaper is garbage
	// collected stops.
	started *Server
)

// adminPool connects to the server of EnvURL, or starts one, once per process.
func adminPool() (*pgxpool.Pool, error) {
	adminOnce.Do(func() {
		u := os.Getenv(EnvURL)
		if u == "" {
			if started, adminErr = Start(); adminErr != nil {
				return
			}
			u = started.URL
		}
		admin, adminErr = pgxpool.New(context.Background(), u)
	})
	return admin, adminErr
}

// Server is a throwaway PostgreSQL server.
type Server struct {
	// URL connects to its database postgres, as the superuser postgres.
	URL    string
	dir    string
	bin    string
	cred   *syscall.Credential
	exited chan struct{} // closed when the postgres that run started exits
	reaper *exec.Cmd
	stdin  *os.File
}

// Start starts a server in a new temporary directory: initdb, then postgres
// listening only on a Unix socket in that directory, without fsync. Run as
// root, both run as the OS user postgres (initdb refuses root). The server
// stops, and the directory goes, when Stop is called or the calling process
// ends, whichever comes first: a reaper process waits for its standard input
// to close.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, errors.Join(fmt.Errorf("initdb: %w: %s", err, out), os.RemoveAll(dir))
	}
	s := &Server{dir: dir, bin: bin, cred: cred}
	if err := s.run(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}

	// The reaper stops postgres (a fast shutdown: the postmaster whose pid
	// postmaster.pid holds, so also after a Resume) and removes the
	// directory once its standard input closes: at Stop, or when this
	// process dies.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, errors.Join(err, s.Halt(), os.RemoveAll(dir))
	}
	reaper := exec.Command("/bin/sh", "-c",
		`read _; pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null); if [ -n "$pid" ]; then kill -INT "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; fi; rm -rf "$1"`,
		"pgtest-reaper", dir)
	reaper.Stdin = r
	reaper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := reaper.Start(); err != nil {
		return nil, errors.Join(err, s.Halt(), os.RemoveAll(dir))
	}
	r.Close()
	s.URL = (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres", RawQuery: "host=" + url.QueryEscape(dir)}).String()
	s.reaper, s.stdin = reaper, w
	if err := s.waitReady(30 * time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		return nil, errors.Join(err, s.Stop(), fmt.Errorf("postgres log: %s", out))
	}
	return s, nil
}

// run starts postgres on the server's data directory, listening only on a
// Unix socket there, without fsync.
func (s *Server) run() error {
	postgres := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-c", "listen_addresses=", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "log_min_messages=fatal")
	postgres.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	log, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	postgres.Stdout, postgres.Stderr = log, log
	if err := postgres.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { // reaps the process, which Halt or the reaper stops
		_ = postgres.Wait()
		close(exited)
	}()
	return nil
}

// Halt stops postgres (a fast shutdown: connections are cut) and keeps its
// data, for a test of what a server does while its database is down.
func (s *Server) Halt() error {
	raw, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		return fmt.Errorf("postgres is not running: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	if err != nil {
		return fmt.Errorf("postmaster.pid: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("postgres %d did not stop", pid)
	}
}

// Resume starts postgres again on its data after Halt, and waits until it
// accepts connections.
func (s *Server) Resume() error {
	if err := s.run(); err != nil {
		return err
	}
	return s.waitReady(30 * time.Second)
}

// Dir is the server's directory: its data, socket and log.
func (s *Server) Dir() string { return s.dir }

// Stop stops the server and removes its directory.
func (s *Server) Stop() error {
	s.stdin.Close()
	return s.reaper.Wait()
}

// waitReady waits until the server accepts connections.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.URL)
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not start within %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// binDir finds PostgreSQL's programs: Debian's newest /usr/lib/postgresql/N/bin,
// or else the directory of initdb on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	for _, d := range slices.Backward(dirs) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL's initdb is neither in /usr/lib/postgresql/*/bin nor on PATH")
}

// version is the N of /usr/lib/postgresql/N/bin.
func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// credential is, for root, the OS user postgres, to whom dir is handed; nil
// (this process's user) otherwise.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the OS user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// CPU is the CPU time, user and kernel, that the server's processes have
// used so far: the postmaster and its live children (connection backends,
// background workers), and the children it has reaped. Benchmarks read it
// before and after a run, for PostgreSQL's share of the cost per operation.
// Linux only (/proc), and the server must run on this machine.
func CPU(tb testing.TB) time.Duration {
	tb.Helper()
	var dir string
	if err := server(tb).QueryRow(context.Background(), `SHOW data_directory`).Scan(&dir); err != nil {
		tb.Fatalf("pgtest: data directory: %v", err)
	}
	pidFile, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	postmaster, _, _ := strings.Cut(string(pidFile), "\n")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	var ticks int64
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // not a process, or one that just ended
		}
		// After the command's name in parentheses: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
		_, rest, ok := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 15 || (e.Name() != postmaster && f[1] != postmaster) {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is Linux's USER_HZ, the unit of /proc's CPU times.
const clockTicks = 100
