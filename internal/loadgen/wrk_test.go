package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A report wrk 4.1 printed for a run against `deputy serve`.
const wrkReport = `Running 12s test @ http://127.0.0.1:18080/multi/corporates
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.94ms    1.12ms  15.79ms   88.15%
    Req/Sec    11.75k     2.69k   18.52k    69.42%
  Latency Distribution
     50%  535.00us
     75%    1.18ms
     90%    2.28ms
     99%    5.36ms
  141439 requests in 12.10s, 72.43MB read
Requests/sec:  11687.18
Transfer/sec:      5.99MB
`

func TestParseWrk(t *testing.T) {
	res, err := parseWrk(wrkReport)
	require.NoError(t, err)
	assert.Equal(t, 141439, res.Requests)
	assert.Equal(t, 12100*time.Millisecond, res.Elapsed)
	assert.Equal(t, 535*time.Microsecond, res.P50)
	assert.Equal(t, 5360*time.Microsecond, res.P99)
	assert.Equal(t, 15790*time.Microsecond, res.Max)
	assert.Zero(t, res.Errors)
	assert.InDelta(t, 11689, res.PerSecond(), 1)
}

func TestParseWrkCountsErrors(t *testing.T) {
	report := wrkReport[:len(wrkReport)-len("Requests/sec:  11687.18\nTransfer/sec:      5.99MB\n")] +
		"  Socket errors: connect 0, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 40\nRequests/sec:  11687.18\n"
	res, err := parseWrk(report)
	require.NoError(t, err)
	assert.Equal(t, 45, res.Errors)
	assert.EqualError(t, res.FirstErr, "2 socket errors (read)")
}

func TestParseWrkRefusesOtherOutput(t *testing.T) {
	_, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n")
	assert.ErrorContains(t, err, "without request count")
	_, err = parseWrk("  Latency Distribution\n     50%  fast\n")
	assert.ErrorContains(t, err, `"     50%  fast"`)
}

func TestStealPercent(t *testing.T) {
	before, err := parseHostCPU("cpu  1277052 2474 162710 792197 18060 0 14170 68928 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	require.NoError(t, err)
	// 300 ticks busy, 300 idle, 400 stolen.
	after, err := parseHostCPU("cpu  1277252 2474 162760 792397 18160 0 14220 69328 0 0\n")
	require.NoError(t, err)
	assert.InDelta(t, 40.0, before.StealPercent(after), 1e-9)
	assert.Zero(t, before.StealPercent(before))

	_, err = parseHostCPU("intr 1 2 3\n")
	assert.Error(t, err)
	first, err := ReadHostCPU()
	require.NoError(t, err, "this machine has /proc/stat")
	second, err := ReadHostCPU()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, first.StealPercent(second), 0.0)
	assert.LessOrEqual(t, first.StealPercent(second), 100.0)
}
