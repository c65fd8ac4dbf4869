//go:build amd64

#include "textflag.h"

// AVX2 + FMA + F16C kernels for float data: dot products, conversions, axpy
// and the matrix-multiply inner kernel. Counts are whole vectors (multiples
// of 8 floats); the Go wrappers in simd_amd64.go handle tails and check bounds.

// func dotF32Asm(a, b *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotF32Asm(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JL   dotf32_tail

dotf32_loop32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  dotf32_loop32

dotf32_tail:
	TESTQ CX, CX
	JZ    dotf32_done

dotf32_loop8:
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  dotf32_loop8

dotf32_done:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16Asm(w *uint16, x *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotF16Asm(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JL   dotf16_tail

dotf16_loop32:
	VCVTPH2PS (SI), Y4
	VCVTPH2PS 16(SI), Y5
	VCVTPH2PS 32(SI), Y6
	VCVTPH2PS 48(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  dotf16_loop32

dotf16_tail:
	TESTQ CX, CX
	JZ    dotf16_done

dotf16_loop8:
	VCVTPH2PS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  dotf16_loop8

dotf16_done:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16Asm(w *uint16, x *float32, n int) float32
// n is a multiple of 8. A bfloat16 is the top half of a float32: widen each
// 16-bit word to 32 bits and shift it into place.
TEXT ·dotBF16Asm(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JL   dotbf16_tail

dotbf16_loop32:
	VPMOVZXWD (SI), Y4
	VPMOVZXWD 16(SI), Y5
	VPMOVZXWD 32(SI), Y6
	VPMOVZXWD 48(SI), Y7
	VPSLLD $16, Y4, Y4
	VPSLLD $16, Y5, Y5
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y7, Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  dotbf16_loop32

dotbf16_tail:
	TESTQ CX, CX
	JZ    dotbf16_done

dotbf16_loop8:
	VPMOVZXWD (SI), Y4
	VPSLLD $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  dotbf16_loop8

dotbf16_done:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func cvtF16Asm(dst *float32, src *uint16, n int)
// n is a multiple of 8.
TEXT ·cvtF16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ    cvtf16_done

cvtf16_loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       cvtf16_loop

cvtf16_done:
	VZEROUPPER
	RET

// func cvtBF16Asm(dst *float32, src *uint16, n int)
// n is a multiple of 8.
TEXT ·cvtBF16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ    cvtbf16_done

cvtbf16_loop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       cvtbf16_loop

cvtbf16_done:
	VZEROUPPER
	RET

// func axpyAsm(alpha float32, x, y *float32, n int)
// y += alpha·x over n elements, n a multiple of 8.
TEXT ·axpyAsm(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JZ    axpy_done

axpy_loop:
	VMOVUPS     (SI), Y1
	VFMADD213PS (DI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         axpy_loop

axpy_done:
	VZEROUPPER
	RET

// REDUCE4 adds the lane sums of accumulators a, b, c, d (one per weight row)
// to the four consecutive floats at addr. xa is the XMM half of a; xt is
// scratch.
#define REDUCE4(a, b, c, d, xa, xt, addr) \
	VHADDPS      b, a, a   \
	VHADDPS      d, c, c   \
	VHADDPS      c, a, a   \
	VEXTRACTF128 $1, a, xt \
	VADDPS       xt, xa, xa \
	VADDPS       addr, xa, xa \
	VMOVUPS      xa, addr

// func gemm4Asm(w *float32, ws int, x *float32, xs, nx, k int, y *float32, ys int)
// For i < nx and j < 4: y[i*ys+j] += Σ_{c<k} w[j*ws+c]·x[i*xs+c].
// k is a positive multiple of 8. Inputs go three at a time: 12 accumulators
// (3 inputs × 4 weight rows), 3 input vectors and 1 weight vector fill the
// 16 YMM registers, giving 12 FMAs per 7 loads.
TEXT ·gemm4Asm(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), R8
	MOVQ ws+8(FP), AX
	SHLQ $2, AX
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	MOVQ x+16(FP), SI
	MOVQ xs+24(FP), DX
	SHLQ $2, DX
	MOVQ nx+32(FP), CX
	MOVQ k+40(FP), BX
	SHLQ $2, BX
	MOVQ y+48(FP), DI
	MOVQ ys+56(FP), R14
	SHLQ $2, R14

gemm_triple:
	CMPQ CX, $3
	JL   gemm_single
	LEAQ (SI)(DX*1), R12
	LEAQ (R12)(DX*1), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ   AX, AX

gemm_k3:
	VMOVUPS     (SI)(AX*1), Y12
	VMOVUPS     (R12)(AX*1), Y13
	VMOVUPS     (R13)(AX*1), Y14
	VMOVUPS     (R8)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS     (R9)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS     (R10)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS     (R11)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ        $32, AX
	CMPQ        AX, BX
	JL          gemm_k3

	REDUCE4(Y0, Y1, Y2, Y3, X0, X1, (DI))
	LEAQ (DI)(R14*1), R15
	REDUCE4(Y4, Y5, Y6, Y7, X4, X5, (R15))
	ADDQ R14, R15
	REDUCE4(Y8, Y9, Y10, Y11, X8, X9, (R15))
	LEAQ (R13)(DX*1), SI
	LEAQ (R15)(R14*1), DI
	SUBQ $3, CX
	JMP  gemm_triple

gemm_single:
	TESTQ CX, CX
	JZ    gemm_done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX

gemm_k1:
	VMOVUPS     (SI)(AX*1), Y12
	VFMADD231PS (R8)(AX*1), Y12, Y0
	VFMADD231PS (R9)(AX*1), Y12, Y1
	VFMADD231PS (R10)(AX*1), Y12, Y2
	VFMADD231PS (R11)(AX*1), Y12, Y3
	ADDQ        $32, AX
	CMPQ        AX, BX
	JL          gemm_k1

	REDUCE4(Y0, Y1, Y2, Y3, X0, X1, (DI))
	ADDQ DX, SI
	ADDQ R14, DI
	DECQ CX
	JMP  gemm_single

gemm_done:
	VZEROUPPER
	RET

// expconst holds, for the vector exp (EXP8), the Taylor coefficients
// 1/7! ... 1/2! of e^r as 8-float vectors (bytes 0-191), then scalars: the
// sign bit, −104 (below which e^x is 0 in float32), log2(e), ln 2 split into
// a high part exact in n·ln2Hi and a low part, 1.0, the exponent bias 127
// and 88 (the largest input EXP8 takes). The values are the scalar Exp's in
// ops.go.
DATA expconst<>+0(SB)/4, $0x39500d01
DATA expconst<>+4(SB)/4, $0x39500d01
DATA expconst<>+8(SB)/4, $0x39500d01
DATA expconst<>+12(SB)/4, $0x39500d01
DATA expconst<>+16(SB)/4, $0x39500d01
DATA expconst<>+20(SB)/4, $0x39500d01
DATA expconst<>+24(SB)/4, $0x39500d01
DATA expconst<>+28(SB)/4, $0x39500d01
DATA expconst<>+32(SB)/4, $0x3ab60b61
DATA expconst<>+36(SB)/4, $0x3ab60b61
DATA expconst<>+40(SB)/4, $0x3ab60b61
DATA expconst<>+44(SB)/4, $0x3ab60b61
DATA expconst<>+48(SB)/4, $0x3ab60b61
DATA expconst<>+52(SB)/4, $0x3ab60b61
DATA expconst<>+56(SB)/4, $0x3ab60b61
DATA expconst<>+60(SB)/4, $0x3ab60b61
DATA expconst<>+64(SB)/4, $0x3c088889
DATA expconst<>+68(SB)/4, $0x3c088889
DATA expconst<>+72(SB)/4, $0x3c088889
DATA expconst<>+76(SB)/4, $0x3c088889
DATA expconst<>+80(SB)/4, $0x3c088889
DATA expconst<>+84(SB)/4, $0x3c088889
DATA expconst<>+88(SB)/4, $0x3c088889
DATA expconst<>+92(SB)/4, $0x3c088889
DATA expconst<>+96(SB)/4, $0x3d2aaaab
DATA expconst<>+100(SB)/4, $0x3d2aaaab
DATA expconst<>+104(SB)/4, $0x3d2aaaab
DATA expconst<>+108(SB)/4, $0x3d2aaaab
DATA expconst<>+112(SB)/4, $0x3d2aaaab
DATA expconst<>+116(SB)/4, $0x3d2aaaab
DATA expconst<>+120(SB)/4, $0x3d2aaaab
DATA expconst<>+124(SB)/4, $0x3d2aaaab
DATA expconst<>+128(SB)/4, $0x3e2aaaab
DATA expconst<>+132(SB)/4, $0x3e2aaaab
DATA expconst<>+136(SB)/4, $0x3e2aaaab
DATA expconst<>+140(SB)/4, $0x3e2aaaab
DATA expconst<>+144(SB)/4, $0x3e2aaaab
DATA expconst<>+148(SB)/4, $0x3e2aaaab
DATA expconst<>+152(SB)/4, $0x3e2aaaab
DATA expconst<>+156(SB)/4, $0x3e2aaaab
DATA expconst<>+160(SB)/4, $0x3f000000
DATA expconst<>+164(SB)/4, $0x3f000000
DATA expconst<>+168(SB)/4, $0x3f000000
DATA expconst<>+172(SB)/4, $0x3f000000
DATA expconst<>+176(SB)/4, $0x3f000000
DATA expconst<>+180(SB)/4, $0x3f000000
DATA expconst<>+184(SB)/4, $0x3f000000
DATA expconst<>+188(SB)/4, $0x3f000000
DATA expconst<>+192(SB)/4, $0x80000000 // sign bit
DATA expconst<>+196(SB)/4, $0xc2d00000 // -104
DATA expconst<>+200(SB)/4, $0x3fb8aa3b // log2 e
DATA expconst<>+204(SB)/4, $0x3f318000 // ln2Hi
DATA expconst<>+208(SB)/4, $0xb95e8083 // ln2Lo
DATA expconst<>+212(SB)/4, $0x3f800000 // 1.0
DATA expconst<>+216(SB)/4, $0x0000007f // 127
DATA expconst<>+220(SB)/4, $0x42b00000 // 88
GLOBL expconst<>(SB), RODATA|NOPTR, $224

// EXPCONST loads EXP8's constants: AX = expconst, Y9 = −104, Y10 = log2 e,
// Y11 = ln2Hi, Y12 = ln2Lo, Y13 = 1.0, Y14 = 127 (integer lanes).
#define EXPCONST \
	LEAQ expconst<>(SB), AX \
	VBROADCASTSS 196(AX), Y9 \
	VBROADCASTSS 200(AX), Y10 \
	VBROADCASTSS 204(AX), Y11 \
	VBROADCASTSS 208(AX), Y12 \
	VBROADCASTSS 212(AX), Y13 \
	VBROADCASTSS 216(AX), Y14

// EXP8 sets p = e^a for 8 lanes of a in [−104, 88] (clamped by the caller),
// with the scalar Exp's method: n = round(a·log2 e) to nearest even,
// r = a − n·ln2Hi − n·ln2Lo, a degree-7 Taylor polynomial in r, and 2^n
// applied as two factors 2^(n>>1) and 2^(n−n>>1), both normal, so that a
// subnormal result is rounded once. a is overwritten with r; n, k1 and k2
// are scratch. Needs EXPCONST.
#define EXP8(a, n, p, k1, k2) \
	VMULPS       Y10, a, n \
	VROUNDPS     $0, n, n \
	VFNMADD231PS Y11, n, a \
	VFNMADD231PS Y12, n, a \
	VMOVUPS      0(AX), p \
	VFMADD213PS  32(AX), a, p \
	VFMADD213PS  64(AX), a, p \
	VFMADD213PS  96(AX), a, p \
	VFMADD213PS  128(AX), a, p \
	VFMADD213PS  160(AX), a, p \
	VFMADD213PS  Y13, a, p \
	VFMADD213PS  Y13, a, p \
	VCVTPS2DQ    n, k2 \
	VPSRAD       $1, k2, k1 \
	VPSUBD       k1, k2, k2 \
	VPADDD       Y14, k1, k1 \
	VPSLLD       $23, k1, k1 \
	VPADDD       Y14, k2, k2 \
	VPSLLD       $23, k2, k2 \
	VMULPS       k1, p, p \
	VMULPS       k2, p, p

// func siluMulAsm(gate, up *float32, n int)
// gate[i] = silu(gate[i])·up[i] over n elements, n a multiple of 8, with
// silu(x) = x·σ(x) computed from e = exp(−|x|) ∈ [0, 1], which cannot
// overflow: σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0.
TEXT ·siluMulAsm(SB), NOSPLIT, $0-24
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ    silu_done
	EXPCONST
	VBROADCASTSS 192(AX), Y8 // sign bit

silu_loop:
	VMOVUPS   (DI), Y0                // x
	VORPS     Y8, Y0, Y1              // a = −|x|
	VMAXPS    Y9, Y1, Y1              // a ≥ −104
	EXP8(Y1, Y2, Y3, Y5, Y4)          // Y3 = e = exp(−|x|)
	VMULPS    Y3, Y0, Y4              // x·e
	VBLENDVPS Y0, Y4, Y0, Y5          // num = x·e where x's sign is set, else x
	VADDPS    Y13, Y3, Y3             // 1 + e
	VDIVPS    Y3, Y5, Y5
	VMULPS    (SI), Y5, Y5
	VMOVUPS   Y5, (DI)
	ADDQ      $32, DI
	ADDQ      $32, SI
	SUBQ      $8, CX
	JNZ       silu_loop

silu_done:
	VZEROUPPER
	RET

// func expSumAsm(x *float32, m float32, n int) float32
// x[i] = exp(x[i] − m) over n elements, n a multiple of 8, inputs clamped to
// [−104, 88] (a NaN stays NaN); returns the sum, accumulated per lane and
// then across lanes.
TEXT ·expSumAsm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	VBROADCASTSS m+8(FP), Y8
	MOVQ n+16(FP), CX
	VXORPS Y6, Y6, Y6
	TESTQ CX, CX
	JZ    expsum_done
	EXPCONST
	VBROADCASTSS 220(AX), Y7 // 88

expsum_loop:
	VMOVUPS (DI), Y1
	VSUBPS  Y8, Y1, Y1
	VMAXPS  Y1, Y9, Y1 // max(−104, a), a NaN stays NaN
	VMINPS  Y1, Y7, Y1 // min(88, a)
	EXP8(Y1, Y2, Y3, Y5, Y4)
	VMOVUPS Y3, (DI)
	VADDPS  Y3, Y6, Y6
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     expsum_loop

expsum_done:
	VEXTRACTF128 $1, Y6, X7
	VADDPS       X7, X6, X6
	VHADDPS      X6, X6, X6
	VHADDPS      X6, X6, X6
	VZEROUPPER
	MOVSS        X6, ret+24(FP)
	RET

// func cvtF32F16Asm(dst *uint16, src *float32, n int)
// n is a multiple of 8. Rounds to nearest even (immediate 0), as
// quantize.F32ToF16 does, NaNs quieted with their payload's top bits kept.
TEXT ·cvtF32F16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ    cvtf32f16_done

cvtf32f16_loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JNZ       cvtf32f16_loop

cvtf32f16_done:
	VZEROUPPER
	RET

// func cvtF16RowsAsm(dst *float32, ld int, src *uint16, ls, rows, cols int)
// Converts rows rows of cols halves, row r at src+r·ls, to float32 at
// dst+r·ld (strides in elements). cols is a positive multiple of 8.
TEXT ·cvtF16RowsAsm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ls+24(FP), R9
	SHLQ $1, R9
	MOVQ rows+32(FP), DX
	MOVQ cols+40(FP), R10
	TESTQ DX, DX
	JZ    cvtrows_done

cvtrows_row:
	MOVQ DI, R11
	MOVQ SI, R12
	MOVQ R10, CX

cvtrows_col:
	VCVTPH2PS (R12), Y0
	VMOVUPS   Y0, (R11)
	ADDQ      $16, R12
	ADDQ      $32, R11
	SUBQ      $8, CX
	JNZ       cvtrows_col
	ADDQ      R8, DI
	ADDQ      R9, SI
	DECQ      DX
	JNZ       cvtrows_row

cvtrows_done:
	VZEROUPPER
	RET

// func sumSquaresAsm(x *float32, n int) float64
// Σ x[i]² in float64 (each square is exact there) over n elements, n a
// multiple of 8: four accumulators of four lanes, added at the end.
TEXT ·sumSquaresAsm(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	CMPQ CX, $16
	JL   sumsq_tail

sumsq_loop16:
	VCVTPS2PD   (SI), Y0
	VCVTPS2PD   16(SI), Y1
	VFMADD231PD Y0, Y0, Y2
	VFMADD231PD Y1, Y1, Y3
	VCVTPS2PD   32(SI), Y0
	VCVTPS2PD   48(SI), Y1
	VFMADD231PD Y0, Y0, Y4
	VFMADD231PD Y1, Y1, Y5
	ADDQ $64, SI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE  sumsq_loop16

sumsq_tail:
	TESTQ CX, CX
	JZ    sumsq_done
	VCVTPS2PD   (SI), Y0
	VCVTPS2PD   16(SI), Y1
	VFMADD231PD Y0, Y0, Y2
	VFMADD231PD Y1, Y1, Y3

sumsq_done:
	VADDPD Y3, Y2, Y2
	VADDPD Y5, Y4, Y4
	VADDPD Y4, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPD X3, X2, X2
	VHADDPD X2, X2, X2
	VZEROUPPER
	MOVSD X2, ret+16(FP)
	RET

// func rmsScaleAsm(dst, x, w *float32, inv, offset float32, n int)
// dst[i] = x[i]·inv·(offset + w[i]) over n elements, n a multiple of 8, with
// the roundings of the Go expression (no fused multiply-add).
TEXT ·rmsScaleAsm(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	VBROADCASTSS inv+24(FP), Y6
	VBROADCASTSS offset+28(FP), Y7
	MOVQ n+32(FP), CX
	TESTQ CX, CX
	JZ    rmsscale_done

rmsscale_loop:
	VMULPS  (SI), Y6, Y0
	VADDPS  (DX), Y7, Y1
	VMULPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     rmsscale_loop

rmsscale_done:
	VZEROUPPER
	RET

// func scaleMaxAsm(x *float32, s float32, n int) (max float32, nan bool)
// x[i] *= s over n elements, n a positive multiple of 8; returns the largest
// product and whether any product is NaN (VMAXPS does not keep NaNs).
TEXT ·scaleMaxAsm(SB), NOSPLIT, $0-29
	MOVQ x+0(FP), DI
	VBROADCASTSS s+8(FP), Y1
	MOVQ n+16(FP), CX
	VMULPS  (DI), Y1, Y2 // the first vector seeds the maximum
	VMOVUPS Y2, (DI)
	VCMPPS  $3, Y2, Y2, Y3 // unordered: NaN lanes
	ADDQ    $32, DI
	SUBQ    $8, CX
	JZ      scalemax_done

scalemax_loop:
	VMULPS  (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	VMAXPS  Y0, Y2, Y2
	VCMPPS  $3, Y0, Y0, Y4
	VORPS   Y4, Y3, Y3
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     scalemax_loop

scalemax_done:
	VEXTRACTF128 $1, Y2, X0
	VMAXPS       X0, X2, X2
	VPERMILPS    $0x4e, X2, X0
	VMAXPS       X0, X2, X2
	VPERMILPS    $0xb1, X2, X0
	VMAXPS       X0, X2, X2
	VMOVMSKPS    Y3, AX
	VZEROUPPER
	MOVSS        X2, ret+24(FP)
	TESTL        AX, AX
	SETNE        ret1+28(FP)
	RET

// func maxAsm(x *float32, n int) float32
// The largest of n elements, n a positive multiple of 8, NaNs skipped (−Inf
// if all are NaN): VMAXPS returns its second source when either is NaN, and
// the running maximum is passed second.
TEXT ·maxAsm(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX // −Inf
	MOVQ AX, X0
	VBROADCASTSS X0, Y0
	VMOVUPS Y0, Y1
	CMPQ CX, $16
	JL   max_tail

max_loop16:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VMAXPS  Y0, Y2, Y0 // max(x, Y0): Y0 when x is NaN
	VMAXPS  Y1, Y3, Y1
	ADDQ    $64, SI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     max_loop16

max_tail:
	TESTQ CX, CX
	JZ    max_done
	VMOVUPS (SI), Y2
	VMAXPS  Y0, Y2, Y0

max_done:
	VMAXPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+16(FP)
	RET

// func findAsm(x *float32, v float32, n int) int
// The index of the first of n elements equal to v, n a positive multiple
// of 8, or n if none is.
TEXT ·findAsm(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	VBROADCASTSS v+8(FP), Y1
	MOVQ n+16(FP), CX
	XORQ DX, DX

find_loop:
	VCMPPS    $0, (SI), Y1, Y0 // equal, ordered
	VMOVMSKPS Y0, AX
	TESTL     AX, AX
	JNZ       find_hit
	ADDQ      $32, SI
	ADDQ      $8, DX
	CMPQ      DX, CX
	JL        find_loop
	MOVQ      CX, ret+24(FP)
	VZEROUPPER
	RET

find_hit:
	BSFL AX, AX
	ADDQ AX, DX
	MOVQ DX, ret+24(FP)
	VZEROUPPER
	RET

// func rotateAsm(x, cos, sin *float32, heads, stride, half int)
// For each of heads heads at x+h·stride (elements): with a = x[i] and
// b = x[i+half], x[i] = a·cos[i] − b·sin[i] and x[i+half] = b·cos[i] +
// a·sin[i] for i < half, half a positive multiple of 8. Products and sums
// are rounded separately, as in the Go loop.
TEXT ·rotateAsm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ cos+8(FP), R8
	MOVQ sin+16(FP), R9
	MOVQ heads+24(FP), DX
	MOVQ stride+32(FP), R10
	SHLQ $2, R10
	MOVQ half+40(FP), R12
	SHLQ $2, R12
	TESTQ DX, DX
	JZ    rotate_done

rotate_head:
	XORQ CX, CX
	LEAQ (DI)(R12*1), R14

rotate_i:
	VMOVUPS (DI)(CX*1), Y0  // a
	VMOVUPS (R14)(CX*1), Y1 // b
	VMOVUPS (R8)(CX*1), Y2  // cos
	VMOVUPS (R9)(CX*1), Y3  // sin
	VMULPS  Y2, Y0, Y4
	VMULPS  Y3, Y1, Y5
	VSUBPS  Y5, Y4, Y4      // a·cos − b·sin
	VMULPS  Y2, Y1, Y6
	VMULPS  Y3, Y0, Y7
	VADDPS  Y7, Y6, Y6      // b·cos + a·sin
	VMOVUPS Y4, (DI)(CX*1)
	VMOVUPS Y6, (R14)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, R12
	JL      rotate_i
	ADDQ    R10, DI
	DECQ    DX
	JNZ     rotate_head

rotate_done:
	VZEROUPPER
	RET
