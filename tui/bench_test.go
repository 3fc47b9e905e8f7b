package tui

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server/client"
)

// Figures for an identity with many users (issue 7): the time from launch to
// the first painted users table with 100,000 users on the server (target:
// under 300 ms), and the memory of the TUI process. `make bench` runs
//
//	go test ./tui -run '^$' -bench . -benchtime 5x
//
// The server is a test server (internal/testserver: bbolt in a temporary
// directory, HTTP on loopback) with the production password hashing
// (argon2id, m=19 MiB, t=2), so a sign-in costs what it costs in production.
// The users are written straight into the store (testserver.Instance.SeedUsers):
// creating them through the API would take minutes.
//
//   - in-process: the program (Bubble Tea's event loop and renderer, the
//     system clock) signs in with the email and password given, as `deputy
//     demo` does, and the clock stops when the renderer writes the table's
//     last row to the program's output. The server shares the process.
//   - process (Linux): the admin UI runs as its own process on a
//     pseudo-terminal of 80x24, as `deputy admin` does in a terminal; the
//     benchmark types the password as soon as the sign-in screen is painted
//     and reads the process's VmRSS and VmHWM (/proc/<pid>/status) once the
//     table is painted. The process is this test binary run again
//     (TestAdminProcess), or the `deputy` binary named by DEPUTY_BIN (`make
//     build` builds ./deputy).

// benchUsers is how many users the identity has.
const benchUsers = 100_000

// benchWidth and benchHeight are the terminal's size.
const (
	benchWidth  = 80
	benchHeight = 24
)

// benchServer is a running Deputy whose admin's identity has benchUsers users.
type benchServer struct {
	url, uiKey string
	// lastRow is the email on the last row of the table's first page: once
	// it is written, the whole table has been painted.
	lastRow string
}

func BenchmarkFirstTable(b *testing.B) {
	srv := startBenchServer(b)
	b.Run("in-process", func(b *testing.B) {
		var total, worst time.Duration
		n := 0
		for b.Loop() {
			d := firstTableInProcess(b, srv)
			total, worst, n = total+d, max(worst, d), n+1
		}
		b.ReportMetric(ms(total)/float64(n), "ms/first-table")
		b.ReportMetric(ms(worst), "ms-worst")
	})
	b.Run("process", func(b *testing.B) { benchProcess(b, srv) })
	b.Run("calls", func(b *testing.B) { benchCalls(b, srv) })
}

// benchCalls times the calls the UI makes between the password and the
// table, one after the other: the sign-in (argon2id), the first page of
// users with their count, and the admin's identity for the status line (the
// UI makes the last two at the same time).
func benchCalls(b *testing.B, srv benchServer) {
	c, err := client.New(srv.url, srv.uiKey)
	require.NoError(b, err)
	ctx := context.Background()
	rows := usersScreen{h: benchHeight - 5}.rows()
	var login, list, corp time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		l, err := c.LoginWithPassword(ctx, adminEmail, adminPassword)
		require.NoError(b, err)
		t1 := time.Now()
		s := c.Session(l.Token)
		page, err := s.ListUsers(ctx, client.UserFilter{Limit: rows})
		require.NoError(b, err)
		require.Equal(b, benchUsers, page.Count)
		t2 := time.Now()
		_, err = s.Corporate(ctx)
		require.NoError(b, err)
		t3 := time.Now()
		login, list, corp, n = login+t1.Sub(t0), list+t2.Sub(t1), corp+t3.Sub(t2), n+1
	}
	f := float64(n)
	b.ReportMetric(ms(login)/f, "ms/sign-in")
	b.ReportMetric(ms(list)/f, "ms/list-users")
	b.ReportMetric(ms(corp)/f, "ms/corporate")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startBenchServer starts Deputy with the admin of startDeputy and seeds
// benchUsers users into their identity.
func startBenchServer(b *testing.B) benchServer {
	b.Helper()
	dep := startDeputyWith(b, testserver.Options{Config: core.Config{PasswordParams: password.DefaultParams}})
	ctx := context.Background()
	corp, err := dep.admin.Corporate(ctx)
	require.NoError(b, err)
	dep.inst.SeedUsers(b, corp.ID.ID, benchUsers)

	rows := usersScreen{h: benchHeight - 5}.rows()
	page, err := dep.admin.ListUsers(ctx, client.UserFilter{Limit: rows})
	require.NoError(b, err)
	require.Equal(b, benchUsers, page.Count)
	require.Len(b, page.Users, rows)
	return benchServer{url: dep.inst.URL, uiKey: dep.inst.UIKey, lastRow: page.Users[rows-1].Email}
}

// firstTableInProcess runs the program until it paints the users table and
// returns how long that took from its start.
func firstTableInProcess(b *testing.B, srv benchServer) time.Duration {
	b.Helper()
	w := newPaintWatch(srv.lastRow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	c, err := client.New(srv.url, srv.uiKey, client.WithUserAgent("deputy-admin/1"))
	require.NoError(b, err)
	p := tea.NewProgram(newModel(Options{Client: c, Email: adminEmail, Password: adminPassword, Sandbox: true}, systemClock{}, time.Local),
		tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(w),
		tea.WithWindowSize(benchWidth, benchHeight), tea.WithoutSignalHandler(),
		tea.WithColorProfile(colorprofile.ANSI256), tea.WithEnvironment([]string{"TERM=xterm-256color"}))
	done := make(chan error, 1)
	go func() {
		_, err := p.Run()
		done <- err
	}()
	at, ok := w.wait(srv.lastRow, 30*time.Second)
	if !ok {
		cancel()
		<-done
		b.Fatalf("the users table was not painted within 30s")
	}
	p.Quit()
	require.NoError(b, <-done)
	return at.Sub(start)
}

// paintWatch is a program's output: it notes when each of its markers is
// first written, also across writes.
type paintWatch struct {
	mu      sync.Mutex
	markers [][]byte
	seen    map[string]time.Time
	tail    []byte
	changed chan struct{} // closed and replaced when a marker is seen
}

func newPaintWatch(markers ...string) *paintWatch {
	w := &paintWatch{seen: map[string]time.Time{}, changed: make(chan struct{})}
	for _, m := range markers {
		w.markers = append(w.markers, []byte(m))
	}
	return w
}

// keep is how much of the output is kept for a marker that spans writes.
const keep = 256

func (w *paintWatch) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append(append([]byte{}, w.tail...), p...)
	found := false
	for _, m := range w.markers {
		if _, ok := w.seen[string(m)]; !ok && bytes.Contains(buf, m) {
			w.seen[string(m)], found = now, true
		}
	}
	if found {
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.tail = buf[max(0, len(buf)-keep):]
	return len(p), nil
}

// wait returns when marker was first written, waiting up to timeout.
func (w *paintWatch) wait(marker string, timeout time.Duration) (time.Time, bool) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		at, ok := w.seen[marker]
		changed := w.changed
		w.mu.Unlock()
		if ok {
			return at, true
		}
		select {
		case <-changed:
		case <-deadline:
			return time.Time{}, false
		}
	}
}

// TestAdminProcess is the admin UI's process for BenchmarkFirstTable, which
// runs this test binary again with DEPUTY_TUI_BENCH_CHILD=1 on a
// pseudo-terminal; otherwise it is skipped. Like `deputy admin`, it reads
// the server, ui key and email from DEPUTY_SERVER, DEPUTY_KEY and
// DEPUTY_EMAIL and waits for the password to be typed.
func TestAdminProcess(t *testing.T) {
	if os.Getenv("DEPUTY_TUI_BENCH_CHILD") != "1" {
		t.Skip("the admin UI's process for BenchmarkFirstTable")
	}
	c, err := client.New(os.Getenv("DEPUTY_SERVER"), os.Getenv("DEPUTY_KEY"), client.WithUserAgent("deputy-admin/1"))
	require.NoError(t, err)
	require.NoError(t, Run(context.Background(), Options{Client: c, Email: os.Getenv("DEPUTY_EMAIL"), Sandbox: true}))
}
