package password

import (
	"os"
	"runtime/debug"
)

// GC settings for a process that hashes passwords. Each argon2id hash
// allocates Params.Memory (19 MiB) and drops it at once, so with Go's default
// GOGC of 100 and a small live heap nearly every hash starts a collection,
// which then competes with the next hashes for the cores: sign-ins reached
// 84% of the raw hash rate on the 2-core test machine. With GCPercent the
// garbage of a few hashes gathers first (90-93%, make bench), and
// DefaultMemoryLimit makes the collector work harder before the heap grows
// past it, whatever the load.
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
