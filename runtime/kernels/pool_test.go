package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestRunConcurrentCallers drives one pool from several goroutines at once
// (sessions of one model do) and checks every call covers each item exactly
// once with one share per thread index, before and after Close.
func TestRunConcurrentCallers(t *testing.T) {
	p := newPool(3, Generic)
	check := func(total int) {
		counts := make([]atomic.Int32, total)
		var shares [3]atomic.Int32
		p.Run(total, 1, 1<<40, func(w, lo, hi int) {
			shares[w].Add(1)
			for i := lo; i < hi; i++ {
				counts[i].Add(1)
			}
		})
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Errorf("total %d: item %d covered %d times", total, i, c)
				return
			}
		}
		for w := range shares {
			if c := shares[w].Load(); c > 1 {
				t.Errorf("total %d: share %d ran %d times", total, w, c)
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				check(1 + (g*300+i)%97)
			}
		})
	}
	wg.Wait()
	p.Close()
	p.Close() // a second Close is harmless
	check(50)
}
