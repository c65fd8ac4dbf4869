package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/symbc/symbc/symb"
)

func TestQuantizeInput16(t *testing.T) {
	const g = 32
	x := make([]float32, 3*g)
	x[0], x[1], x[2] = 3, -1.5, 1e-7 // group 0: max 3
	x[g+5] = -0.25                   // group 1: a single negative value
	// group 2 stays zero
	q := make([]int16, len(x))
	s := make([]float32, 3)
	c := make([]int32, 24)
	if !quantizeInput16(q, s, c, x, g, true) {
		t.Fatal("finite input rejected")
	}
	if q[0] != 32767 || q[1] != -16384 || q[2] != 0 || q[g+5] != -32767 {
		t.Errorf("codes %d %d %d %d", q[0], q[1], q[2], q[g+5])
	}
	if s[0] != 3.0/32767 || s[1] != 0.25/32767 || s[2] != 0 {
		t.Errorf("scales %v", s)
	}
	if c[0] != -8*(32767-16384) || c[8] != -8*-32767 || c[16] != 0 || c[1] != 0 {
		t.Errorf("start values %v", c)
	}
	for i, e := range x {
		if d := math.Abs(float64(q[i])*float64(s[i/g]) - float64(e)); d > float64(s[i/g])/2*1.0001 {
			t.Errorf("x[%d]=%g comes back %g", i, e, float64(q[i])*float64(s[i/g]))
		}
	}
	if quantizeInput16(q, s, c, x, g, false); c[0] != 0 {
		t.Errorf("asym start value %d, want 0", c[0])
	}
	x[40] = float32(math.Inf(1))
	if quantizeInput16(q, s, c, x, g, true) {
		t.Error("Inf accepted")
	}
	x[40] = float32(math.NaN())
	if quantizeInput16(q, s, c, x, g, true) {
		t.Error("NaN accepted")
	}
}

// TestINT4FloatKernel runs the float INT4 kernel, which the SIMD path uses
// when x holds Inf or NaN, on finite data against the spec reference.
func TestINT4FloatKernel(t *testing.T) {
	if !haveSIMD {
		t.Log("no AVX2/FMA/F16C: only the portable path exists here")
		return
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, s := range allSpecs() {
		if s.dt != symb.INT4 {
			continue
		}
		w, ref := makeWeight(t, s, rng)
		x := randVec(rng, s.cols)
		want, mag := refMatVec(ref, x)
		v := view(w)
		in := vecInput{x: padInput(x, v.kp, make([]float32, v.kp))}
		if v.asym {
			in.xs = make([]float32, v.gpr)
			groupSumsTo(in.xs, in.x, v.g)
		}
		y := make([]float32, s.rows)
		rowsDotSIMD(&v, y, 0, s.rows, &in)
		for r := range y {
			checkClose(t, s.name()+" row "+itoa(r), y[r], want[r], mag[r])
		}
	}
}

// TestNonFiniteInput checks that an Inf in x reaches the output on both
// paths (the SIMD INT4 path must not round it into an int16).
func TestNonFiniteInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, sc := range []symb.Scheme{symb.SchemeSym, symb.SchemeAsym} {
		w, _ := makeWeight(t, spec{dt: symb.INT4, scheme: sc, g: 32, rows: 4, cols: 64}, rng)
		x := randVec(rng, 64)
		x[3] = float32(math.Inf(1))
		for name, p := range pools(1) {
			y := make([]float32, 4)
			p.MatVec(y, x, w)
			for r, v := range y {
				if !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v)) {
					t.Errorf("%s %s row %d: got finite %g from an infinite input", name, sc, r, v)
				}
			}
		}
	}
}

// TestOutlierActivations feeds inputs with a few huge channels, as real
// transformer activations have, and checks the SIMD INT4 path stays within
// the int16 rounding bound while the other paths stay exact.
func TestOutlierActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, s := range []spec{
		{dt: symb.INT4, scheme: symb.SchemeSym, g: 128, rows: 16, cols: 512},
		{dt: symb.INT4, scheme: symb.SchemeAsym, g: 64, rows: 16, cols: 512},
	} {
		w, ref := makeWeight(t, s, rng)
		x := randVec(rng, s.cols)
		x[7], x[300] = 900, -450
		want, mag := refMatVec(ref, x)
		for name, p := range pools(2) {
			y := make([]float32, s.rows)
			p.MatVec(y, x, w)
			for r := range y {
				tol := relTol*mag[r] + 1e-6
				if extra := roundingBound(p, s.dt, s.g, ref, x); extra != nil {
					tol += extra[r]
				}
				checkWithin(t, name+" "+s.name()+" row "+itoa(r), y[r], want[r], tol)
			}
		}
	}
}

// TestLargeGroupNoOverflow drives the integer accumulator to its largest
// values (groups of 4096, extreme codes, every input at the group maximum).
func TestLargeGroupNoOverflow(t *testing.T) {
	const g, cols = 4096, 4096
	x := make([]float32, cols)
	for i := range x {
		x[i] = 1
	}
	for _, c := range []struct {
		scheme symb.Scheme
		code   byte
		want   float32
	}{
		{symb.SchemeAsym, 0xff, 15 * cols},
		{symb.SchemeSym, 0xff, 7 * cols},
		{symb.SchemeSym, 0x00, -8 * cols},
	} {
		info := symb.Info{DType: symb.INT4, Scheme: c.scheme, GroupSize: g, Shape: []int{2, cols}}
		dn, sn, mn, err := info.SectionSizes()
		if err != nil {
			t.Fatal(err)
		}
		w := &symb.Tensor{Name: "big", Info: info, Data: make([]byte, dn), Scales: make([]byte, sn), Mins: make([]byte, mn)}
		for i := range w.Data {
			w.Data[i] = c.code
		}
		for i := 0; i < len(w.Scales); i += 2 {
			w.Scales[i], w.Scales[i+1] = 0x00, 0x3c // float16 1.0
		}
		for name, p := range pools(1) {
			y := make([]float32, 2)
			p.MatVec(y, x, w)
			for r, v := range y {
				if math.Abs(float64(v-c.want)) > 1e-3*math.Abs(float64(c.want)) {
					t.Errorf("%s %s code %#x row %d: got %g, want %g", name, c.scheme, c.code, r, v, c.want)
				}
			}
		}
	}
}
