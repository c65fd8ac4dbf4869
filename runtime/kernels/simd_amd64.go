package kernels

import (
	"math"

	"golang.org/x/sys/cpu"
)

// haveSIMD reports whether the AVX2/FMA/F16C kernels can run. It is computed
// once at start-up and never changes.
var haveSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// haveAVX512 reports whether the AVX-512 kernels (vnni_amd64.s) can run:
// AVX-512 F, BW and VL for the byte and mask instructions, VNNI for vpdpbusd,
// on top of the AVX2 set.
var haveAVX512 = haveSIMD && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI

// simdSet is the Set of the assembly kernels of this architecture.
const simdSet = AVX2

// asmLanes is the element count the AVX2 kernels consume per step; the Go
// wrappers in simd_asm.go finish shorter tails.
const asmLanes = 8

//go:noescape
func siluMulAsm(gate, up *float32, n int)

// siluMulSIMD runs SiLUMul's vector kernel over all of gate and returns how
// many elements it did: len(gate), or 0 without AVX2. A tail shorter than a
// vector goes through the kernel padded, so that every element gets the
// same arithmetic wherever it lies.
func siluMulSIMD(gate, up []float32) int {
	if !haveSIMD {
		return 0
	}
	up = up[:len(gate)]
	nw := len(gate) &^ (asmLanes - 1)
	if nw > 0 {
		siluMulAsm(&gate[0], &up[0], nw)
	}
	if t := len(gate) - nw; t > 0 {
		var g, u [asmLanes]float32
		copy(g[:], gate[nw:])
		copy(u[:], up[nw:])
		siluMulAsm(&g[0], &u[0], asmLanes)
		copy(gate[nw:], g[:t])
	}
	return len(gate)
}

//go:noescape
func cvtF32F16Asm(dst *uint16, src *float32, n int)

// cvtF32F16SIMD converts the whole vectors of src into dst and returns how
// many elements it converted (0 without F16C).
func cvtF32F16SIMD(dst []uint16, src []float32) int {
	if !haveSIMD {
		return 0
	}
	nw := len(src) &^ (asmLanes - 1)
	if nw > 0 {
		cvtF32F16Asm(&dst[:nw][0], &src[0], nw)
	}
	return nw
}

//go:noescape
func cvtF16RowsAsm(dst *float32, ld int, src *uint16, ls, rows, cols int)

// cvtF16RowsSIMD converts the whole vectors of each row for F16ToF32Rows
// (bounds checked there) and returns how many columns it converted.
func cvtF16RowsSIMD(dst []float32, ld int, src []uint16, ls, rows, cols int) int {
	nw := cols &^ (asmLanes - 1)
	if !haveSIMD || nw == 0 {
		return 0
	}
	cvtF16RowsAsm(&dst[0], ld, &src[0], ls, rows, nw)
	return nw
}

//go:noescape
func sumSquaresAsm(x *float32, n int) float64

//go:noescape
func rmsScaleAsm(dst, x, w *float32, inv, offset float32, n int)

// sumSquaresSIMD returns Σ x[i]² in float64 over the whole vectors of x and
// how many elements that was (0 without AVX2).
func sumSquaresSIMD(x []float32) (float64, int) {
	nw := len(x) &^ (asmLanes - 1)
	if !haveSIMD || nw == 0 {
		return 0, 0
	}
	return sumSquaresAsm(&x[0], nw), nw
}

// rmsScaleSIMD is RMSNorm's scaling over the whole vectors of x (lengths
// checked by RMSNorm); it returns how many elements it did.
func rmsScaleSIMD(dst, x, w []float32, inv, offset float32) int {
	nw := len(x) &^ (asmLanes - 1)
	if !haveSIMD || nw == 0 {
		return 0
	}
	rmsScaleAsm(&dst[0], &x[0], &w[0], inv, offset, nw)
	return nw
}

//go:noescape
func expSumAsm(x *float32, m float32, n int) float32

// expSumSIMD is ExpSum's vector kernel over all of x, or (0, false) without
// AVX2. A tail shorter than a vector goes through it padded with −Inf
// (which adds 0), so every element gets the same arithmetic wherever it lies.
func expSumSIMD(x []float32, m float32) (float32, bool) {
	if !haveSIMD {
		return 0, false
	}
	nw := len(x) &^ (asmLanes - 1)
	var s float32
	if nw > 0 {
		s = expSumAsm(&x[0], m, nw)
	}
	if t := len(x) - nw; t > 0 {
		var pad [asmLanes]float32
		for i := range pad {
			pad[i] = float32(math.Inf(-1))
		}
		copy(pad[:], x[nw:])
		s += expSumAsm(&pad[0], m, asmLanes)
		copy(x[nw:], pad[:t])
	}
	return s, true
}

//go:noescape
func scaleMaxAsm(x *float32, s float32, n int) (float32, bool)

// scaleMaxSIMD is ScaleMax over the whole vectors of x: it returns their
// maximum, whether one is NaN, and how many elements it did (0 without AVX2).
func scaleMaxSIMD(x []float32, s float32) (float32, bool, int) {
	nw := len(x) &^ (asmLanes - 1)
	if !haveSIMD || nw == 0 {
		return 0, false, 0
	}
	m, nan := scaleMaxAsm(&x[0], s, nw)
	return m, nan, nw
}

//go:noescape
func maxAsm(x *float32, n int) float32

//go:noescape
func findAsm(x *float32, v float32, n int) int

// argMaxSIMD is ArgMax for x[0] not NaN and at least one vector, or
// (0, false) without AVX2 or on a shorter x.
func argMaxSIMD(x []float32) (int, bool) {
	nw := len(x) &^ (asmLanes - 1)
	if !haveSIMD || nw == 0 {
		return 0, false
	}
	m := maxAsm(&x[0], nw)
	for _, v := range x[nw:] {
		if v > m {
			m = v
		}
	}
	if i := findAsm(&x[0], m, nw); i < nw {
		return i, true
	}
	for i, v := range x[nw:] {
		if v == m {
			return nw + i, true
		}
	}
	return 0, true // unreachable: m is one of x
}

//go:noescape
func rotateAsm(x, cos, sin *float32, heads, stride, half int)

// rotateSIMD is Rotate's vector kernel (bounds checked there); it reports
// whether it ran, which it does for every head or none: half must be a
// multiple of the vector width.
func rotateSIMD(x []float32, heads, stride, half int, cos, sin []float32) bool {
	if !haveSIMD || half%asmLanes != 0 {
		return false
	}
	rotateAsm(&x[0], &cos[0], &sin[0], heads, stride, half)
	return true
}
