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
