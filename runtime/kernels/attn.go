package kernels

import (
	"fmt"

	"github.com/symbc/symbc/quantize"
)

// Small dense products for attention, which works on float32 blocks of
// queries, keys and values rather than on stored weights.

// MulAddT adds x·wᵀ to y: y[i*ys+j] += Σ_{c<k} x[i*xs+c]·w[j*ws+c] for
// i < nx and j < nw. Attention computes scores (queries × keys) and outputs
// (probabilities × transposed values) with it. When k is a multiple of 8
// (up to maxTailK for a last partial group of w rows) every element goes
// through the register-blocked four-row product MatMul uses, else through
// Dot; either way an element's value does not depend on nx, nw or its
// position, so a row gives the same bits in any block. It panics if a
// slice is too short.
func MulAddT(y []float32, ys int, x []float32, xs, nx int, w []float32, ws, nw, k int) {
	if nx <= 0 || nw <= 0 || k <= 0 {
		return
	}
	if len(y) < (nx-1)*ys+nw || len(x) < (nx-1)*xs+k || len(w) < (nw-1)*ws+k {
		panic(fmt.Sprintf("kernels: MulAddT of %d×%d by %d×%d: slices too short", nx, k, nw, k))
	}
	j := 0
	if k%8 == 0 {
		for ; j+4 <= nw; j += 4 {
			gemm4Any(w[j*ws:], ws, x, xs, nx, k, y[j:], ys)
		}
		if j < nw && k <= maxTailK {
			// The last rows, padded with zero rows to four.
			var pad [4 * maxTailK]float32
			var out [4]float32
			for r := j; r < nw; r++ {
				copy(pad[(r-j)*k:(r-j+1)*k], w[r*ws:r*ws+k])
			}
			for i := range nx {
				out = [4]float32{}
				gemm4Any(pad[:], k, x[i*xs:], xs, 1, k, out[:], 4)
				for r := j; r < nw; r++ {
					y[i*ys+r] += out[r-j]
				}
			}
			return
		}
	}
	for ; j < nw; j++ {
		wr := w[j*ws : j*ws+k]
		for i := range nx {
			y[i*ys+j] += Dot(x[i*xs:i*xs+k], wr)
		}
	}
}

// gemm4Any is gemm4SIMD where the assembly runs, else gemm4Go. Calling them
// directly (not through a function value) keeps MulAddT's padded tail on the
// stack: through a function value it escaped, one 4 KiB allocation per call.
func gemm4Any(w []float32, ws int, x []float32, xs, nx, k int, y []float32, ys int) {
	if haveSIMD {
		gemm4SIMD(w, ws, x, xs, nx, k, y, ys)
		return
	}
	gemm4Go(w, ws, x, xs, nx, k, y, ys)
}

// maxTailK bounds the width MulAddT pads on the stack.
const maxTailK = 256

// F16ToF32 converts len(dst) half-precision values of src to float32 with
// the F16C/NEON conversion when there is one. It panics if src is shorter.
func F16ToF32(dst []float32, src []uint16) {
	src = src[:len(dst)]
	nw := 0
	if haveSIMD {
		nw = cvtF16SIMD(dst, src)
	}
	for i := nw; i < len(src); i++ {
		dst[i] = f16(src[i])
	}
}

// F16ToF32Rows converts a rows × cols block of half-precision values, row
// r at src[r*ls:], to float32 at dst[r*ld:]: one call for what would be
// rows calls of F16ToF32 (the paged KV cache's blocks of keys and of
// transposed values). It panics if a slice is too short.
func F16ToF32Rows(dst []float32, ld int, src []uint16, ls, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ld < 0 || ls < 0 || len(dst) < (rows-1)*ld+cols || len(src) < (rows-1)*ls+cols {
		panic(fmt.Sprintf("kernels: F16ToF32Rows of %d×%d (strides %d, %d): slices of %d and %d", rows, cols, ld, ls, len(dst), len(src)))
	}
	nw := cvtF16RowsSIMD(dst, ld, src, ls, rows, cols)
	if nw == cols {
		return
	}
	for r := range rows {
		d, s := dst[r*ld+nw:r*ld+cols], src[r*ls+nw:r*ls+cols]
		for i, h := range s {
			d[i] = f16(h)
		}
	}
}

// F32ToF16 converts len(src) float32 values to half precision into dst,
// rounding to nearest even with the F16C conversion when there is one; the
// bits equal quantize.F32ToF16's for every input. It panics if dst is
// shorter.
func F32ToF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i := cvtF32F16SIMD(dst, src); i < len(src); i++ {
		dst[i] = quantize.F32ToF16(src[i])
	}
}
