package testserver

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

// SmallDisk mounts a tmpfs of size bytes on a fresh directory, for tests of a
// full disk, and unmounts it when the test ends. It skips the test where no
// tmpfs can be mounted (not root, or a container without CAP_SYS_ADMIN).
func SmallDisk(tb testing.TB, size int) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "deputy-small-disk-")
	if err != nil {
		tb.Fatalf("small disk: %v", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		os.Remove(dir)
		tb.Skipf("cannot mount a tmpfs to fill (%v): the full-disk test needs root with CAP_SYS_ADMIN", err)
	}
	tb.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
		os.Remove(dir)
	})
	return dir
}
