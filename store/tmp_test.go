package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSweepTmp: what dead runs left in tmp/ is removed, what live runs are
// writing is not, and two sweeps at once remove each leftover once.
func TestSweepTmp(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "models"))
	tmp := filepath.Join(s.Root(), tmpDir)
	mk := func(name string, lock bool) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(tmp, name, "model"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tmp, name, "model", "weights.symb"), make([]byte, 4096), 0o644)
		if lock {
			os.WriteFile(filepath.Join(tmp, name+lockSuffix), nil, 0o600)
		}
	}
	mk("fetch-dead", true) // a crashed fetch: its lock file, no owner
	mk("rm-dead", true)    // a crashed removal
	mk("fetch-old", false) // an older symbc's leftover, hours old
	old := time.Now().Add(-2 * locklessAge)
	os.Chtimes(filepath.Join(tmp, "fetch-old"), old, old)
	mk("fetch-new", false) // lockless but fresh: perhaps an older symbc at work
	os.WriteFile(filepath.Join(tmp, "fetch-gone"+lockSuffix), nil, 0o600)

	// A live run elsewhere: its lock is held.
	live, release, err := s.workDir(context.Background(), "fetch-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(live, "x"), []byte("in progress"), 0o644)

	var wg sync.WaitGroup
	got := make([][]string, 2)
	for i := range got {
		wg.Go(func() { got[i] = s.sweepTmp() })
	}
	wg.Wait()
	all := append(got[0], got[1]...)
	slices.Sort(all)
	if want := []string{"fetch-dead", "fetch-old", "rm-dead"}; !slices.Equal(all, want) {
		t.Errorf("two sweeps removed %v, want each of %v once", all, want)
	}
	var left []string
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	base := filepath.Base(live)
	if want := []string{base, base + lockSuffix, "fetch-new"}; !slices.Equal(left, sortedCopy(want)) {
		t.Errorf("tmp/ holds %v, want %v", left, sortedCopy(want))
	}
	if b, err := os.ReadFile(filepath.Join(live, "x")); err != nil || string(b) != "in progress" {
		t.Errorf("the live run's folder was touched: %q %v", b, err)
	}

	// Once the live run ends, nothing of it remains. (A killed run's
	// folder is swept by the next run: cmd/symbc's
	// TestStorePullSurvivesSIGKILL kills real processes.)
	release()
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 || ents[0].Name() != "fetch-new" {
		t.Errorf("after release tmp/ holds %v", ents)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
