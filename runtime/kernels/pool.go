package kernels

import (
	"runtime"
	"sync"
)

// Pool splits kernel work across goroutines. It holds no goroutines between
// calls, so it needs no Close and is safe for concurrent use by any number of
// callers; each call fans out to at most Threads goroutines.
type Pool struct {
	n    int
	simd bool // use the assembly kernels; false forces the portable path

	// bufs recycles per-call scratch (padded inputs, panels) so that decoding
	// a token does not allocate on every product.
	bufs sync.Pool
}

// NewPool returns a pool that uses n goroutines per call; n ≤ 0 means
// runtime.GOMAXPROCS(0). The assembly kernels are used when the CPU has them.
func NewPool(n int) *Pool {
	return newPool(n, haveSIMD)
}

// newPool lets tests pick the portable path on machines that have SIMD.
func newPool(n int, simd bool) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Pool{n: n, simd: simd && haveSIMD}
}

// Threads reports how many goroutines a call may use.
func (p *Pool) Threads() int { return p.n }

// SIMD reports whether this pool runs the assembly kernels.
func (p *Pool) SIMD() bool { return p.simd }

// minWorkPerThread is the number of weight elements below which splitting a
// call across goroutines costs more than it saves (a goroutine start and join
// is on the order of a microsecond, about 16k multiply-adds).
const minWorkPerThread = 1 << 15

// split runs fn over [0, total) cut into at most p.n contiguous chunks whose
// boundaries are multiples of align. work is the total number of inner
// operations, used to decide how many goroutines are worth starting. Chunk
// boundaries never change what a single item computes, so results do not
// depend on the thread count.
func (p *Pool) split(total, align int, work int64, fn func(lo, hi int)) {
	if total <= 0 {
		return
	}
	t := p.n
	if w := work / minWorkPerThread; w < int64(t) {
		t = int(max(w, 1))
	}
	units := (total + align - 1) / align
	t = min(t, units)
	if t <= 1 {
		fn(0, total)
		return
	}
	var wg sync.WaitGroup
	per, extra := units/t, units%t
	lo := 0
	for i := range t {
		u := per
		if i < extra {
			u++
		}
		hi := min(lo+u*align, total)
		if i == t-1 {
			fn(lo, hi) // the caller's goroutine takes the last chunk
			break
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
		lo = hi
	}
	wg.Wait()
}

// scratch holds reusable buffers handed out by getBuf.
type scratch struct {
	f []float32
	h []int16
	d []int32
}

// ints sizes the integer buffers of s to nh and nd elements.
func (s *scratch) ints(nh, nd int) {
	if cap(s.h) < nh {
		s.h = make([]int16, nh)
	}
	if cap(s.d) < nd {
		s.d = make([]int32, nd)
	}
	s.h, s.d = s.h[:nh], s.d[:nd]
}

// getBuf returns a buffer of at least n floats (contents undefined); give it
// back with putBuf.
func (p *Pool) getBuf(n int) *scratch {
	s, _ := p.bufs.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	if cap(s.f) < n {
		s.f = make([]float32, n)
	}
	s.f = s.f[:n]
	return s
}

func (p *Pool) putBuf(s *scratch) { p.bufs.Put(s) }
