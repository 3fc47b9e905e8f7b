package loadgen

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVmHWM(t *testing.T) {
	got, err := parseVmHWM("Name:\tdeputy\nVmPeak:\t 1933204 kB\nVmHWM:\t  271840 kB\nVmRSS:\t  120004 kB\n")
	require.NoError(t, err)
	assert.Equal(t, int64(271840*1024), got)

	_, err = parseVmHWM("Name:\tkthreadd\nVmRSS:\t 0 kB\n")
	assert.ErrorContains(t, err, "no VmHWM")
	_, err = parseVmHWM("VmHWM:\t 12 MB\n")
	assert.ErrorContains(t, err, "not in kB")
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250, stime 75 ticks.
	stat := "4242 (dep uty) x) S 1 4242 4242 0 -1 4194560 3000 0 0 0 250 75 0 0 20 0 9 0 100 2000000 5000 18446744073709551615\n"
	got, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, 3250*time.Millisecond, got)

	_, err = parseStatCPU("4242 (deputy) S 1 2")
	assert.ErrorContains(t, err, "too few fields")
}

func TestProcOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	peak, err := PeakRSS(pid)
	require.NoError(t, err, "this machine has /proc")
	assert.Positive(t, peak)
	require.NoError(t, ResetPeakRSS(pid))
	after, err := PeakRSS(pid)
	require.NoError(t, err)
	assert.Positive(t, after)
	cpu, err := ProcessCPU(pid)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cpu, time.Duration(0))
}
