//go:build arm64

#include "textflag.h"

// NEON kernels for quantized weights (INT4 and INT8 groups). Counts are whole
// 32-element blocks and groups; the Go wrappers in simd_arm64.go check
// bounds. Instructions the Go assembler does not know are emitted as WORDs
// (register numbers are V-register indices).

// SSHLL #0 (sign extension): 8B→8H, 16B→8H (upper), 4H→4S, 8H→4S (upper).
#define SXTL8H(n, d) WORD $(0x0F08A400 | (n)<<5 | (d))
#define SXTL28H(n, d) WORD $(0x4F08A400 | (n)<<5 | (d))
#define SXTL4S(n, d) WORD $(0x0F10A400 | (n)<<5 | (d))
#define SXTL24S(n, d) WORD $(0x4F10A400 | (n)<<5 | (d))

// SCVTF / UCVTF Vd.4S, Vn.4S.
#define SCVTF4S(n, d) WORD $(0x4E21D800 | (n)<<5 | (d))
#define UCVTF4S(n, d) WORD $(0x6E21D800 | (n)<<5 | (d))

// SMLAL Vd.4S, Vn.4H, Vm.4H and SMLAL2 Vd.4S, Vn.8H, Vm.8H.
#define SMLAL(m, n, d) WORD $(0x0E608000 | (m)<<16 | (n)<<5 | (d))
#define SMLAL2(m, n, d) WORD $(0x4E608000 | (m)<<16 | (n)<<5 | (d))

// FADD Vd.4S, Vn.4S, Vm.4S and FADDP forms, as in simd_arm64.s.
#define QFADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
#define QFADDP4S(m, n, d) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))
#define QFADDP2S(n, d) WORD $(0x7E30D800 | (n)<<5 | (d))

// SCALE_F7 loads the float16 scale at (R1), advancing R1, into F7 as float32.
#define SCALE_F7 \
	MOVHU.P 2(R1), R8 \
	FMOVS   R8, F7    \
	FCVTHS  F7, F7

// GROUP_ACC adds scale (F7) × the lanes of group accumulators V0..V3 to V30.
#define GROUP_ACC \
	QFADD4S(1, 0, 0) \
	QFADD4S(3, 2, 2) \
	QFADD4S(2, 0, 0) \
	VDUP  V7.S[0], V7.S4 \
	VFMLA V7.S4, V0.S4, V30.S4

// ZERO_ACC clears the group accumulators V0..V3.
#define ZERO_ACC \
	VEOR V0.B16, V0.B16, V0.B16 \
	VEOR V1.B16, V1.B16, V1.B16 \
	VEOR V2.B16, V2.B16, V2.B16 \
	VEOR V3.B16, V3.B16, V3.B16

// HSUM_V30 reduces the lanes of V30 into F0.
#define HSUM_V30 \
	QFADDP4S(30, 30, 30) \
	QFADDP2S(30, 0)

// FMA_X multiplies the 32 float32 codes in V12..V15, V24..V27 with the next
// 32 inputs at (R2), advancing R2, into V0..V3.
#define FMA_X \
	VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P 64(R2), [V20.S4, V21.S4, V22.S4, V23.S4] \
	VFMLA  V12.S4, V16.S4, V0.S4 \
	VFMLA  V13.S4, V17.S4, V1.S4 \
	VFMLA  V14.S4, V18.S4, V2.S4 \
	VFMLA  V15.S4, V19.S4, V3.S4 \
	VFMLA  V24.S4, V20.S4, V0.S4 \
	VFMLA  V25.S4, V21.S4, V1.S4 \
	VFMLA  V26.S4, V22.S4, V2.S4 \
	VFMLA  V27.S4, V23.S4, V3.S4

// WIDEN_S converts the 32 signed bytes in V5 (elements 0..15) and V6
// (16..31) to float32 in V12..V15 (0..15) and V24..V27 (16..31).
#define WIDEN_S \
	SXTL8H(5, 8)   \
	SXTL28H(5, 9)  \
	SXTL8H(6, 10)  \
	SXTL28H(6, 11) \
	SXTL4S(8, 12)  \
	SXTL24S(8, 13) \
	SXTL4S(9, 14)  \
	SXTL24S(9, 15) \
	SXTL4S(10, 24)  \
	SXTL24S(10, 25) \
	SXTL4S(11, 26)  \
	SXTL24S(11, 27) \
	SCVTF4S(12, 12) \
	SCVTF4S(13, 13) \
	SCVTF4S(14, 14) \
	SCVTF4S(15, 15) \
	SCVTF4S(24, 24) \
	SCVTF4S(25, 25) \
	SCVTF4S(26, 26) \
	SCVTF4S(27, 27)

// WIDEN_U is WIDEN_S for unsigned bytes.
#define WIDEN_U \
	VUXTL  V5.B8, V8.H8   \
	VUXTL2 V5.B16, V9.H8  \
	VUXTL  V6.B8, V10.H8  \
	VUXTL2 V6.B16, V11.H8 \
	VUXTL  V8.H4, V12.S4  \
	VUXTL2 V8.H8, V13.S4  \
	VUXTL  V9.H4, V14.S4  \
	VUXTL2 V9.H8, V15.S4  \
	VUXTL  V10.H4, V24.S4 \
	VUXTL2 V10.H8, V25.S4 \
	VUXTL  V11.H4, V26.S4 \
	VUXTL2 V11.H8, V27.S4 \
	UCVTF4S(12, 12) \
	UCVTF4S(13, 13) \
	UCVTF4S(14, 14) \
	UCVTF4S(15, 15) \
	UCVTF4S(24, 24) \
	UCVTF4S(25, 25) \
	UCVTF4S(26, 26) \
	UCVTF4S(27, 27)

// func dotQ4Asm(codes *byte, scales *uint16, x *float32, ngroups, gblocks, bias int) float32
// Returns Σ_groups scale·Σ (q−bias)·x in float32. Byte i of a 16-byte block
// holds element i (low nibble) and element i+16 (high nibble); subtracting
// the bias from the nibbles leaves signed bytes in −8..15.
TEXT ·dotQ4Asm(SB), NOSPLIT, $0-52
	MOVD codes+0(FP), R0
	MOVD scales+8(FP), R1
	MOVD x+16(FP), R2
	MOVD ngroups+24(FP), R3
	MOVD gblocks+32(FP), R4
	MOVD bias+40(FP), R5
	VMOVI $15, V31.B16
	VDUP  R5, V29.B16
	VEOR  V30.B16, V30.B16, V30.B16
	CBZ   R3, dotq4_done

dotq4_group:
	ZERO_ACC
	MOVD R4, R6

dotq4_block:
	VLD1.P 16(R0), [V4.B16]
	VAND   V31.B16, V4.B16, V5.B16
	VUSHR  $4, V4.B16, V6.B16
	VSUB   V29.B16, V5.B16, V5.B16
	VSUB   V29.B16, V6.B16, V6.B16
	WIDEN_S
	FMA_X
	SUBS $1, R6, R6
	BNE  dotq4_block

	SCALE_F7
	GROUP_ACC
	SUBS $1, R3, R3
	BNE  dotq4_group

dotq4_done:
	HSUM_V30
	FMOVS F0, ret+48(FP)
	RET

// func dotQ4x16Asm(codes *byte, scales *uint16, x16 *int16, xscale *float32, start *int32, ngroups, gblocks int) float32
// Integer INT4 dot product against an input rounded to int16 per group:
// returns Σ_g scale_g·xscale_g·(Σ start_g + Σ q·x16) with q the raw codes
// 0..15 (start_g holds 8 int32 values, −8·Σx16 in the first for sym
// weights). The nibbles, widened to halfwords, multiply the int16 inputs
// with SMLAL into int32 lanes: each lane sums at most g/16 products of at
// most 15·32767, so groups of up to 4096 elements cannot overflow.
TEXT ·dotQ4x16Asm(SB), NOSPLIT, $0-60
	MOVD codes+0(FP), R0
	MOVD scales+8(FP), R1
	MOVD x16+16(FP), R2
	MOVD xscale+24(FP), R3
	MOVD start+32(FP), R4
	MOVD ngroups+40(FP), R5
	MOVD gblocks+48(FP), R6
	VMOVI $15, V31.B16
	VEOR  V30.B16, V30.B16, V30.B16
	CBZ   R5, dotq4x16_done

dotq4x16_group:
	VLD1.P 32(R4), [V0.S4, V1.S4]
	VEOR   V2.B16, V2.B16, V2.B16
	VEOR   V3.B16, V3.B16, V3.B16
	MOVD   R6, R7

dotq4x16_block:
	VLD1.P 16(R0), [V4.B16]
	VLD1.P 64(R2), [V16.H8, V17.H8, V18.H8, V19.H8]
	VAND   V31.B16, V4.B16, V5.B16
	VUSHR  $4, V4.B16, V6.B16
	VUXTL  V5.B8, V20.H8
	VUXTL2 V5.B16, V21.H8
	VUXTL  V6.B8, V22.H8
	VUXTL2 V6.B16, V23.H8
	SMLAL(16, 20, 0)
	SMLAL2(16, 20, 1)
	SMLAL(17, 21, 2)
	SMLAL2(17, 21, 3)
	SMLAL(18, 22, 0)
	SMLAL2(18, 22, 1)
	SMLAL(19, 23, 2)
	SMLAL2(19, 23, 3)
	SUBS $1, R7, R7
	BNE  dotq4x16_block

	VADD V1.S4, V0.S4, V0.S4
	VADD V3.S4, V2.S4, V2.S4
	VADD V2.S4, V0.S4, V0.S4
	SCVTF4S(0, 0)
	SCALE_F7
	FMOVS.P 4(R3), F8
	FMULS   F8, F7, F7
	VDUP    V7.S[0], V7.S4
	VFMLA   V7.S4, V0.S4, V30.S4
	SUBS    $1, R5, R5
	BNE     dotq4x16_group

dotq4x16_done:
	HSUM_V30
	FMOVS F0, ret+56(FP)
	RET

// func dotQ8sAsm(codes *byte, scales *uint16, x *float32, ngroups, gblocks int) float32
TEXT ·dotQ8sAsm(SB), NOSPLIT, $0-44
	MOVD codes+0(FP), R0
	MOVD scales+8(FP), R1
	MOVD x+16(FP), R2
	MOVD ngroups+24(FP), R3
	MOVD gblocks+32(FP), R4
	VEOR V30.B16, V30.B16, V30.B16
	CBZ  R3, dotq8s_done

dotq8s_group:
	ZERO_ACC
	MOVD R4, R6

dotq8s_block:
	VLD1.P 32(R0), [V5.B16, V6.B16]
	WIDEN_S
	FMA_X
	SUBS $1, R6, R6
	BNE  dotq8s_block

	SCALE_F7
	GROUP_ACC
	SUBS $1, R3, R3
	BNE  dotq8s_group

dotq8s_done:
	HSUM_V30
	FMOVS F0, ret+40(FP)
	RET

// func dotQ8uAsm(codes *byte, scales *uint16, x *float32, ngroups, gblocks int) float32
TEXT ·dotQ8uAsm(SB), NOSPLIT, $0-44
	MOVD codes+0(FP), R0
	MOVD scales+8(FP), R1
	MOVD x+16(FP), R2
	MOVD ngroups+24(FP), R3
	MOVD gblocks+32(FP), R4
	VEOR V30.B16, V30.B16, V30.B16
	CBZ  R3, dotq8u_done

dotq8u_group:
	ZERO_ACC
	MOVD R4, R6

dotq8u_block:
	VLD1.P 32(R0), [V5.B16, V6.B16]
	WIDEN_U
	FMA_X
	SUBS $1, R6, R6
	BNE  dotq8u_block

	SCALE_F7
	GROUP_ACC
	SUBS $1, R3, R3
	BNE  dotq8u_group

dotq8u_done:
	HSUM_V30
	FMOVS F0, ret+40(FP)
	RET

// DEQ_SETUP loads the group's scale (R1) into all lanes of V7 and its min
// (R9, when not nil) into all lanes of V28, advancing both pointers.
#define DEQ_SETUP(lbl) \
	SCALE_F7 \
	VDUP V7.S[0], V7.S4 \
	CBZ  R9, lbl \
	MOVHU.P 2(R9), R8 \
	FMOVS   R8, F28   \
	FCVTHS  F28, F28  \
	VDUP    V28.S[0], V28.S4

// DEQ_STORE writes min + scale·code for the 32 codes in V12..V15, V24..V27
// to (R0), advancing R0.
#define DEQ_STORE \
	VMOV  V28.B16, V16.B16 \
	VMOV  V28.B16, V17.B16 \
	VMOV  V28.B16, V18.B16 \
	VMOV  V28.B16, V19.B16 \
	VMOV  V28.B16, V20.B16 \
	VMOV  V28.B16, V21.B16 \
	VMOV  V28.B16, V22.B16 \
	VMOV  V28.B16, V23.B16 \
	VFMLA V7.S4, V12.S4, V16.S4 \
	VFMLA V7.S4, V13.S4, V17.S4 \
	VFMLA V7.S4, V14.S4, V18.S4 \
	VFMLA V7.S4, V15.S4, V19.S4 \
	VFMLA V7.S4, V24.S4, V20.S4 \
	VFMLA V7.S4, V25.S4, V21.S4 \
	VFMLA V7.S4, V26.S4, V22.S4 \
	VFMLA V7.S4, V27.S4, V23.S4 \
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0) \
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R0)

// func dequantQ4Asm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks, bias int)
// Writes scale·(q−bias) + min for every element of ngroups groups; mins may
// be nil (sym), meaning 0.
TEXT ·dequantQ4Asm(SB), NOSPLIT, $0-56
	MOVD dst+0(FP), R0
	MOVD codes+8(FP), R2
	MOVD scales+16(FP), R1
	MOVD mins+24(FP), R9
	MOVD ngroups+32(FP), R3
	MOVD gblocks+40(FP), R4
	MOVD bias+48(FP), R5
	VMOVI $15, V31.B16
	VDUP  R5, V29.B16
	VEOR  V28.B16, V28.B16, V28.B16
	CBZ   R3, deq4_done

deq4_group:
	DEQ_SETUP(deq4_nomin)

deq4_nomin:
	MOVD R4, R6

deq4_block:
	VLD1.P 16(R2), [V4.B16]
	VAND   V31.B16, V4.B16, V5.B16
	VUSHR  $4, V4.B16, V6.B16
	VSUB   V29.B16, V5.B16, V5.B16
	VSUB   V29.B16, V6.B16, V6.B16
	WIDEN_S
	DEQ_STORE
	SUBS $1, R6, R6
	BNE  deq4_block
	SUBS $1, R3, R3
	BNE  deq4_group

deq4_done:
	RET

// func dequantQ8sAsm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks int)
TEXT ·dequantQ8sAsm(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD codes+8(FP), R2
	MOVD scales+16(FP), R1
	MOVD mins+24(FP), R9
	MOVD ngroups+32(FP), R3
	MOVD gblocks+40(FP), R4
	VEOR V28.B16, V28.B16, V28.B16
	CBZ  R3, deq8s_done

deq8s_group:
	DEQ_SETUP(deq8s_nomin)

deq8s_nomin:
	MOVD R4, R6

deq8s_block:
	VLD1.P 32(R2), [V5.B16, V6.B16]
	WIDEN_S
	DEQ_STORE
	SUBS $1, R6, R6
	BNE  deq8s_block
	SUBS $1, R3, R3
	BNE  deq8s_group

deq8s_done:
	RET

// func dequantQ8uAsm(dst *float32, codes *byte, scales, mins *uint16, ngroups, gblocks int)
TEXT ·dequantQ8uAsm(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD codes+8(FP), R2
	MOVD scales+16(FP), R1
	MOVD mins+24(FP), R9
	MOVD ngroups+32(FP), R3
	MOVD gblocks+40(FP), R4
	VEOR V28.B16, V28.B16, V28.B16
	CBZ  R3, deq8u_done

deq8u_group:
	DEQ_SETUP(deq8u_nomin)

deq8u_nomin:
	MOVD R4, R6

deq8u_block:
	VLD1.P 32(R2), [V5.B16, V6.B16]
	WIDEN_U
	DEQ_STORE
	SUBS $1, R6, R6
	BNE  deq8u_block
	SUBS $1, R3, R3
	BNE  deq8u_group

deq8u_done:
	RET
