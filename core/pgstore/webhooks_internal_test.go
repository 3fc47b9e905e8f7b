package pgstore

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
)

// TestDueQueryWindowsOnlyABindingCap: the "anything due?" checks, whose
// per-endpoint cap cannot bind (limit 1, or a cap at the limit), read the
// due index up to the limit; only a cap below the limit numbers every due
// row in a window.
func TestDueQueryWindowsOnlyABindingCap(t *testing.T) {
	s, err := Open(t.Context(), pgtest.URL(t), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	plan := func(limit, perEndpoint int) string {
		t.Helper()
		sql, args := dueQuery(time.Now(), limit, perEndpoint, []string{"we_1"})
		var p string
		require.NoError(t, s.pool.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&p))
		return p
	}
	windowed := func(limit, perEndpoint int) bool { return strings.Contains(plan(limit, perEndpoint), "WindowAgg") }
	assert.False(t, windowed(1, 1), "limit 1")
	assert.False(t, windowed(200, 200), "a cap at the limit")
	assert.True(t, windowed(200, 50), "a cap below the limit")
}
