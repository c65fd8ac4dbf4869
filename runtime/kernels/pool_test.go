package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestIdleWorkersExit checks that a pool nobody closes gives its goroutines
// back after idleExit and starts them again on the next call.
func TestIdleWorkersExit(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPool(3, Generic)
	var n atomic.Int32
	p.Run(3, 1, 1<<40, func(w, lo, hi int) { n.Add(int32(hi - lo)) })
	deadline := time.Now().Add(idleExit + 5*time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines %v after the last call, %d before", g, idleExit+5*time.Second, before)
	}
	p.Run(3, 1, 1<<40, func(w, lo, hi int) { n.Add(int32(hi - lo)) })
	if n.Load() != 6 {
		t.Fatalf("covered %d items in two calls of 3", n.Load())
	}
}
