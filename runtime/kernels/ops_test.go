package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/symbc/symbc/quantize"
)

func TestDotAndAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	dots := map[string]func(a, b []float32) float32{"go": dotGo, "simd": dotSIMD, "Dot": Dot}
	axpys := map[string]func(float32, []float32, []float32){"go": axpyGo, "simd": axpySIMD, "Axpy": Axpy}
	if !haveSIMD {
		delete(dots, "simd")
		delete(axpys, "simd")
	}
	for n := 0; n <= 70; n++ {
		a, b := randVec(rng, n), randVec(rng, n)
		var want, mag float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		for name, f := range dots {
			checkClose(t, name+" n="+itoa(n), f(a, b), want, mag)
		}
		for name, f := range axpys {
			y := append([]float32(nil), b...)
			f(0.75, a, y)
			for i := range y {
				if w := b[i] + 0.75*a[i]; math.Abs(float64(y[i]-w)) > 1e-6*(math.Abs(float64(w))+1) {
					t.Fatalf("%s n=%d i=%d: got %g want %g", name, n, i, y[i], w)
				}
			}
		}
	}
}

// TestRMSNorm checks RMSNorm against float64 on lengths that take every
// path of the vector kernels (16- and 8-wide steps, a scalar tail, none).
func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{100, 2056, 7} {
		testRMSNorm(t, randVec(rng, n), randVec(rng, n))
	}
}

func testRMSNorm(t *testing.T, x, w []float32) {
	for _, offset := range []float32{0, 1} {
		dst := make([]float32, len(x))
		RMSNorm(dst, x, w, 1e-5, offset)
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+1e-5)
		for i := range x {
			want := float64(x[i]) * inv * float64(offset+w[i])
			if math.Abs(float64(dst[i])-want) > 1e-5*(math.Abs(want)+1e-3) {
				t.Fatalf("n=%d offset %g i=%d: got %g want %g", len(x), offset, i, dst[i], want)
			}
		}
	}
	// In place gives the same result.
	y := append([]float32(nil), x...)
	RMSNorm(y, y, w, 1e-5, 0)
	z := make([]float32, len(x))
	RMSNorm(z, x, w, 1e-5, 0)
	for i := range y {
		if y[i] != z[i] {
			t.Fatalf("in-place RMSNorm differs at %d", i)
		}
	}
}

func TestActivations(t *testing.T) {
	in := []float32{-20, -3, -1, -0.5, 0, 0.25, 1, 2.5, 10, 30}
	ones := make([]float32, len(in))
	for i := range ones {
		ones[i] = 1
	}
	silu := append([]float32(nil), in...)
	SiLUMul(silu, ones)
	gelu := append([]float32(nil), in...)
	GELUTanhMul(gelu, ones)
	up := make([]float32, len(in))
	for i := range up {
		up[i] = float32(i) - 3
	}
	sm := append([]float32(nil), in...)
	SiLUMul(sm, up)
	gm := append([]float32(nil), in...)
	GELUTanhMul(gm, up)
	for i, v := range in {
		x := float64(v)
		ws := x / (1 + math.Exp(-x))
		wg := 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"SiLU", float64(silu[i]), ws},
			{"GELUTanh", float64(gelu[i]), wg},
			{"SiLUMul", float64(sm[i]), ws * float64(up[i])},
			{"GELUTanhMul", float64(gm[i]), wg * float64(up[i])},
		} {
			if math.Abs(c.got-c.want) > 1e-6*(math.Abs(c.want)+1) {
				t.Errorf("%s(%g) = %g, want %g", c.name, x, c.got, c.want)
			}
		}
	}
}

// TestSiLUMulAccuracy checks SiLUMul (the vector kernel where there is one)
// and the portable loop against silu computed in float64 with math.Exp:
// within 4 ulp where exp(x) is a normal float32 (x ≥ −87), and within
// 2^-140 in absolute terms below, where silu(x) is smaller than 1e-36. It
// also checks that every element gets the same bits alone as inside a
// longer slice (position and tail independence, which batched decoding
// relies on to match unbatched decoding), and the special values.
func TestSiLUMulAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 1<<18 + 5 // a tail shorter than a vector
	x := make([]float32, n)
	for i := range x {
		r := 110.0
		if i%3 == 0 {
			r = 5 // dense near 0, where activations live
		}
		x[i] = float32((rng.Float64()*2 - 1) * r)
	}
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	for _, f := range []struct {
		name string
		fn   func(gate, up []float32)
	}{{"SiLUMul", SiLUMul}, {"siluMulGo", siluMulGo}} {
		g := append([]float32(nil), x...)
		f.fn(g, ones)
		for i, v := range x {
			want := float64(v) / (1 + math.Exp(-float64(v)))
			if v < -87 {
				if d := math.Abs(float64(g[i]) - want); d > 0x1p-140 {
					t.Fatalf("%s: silu(%g) = %g, want %g (off by %g)", f.name, v, g[i], want, d)
				}
				continue
			}
			w32 := float32(want)
			ulp := math.Abs(float64(math.Float32frombits(math.Float32bits(w32)+1) - w32))
			if e := math.Abs(float64(g[i])-want) / ulp; e > 4 {
				t.Fatalf("%s: silu(%g) = %g, want %g (%.2f ulp)", f.name, v, g[i], want, e)
			}
		}
		// Alone, each element of the last 40 (across the vector tail) gives
		// the bits it got in the long slice.
		for i := n - 40; i < n; i++ {
			one := []float32{x[i]}
			f.fn(one, ones[:1])
			if math.Float32bits(one[0]) != math.Float32bits(g[i]) {
				t.Fatalf("%s: silu(%g) alone = %g, in the slice %g", f.name, x[i], one[0], g[i])
			}
		}
		special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN()), -200, 200}
		want := []float32{0, 0, float32(math.Inf(1)), float32(math.NaN()), 0, 200}
		g = append([]float32(nil), special...)
		f.fn(g, ones[:len(g)])
		for i, w := range want {
			if got := g[i]; got != w && !(w != w && got != got) {
				t.Fatalf("%s: silu(%g) = %g, want %g", f.name, special[i], got, w)
			}
		}
	}
}

// TestExpSum checks ExpSum's exponentials against math.Exp (2 ulp where the
// result is a normal float32, 2^-149 absolute below) and its sum against a
// float64 sum, that an element alone gets the bits it gets in a longer
// slice (tail included), and that NaN propagates.
func TestExpSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	const n = 1<<16 + 3
	const m = 3.5
	x := make([]float32, n)
	for i := range x {
		x[i] = m - float32(rng.Float64()*110)
		if i%4 == 0 {
			x[i] = m - float32(rng.Float64()*2)
		}
	}
	y := append([]float32(nil), x...)
	sum := ExpSum(y, m)
	var want64 float64
	for i, v := range x {
		want := math.Exp(float64(v - m))
		want64 += want
		if want < 0x1p-126 {
			if d := math.Abs(float64(y[i]) - want); d > 0x1p-149 {
				t.Fatalf("exp(%g) = %g, want %g", v-m, y[i], want)
			}
			continue
		}
		w32 := float32(want)
		ulp := float64(math.Float32frombits(math.Float32bits(w32)+1) - w32)
		if e := math.Abs(float64(y[i])-want) / ulp; e > 2 {
			t.Fatalf("exp(%g) = %g, want %g (%.2f ulp)", v-m, y[i], want, e)
		}
	}
	if d := math.Abs(float64(sum)-want64) / want64; d > 1e-5 {
		t.Fatalf("sum %g, want %g (relative error %.2g)", sum, want64, d)
	}
	for i := n - 12; i < n; i++ {
		one := []float32{x[i]}
		if s := ExpSum(one, m); math.Float32bits(one[0]) != math.Float32bits(y[i]) || s != one[0] {
			t.Fatalf("exp(%g) alone = %g (sum %g), in the slice %g", x[i]-m, one[0], s, y[i])
		}
	}
	nan := []float32{0, float32(math.NaN()), 1}
	if s := ExpSum(nan, 1); s == s || nan[1] == nan[1] {
		t.Fatalf("ExpSum with a NaN = %g, elements %v", s, nan)
	}
}

// TestScaleMax checks ScaleMax against the scalar loop on lengths around
// the vector width, with the maximum in every position, and NaN and empty
// inputs.
func TestScaleMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for n := 1; n <= 40; n++ {
		x := randVec(rng, n)
		for at := range n {
			x[at] += 100 // the maximum moves through every lane and the tail
			got := append([]float32(nil), x...)
			m := ScaleMax(got, 0.125)
			want := float32(math.Inf(-1))
			for i, v := range x {
				if p := v * 0.125; got[i] != p {
					t.Fatalf("n=%d: x[%d] = %g, want %g", n, i, got[i], p)
				}
				want = max(want, v*0.125)
			}
			if m != want {
				t.Fatalf("n=%d, max at %d: %g, want %g", n, at, m, want)
			}
			x[at] -= 100
			nan := append([]float32(nil), x...)
			nan[at] = float32(math.NaN())
			if m := ScaleMax(nan, 2); m == m {
				t.Fatalf("n=%d, NaN at %d: max %g", n, at, m)
			}
		}
	}
	if m := ScaleMax(nil, 2); !math.IsInf(float64(m), -1) {
		t.Fatalf("empty: %g, want -Inf", m)
	}
}

// TestArgMax checks ArgMax against the scalar loop greedy sampling used
// (first index of the largest by >) on lengths around the vector width and
// a vocabulary, with ties, NaNs (first or elsewhere), ±0 and −Inf.
func TestArgMax(t *testing.T) {
	ref := func(x []float32) int {
		best := 0
		for i, v := range x {
			if len(x) > 0 && v > x[best] {
				best = i
			}
		}
		return best
	}
	rng := rand.New(rand.NewPCG(31, 32))
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 128256} {
		for trial := range 40 {
			x := randVec(rng, n)
			if n > 0 {
				switch trial % 8 {
				case 1: // a tie with the maximum later
					i, j := rng.IntN(n), rng.IntN(n)
					x[i] = 10
					x[j] = 10
				case 2:
					x[0] = nan
				case 3:
					x[rng.IntN(n)] = nan
					x[rng.IntN(n)] = 50
				case 4: // all non-positive zeros and −Inf
					for i := range x {
						x[i] = inf
					}
					x[rng.IntN(n)] = float32(math.Copysign(0, -1))
					x[rng.IntN(n)] = 0
				case 5:
					for i := range x {
						x[i] = inf
					}
				case 6: // the maximum in the tail
					x[n-1] = 99
				case 7: // a NaN after the maximum in the same vector lane
					if n > 17 {
						x[1], x[17] = 50, nan
					}
				}
			}
			if got, want := ArgMax(x), ref(x); got != want {
				t.Fatalf("n=%d trial %d: ArgMax = %d, want %d", n, trial, got, want)
			}
		}
	}
}

// TestRotate checks Rotate bit for bit against the rotation with every
// product rounded (as the Go loop and the vector kernel do it), for full and
// partial rotary widths, widths the vector kernel takes and one it does not,
// and that elements past the rotary part of each head are left alone.
func TestRotate(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, sh := range []struct{ heads, stride, half int }{{32, 64, 32}, {8, 128, 64}, {4, 64, 16}, {3, 20, 6}, {2, 24, 12}} {
		x := randVec(rng, sh.heads*sh.stride)
		cos, sin := randVec(rng, sh.half), randVec(rng, sh.half)
		got := append([]float32(nil), x...)
		Rotate(got, sh.heads, sh.stride, sh.half, cos, sin)
		for h := range sh.heads {
			for i := range sh.stride {
				v := x[h*sh.stride:]
				want := v[i]
				switch {
				case i < sh.half:
					want = float32(v[i]*cos[i]) - float32(v[i+sh.half]*sin[i])
				case i < 2*sh.half:
					j := i - sh.half
					want = float32(v[i]*cos[j]) + float32(v[j]*sin[j])
				}
				if g := got[h*sh.stride+i]; math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("%+v: head %d element %d = %g, want %g", sh, h, i, g, want)
				}
			}
		}
	}
}

func TestAddScale(t *testing.T) {
	a := []float32{1, 2, 3}
	Add(a, []float32{1, 1, 1})
	Scale(0.5, a)
	for i, w := range []float32{1, 1.5, 2} {
		if a[i] != w {
			t.Fatalf("got %v", a)
		}
	}
	// The vector path gives the bits of the scalar sum, tail included.
	rng := rand.New(rand.NewPCG(25, 26))
	x, y := randVec(rng, 2051), randVec(rng, 2051)
	z := append([]float32(nil), y...)
	Add(z, x)
	for i := range x {
		if want := y[i] + x[i]; math.Float32bits(z[i]) != math.Float32bits(want) {
			t.Fatalf("Add: element %d = %g, want %g", i, z[i], want)
		}
	}
}

// TestF16Exhaustive checks the kernels' float16 decoder against the
// quantize package's on all 65536 inputs.
func TestF16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got, want := f16(h), quantize.F16ToF32(h)
		if math.IsNaN(float64(want)) {
			if !math.IsNaN(float64(got)) || math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("f16(%#04x) = %#08x, want NaN %#08x", h, math.Float32bits(got), math.Float32bits(want))
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("f16(%#04x) = %g (%#08x), want %g", h, got, math.Float32bits(got), want)
		}
	}
}

func TestExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	check := func(x float32) {
		got := Exp(x)
		want := math.Exp(float64(x))
		if want < 0x1p-126 { // subnormal results: absolute error of a few units
			if math.Abs(float64(got)-want) > 4*0x1p-149 {
				t.Fatalf("Exp(%g) = %g, want %g", x, got, want)
			}
			return
		}
		if want > math.MaxFloat32 {
			if !math.IsInf(float64(got), 1) {
				t.Fatalf("Exp(%g) = %g, want +Inf", x, got)
			}
			return
		}
		if math.Abs(float64(got)-want) > 2.5*0x1p-24*want {
			t.Fatalf("Exp(%g) = %g, want %g (%.3g ulp)", x, got, want, (float64(got)-want)/want/0x1p-24)
		}
	}
	for range 200000 {
		check(float32(rng.Float64()*200 - 105))
	}
	for range 20000 {
		check(float32(rng.NormFloat64()))
	}
	for _, x := range []float32{0, -0, 1, -1, 88.72, 88.7228, 88.73, -87.3, -87.4, -100, -103.9, -104, 1e-8, -1e-8} {
		check(x)
	}
	if v := Exp(float32(math.Inf(-1))); v != 0 {
		t.Errorf("Exp(-Inf) = %g", v)
	}
	if v := Exp(float32(math.NaN())); v == v {
		t.Errorf("Exp(NaN) = %g", v)
	}
}
