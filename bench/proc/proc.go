// Package proc reads a process's CPU time and resident memory from Linux's
// /proc, for the benchmarks that measure the server as a process of its own.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// TicksPerSecond is the clock tick /proc counts CPU time in (USER_HZ).
const TicksPerSecond = 100

// CPUTicks is pid's user+system time in clock ticks; 0 when it cannot be read.
func CPUTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// RSSKB is pid's resident set in KiB; 0 when it cannot be read.
func RSSKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
