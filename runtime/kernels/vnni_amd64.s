//go:build amd64

#include "textflag.h"

// AVX-512 VNNI kernels for INT4 weights against an input quantized to int8
// per 32-element block (q8.go). Both sides are walked in chunks of 128
// elements, four blocks: 64 bytes of codes (block j in bytes 16j..16j+15, the
// low nibble of byte i holding element i and the high nibble element i+16).
// Masking the nibbles puts element 32j+i of the chunk in byte 16j+i of one
// register and element 32j+16+i in byte 16j+i of another; the input chunk is
// stored in that same order (128 int8), so VPDPBUSD multiplies matching
// elements and sums them four at a time into 16 int32 lanes, lane l holding
// block l/4. Per chunk the input also has 16 int32 start values (−8 × the sum
// of the lane's eight input values for sym weights, whose codes stand for
// q − 8; zero for asym) and 16 float32 lane scales (its block's scale).
// A chunk's result, scale_w · Σ_lanes xscale·(start + Σ code·x), is
// accumulated in float32; every result's sums run in the same order in both
// kernels, so MatMul and MatVec agree bit for bit.

// NIBBLE_MASK puts 0x0F in every byte of Z15.
#define NIBBLE_MASK \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z15

// UNPACK splits the 64 code bytes in Z4 into low nibbles (Z4) and high
// nibbles (Z5).
#define UNPACK \
	VPSRLW $4, Z4, Z5  \
	VPANDD Z15, Z4, Z4 \
	VPANDD Z15, Z5, Z5

// SCALE_Z7 loads the float16 weight scale at (DX) into all lanes of Z7.
#define SCALE_Z7 \
	VPBROADCASTW (DX), Y7 \
	VCVTPH2PS    Y7, Z7

// CHUNK(q, q64, d, c, acc) adds the chunk's contribution of one input (its
// two 64-byte int8 halves at q and q64, lane scales at d, start values at c)
// to the float accumulator acc, with the codes unpacked in Z4/Z5 and the
// weight scale in Z7. Z6 is scratch.
#define CHUNK(q, q64, d, c, acc) \
	VMOVDQU32   c, Z6       \
	VPDPBUSD    q, Z4, Z6   \
	VPDPBUSD    q64, Z5, Z6 \
	VCVTDQ2PS   Z6, Z6      \
	VMULPS      d, Z6, Z6   \
	VFMADD231PS Z7, Z6, acc

// HSUM(z, y, x) reduces the 16 lanes of z into the lowest lane of x (y and x
// name the low halves of z's register).
#define HSUM(z, y, x) \
	VEXTRACTF64X4 $1, z, Y8 \
	VADDPS        y, Y8, Y8 \
	VEXTRACTF128  $1, Y8, X9 \
	VADDPS        X8, X9, X9 \
	VHADDPS       X9, X9, X9 \
	VHADDPS       X9, X9, x

// func dotQ4VNNIAsm(codes *byte, scales *uint16, xq *int8, xd *float32, xc *int32, nfull, cpg int, tail uint64) float32
// One row × one input. nfull whole chunks, then, when tail ≠ 0, one partial
// chunk whose code bytes are loaded under the byte mask tail (the input is
// zero there). cpg is the number of chunks per weight group (group size/128).
TEXT ·dotQ4VNNIAsm(SB), NOSPLIT, $0-68
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), DX
	MOVQ xq+16(FP), DI
	MOVQ xd+24(FP), R8
	MOVQ xc+32(FP), R9
	MOVQ nfull+40(FP), CX
	MOVQ cpg+48(FP), R10
	NIBBLE_MASK
	VPXORD Z10, Z10, Z10
	XORQ   BX, BX // chunks left in the current group

v1_loop:
	TESTQ CX, CX
	JZ    v1_tail
	TESTQ BX, BX
	JNZ   v1_same
	SCALE_Z7
	ADDQ  $2, DX
	MOVQ  R10, BX

v1_same:
	DECQ      BX
	VMOVDQU64 (SI), Z4
	UNPACK
	CHUNK((DI), 64(DI), (R8), (R9), Z10)
	ADDQ      $64, SI
	ADDQ      $128, DI
	ADDQ      $64, R8
	ADDQ      $64, R9
	DECQ      CX
	JMP       v1_loop

v1_tail:
	MOVQ  tail+56(FP), AX
	TESTQ AX, AX
	JZ    v1_done
	TESTQ BX, BX
	JNZ   v1_tail_same
	SCALE_Z7

v1_tail_same:
	KMOVQ       AX, K1
	VMOVDQU8.Z  (SI), K1, Z4
	UNPACK
	CHUNK((DI), 64(DI), (R8), (R9), Z10)

v1_done:
	HSUM(Z10, Y10, X0)
	VZEROUPPER
	MOVSS X0, ret+64(FP)
	RET

// func dotQ4VNNI4Asm(codes *byte, scales *uint16, xq *int8, xd *float32, xc *int32, xstride, nfull, cpg int, tail uint64, out *float32)
// One row × four inputs: input n's int8 data starts at xq + n·xstride and
// its lane scales and start values at xd and xc + n·xstride/2 (bytes).
// Writes the four results to out[0..3]; each equals dotQ4VNNIAsm's.
TEXT ·dotQ4VNNI4Asm(SB), NOSPLIT, $0-80
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), DX
	MOVQ xq+16(FP), DI
	MOVQ xd+24(FP), R8
	MOVQ xc+32(FP), R9
	MOVQ xstride+40(FP), R11
	MOVQ nfull+48(FP), CX
	MOVQ cpg+56(FP), R10
	LEAQ (R11)(R11*2), R12 // 3·xstride
	MOVQ R11, R13
	SHRQ $1, R13           // xstride/2
	LEAQ (R13)(R13*2), R14 // 3·xstride/2
	NIBBLE_MASK
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	XORQ   BX, BX

v4_loop:
	TESTQ CX, CX
	JZ    v4_tail
	TESTQ BX, BX
	JNZ   v4_same
	SCALE_Z7
	ADDQ  $2, DX
	MOVQ  R10, BX

v4_same:
	DECQ      BX
	VMOVDQU64 (SI), Z4
	UNPACK
	CHUNK((DI), 64(DI), (R8), (R9), Z10)
	CHUNK((DI)(R11*1), 64(DI)(R11*1), (R8)(R13*1), (R9)(R13*1), Z11)
	CHUNK((DI)(R11*2), 64(DI)(R11*2), (R8)(R13*2), (R9)(R13*2), Z12)
	CHUNK((DI)(R12*1), 64(DI)(R12*1), (R8)(R14*1), (R9)(R14*1), Z13)
	ADDQ      $64, SI
	ADDQ      $128, DI
	ADDQ      $64, R8
	ADDQ      $64, R9
	DECQ      CX
	JMP       v4_loop

v4_tail:
	MOVQ  tail+64(FP), AX
	TESTQ AX, AX
	JZ    v4_done
	TESTQ BX, BX
	JNZ   v4_tail_same
	SCALE_Z7

v4_tail_same:
	KMOVQ      AX, K1
	VMOVDQU8.Z (SI), K1, Z4
	UNPACK
	CHUNK((DI), 64(DI), (R8), (R9), Z10)
	CHUNK((DI)(R11*1), 64(DI)(R11*1), (R8)(R13*1), (R9)(R13*1), Z11)
	CHUNK((DI)(R11*2), 64(DI)(R11*2), (R8)(R13*2), (R9)(R13*2), Z12)
	CHUNK((DI)(R12*1), 64(DI)(R12*1), (R8)(R14*1), (R9)(R14*1), Z13)

v4_done:
	MOVQ out+72(FP), AX
	HSUM(Z10, Y10, X0)
	MOVSS X0, (AX)
	HSUM(Z11, Y11, X0)
	MOVSS X0, 4(AX)
	HSUM(Z12, Y12, X0)
	MOVSS X0, 8(AX)
	HSUM(Z13, Y13, X0)
	MOVSS X0, 12(AX)
	VZEROUPPER
	RET
