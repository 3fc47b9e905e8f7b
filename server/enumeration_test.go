package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// medianTimes calls each of the calls rounds times, interleaved (in turn,
// the order alternating each round so that drift hits all alike), and returns
// the median duration of each. A call must answer want.
func medianTimes(t *testing.T, rounds, want int, calls ...func() resp) []time.Duration {
	t.Helper()
	samples := make([][]time.Duration, len(calls))
	for round := range rounds {
		for j := range calls {
			i := j
			if round%2 == 1 {
				i = len(calls) - 1 - j
			}
			start := time.Now()
			r := calls[i]()
			samples[i] = append(samples[i], time.Since(start))
			require.Equal(t, want, r.status, "%s", r.body)
		}
	}
	medians := make([]time.Duration, len(calls))
	for i, s := range samples {
		slices.Sort(s)
		medians[i] = s[len(s)/2]
	}
	return medians
}

// assertSameTime fails when two medians differ by a factor of two or more:
// loose enough for a loaded two-core machine, tight enough to catch a
// store transaction (a disk sync) done for one kind of email only, which
// makes the difference a factor of four or more with the test's cheap
// password hashes. TestSignInWorkIsTheSameForEveryEmail checks the work exactly.
func assertSameTime(t *testing.T, what string, a, b time.Duration) {
	t.Helper()
	ratio := float64(max(a, b)) / float64(min(a, b))
	t.Logf("%s: medians %v and %v (ratio %.2f)", what, a, b, ratio)
	assert.Less(t, ratio, 2.0, "%s: medians %v and %v", what, a, b)
}

// TestUnknownAndKnownEmailsTakeTheSameTime compares, over real HTTP, the
// timing distributions of a wrong password for a user and a sign-in to an
// unknown email, and of a password reset started for each, outside sandbox
// (where a reset's work follows its answer).
func TestUnknownAndKnownEmailsTakeTheSameTime(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.LockoutThreshold, c.Sandbox = 1<<30, false })
	e.corporate("root@acme.test")
	const rounds = 41
	m := medianTimes(t, rounds, http.StatusForbidden,
		func() resp { return e.login("root@acme.test", "Wr0ng-Passw0rd") },
		func() resp { return e.login("nobody@acme.test", "Wr0ng-Passw0rd") })
	assertSameTime(t, "failed sign-in", m[0], m[1])

	m = medianTimes(t, rounds, http.StatusNoContent,
		func() resp {
			return e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "root@acme.test"})
		},
		func() resp {
			return e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "nobody@acme.test"})
		})
	assertSameTime(t, "lost-password start", m[0], m[1])
}
