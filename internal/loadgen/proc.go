package loadgen

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A server under load in its own process is measured through Linux's /proc:
// its peak memory and the CPU time it used.

// PeakRSS is the most memory the process pid has held resident, in bytes,
// since it started or since ResetPeakRSS (VmHWM in /proc/pid/status).
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// ResetPeakRSS makes the process's resident size now its peak, so that the
// next PeakRSS tells the peak of what happened in between (Linux 4.0 or later).
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// parseVmHWM reads the line "VmHWM:   123456 kB" of /proc/pid/status.
func parseVmHWM(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: VmHWM line %q is not in kB", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: VmHWM: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("/proc status: no VmHWM line")
}

// ProcessCPU is the CPU time the process pid has used so far, in user and
// kernel mode, all its threads together (/proc/pid/stat).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// clockTick is Linux's USER_HZ, the unit of /proc's CPU times: 100 on every
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// parseStatCPU adds up utime and stime, the 14th and 15th fields of
// /proc/pid/stat. The second field, the command name in parentheses, may hold
// spaces and parentheses itself, so fields are counted after its last ")".
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is the 3rd field, the state
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// SelfCPU is the CPU time this process has used so far, in user and kernel
// mode, to the microsecond (getrusage, finer than /proc's ticks).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
