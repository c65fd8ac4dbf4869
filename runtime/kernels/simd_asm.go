//go:build amd64 || arm64

package kernels

import "github.com/symbc/symbc/symb"

// Assembly kernels: simd_amd64.s and simd_quant_amd64.s (AVX2/FMA/F16C),
// simd_arm64.s and simd_quant_arm64.s (NEON), with the same names and
// signatures. Counts are whole vectors, blocks or groups; the wrappers below
// check bounds and handle tails, whose length depends on asmLanes.

//go:noescape
func dotF32Asm(a, b *float32, n int) float32

//go:noescape
func dotF16Asm(w *uint16, x *float32, n int) float32

//go:noescape
func dotBF16Asm(w *uint16, x *float32, n int) float32

//go:noescape
func axpyAsm(alpha float32, x, y *float32, n int)

//go:noescape
func gemm4Asm(w *float32, ws int, x *float32, xs, nx, k int, y *float32, ys int)

//go:noescape
func cvtF16Asm(dst *float32, src *uint16, n int)

//go:noescape
func cvtBF16Asm(dst *float32, src *uint16, n int)

//go:noescape
func dequantQ4Asm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks, bias int)

//go:noescape
func dequantQ8sAsm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks int)

//go:noescape
func dequantQ8uAsm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks int)

//go:noescape
func dotQ4Asm(codes *byte, scales *uint16, x *float32, ngroups, gblocks, bias int) float32

//go:noescape
func dotQ4x16Asm(codes *byte, scales *uint16, x16 *int16, xscale *float32, start *int32, ngroups, gblocks int) float32

//go:noescape
func dotQ8sAsm(codes *byte, scales *uint16, x *float32, ngroups, gblocks int) float32

//go:noescape
func dotQ8uAsm(codes *byte, scales *uint16, x *float32, ngroups, gblocks int) float32

// dotSIMD is Dot on the assembly path; len(b) ≥ len(a).
func dotSIMD(a, b []float32) float32 {
	nw := len(a) &^ (asmLanes - 1)
	b = b[:len(a)]
	var s float32
	if nw > 0 {
		s = dotF32Asm(&a[0], &b[0], nw)
	}
	for i := nw; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// dotF16SIMD returns Σ f16(w[i])·x[i]; len(x) ≥ len(w).
func dotF16SIMD(w []uint16, x []float32) float32 {
	nw := len(w) &^ (asmLanes - 1)
	x = x[:len(w)]
	var s float32
	if nw > 0 {
		s = dotF16Asm(&w[0], &x[0], nw)
	}
	for i := nw; i < len(w); i++ {
		s += f16(w[i]) * x[i]
	}
	return s
}

// dotBF16SIMD returns Σ bf16(w[i])·x[i]; len(x) ≥ len(w).
func dotBF16SIMD(w []uint16, x []float32) float32 {
	nw := len(w) &^ (asmLanes - 1)
	x = x[:len(w)]
	var s float32
	if nw > 0 {
		s = dotBF16Asm(&w[0], &x[0], nw)
	}
	for i := nw; i < len(w); i++ {
		s += bf16(w[i]) * x[i]
	}
	return s
}

func axpySIMD(alpha float32, x, y []float32) {
	nw := len(x) &^ (asmLanes - 1)
	y = y[:len(x)]
	if nw > 0 {
		axpyAsm(alpha, &x[0], &y[0], nw)
	}
	for i := nw; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

// rowsDotSIMD is the assembly MatVec body for rows [lo, hi); see rowsDotGo.
// Rows are walked whole, so the weights stream through memory in order,
// which the hardware prefetchers follow best (blocking the columns to keep x
// in L1 measured slower).
func rowsDotSIMD(v *wview, y []float32, lo, hi int, in *vecInput) {
	for r := lo; r < hi; r++ {
		y[r] = rowDotSIMD(v, r, in)
	}
}

// rowDotSIMD is the dot product of row r of v with the prepared input. INT4
// uses the int16 input prepared by MatVec when there is one, and multiplies
// in float32 otherwise (an input with Inf or NaN).
func rowDotSIMD(v *wview, r int, in *vecInput) float32 {
	row := r * v.cols
	switch v.dt {
	case symb.F32:
		return dotSIMD(v.f32[row:row+v.cols], in.x)
	case symb.F16:
		return dotF16SIMD(v.u16[row:row+v.cols], in.x)
	case symb.BF16:
		return dotBF16SIMD(v.u16[row:row+v.cols], in.x)
	}
	gpr := v.gpr
	var s float32
	// Whole groups in one call; a packed (shorter) tail group in a second
	// call as one group of its own blocks.
	if t := v.tailStart(); t < v.kp {
		if t > 0 {
			s = dotGroupsSIMD(v, r, in, 0, gpr-1, v.g/32)
		}
		s += dotGroupsSIMD(v, r, in, gpr-1, 1, (v.kp-t)/32)
	} else {
		s = dotGroupsSIMD(v, r, in, 0, gpr, v.g/32)
	}
	if v.asym {
		s += dotF16SIMD(v.mins[r*gpr:(r+1)*gpr], in.xs)
	}
	return s
}

// dotGroupsSIMD is the dot product over groups [g0, g0+ng) of row r, each of
// gb 32-element blocks, without the asym min term.
func dotGroupsSIMD(v *wview, r int, in *vecInput, g0, ng, gb int) float32 {
	k0, k1 := g0*v.g, min((g0+ng)*v.g, v.kp)
	sc := v.scales[r*v.gpr+g0 : r*v.gpr+g0+ng]
	x := in.x[k0:k1]
	rb := v.rowBytes()
	row := v.data[r*rb : (r+1)*rb]
	switch {
	case v.dt == symb.INT4 && in.x16 != nil:
		codes := row[k0/2 : k1/2]
		return dotQ4x16Asm(&codes[0], &sc[0], &in.x16[k0:k1][0], &in.x16s[g0 : g0+ng][0], &in.x16c[8*g0 : 8*(g0+ng)][0], ng, gb)
	case v.dt == symb.INT4:
		codes := row[k0/2 : k1/2]
		return dotQ4Asm(&codes[0], &sc[0], &x[0], ng, gb, v.int4Bias())
	case v.asym:
		codes := row[k0:k1]
		return dotQ8uAsm(&codes[0], &sc[0], &x[0], ng, gb)
	default:
		codes := row[k0:k1]
		return dotQ8sAsm(&codes[0], &sc[0], &x[0], ng, gb)
	}
}

// dequantRangeSIMD is dequantRangeGo on the assembly path. For quantized
// weights it takes whole groups and falls back to Go otherwise.
func dequantRangeSIMD(v *wview, r, k0, k1 int, dst []float32) {
	dst = dst[:k1-k0]
	switch v.dt {
	case symb.F32:
		copy(dst, v.f32[r*v.cols+k0:r*v.cols+k1])
		return
	case symb.F16, symb.BF16:
		src := v.u16[r*v.cols+k0 : r*v.cols+k1]
		nw := len(src) &^ (asmLanes - 1)
		if nw > 0 {
			if v.dt == symb.F16 {
				cvtF16Asm(&dst[0], &src[0], nw)
			} else {
				cvtBF16Asm(&dst[0], &src[0], nw)
			}
		}
		for i := nw; i < len(src); i++ {
			if v.dt == symb.F16 {
				dst[i] = f16(src[i])
			} else {
				dst[i] = bf16(src[i])
			}
		}
		return
	}
	gb := v.g / 32
	if t := v.tailStart(); k1 == v.kp && t < v.kp && k0 <= t && k0%v.g == 0 {
		// The range ends with a packed (shorter) tail group: whole groups,
		// then the tail as one group of its own blocks.
		if k0 < t {
			dequantRangeSIMD(v, r, k0, t, dst[:t-k0])
		}
		dst, k0, gb = dst[t-k0:], t, (v.kp-t)/32
	} else if k0%v.g != 0 || (k1-k0)%v.g != 0 || k1 > v.kp || k1 == k0 {
		dequantRangeGo(v, r, k0, k1, dst)
		return
	}
	g0, ng := k0/v.g, (k1-k0+v.g-1)/v.g
	sc := v.scales[r*v.gpr+g0 : r*v.gpr+g0+ng]
	var mp *uint16
	if v.asym {
		mp = &v.mins[r*v.gpr+g0 : r*v.gpr+g0+ng][0]
	}
	rb := v.rowBytes()
	if v.dt == symb.INT4 {
		codes := v.data[r*rb+k0/2 : r*rb+k1/2]
		dequantQ4Asm(&dst[0], &codes[0], &sc[0], mp, ng, gb, v.int4Bias())
		return
	}
	codes := v.data[r*rb+k0 : r*rb+k1]
	if v.asym {
		dequantQ8uAsm(&dst[0], &codes[0], &sc[0], mp, ng, gb)
	} else {
		dequantQ8sAsm(&dst[0], &codes[0], &sc[0], mp, ng, gb)
	}
}

// gemm4SIMD is gemm4 on the assembly path; gemm4 has checked the bounds.
func gemm4SIMD(w []float32, ws int, x []float32, xs, nx, k int, y []float32, ys int) {
	gemm4Asm(&w[0], ws, &x[0], xs, nx, k, &y[0], ys)
}
