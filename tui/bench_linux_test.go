//go:build linux

package tui

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// benchProcess runs the admin UI as its own process on a pseudo-terminal,
// types the password once the sign-in screen is painted, and reports how
// long each step took and the process's memory once the table is painted.
func benchProcess(b *testing.B, srv benchServer) {
	var launch, typed, total time.Duration
	var rss, hwm float64
	n := 0
	for b.Loop() {
		r := firstTableProcess(b, srv)
		launch, typed, total = launch+r.signIn, typed+r.table-r.typedAt, total+r.table
		rss, hwm = max(rss, r.rssMiB), max(hwm, r.hwmMiB)
		n++
	}
	f := float64(n)
	b.ReportMetric(ms(total)/f, "ms/first-table")
	b.ReportMetric(ms(launch)/f, "ms/sign-in-screen")
	b.ReportMetric(ms(typed)/f, "ms/enter-to-table")
	b.ReportMetric(rss, "MiB-VmRSS")
	b.ReportMetric(hwm, "MiB-VmHWM")
}

// processRun is what one run of the admin UI's process measured, from its start.
type processRun struct {
	signIn  time.Duration // the sign-in screen painted
	typedAt time.Duration // the password and enter typed
	table   time.Duration // the users table painted
	rssMiB  float64       // VmRSS with the table on screen
	hwmMiB  float64       // VmHWM (peak RSS) by then
}

func firstTableProcess(b *testing.B, srv benchServer) processRun {
	b.Helper()
	master, slave, err := openPTY(benchWidth, benchHeight)
	require.NoError(b, err)
	defer master.Close()

	var cmd *exec.Cmd
	if bin := os.Getenv("DEPUTY_BIN"); bin != "" {
		cmd = exec.Command(bin, "admin", "--server", srv.url, "--key", srv.uiKey, "--email", adminEmail)
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^TestAdminProcess$", "-test.count=1")
		cmd.Env = append(cmd.Env, "DEPUTY_TUI_BENCH_CHILD=1", "DEPUTY_SERVER="+srv.url, "DEPUTY_KEY="+srv.uiKey, "DEPUTY_EMAIL="+adminEmail)
	}
	cmd.Env = append(cmd.Env, "TERM=xterm-256color", "HOME="+b.TempDir(), "PATH="+os.Getenv("PATH"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}

	const signInMarker = "Sign in to Deputy"
	w := newPaintWatch(signInMarker, srv.lastRow)
	copied := make(chan struct{})
	start := time.Now()
	require.NoError(b, cmd.Start())
	slave.Close()
	go func() {
		defer close(copied)
		_, _ = io.Copy(w, master) // until the process is gone (EIO)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	var r processRun
	at, ok := w.wait(signInMarker, 30*time.Second)
	require.True(b, ok, "the sign-in screen was not painted within 30s")
	r.signIn = at.Sub(start)
	_, err = master.WriteString(adminPassword + "\r")
	require.NoError(b, err)
	r.typedAt = time.Since(start)
	at, ok = w.wait(srv.lastRow, 30*time.Second)
	require.True(b, ok, "the users table was not painted within 30s")
	r.table = at.Sub(start)
	r.rssMiB, r.hwmMiB = procMemory(b, cmd.Process.Pid)

	_, _ = master.WriteString("\x03") // ctrl+c quits
	select {
	case err := <-exited:
		require.NoError(b, err, "the admin UI's exit")
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		b.Fatal("the admin UI did not quit on ctrl+c")
	}
	master.Close()
	<-copied
	return r
}

// procMemory reads VmRSS and VmHWM of process pid, in MiB.
func procMemory(b *testing.B, pid int) (rss, hwm float64) {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		require.NoError(b, err)
		if name == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	require.NoError(b, sc.Err())
	return rss, hwm
}

// openPTY opens a pseudo-terminal of width x height: the master side for the
// benchmark, the slave side for the process.
func openPTY(width, height int) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlockpt: %w", err))
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("ptsname: %w", err))
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(height), Col: uint16(width)}); err != nil {
		slave.Close()
		return fail(fmt.Errorf("set window size: %w", err))
	}
	return master, slave, nil
}
