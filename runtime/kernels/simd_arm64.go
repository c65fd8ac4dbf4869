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
