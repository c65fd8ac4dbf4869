// Package workers holds the one rule for settings that count goroutines
// (--jobs, --threads, WithJobs, WithThreads): 0 means one per CPU
// (GOMAXPROCS), a positive number is taken as is, a negative one is an
// error.
package workers

import (
	"fmt"
	"runtime"
)

// Count is the number of goroutines a valid setting n means: n, or
// GOMAXPROCS when n is 0 (or, for callers that checked nothing, negative).
func Count(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// Check refuses a negative setting; what names it in the error ("jobs").
func Check(what string, n int) error {
	if n < 0 {
		return fmt.Errorf("%s is %d, want 0 (one per CPU) or a positive count", what, n)
	}
	return nil
}
