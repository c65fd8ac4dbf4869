package workers

import (
	"runtime"
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	t.Parallel()
	if got := Count(0); got != runtime.GOMAXPROCS(0) {
		t.Errorf("Count(0) = %d, want GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}
	if got := Count(3); got != 3 {
		t.Errorf("Count(3) = %d", got)
	}
	if err := Check("jobs", 0); err != nil {
		t.Errorf("Check(0): %v", err)
	}
	if err := Check("jobs", -1); err == nil || !strings.Contains(err.Error(), "jobs is -1") {
		t.Errorf("Check(-1): %v", err)
	}
}
