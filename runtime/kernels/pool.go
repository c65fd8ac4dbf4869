package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool splits kernel work across a fixed set of worker goroutines. The
// workers start on the first parallel call and then wait for work by
// spinning briefly on an atomic pointer before parking, so that the dozens of
// products of one decoded token do not each pay for starting goroutines.
// Work is split statically: share w of a call goes to worker w, so with the
// same shapes every thread reads the same weight rows every token. A share
// that its worker has not started by the time the caller is done with its
// own is run by the caller, so a worker that the operating system has not
// scheduled (a busy machine) delays nothing.
//
// A Pool is safe for concurrent use by any number of callers. Close stops
// the workers; a closed pool runs everything on the caller's goroutine.
type Pool struct {
	n    int
	kern Set

	// bufs recycles per-call scratch (padded inputs, panels) so that decoding
	// a token does not allocate on every product.
	bufs sync.Pool

	// packs caches the INT4 weights repacked for the GEMM kernels
	// (*symb.Tensor → *gemmPacked).
	packs sync.Map

	closed  atomic.Bool
	workers []*worker           // workers[i] runs share i+1; the caller runs share 0
	cur     atomic.Pointer[job] // the latest call; workers watch it change
}

// job is one parallel call: shares 0..t-1 of fn, each claimed by exactly one
// thread.
type job struct {
	fn    func(w int)
	t     int
	claim []atomic.Bool
	done  atomic.Int32 // shares finished by workers
}

// run claims share w and runs it; it reports whether it did.
func (j *job) run(w int) bool {
	if w >= j.t || !j.claim[w].CompareAndSwap(false, true) {
		return false
	}
	j.fn(w)
	return true
}

// worker is one persistent goroutine of a Pool. Its goroutine starts on the
// first call that needs it and ends after idleExit without work (so that a
// pool nobody closes holds no goroutines for long); the next call starts it
// again.
type worker struct {
	id    int
	state atomic.Int32 // workerExited, workerRunning or workerAsleep
	wake  chan struct{}
	_     [40]byte // keep the states of different workers off one cache line
}

const (
	workerExited int32 = iota
	workerRunning
	workerAsleep
)

// idleExit is how long a parked worker waits for a call before its goroutine ends.
const idleExit = time.Second

// spinRounds bounds how long an idle worker polls for the next call before
// parking (each round is a load and, every 64 rounds, a Gosched): long enough
// to span the gap between two products of a token, short enough not to burn
// a shared CPU between tokens.
const spinRounds = 1 << 14

// NewPool returns a pool of n threads (n ≤ 0: runtime.GOMAXPROCS(0)) running
// the best kernels this CPU has (Auto, overridden by SYMBC_KERNELS).
func NewPool(n int) *Pool {
	p, err := NewPoolKernels(n, Auto)
	if err != nil { // an unusable SYMBC_KERNELS falls back to the best set
		p = newPool(n, Best())
	}
	return p
}

// NewPoolKernels returns a pool of n threads that runs the kernel set k; see
// Select for how k and the SYMBC_KERNELS environment variable are resolved.
func NewPoolKernels(n int, k Set) (*Pool, error) {
	k, err := Select(k)
	if err != nil {
		return nil, err
	}
	return newPool(n, k), nil
}

// newPool lets tests pick any kernel set the CPU supports.
func newPool(n int, k Set) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{n: n, kern: k, workers: make([]*worker, n-1)}
	for i := range p.workers {
		p.workers[i] = &worker{id: i + 1, wake: make(chan struct{}, 1)}
	}
	return p
}

// Threads reports how many threads a call may use.
func (p *Pool) Threads() int { return p.n }

// Kernels reports the kernel set this pool runs.
func (p *Pool) Kernels() Set { return p.kern }

// SIMD reports whether this pool runs assembly kernels.
func (p *Pool) SIMD() bool { return p.simd() }

// simd is SIMD for the package's own dispatch.
func (p *Pool) simd() bool { return p.kern != Generic }

// Close stops the pool's workers. Calls made after Close still work, on the
// caller's goroutine.
func (p *Pool) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.cur.Store(&job{}) // a change every worker sees
	for _, w := range p.workers {
		if w.state.CompareAndSwap(workerAsleep, workerRunning) {
			w.wake <- struct{}{}
		}
	}
}

// minWorkPerThread is the number of weight elements below which splitting a
// call across threads costs more than it saves.
const minWorkPerThread = 1 << 14

// threadsFor is how many threads a call of the given work and item count uses.
func (p *Pool) threadsFor(units int, work int64) int {
	t := p.n
	if w := work / minWorkPerThread; w < int64(t) {
		t = int(max(w, 1))
	}
	return max(min(t, units), 1)
}

// split runs fn over [0, total) cut into at most p.n contiguous chunks whose
// boundaries are multiples of align. work is the total number of inner
// operations, used to decide how many threads are worth waking. Chunk
// boundaries never change what a single item computes, so results do not
// depend on the thread count.
func (p *Pool) split(total, align int, work int64, fn func(lo, hi int)) {
	p.Run(total, align, work, func(_, lo, hi int) { fn(lo, hi) })
}

// Run calls fn(w, lo, hi) for contiguous chunks [lo, hi) covering [0, total),
// with chunk boundaries that are multiples of align, one chunk per share w
// (0 ≤ w < Threads); each share runs exactly once, on some thread, so fn may
// keep scratch per share. work estimates the inner operations of the whole
// call; small calls use fewer shares, down to one on the caller's goroutine.
// The chunks depend only on total, align, work and Threads.
func (p *Pool) Run(total, align int, work int64, fn func(w, lo, hi int)) {
	if total <= 0 {
		return
	}
	align = max(align, 1)
	units := (total + align - 1) / align
	t := p.threadsFor(units, work)
	if t == 1 {
		fn(0, 0, total)
		return
	}
	body := func(w int) {
		lo := w * units / t * align
		hi := min((w+1)*units/t*align, total)
		fn(w, lo, hi)
	}
	if p.closed.Load() {
		for w := range t {
			body(w)
		}
		return
	}
	j := &job{fn: body, t: t, claim: make([]atomic.Bool, t)}
	p.cur.Store(j)
	for _, w := range p.workers[:t-1] {
		switch {
		case w.state.CompareAndSwap(workerAsleep, workerRunning):
			w.wake <- struct{}{}
		case w.state.CompareAndSwap(workerExited, workerRunning):
			go p.loop(w, nil)
		}
	}
	j.run(0)
	mine := int32(1) // shares the caller ran
	for w := 1; w < t; w++ {
		if j.run(w) {
			mine++
		}
	}
	for i := 0; mine+j.done.Load() != int32(t); i++ {
		if i&63 == 63 {
			runtime.Gosched()
		}
	}
}

// loop is the body of worker w: wait for a call other than seen, run its
// share of it, repeat; return when idle for idleExit or when the pool closes.
func (p *Pool) loop(w *worker, seen *job) {
	for {
		j := p.wait(w, seen)
		if j == nil || p.closed.Load() {
			return
		}
		seen = j
		if j.run(w.id) {
			j.done.Add(1)
		}
	}
}

// wait returns the first call after seen: it spins for spinRounds, then
// parks until Run or Close wakes it. It returns nil when it has parked for
// idleExit and marked the worker exited.
func (p *Pool) wait(w *worker, seen *job) *job {
	for i := 0; i < spinRounds; i++ {
		if j := p.cur.Load(); j != seen {
			return j
		}
		if i&63 == 63 {
			runtime.Gosched()
		}
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		w.state.Store(workerAsleep)
		if j := p.cur.Load(); j != seen {
			if !w.state.CompareAndSwap(workerAsleep, workerRunning) {
				<-w.wake // a waker saw us asleep and sent a token: take it
			}
			return j
		}
		if timer == nil {
			timer = time.NewTimer(idleExit)
		} else {
			timer.Reset(idleExit)
		}
		select {
		case <-w.wake:
		case <-timer.C:
			if w.state.CompareAndSwap(workerAsleep, workerExited) {
				return nil
			}
			<-w.wake // a waker got in first
		}
		if j := p.cur.Load(); j != seen {
			return j
		}
	}
}

// scratch holds reusable buffers handed out by getBuf.
type scratch struct {
	f []float32
	h []int16
	d []int32
	g []float32 // lane scales of a q8Input
	b []int8
	u []byte // input records of the GEMM kernels
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

// bytes sizes the int8 buffer of s to n elements.
func (s *scratch) bytes(n int) []int8 {
	if cap(s.b) < n {
		s.b = make([]int8, n)
	}
	s.b = s.b[:n]
	return s.b
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
