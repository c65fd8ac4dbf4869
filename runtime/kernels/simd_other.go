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

// siluMulSIMD does nothing here (there is no vector SiLUMul kernel); the
// portable loop computes every element.
func siluMulSIMD(gate, up []float32) int { return 0 }

// cvtF32F16SIMD converts nothing here; F32ToF16's portable loop does it all.
func cvtF32F16SIMD([]uint16, []float32) int { return 0 }

// cvtF16RowsSIMD converts nothing here; F16ToF32Rows's portable loop does it all.
func cvtF16RowsSIMD([]float32, int, []uint16, int, int, int) int { return 0 }

// sumSquaresSIMD and rmsScaleSIMD do nothing here; RMSNorm's portable loops
// do the work.
func sumSquaresSIMD([]float32) (float64, int) { return 0, 0 }

func rmsScaleSIMD(_, _, _ []float32, _, _ float32) int { return 0 }

// expSumSIMD does nothing here; ExpSum's portable loop does the work.
func expSumSIMD([]float32, float32) (float32, bool) { return 0, false }

// scaleMaxSIMD does nothing here; ScaleMax's portable loop does the work.
func scaleMaxSIMD([]float32, float32) (float32, bool, int) { return 0, false, 0 }

// argMaxSIMD does nothing here; ArgMax's portable loop does the work.
func argMaxSIMD([]float32) (int, bool) { return 0, false }

// rotateSIMD does nothing here; Rotate's portable loop does the work.
func rotateSIMD([]float32, int, int, int, []float32, []float32) bool { return false }
