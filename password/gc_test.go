package password_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/password"
)

// TestTuneGC sets the collector for hashing and puts it back; GOGC or
// GOMEMLIMIT set by the operator win.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(before)
	restore := password.TuneGC(512 << 20)
	assert.Equal(t, password.GCPercent, debug.SetGCPercent(-1))
	debug.SetGCPercent(password.GCPercent)
	assert.Equal(t, int64(512<<20), debug.SetMemoryLimit(-1))
	restore()
	assert.Equal(t, before, debug.SetGCPercent(-1))
	debug.SetGCPercent(before)
	assert.Equal(t, limit, debug.SetMemoryLimit(-1))

	t.Setenv("GOGC", "150")
	restore = password.TuneGC(512 << 20)
	assert.Equal(t, before, debug.SetGCPercent(-1), "the operator's GOGC stays")
	debug.SetGCPercent(before)
	restore()
}
