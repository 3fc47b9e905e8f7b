//go:build !linux

package testserver

import "testing"

// SmallDisk skips the test: only Linux tests mount a tmpfs to fill.
func SmallDisk(tb testing.TB, size int) string {
	tb.Helper()
	tb.Skip("the full-disk test mounts a tmpfs, which needs Linux")
	return ""
}
