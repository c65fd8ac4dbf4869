package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

func TestMatVecAgainstSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range allSpecs() {
		w, ref := makeWeight(t, s, rng)
		x := randVec(rng, s.cols)
		want, mag := refMatVec(ref, x)
		for name, p := range pools(1) {
			y := make([]float32, s.rows)
			p.MatVec(y, x, w)
			extra := roundingBound(p, s.dt, s.g, ref, x)
			for r := range y {
				tol := relTol*mag[r] + 1e-6
				if extra != nil {
					tol += extra[r]
				}
				checkWithin(t, name+" "+s.name()+" row "+itoa(r), y[r], want[r], tol)
			}
		}
	}
}

func TestRowAgainstSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range allSpecs() {
		w, ref := makeWeight(t, s, rng)
		dst := make([]float32, s.cols)
		for r := range s.rows {
			Row(dst, w, r)
			for k, v := range dst {
				if d := math.Abs(float64(v) - ref[r][k]); d > 1e-6*math.Abs(ref[r][k])+1e-7 {
					t.Fatalf("%s row %d col %d: got %g, want %g", s.name(), r, k, v, ref[r][k])
				}
			}
		}
	}
}

// checkMatMul checks Y, computed by p, against the float64 reference for
// every input row, allowing for p's input rounding (MatMul quantizes its
// inputs only where MatVec does so the same way; see roundingBound).
func checkMatMul(t *testing.T, p *Pool, s spec, what string, Y, X []float32, n int, ref [][]float64) {
	t.Helper()
	rows, cols := len(ref), len(X)/n
	for i := range n {
		xi := X[i*cols : (i+1)*cols]
		want, mag := refMatVec(ref, xi)
		// MatVec rounds the input, and so do MatMul's AVX-512 GEMM and, for
		// a few inputs, its per-input AVX2 MatVec.
		extra := roundingBound(p, s.dt, s.g, ref, xi)
		for r := range rows {
			tol := relTol*mag[r] + 1e-6
			if extra != nil {
				tol += extra[r]
			}
			checkWithin(t, what+" input "+itoa(i)+" row "+itoa(r), Y[i*rows+r], want[r], tol)
		}
	}
}

func TestMatMulAgainstSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range allSpecs() {
		w, ref := makeWeight(t, s, rng)
		for _, n := range []int{1, 2, 4, 7} {
			X := randVec(rng, n*s.cols)
			for name, p := range pools(1) {
				Y := make([]float32, n*s.rows)
				for i := range Y {
					Y[i] = float32(math.NaN()) // MatMul must overwrite, not accumulate into, Y
				}
				p.MatMul(Y, X, n, w)
				checkMatMul(t, p, s, name+" "+s.name()+" n="+itoa(n), Y, X, n, ref)
			}
		}
	}
}

// TestMatMulBlocking covers more inputs than one X block, more columns than
// one K block (with a tail that is not a multiple of 8) and a partial panel
// of rows, and checks MatMul against n separate MatVec calls.
func TestMatMulBlocking(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	specs := []spec{
		{dt: symb.INT4, scheme: symb.SchemeSym, g: 128, rows: 11, cols: 1100},
		{dt: symb.INT4, scheme: symb.SchemeAsym, g: 32, rows: 9, cols: 1029},
		{dt: symb.INT8, scheme: symb.SchemeSym, g: 256, rows: 6, cols: 1300},
		{dt: symb.INT8, scheme: symb.SchemeAsym, g: 64, rows: 5, cols: 700},
		{dt: symb.F16, rows: 7, cols: 1027},
		{dt: symb.BF16, rows: 4, cols: 600},
		{dt: symb.F32, rows: 10, cols: 1030},
		{dt: symb.INT4, scheme: symb.SchemeAsym, g: 1024, rows: 5, cols: 1500},
		{dt: symb.INT8, scheme: symb.SchemeSym, g: 512, rows: 6, cols: 1100},
		// FORMAT.md 1.1 packed tail groups across K blocks.
		{dt: symb.INT4, scheme: symb.SchemeSym, g: 128, rows: 11, cols: 1100, packed: true},
		{dt: symb.INT4, scheme: symb.SchemeAsym, g: 1024, rows: 5, cols: 1500, packed: true},
		{dt: symb.INT8, scheme: symb.SchemeSym, g: 512, rows: 6, cols: 1100, packed: true},
	}
	const n = xBlock + 5
	for _, s := range specs {
		w, ref := makeWeight(t, s, rng)
		X := randVec(rng, n*s.cols)
		for name, p := range pools(2) {
			Y := make([]float32, n*s.rows)
			p.MatMul(Y, X, n, w)
			checkMatMul(t, p, s, name+" "+s.name(), Y, X, n, ref)
			y := make([]float32, s.rows)
			for i := range n {
				xi := X[i*s.cols : (i+1)*s.cols]
				p.MatVec(y, xi, w)
				_, mag := refMatVec(ref, xi)
				extra := roundingBound(p, s.dt, s.g, ref, xi)
				for r := range y {
					// Both are within their tolerance of the exact value.
					got, want := Y[i*s.rows+r], y[r]
					tol := 2*relTol*mag[r] + 1e-6
					if extra != nil {
						tol += extra[r]
					}
					if d := math.Abs(float64(got - want)); d > tol {
						t.Fatalf("%s %s input %d row %d: MatMul %g, MatVec %g", name, s.name(), i, r, got, want)
					}
				}
			}
		}
	}
}

// TestThreadCountsAgree checks that results are bit-identical for 1, 2 and 3
// goroutines: the split must never change what a row computes.
func TestThreadCountsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	specs := []spec{
		{dt: symb.INT4, scheme: symb.SchemeSym, g: 64, rows: 389, cols: 300},
		{dt: symb.INT4, scheme: symb.SchemeAsym, g: 128, rows: 301, cols: 390},
		{dt: symb.INT8, scheme: symb.SchemeAsym, g: 32, rows: 389, cols: 300},
		{dt: symb.F16, rows: 389, cols: 301},
		{dt: symb.BF16, rows: 389, cols: 300},
		{dt: symb.F32, rows: 389, cols: 300},
	}
	for _, s := range specs {
		w, _ := makeWeight(t, s, rng)
		const n = 5
		X := randVec(rng, n*s.cols)
		for _, k := range Available() {
			var y1, Y1 []float32
			for threads := 1; threads <= 3; threads++ {
				p := newPool(threads, k)
				y := make([]float32, s.rows)
				p.MatVec(y, X[:s.cols], w)
				Y := make([]float32, n*s.rows)
				p.MatMul(Y, X, n, w)
				if threads == 1 {
					y1, Y1 = y, Y
					continue
				}
				for i := range y {
					if math.Float32bits(y[i]) != math.Float32bits(y1[i]) {
						t.Fatalf("%s %s: MatVec row %d differs with %d threads: %g vs %g", s.name(), k, i, threads, y[i], y1[i])
					}
				}
				for i := range Y {
					if math.Float32bits(Y[i]) != math.Float32bits(Y1[i]) {
						t.Fatalf("%s %s: MatMul element %d differs with %d threads: %g vs %g", s.name(), k, i, threads, Y[i], Y1[i])
					}
				}
			}
		}
	}
}

func TestSplitCoversEverything(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := newPool(threads, Generic)
		for _, total := range []int{1, 3, 4, 5, 17, 1000} {
			seen := make([]int32, total)
			var chunks [16][2]int
			nc := 0
			done := make(chan [2]int, 16)
			p.split(total, 4, 1<<40, func(lo, hi int) {
				if lo%4 != 0 {
					t.Errorf("chunk starts at %d, not a multiple of 4", lo)
				}
				for i := lo; i < hi; i++ {
					seen[i]++
				}
				done <- [2]int{lo, hi}
			})
			close(done)
			for c := range done {
				chunks[nc] = c
				nc++
			}
			if nc > threads {
				t.Errorf("threads=%d total=%d: %d chunks", threads, total, nc)
			}
			for i, s := range seen {
				if s != 1 {
					t.Fatalf("threads=%d total=%d: item %d covered %d times", threads, total, i, s)
				}
			}
		}
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	w, _ := makeWeight(t, spec{dt: symb.INT4, scheme: symb.SchemeSym, g: 32, rows: 3, cols: 40}, rng)
	p := NewPool(1)
	cases := map[string]func(){
		"MatVec x": func() { p.MatVec(make([]float32, 3), make([]float32, 39), w) },
		"MatVec y": func() { p.MatVec(make([]float32, 4), make([]float32, 40), w) },
		"MatMul":   func() { p.MatMul(make([]float32, 6), make([]float32, 80), 3, w) },
		"Row":      func() { Row(make([]float32, 40), w, 3) },
		"Dot":      func() { Dot(make([]float32, 2), make([]float32, 3)) },
		"short data": func() {
			bad := *w
			bad.Data = bad.Data[:len(bad.Data)-1]
			p.MatVec(make([]float32, 3), make([]float32, 40), &bad)
		},
	}
	for name, f := range cases {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", name)
					return
				}
				if s, _ := r.(string); !strings.HasPrefix(s, "kernels: ") {
					t.Errorf("%s: panic %v does not say where it came from", name, r)
				}
			}()
			f()
		}()
	}
}
