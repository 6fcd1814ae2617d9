// Package host describes the machine a benchmark ran on, for its report.
package host

import (
	"fmt"
	"os"
	"strings"
)

// Describe returns "N CPUs, load average A B C at the end", read from /proc.
func Describe() string {
	cpus := 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpus = strings.Count(string(data), "processor\t:")
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs, load average %s at the end", cpus, load)
}
