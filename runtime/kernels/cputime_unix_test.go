//go:build unix

package kernels

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time of the process so far. Benchmarks
// divide work by it to get per-core rates that hold up when other processes
// share the machine (wall-clock rates do not).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
