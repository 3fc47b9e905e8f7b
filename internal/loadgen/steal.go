package loadgen

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// HostCPU is a reading of the machine's CPU time counters (Linux /proc/stat).
// On a virtual machine, the steal counter grows while the hypervisor runs other
// guests on this machine's cores: throughput measured meanwhile is lower by
// about that share, and latency higher. Benchmarks report it next to their figures.
type HostCPU struct {
	busy, idle, steal uint64
}

// ReadHostCPU reads the counters now.
func ReadHostCPU() (HostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return HostCPU{}, err
	}
	return parseHostCPU(string(b))
}

// parseHostCPU reads the first line of /proc/stat:
// cpu user nice system idle iowait irq softirq steal ...
func parseHostCPU(stat string) (HostCPU, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return HostCPU{}, errors.New("/proc/stat: no cpu line with a steal column")
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return HostCPU{}, err
		}
		v[i] = n
	}
	return HostCPU{busy: v[0] + v[1] + v[2] + v[5] + v[6], idle: v[3] + v[4], steal: v[7]}, nil
}

// StealPercent is the share of the time between h and a later reading that
// was stolen by the hypervisor.
func (h HostCPU) StealPercent(later HostCPU) float64 {
	steal := later.steal - h.steal
	total := later.busy - h.busy + later.idle - h.idle + steal
	if total == 0 {
		return 0
	}
	return 100 * float64(steal) / float64(total)
}
