package kernels

// haveSIMD is true on every arm64 CPU: Advanced SIMD (NEON), including the
// half-precision conversions used here, is part of the base ARMv8-A
// architecture that Go requires, so there is nothing to detect.
const haveSIMD = true

// haveAVX512 is false: the AVX-512 kernels exist on amd64 only.
const haveAVX512 = false

// simdSet is the Set of the assembly kernels of this architecture.
const simdSet = NEON

// asmLanes is the element count the NEON kernels consume per step; the Go
// wrappers in simd_asm.go finish shorter tails.
const asmLanes = 16

// siluMulSIMD does nothing here (there is no vector SiLUMul kernel); the
// portable loop computes every element.
func siluMulSIMD(gate, up []float32) int { return 0 }

// cvtF32F16SIMD converts nothing here; F32ToF16's portable loop does it all.
func cvtF32F16SIMD([]uint16, []float32) int { return 0 }

// cvtF16RowsSIMD converts the whole vectors of each row for F16ToF32Rows
// (bounds checked there) and returns how many columns it converted.
func cvtF16RowsSIMD(dst []float32, ld int, src []uint16, ls, rows, cols int) int {
	nw := cols &^ (asmLanes - 1)
	if nw == 0 {
		return 0
	}
	for r := range rows {
		cvtF16Asm(&dst[r*ld], &src[r*ls], nw)
	}
	return nw
}

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
