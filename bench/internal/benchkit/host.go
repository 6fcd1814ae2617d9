package benchkit

import (
	"fmt"
	"os"
	"strings"
)

// CPUs returns the number of processors in /proc/cpuinfo (0 when it
// cannot be read): the machine's, whatever GOMAXPROCS says.
func CPUs() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "processor\t:")
}

// Host describes the machine for a report: "N CPUs, load average A B C at
// the end", read from /proc (call it when the measurements are done).
func Host() string {
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs, load average %s at the end", CPUs(), load)
}
