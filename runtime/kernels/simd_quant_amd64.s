//go:build amd64

#include "textflag.h"

// AVX2 + FMA + F16C kernels for quantized weights (INT4 and INT8 groups).
// Counts are whole 32-element blocks and groups; the Go wrappers in
// simd_amd64.go check bounds.

// DECODE_Q4 unpacks the 16-byte INT4 block at (SI) into the signed codes
// (q − bias) of its 32 elements as float32 in Y6 (elements 0..7), Y7 (8..15),
// Y8 (16..23) and Y9 (24..31). X15 holds 0x0F in every byte, X14 the bias.
#define DECODE_Q4 \
	VMOVDQU   (SI), X4       \
	VPSRLW    $4, X4, X5     \
	VPAND     X15, X4, X4    \
	VPAND     X15, X5, X5    \
	VPSUBB    X14, X4, X4    \
	VPSUBB    X14, X5, X5    \
	VPMOVSXBD X4, Y6         \
	VPSRLDQ   $8, X4, X4     \
	VPMOVSXBD X4, Y7         \
	VPMOVSXBD X5, Y8         \
	VPSRLDQ   $8, X5, X5     \
	VPMOVSXBD X5, Y9         \
	VCVTDQ2PS Y6, Y6         \
	VCVTDQ2PS Y7, Y7         \
	VCVTDQ2PS Y8, Y8         \
	VCVTDQ2PS Y9, Y9

// Q4_CONSTS loads the nibble mask into X15 and broadcasts the bias in AX to X14.
#define Q4_CONSTS \
	VMOVQ        AX, X14     \
	VPBROADCASTB X14, X14    \
	MOVL         $0x0f0f0f0f, AX \
	VMOVQ        AX, X15     \
	VPBROADCASTD X15, X15

// HSUM_Y10 reduces the eight lanes of Y10 into X0's lowest lane.
#define HSUM_Y10 \
	VEXTRACTF128 $1, Y10, X0 \
	VADDPS       X10, X0, X0 \
	VHADDPS      X0, X0, X0  \
	VHADDPS      X0, X0, X0

// func dotQ4Asm(codes *byte, scales *uint16, x *float32, ngroups, gblocks, bias int) float32
// Returns Σ_groups scale·Σ (q−bias)·x over ngroups groups of gblocks
// 32-element blocks each.
TEXT ·dotQ4Asm(SB), NOSPLIT, $0-52
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ ngroups+24(FP), CX
	MOVQ gblocks+32(FP), R8
	MOVQ bias+40(FP), AX
	Q4_CONSTS
	VXORPS Y10, Y10, Y10
	TESTQ CX, CX
	JZ    dotq4_done

dotq4_group:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   R8, BX

dotq4_block:
	DECODE_Q4
	VFMADD231PS (DI), Y6, Y0
	VFMADD231PS 32(DI), Y7, Y1
	VFMADD231PS 64(DI), Y8, Y2
	VFMADD231PS 96(DI), Y9, Y3
	ADDQ $16, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  dotq4_block

	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VPBROADCASTW (DX), X6
	VCVTPH2PS    X6, Y6
	VFMADD231PS  Y6, Y0, Y10
	ADDQ         $2, DX
	DECQ         CX
	JNZ          dotq4_group

dotq4_done:
	HSUM_Y10
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func dequantQ4Asm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks, bias int)
// Writes scale·(q−bias) + min for every element of ngroups groups; mins may
// be nil (sym), meaning 0.
TEXT ·dequantQ4Asm(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ codes+8(FP), SI
	MOVQ scales+16(FP), DX
	MOVQ mins+24(FP), R9
	MOVQ ngroups+32(FP), CX
	MOVQ gblocks+40(FP), R8
	MOVQ bias+48(FP), AX
	Q4_CONSTS
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JZ    deq4_done

deq4_group:
	VPBROADCASTW (DX), X12
	VCVTPH2PS    X12, Y12
	TESTQ        R9, R9
	JZ           deq4_nomin
	VPBROADCASTW (R9), X13
	VCVTPH2PS    X13, Y13
	ADDQ         $2, R9

deq4_nomin:
	MOVQ R8, BX

deq4_block:
	DECODE_Q4
	VFMADD213PS Y13, Y12, Y6
	VFMADD213PS Y13, Y12, Y7
	VFMADD213PS Y13, Y12, Y8
	VFMADD213PS Y13, Y12, Y9
	VMOVUPS     Y6, (DI)
	VMOVUPS     Y7, 32(DI)
	VMOVUPS     Y8, 64(DI)
	VMOVUPS     Y9, 96(DI)
	ADDQ        $16, SI
	ADDQ        $128, DI
	DECQ        BX
	JNZ         deq4_block
	ADDQ        $2, DX
	DECQ        CX
	JNZ         deq4_group

deq4_done:
	VZEROUPPER
	RET


// func dotQ8sAsm(codes *byte, scales *uint16, x *float32, ngroups, gblocks int) float32
TEXT ·dotQ8sAsm(SB), NOSPLIT, $0-44
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ ngroups+24(FP), CX
	MOVQ gblocks+32(FP), R8
	VXORPS Y10, Y10, Y10
	TESTQ CX, CX
	JZ dotq8s_done

dotq8s_group:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ R8, BX

dotq8s_block:
	VPMOVSXBD (SI), Y6
	VPMOVSXBD 8(SI), Y7
	VPMOVSXBD 16(SI), Y8
	VPMOVSXBD 24(SI), Y9
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VCVTDQ2PS Y8, Y8
	VCVTDQ2PS Y9, Y9
	VFMADD231PS (DI), Y6, Y0
	VFMADD231PS 32(DI), Y7, Y1
	VFMADD231PS 64(DI), Y8, Y2
	VFMADD231PS 96(DI), Y9, Y3
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ BX
	JNZ dotq8s_block
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VPBROADCASTW (DX), X6
	VCVTPH2PS X6, Y6
	VFMADD231PS Y6, Y0, Y10
	ADDQ $2, DX
	DECQ CX
	JNZ dotq8s_group

dotq8s_done:
	HSUM_Y10
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// func dotQ8uAsm(codes *byte, scales *uint16, x *float32, ngroups, gblocks int) float32
TEXT ·dotQ8uAsm(SB), NOSPLIT, $0-44
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), DX
	MOVQ x+16(FP), DI
	MOVQ ngroups+24(FP), CX
	MOVQ gblocks+32(FP), R8
	VXORPS Y10, Y10, Y10
	TESTQ CX, CX
	JZ dotq8u_done

dotq8u_group:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ R8, BX

dotq8u_block:
	VPMOVZXBD (SI), Y6
	VPMOVZXBD 8(SI), Y7
	VPMOVZXBD 16(SI), Y8
	VPMOVZXBD 24(SI), Y9
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VCVTDQ2PS Y8, Y8
	VCVTDQ2PS Y9, Y9
	VFMADD231PS (DI), Y6, Y0
	VFMADD231PS 32(DI), Y7, Y1
	VFMADD231PS 64(DI), Y8, Y2
	VFMADD231PS 96(DI), Y9, Y3
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ BX
	JNZ dotq8u_block
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VPBROADCASTW (DX), X6
	VCVTPH2PS X6, Y6
	VFMADD231PS Y6, Y0, Y10
	ADDQ $2, DX
	DECQ CX
	JNZ dotq8u_group

dotq8u_done:
	HSUM_Y10
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET


// func dequantQ8sAsm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks int)
TEXT ·dequantQ8sAsm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ codes+8(FP), SI
	MOVQ scales+16(FP), DX
	MOVQ mins+24(FP), R9
	MOVQ ngroups+32(FP), CX
	MOVQ gblocks+40(FP), R8
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JZ deq8s_done

deq8s_group:
	VPBROADCASTW (DX), X12
	VCVTPH2PS X12, Y12
	TESTQ R9, R9
	JZ deq8s_nomin
	VPBROADCASTW (R9), X13
	VCVTPH2PS X13, Y13
	ADDQ $2, R9

deq8s_nomin:
	MOVQ R8, BX

deq8s_block:
	VPMOVSXBD (SI), Y6
	VPMOVSXBD 8(SI), Y7
	VPMOVSXBD 16(SI), Y8
	VPMOVSXBD 24(SI), Y9
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VCVTDQ2PS Y8, Y8
	VCVTDQ2PS Y9, Y9
	VFMADD213PS Y13, Y12, Y6
	VFMADD213PS Y13, Y12, Y7
	VFMADD213PS Y13, Y12, Y8
	VFMADD213PS Y13, Y12, Y9
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VMOVUPS Y8, 64(DI)
	VMOVUPS Y9, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ BX
	JNZ deq8s_block
	ADDQ $2, DX
	DECQ CX
	JNZ deq8s_group

deq8s_done:
	VZEROUPPER
	RET

// func dequantQ8uAsm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks int)
TEXT ·dequantQ8uAsm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ codes+8(FP), SI
	MOVQ scales+16(FP), DX
	MOVQ mins+24(FP), R9
	MOVQ ngroups+32(FP), CX
	MOVQ gblocks+40(FP), R8
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JZ deq8u_done

deq8u_group:
	VPBROADCASTW (DX), X12
	VCVTPH2PS X12, Y12
	TESTQ R9, R9
	JZ deq8u_nomin
	VPBROADCASTW (R9), X13
	VCVTPH2PS X13, Y13
	ADDQ $2, R9

deq8u_nomin:
	MOVQ R8, BX

deq8u_block:
	VPMOVZXBD (SI), Y6
	VPMOVZXBD 8(SI), Y7
	VPMOVZXBD 16(SI), Y8
	VPMOVZXBD 24(SI), Y9
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VCVTDQ2PS Y8, Y8
	VCVTDQ2PS Y9, Y9
	VFMADD213PS Y13, Y12, Y6
	VFMADD213PS Y13, Y12, Y7
	VFMADD213PS Y13, Y12, Y8
	VFMADD213PS Y13, Y12, Y9
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VMOVUPS Y8, 64(DI)
	VMOVUPS Y9, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ BX
	JNZ deq8u_block
	ADDQ $2, DX
	DECQ CX
	JNZ deq8u_group

deq8u_done:
	VZEROUPPER
	RET

// func dotQ4x16Asm(codes *byte, scales *uint16, x16 *int16, xscale *float32, start *int32, ngroups, gblocks int) float32
// Integer INT4 dot product against an input rounded to int16 per group:
// returns Σ_g scale_g·xscale_g·(start_g + Σ q·x16) with q the raw codes
// 0..15. Widening the 16 code bytes of a block to words leaves the low
// nibble (element i) under a mask and the high nibble (element i+16) after a
// 4-bit shift, and VPMADDWD multiplies and pairs 16 of them at once; the
// int32 sums cannot overflow for groups of up to 4096 elements.
TEXT ·dotQ4x16Asm(SB), NOSPLIT, $0-60
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), DX
	MOVQ x16+16(FP), DI
	MOVQ xscale+24(FP), R9
	MOVQ start+32(FP), R10
	MOVQ ngroups+40(FP), CX
	MOVQ gblocks+48(FP), R8
	MOVL $0x000f000f, AX
	VMOVQ AX, X15
	VPBROADCASTD X15, Y15
	VXORPS Y10, Y10, Y10
	TESTQ CX, CX
	JZ    dotq4x16_done

dotq4x16_group:
	VMOVDQU (R10), Y0
	VPXOR   Y1, Y1, Y1
	MOVQ    R8, BX

dotq4x16_block:
	VPMOVZXBW (SI), Y4
	VPSRLW    $4, Y4, Y5
	VPAND     Y15, Y4, Y4
	VPMADDWD  (DI), Y4, Y4
	VPMADDWD  32(DI), Y5, Y5
	VPADDD    Y4, Y0, Y0
	VPADDD    Y5, Y1, Y1
	ADDQ      $16, SI
	ADDQ      $64, DI
	DECQ      BX
	JNZ       dotq4x16_block

	VPADDD       Y1, Y0, Y0
	VCVTDQ2PS    Y0, Y0
	VPBROADCASTW (DX), X6
	VCVTPH2PS    X6, Y6
	VBROADCASTSS (R9), Y7
	VMULPS       Y7, Y6, Y6
	VFMADD231PS  Y6, Y0, Y10
	ADDQ         $2, DX
	ADDQ         $4, R9
	ADDQ         $32, R10
	DECQ         CX
	JNZ          dotq4x16_group

dotq4x16_done:
	HSUM_Y10
	VZEROUPPER
	MOVSS X0, ret+56(FP)
	RET
