//go:build !amd64 && !arm64

package kernels

// haveSIMD is false where no assembly kernels exist; the portable Go path runs.
const haveSIMD = false

// haveAVX512 is false: the AVX-512 kernels exist on amd64 only.
const haveAVX512 = false

// simdSet is never listed as available here (haveSIMD is false).
const simdSet = Generic

// The SIMD entry points below are never reached when haveSIMD is false; they
// exist so the dispatching code compiles on every architecture.

func rowsDotSIMD(v *wview, y []float32, lo, hi int, in *vecInput) {
	rowsDotGo(v, y, lo, hi, in)
}

func dequantRangeSIMD(v *wview, r, k0, k1 int, dst []float32) { dequantRangeGo(v, r, k0, k1, dst) }

func gemm4SIMD(w []float32, ws int, x []float32, xs, nx, k int, y []float32, ys int) {
	gemm4Go(w, ws, x, xs, nx, k, y, ys)
}

func dotSIMD(a, b []float32) float32 { return dotGo(a, b) }

func axpySIMD(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }

func dotF16SIMD(w []uint16, x []float32) float32 { return dotF16Go(w, x) }

// cvtF16RowsSIMD converts nothing here; F16ToF32Rows's portable loop does it all.
func cvtF16RowsSIMD([]float32, int, []uint16, int, int, int) int { return 0 }
