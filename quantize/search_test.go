package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// N(0,1) data, 64 rows of 4096: large enough for stable SNR figures
// (+-0.05 dB across seeds), small enough for a quick test.
func normalData() ([]float32, int) {
	r := rand.New(rand.NewPCG(1, 2))
	return gaussian(r, 64*4096, 1), 4096
}

// INT4 g128 symmetric RTN on N(0,1). Uniform quantization noise is d^2/12
// with d = max|x|/8; the expected max of 128 normal samples is about 2.6,
// giving about 20 dB (the textbook 6.02*4+1.76 = 25.8 dB assumes a
// full-scale uniform signal, which a Gaussian group is not). Measured:
// 19.7 dB.
func TestSNRInt4SymRTNBand(t *testing.T) {
	x, cols := normalData()
	got := snr(t, Spec{Type: INT4, Scheme: Symmetric, Method: RTN, GroupSize: 128}, x, cols)
	t.Logf("int4-sym-rtn-g128 on N(0,1): %.2f dB", got)
	if got < 19 || got > 21 {
		t.Errorf("SNR %.2f dB outside the expected 19..21 dB", got)
	}
}

// The MSE search must beat RTN on Gaussian data for both schemes; the
// margins asserted are about half of what is measured (sym +0.56 dB,
// asym +0.70 dB at INT4 g128; about +0.3..0.5 dB at INT8).
func TestMSEBeatsRTN(t *testing.T) {
	x, cols := normalData()
	tests := []struct {
		ty     Type
		scheme Scheme
		g      int
		margin float64
	}{
		{INT4, Symmetric, 128, 0.25},
		{INT4, Asymmetric, 128, 0.3},
		{INT4, Symmetric, 32, 0.25},
		{INT4, Asymmetric, 32, 0.5},
		{INT8, Symmetric, 128, 0.1},
		{INT8, Asymmetric, 128, 0.1},
	}
	for _, tc := range tests {
		rtn := Spec{Type: tc.ty, Scheme: tc.scheme, Method: RTN, GroupSize: tc.g}
		mse := rtn
		mse.Method = MSE
		a, b := snr(t, rtn, x, cols), snr(t, mse, x, cols)
		t.Logf("%-20s %.2f dB   %-20s %.2f dB   (+%.2f)", rtn, a, mse, b, b-a)
		if b < a+tc.margin {
			t.Errorf("%s: %.2f dB does not beat RTN's %.2f dB by %.2f dB", mse, b, a, tc.margin)
		}
	}
}

// MSE is never worse than RTN on any single group, because RTN's parameters
// are its baseline candidate, evaluated with the same float16 values.
func TestMSENeverWorsePerGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const cols = 300
	x := roundTripData(r, cols)
	heavy := make([]float32, 4*cols) // heavy-tailed rows: where clipping pays
	for i := range heavy {
		v := r.NormFloat64()
		heavy[i] = float32(v * v * v)
	}
	x = append(x, heavy...)
	// Rows far from zero and rows on a coarse grid (exact ties, groups that
	// RTN may reproduce exactly): where the error formulas of the INT4
	// searches are least precise.
	extra := gaussian(r, 4*cols, 0.05)
	for i := range extra {
		if i < 2*cols {
			extra[i] += 700
		} else {
			extra[i] = float32(math.Round(float64(extra[i])*60)) / 16
		}
	}
	x = append(x, extra...)
	for _, g := range allGroupSizes {
		for _, spec := range intSpecs(g) {
			if spec.Method != MSE {
				continue
			}
			rtnSpec := spec
			rtnSpec.Method = RTN
			a := quantizeF32(t, rtnSpec, x, cols).dequantize(t)
			b := quantizeF32(t, spec, x, cols).dequantize(t)
			for row := 0; row < len(x)/cols; row++ {
				for c0 := 0; c0 < cols; c0 += g {
					lo, hi := row*cols+c0, row*cols+min(c0+g, cols)
					ea := Compare(x[lo:hi], a[lo:hi]).MSE
					eb := Compare(x[lo:hi], b[lo:hi]).MSE
					if eb > ea*(1+1e-9) {
						t.Fatalf("%s row %d group at %d: MSE error %g > RTN error %g", spec, row, c0, eb, ea)
					}
				}
			}
		}
	}
}
