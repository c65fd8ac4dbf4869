package kernels

import (
	"sync/atomic"

	"github.com/symbc/symbc/symb"
)

// useVNNI reports whether products with v run the AVX-512 int8 kernels: INT4
// weights whose groups are whole 128-element chunks.
func (p *Pool) useVNNI(v *wview) bool {
	return p.kern == AVX512 && v.dt == symb.INT4 && v.g%q8Chunk == 0
}

// sameInput reports whether a and b read an input quantized the same way.
func sameInput(a, b *wview) bool {
	return a.dt == b.dt && a.asym == b.asym && a.g == b.g && a.cols == b.cols && a.kp == b.kp
}

// groupSumsTo fills s[g] with the sum of x over group g of size gs; x may be
// shorter than len(s)·gs (the missing elements are zero).
func groupSumsTo(s, x []float32, gs int) {
	for i := range s {
		var a float32
		if lo := i * gs; lo < len(x) {
			for _, e := range x[lo:min(lo+gs, len(x))] {
				a += e
			}
		}
		s[i] = a
	}
}

// vnniBandBytes bounds the weight rows one thread keeps in its L2 cache while
// every input of a MatMul passes over them.
const vnniBandBytes = 256 << 10

// matMulVNNI computes Ys[j] (n × rows_j) = X·W_j for weights vs that all
// pass useVNNI and sameInput: X is quantized once (in parallel), then the
// rows of all weights, concatenated, are split across the threads in one
// pass; each thread walks its rows in bands that stay in cache, four inputs
// per kernel call. It returns false (having written nothing) when X holds
// Inf or NaN, which int8 cannot carry. A result does not depend on n, the
// other weights or the thread count: MatMul equals MatVec bit for bit.
func (p *Pool) matMulVNNI(vs []wview, Ys [][]float32, X []float32, n int) bool {
	v0 := &vs[0]
	cols, gpr := v0.cols, v0.gpr
	b := p.getBuf(n * gpr)
	defer p.putBuf(b)
	var in q8Input
	in.size(b, n, v0.kp)
	var xs []float32
	if v0.asym {
		xs = b.f[:n*gpr]
	}
	if n == 1 {
		if !in.quantize(0, X, !v0.asym) {
			return false
		}
		if xs != nil {
			groupSumsTo(xs, X, v0.g)
		}
	} else {
		var bad atomic.Bool
		p.split(n, 1, int64(n)*int64(cols)*8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x := X[i*cols : (i+1)*cols]
				if !in.quantize(i, x, !v0.asym) {
					bad.Store(true)
					return
				}
				if xs != nil {
					groupSumsTo(xs[i*gpr:(i+1)*gpr], x, v0.g)
				}
			}
		})
		if bad.Load() {
			return false
		}
	}
	total := 0
	for i := range vs {
		total += vs[i].rows
	}
	p.split(total, 1, int64(n)*int64(total)*int64(cols), func(lo, hi int) {
		base := 0
		for j := range vs {
			v := &vs[j]
			if a, e := max(lo-base, 0), min(hi-base, v.rows); a < e {
				v.mulRowsVNNI(Ys[j], &in, xs, n, a, e)
			}
			base += v.rows
		}
	})
	return true
}

// mulRowsVNNI computes rows [lo, hi) of Y = X·Wᵀ from the quantized inputs
// in (and their group sums xs for asym weights).
func (v *wview) mulRowsVNNI(Y []float32, in *q8Input, xs []float32, n, lo, hi int) {
	rows, gpr := v.rows, v.gpr
	minTerm := func(r, i int) float32 {
		if xs == nil {
			return 0
		}
		return dotF16SIMD(v.mins[r*gpr:(r+1)*gpr], xs[i*gpr:(i+1)*gpr])
	}
	band := max(4, vnniBandBytes/v.rowBytes())
	var out [4]float32
	for b0 := lo; b0 < hi; b0 += band {
		b1 := min(b0+band, hi)
		i := 0
		for ; i+4 <= n; i += 4 {
			for r := b0; r < b1; r++ {
				rowDotVNNI4(v, r, in, i, &out)
				for j, s := range out {
					Y[(i+j)*rows+r] = s + minTerm(r, i+j)
				}
			}
		}
		for ; i < n; i++ {
			for r := b0; r < b1; r++ {
				Y[i*rows+r] = rowDotVNNI(v, r, in, i) + minTerm(r, i)
			}
		}
	}
}
