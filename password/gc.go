package password

import (
	"os"
	"runtime/debug"
)

// GC settings for a process that hashes passwords and serves requests. The
// hashes make no garbage (their work areas are reused), but the requests'
// allocations still start collections that take the cores from hashes and
// writes alike. GCPercent makes them rarer: from outside, on the 2-core test
// machine, user creations ran at 4,900-5,100/s with Go's default GOGC of 100
// and at 7,000-7,400/s with it (make bench-external, 2026-12-07), for a
// larger heap. DefaultMemoryLimit makes the collector work harder before the
// heap grows past it, whatever the load.
const (
	GCPercent          = 400
	DefaultMemoryLimit = 1 << 30 // bytes
)

// TuneGC sets GCPercent and a soft memory limit of limit bytes, each unless
// the operator set it with GOGC or GOMEMLIMIT. It returns a function that
// puts back what it changed (for tests and benchmarks).
func TuneGC(limit int64) (restore func()) {
	var undo []func()
	if os.Getenv("GOGC") == "" {
		prev := debug.SetGCPercent(GCPercent)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(limit)
		undo = append(undo, func() { debug.SetMemoryLimit(prev) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}
