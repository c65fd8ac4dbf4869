package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The extremes scans must agree with a plain reference on every length
// (tails included) and on signed zeros, subnormals and non-finite values;
// the symmetric variants return max(mx, 0) and min(mn, 0).
func TestExtremesScans(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	special := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(1), -math.Float32frombits(1),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 65504, -3e38}
	for trial := 0; trial < 2000; trial++ {
		n := 1 + r.IntN(40)
		x := make([]float32, n)
		for i := range x {
			switch r.IntN(8) {
			case 0:
				x[i] = special[r.IntN(len(special))]
			default:
				x[i] = float32(r.NormFloat64())
			}
			if trial%3 == 0 { // one-signed groups
				x[i] = absf32(x[i])
			} else if trial%3 == 1 {
				x[i] = -absf32(x[i])
			}
			x[i] = BF16ToF32(F32ToBF16(x[i])) // so the bfloat16 scans see the same values
		}
		h := make([]uint16, n)
		F32ToBF16Slice(h, x)

		finite, wantMx, wantMn := true, float32(math.Inf(-1)), float32(math.Inf(1))
		for _, v := range x {
			if isNonFinite(v) {
				finite = false
				continue
			}
			wantMx, wantMn = max(wantMx, v), min(wantMn, v)
		}
		buf := make([]float32, n)
		for _, c := range []struct {
			name string
			sym  bool
			run  func() (float32, float32, bool)
		}{
			{"extremes", false, func() (float32, float32, bool) { return extremes(x) }},
			{"extremesSym", true, func() (float32, float32, bool) { return extremesSym(x) }},
			{"loadBF16", false, func() (float32, float32, bool) { return loadBF16(buf, h) }},
			{"loadBF16Sym", true, func() (float32, float32, bool) { return loadBF16Sym(buf, h) }},
		} {
			clear(buf)
			mx, mn, ok := c.run()
			if ok != finite {
				t.Fatalf("%s(%v): finite = %v, want %v", c.name, x, ok, finite)
			}
			if c.name[0] == 'l' {
				for i := range x {
					if math.Float32bits(buf[i]) != math.Float32bits(x[i]) && !math.IsNaN(float64(x[i])) {
						t.Fatalf("%s(%v): element %d loaded as %v", c.name, x, i, buf[i])
					}
				}
			}
			if !finite {
				continue
			}
			wx, wn := wantMx, wantMn
			if c.sym {
				wx, wn = max(wx, 0), min(wn, 0)
			}
			// Compare values: the scans may return either zero for ±0.
			if mx != wx || mn != wn {
				t.Fatalf("%s(%v) = %v, %v; want %v, %v", c.name, x, mx, mn, wx, wn)
			}
		}
	}
}
