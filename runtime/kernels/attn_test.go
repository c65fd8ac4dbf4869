package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/symbc/symbc/quantize"
)

// TestMulAddT checks the blocked product against a float64 loop on shapes
// that take the four-row path, its tail and the Dot fallback (k not a
// multiple of 8), with strides wider than the rows.
func TestMulAddT(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range []struct{ nx, nw, k int }{{1, 1, 1}, {5, 9, 16}, {3, 4, 64}, {7, 13, 12}, {64, 128, 128}, {2, 3, 5}} {
		xs, ws, ys := sh.k+3, sh.k+1, sh.nw+2
		x := randVec(rng, (sh.nx-1)*xs+sh.k)
		w := randVec(rng, (sh.nw-1)*ws+sh.k)
		y := randVec(rng, (sh.nx-1)*ys+sh.nw)
		want := make([]float64, len(y))
		for i := range y {
			want[i] = float64(y[i])
		}
		for i := range sh.nx {
			for j := range sh.nw {
				var s float64
				for c := range sh.k {
					s += float64(x[i*xs+c]) * float64(w[j*ws+c])
				}
				want[i*ys+j] += s
			}
		}
		block := append([]float32(nil), y...)
		MulAddT(block, ys, x, xs, sh.nx, w, ws, sh.nw, sh.k)
		// Element by element, the same bits as the whole block.
		for i := range sh.nx {
			for j := range sh.nw {
				MulAddT(y[i*ys+j:], ys, x[i*xs:], xs, 1, w[j*ws:], ws, 1, sh.k)
				if math.Float32bits(y[i*ys+j]) != math.Float32bits(block[i*ys+j]) {
					t.Fatalf("%+v: element (%d, %d) alone %g, in the block %g", sh, i, j, y[i*ys+j], block[i*ys+j])
				}
			}
		}
		for i := range y {
			if d := math.Abs(float64(y[i]) - want[i]); d > 1e-5*(1+math.Abs(want[i]))*float64(sh.k+1) {
				t.Fatalf("%+v: y[%d] = %g, want %g", sh, i, y[i], want[i])
			}
		}
	}
}

// TestF16ToF32 checks the vector conversion against the scalar one on every
// half-precision bit pattern, with a length that leaves a tail.
func TestF16ToF32(t *testing.T) {
	src := make([]uint16, 1<<16+5)
	for i := range src {
		src[i] = uint16(i)
	}
	dst := make([]float32, len(src))
	F16ToF32(dst, src)
	for i, h := range src {
		want := f16(h)
		if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
			t.Fatalf("f16 %#04x: got %g, want %g", h, dst[i], want)
		}
	}
}

// TestF32ToF16 checks the vector conversion against quantize.F32ToF16 bit
// for bit on every float32 whose low 13 bits (those the conversion rounds
// away) take the values that decide rounding (0, just below, at and just
// above half, and the largest), for all exponents, signs and top mantissa
// bits (so normals, subnormals, overflow to Inf, Inf and NaNs), with a
// length that leaves a tail.
func TestF32ToF16(t *testing.T) {
	var src []float32
	for hi := range uint32(1 << 19) { // sign, exponent and top 10 mantissa bits
		for _, lo := range []uint32{0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff} {
			src = append(src, math.Float32frombits(hi<<13|lo))
		}
	}
	src = append(src, 1, 2, 3) // a tail
	dst := make([]uint16, len(src))
	F32ToF16(dst, src)
	for i, f := range src {
		if want := quantize.F32ToF16(f); dst[i] != want {
			t.Fatalf("F32ToF16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), dst[i], want)
		}
	}
}

// TestF16ToF32Rows checks block conversion against the scalar decoder on
// shapes with and without a vector tail, with strides wider than the rows,
// and that it writes nothing between the rows.
func TestF16ToF32Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sh := range []struct{ rows, cols, ld, ls int }{{1, 8, 8, 8}, {16, 64, 64, 512}, {64, 16, 128, 16}, {64, 5, 128, 16}, {3, 21, 30, 25}, {2, 3, 3, 3}} {
		src := make([]uint16, (sh.rows-1)*sh.ls+sh.cols)
		for i := range src {
			src[i] = uint16(rng.Uint32())
		}
		dst := make([]float32, (sh.rows-1)*sh.ld+sh.cols)
		for i := range dst {
			dst[i] = -7
		}
		F16ToF32Rows(dst, sh.ld, src, sh.ls, sh.rows, sh.cols)
		for i, got := range dst {
			r, c := i/sh.ld, i%sh.ld
			want := float32(-7)
			if c < sh.cols {
				want = f16(src[r*sh.ls+c])
			}
			if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
				t.Fatalf("%+v: dst[%d] (row %d, column %d) = %g, want %g", sh, i, r, c, got, want)
			}
		}
	}
}
