//go:build arm64

#include "textflag.h"

// NEON kernels for float weights and vector helpers. Counts are whole
// 16-element vectors; the Go wrappers in simd_arm64.go check bounds and
// handle tails. Instructions the Go assembler does not know are emitted as
// WORDs by the macros below (register numbers are V-register indices).

// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H: half to single precision.
#define FCVTL(n, d) WORD $(0x0E217800 | (n)<<5 | (d))
#define FCVTL2(n, d) WORD $(0x4E217800 | (n)<<5 | (d))

// FADD Vd.4S, Vn.4S, Vm.4S and FADDP Vd.4S, Vn.4S, Vm.4S.
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))

// FADDP Sd, Vn.2S: adds the two low lanes of Vn.
#define FADDP2S(n, d) WORD $(0x7E30D800 | (n)<<5 | (d))

// HSUM4 reduces accumulators V0..V3 into F0.
#define HSUM4 \
	FADD4S(1, 0, 0)  \
	FADD4S(3, 2, 2)  \
	FADD4S(2, 0, 0)  \
	FADDP4S(0, 0, 0) \
	FADDP2S(0, 0)

// func dotF32Asm(a, b *float32, n int) float32
TEXT ·dotF32Asm(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	LSR  $4, R2, R2
	CBZ  R2, dotf32_done

dotf32_loop:
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V4.S4, V16.S4, V0.S4
	VFMLA  V5.S4, V17.S4, V1.S4
	VFMLA  V6.S4, V18.S4, V2.S4
	VFMLA  V7.S4, V19.S4, V3.S4
	SUBS   $1, R2, R2
	BNE    dotf32_loop

dotf32_done:
	HSUM4
	FMOVS F0, ret+24(FP)
	RET

// func dotF16Asm(w *uint16, x *float32, n int) float32
TEXT ·dotF16Asm(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	LSR  $4, R2, R2
	CBZ  R2, dotf16_done

dotf16_loop:
	VLD1.P 32(R0), [V4.H8, V5.H8]
	VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	FCVTL(4, 6)
	FCVTL2(4, 7)
	FCVTL(5, 8)
	FCVTL2(5, 9)
	VFMLA  V6.S4, V16.S4, V0.S4
	VFMLA  V7.S4, V17.S4, V1.S4
	VFMLA  V8.S4, V18.S4, V2.S4
	VFMLA  V9.S4, V19.S4, V3.S4
	SUBS   $1, R2, R2
	BNE    dotf16_loop

dotf16_done:
	HSUM4
	FMOVS F0, ret+24(FP)
	RET

// func dotBF16Asm(w *uint16, x *float32, n int) float32
// A bfloat16 is the top half of a float32: interleaving zero halves below
// the codes (ZIP with a zero vector) widens them exactly.
TEXT ·dotBF16Asm(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V31.B16, V31.B16, V31.B16
	LSR  $4, R2, R2
	CBZ  R2, dotbf16_done

dotbf16_loop:
	VLD1.P 32(R0), [V4.H8, V5.H8]
	VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	VZIP1  V4.H8, V31.H8, V6.H8
	VZIP2  V4.H8, V31.H8, V7.H8
	VZIP1  V5.H8, V31.H8, V8.H8
	VZIP2  V5.H8, V31.H8, V9.H8
	VFMLA  V6.S4, V16.S4, V0.S4
	VFMLA  V7.S4, V17.S4, V1.S4
	VFMLA  V8.S4, V18.S4, V2.S4
	VFMLA  V9.S4, V19.S4, V3.S4
	SUBS   $1, R2, R2
	BNE    dotbf16_loop

dotbf16_done:
	HSUM4
	FMOVS F0, ret+24(FP)
	RET

// func axpyAsm(alpha float32, x, y *float32, n int)
TEXT ·axpyAsm(SB), NOSPLIT, $0-32
	FMOVS alpha+0(FP), F30
	MOVD  x+8(FP), R0
	MOVD  y+16(FP), R1
	MOVD  n+24(FP), R2
	VDUP  V30.S[0], V30.S4
	LSR   $4, R2, R2
	CBZ   R2, axpy_done

axpy_loop:
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1   (R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V30.S4, V4.S4, V16.S4
	VFMLA  V30.S4, V5.S4, V17.S4
	VFMLA  V30.S4, V6.S4, V18.S4
	VFMLA  V30.S4, V7.S4, V19.S4
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R1)
	SUBS   $1, R2, R2
	BNE    axpy_loop

axpy_done:
	RET

// func gemm4Asm(w *float32, ws int, x *float32, xs, nx, k int, y *float32, ys int)
// Adds to y[i*ys+j] (i < nx, j < 4) the dot product over k columns (a
// multiple of 8) of weight row j (w[j*ws:]) and input row i (x[i*xs:]).
// Each input row keeps one accumulator pair per weight row; the four sums
// are reduced pairwise into one vector and added to y at once.
TEXT ·gemm4Asm(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD ws+8(FP), R1
	MOVD x+16(FP), R2
	MOVD xs+24(FP), R3
	MOVD nx+32(FP), R4
	MOVD k+40(FP), R5
	MOVD y+48(FP), R6
	MOVD ys+56(FP), R7
	LSL  $2, R1, R1
	LSL  $2, R3, R3
	LSL  $2, R7, R7
	LSR  $3, R5, R5
	CBZ  R4, gemm4_done
	CBZ  R5, gemm4_done

gemm4_row:
	MOVD R0, R8
	ADD  R1, R8, R9
	ADD  R1, R9, R10
	ADD  R1, R10, R11
	MOVD R2, R12
	MOVD R5, R13
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16

gemm4_k:
	VLD1.P 32(R12), [V16.S4, V17.S4]
	VLD1.P 32(R8), [V20.S4, V21.S4]
	VLD1.P 32(R9), [V22.S4, V23.S4]
	VLD1.P 32(R10), [V24.S4, V25.S4]
	VLD1.P 32(R11), [V26.S4, V27.S4]
	VFMLA  V16.S4, V20.S4, V0.S4
	VFMLA  V17.S4, V21.S4, V4.S4
	VFMLA  V16.S4, V22.S4, V1.S4
	VFMLA  V17.S4, V23.S4, V5.S4
	VFMLA  V16.S4, V24.S4, V2.S4
	VFMLA  V17.S4, V25.S4, V6.S4
	VFMLA  V16.S4, V26.S4, V3.S4
	VFMLA  V17.S4, V27.S4, V7.S4
	SUBS   $1, R13, R13
	BNE    gemm4_k

	FADD4S(4, 0, 0)
	FADD4S(5, 1, 1)
	FADD4S(6, 2, 2)
	FADD4S(7, 3, 3)
	FADDP4S(1, 0, 16)
	FADDP4S(3, 2, 17)
	FADDP4S(17, 16, 18)
	VLD1   (R6), [V19.S4]
	FADD4S(18, 19, 19)
	VST1   [V19.S4], (R6)
	ADD    R3, R2, R2
	ADD    R7, R6, R6
	SUBS   $1, R4, R4
	BNE    gemm4_row

gemm4_done:
	RET

// func cvtF16Asm(dst *float32, src *uint16, n int)
TEXT ·cvtF16Asm(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $4, R2, R2
	CBZ  R2, cvtf16_done

cvtf16_loop:
	VLD1.P 32(R1), [V4.H8, V5.H8]
	FCVTL(4, 16)
	FCVTL2(4, 17)
	FCVTL(5, 18)
	FCVTL2(5, 19)
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    cvtf16_loop

cvtf16_done:
	RET

// func cvtBF16Asm(dst *float32, src *uint16, n int)
TEXT ·cvtBF16Asm(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V31.B16, V31.B16, V31.B16
	LSR  $4, R2, R2
	CBZ  R2, cvtbf16_done

cvtbf16_loop:
	VLD1.P 32(R1), [V4.H8, V5.H8]
	VZIP1  V4.H8, V31.H8, V16.H8
	VZIP2  V4.H8, V31.H8, V17.H8
	VZIP1  V5.H8, V31.H8, V18.H8
	VZIP2  V5.H8, V31.H8, V19.H8
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    cvtbf16_loop

cvtbf16_done:
	RET
