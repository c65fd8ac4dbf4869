//go:build !unix

package kernels

import "time"

// cpuTime is unavailable here; benchmarks then skip the per-core metrics.
func cpuTime() time.Duration { return 0 }
