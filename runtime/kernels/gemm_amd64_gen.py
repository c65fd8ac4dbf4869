# gemm_amd64_gen.py writes gemm_amd64.s (go generate ./runtime/kernels): the tiled INT4 GEMM
# micro-kernels, unrolled per input count, and the int8 input quantization.
import sys
out = []
P = out.append
P("""//go:build amd64

#include "textflag.h"

// AVX-512 VNNI micro-kernels of the tiled INT4 and INT8 GEMM (gemm.go): 16 weight rows
// × NA inputs (NA = 8, 4, 2 or 1) over a whole row. The weights are repacked
// at first use into tiles of 16 rows (gemm.go, packQ4): per 32-element block,
// four 64-byte vectors whose dword lane l holds row l's codes for elements
// 8j..8j+3 in the low nibbles and 8j+4..8j+7 in the high nibbles (vector j).
// Masking the nibbles gives 16 rows × 4 elements of unsigned bytes, which
// VPDPBUSD multiplies with one broadcast dword of an input's int8 block (the
// inputs stay in natural order): every lane is one output row, so a block
// costs 8 VPDPBUSD per input and one conversion to float per (input, block)
// for all 16 rows. INT8 tiles (gemmQ8x*) hold 4 whole bytes per row and
// vector, eight vectors per block, stored as unsigned (sym codes + 128).
//
// Input stream (one record per block, R = 40·NA bytes): NA × 32 int8 values,
// NA int32 start values (−8 × the block's sum for INT4 sym weights, −128 ×
// it for INT8 sym, 0 for asym),
// NA float32 block scales. Per weight group: NA float32 sums of the rounded input
// over the group (asym only, xg). Per input and block the sum runs
// S = start + Σ code·x in int32 (exact), then G += float(S)·scale_x in
// block order, and per group T += G·scale_w (+ min·Σx for asym), so a result
// does not depend on NA or on which rows share its tile.

// func gemmQ4x<NA>, gemmQ8x<NA>(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)
// w: the tile's blocks (256 bytes each, 512 for INT8); sc, mn: per group 16 float16 scales
// and mins (mn nil for sym); y: outputs, input a's 16 rows at y + a·ystride
// bytes, stored under the 16-bit row mask.
""")

# prefetchAhead is how far ahead (bytes) the kernels of 4 and 8 inputs
# prefetch the weights: about 16 blocks of an INT4 tile, several hundred
# cycles of work, which covers a DRAM access.
prefetchAhead = 4096

def kernel(NA, q8=False):
    split = NA <= 2  # two accumulator chains per input to hide VPDPBUSD latency
    R = 40 * NA
    S = [f"Z{16+a}" for a in range(NA)]
    U = [f"Z{16+NA+a}" for a in range(NA)] if split else None
    G = [f"Z{24+a}" for a in range(NA)]
    T = [f"Z{8+a}" for a in range(NA)]
    name = f"gemmQ8x{NA}" if q8 else f"gemmQ4x{NA}"
    bb = 512 if q8 else 256  # bytes of one block of a tile
    P(f"TEXT ·{name}(SB), NOSPLIT, $0-80")
    P("\tMOVQ w+0(FP), SI")
    P("\tMOVQ sc+8(FP), DX")
    P("\tMOVQ mn+16(FP), R11")
    P("\tMOVQ xs+24(FP), DI")
    P("\tMOVQ xg+32(FP), R12")
    P("\tMOVQ nblocks+40(FP), CX")
    P("\tMOVQ bpg+48(FP), R10")
    P("\tMOVL $0x0f0f0f0f, AX")
    P("\tVPBROADCASTD AX, Z3")
    for t in T:
        P(f"\tVPXORD {t}, {t}, {t}")
    P(f"\n{name}_group:")
    P("\tTESTQ CX, CX")
    P(f"\tJZ    {name}_done")
    P("\tMOVQ  R10, BX")
    P("\tCMPQ  CX, BX")
    P(f"\tJAE   {name}_full")
    P("\tMOVQ  CX, BX")
    P(f"{name}_full:")
    P("\tSUBQ  BX, CX")
    for g in G:
        P(f"\tVPXORD {g}, {g}, {g}")
    P(f"\n{name}_block:")
    if NA >= 4:
        # Software prefetch of the weights prefetchAhead bytes on (the rest
        # of the tile, then the next tile, which follows it in memory): the
        # wide kernels stream the weights from DRAM more slowly than they
        # compute, and the hardware prefetcher alone leaves them waiting
        # (go test -bench GEMMStream). A prefetch never faults, so running
        # past the end of the weights is harmless.
        for c in range(bb // 64):
            P(f"\tPREFETCHT0 {prefetchAhead + 64*c}(SI)")
    for a in range(NA):
        P(f"\tVPBROADCASTD {NA*32 + 4*a}(DI), {S[a]}")
        if split:
            P(f"\tVPXORD {U[a]}, {U[a]}, {U[a]}")
    if q8:
        for j in range(8):
            z = f"Z{j % 2}"
            P(f"\tVMOVDQU64 {64*j}(SI), {z}")
            for a in range(NA):
                P(f"\tVPDPBUSD.BCST {32*a + 4*j}(DI), {z}, {(U if split and j % 2 else S)[a]}")
    else:
        for j in range(4):
            P(f"\tVMOVDQU64 {64*j}(SI), Z2")
            P("\tVPSRLW    $4, Z2, Z1")
            P("\tVPANDD    Z3, Z2, Z0")
            P("\tVPANDD    Z3, Z1, Z1")
            for a in range(NA):
                P(f"\tVPDPBUSD.BCST {32*a + 8*j}(DI), Z0, {S[a]}")
            for a in range(NA):
                P(f"\tVPDPBUSD.BCST {32*a + 8*j + 4}(DI), Z1, {(U if split else S)[a]}")
    for a in range(NA):
        if split:
            P(f"\tVPADDD    {U[a]}, {S[a]}, {S[a]}")
        P(f"\tVCVTDQ2PS {S[a]}, {S[a]}")
        P(f"\tVFMADD231PS.BCST {NA*36 + 4*a}(DI), {S[a]}, {G[a]}")
    P(f"\tADDQ ${bb}, SI")
    P(f"\tADDQ ${R}, DI")
    P("\tDECQ BX")
    P(f"\tJNZ  {name}_block")
    P("\tVCVTPH2PS (DX), Z4")
    P("\tADDQ $32, DX")
    for a in range(NA):
        P(f"\tVFMADD231PS {G[a]}, Z4, {T[a]}")
    P("\tTESTQ R11, R11")
    P(f"\tJZ    {name}_group")
    P("\tVCVTPH2PS (R11), Z5")
    P("\tADDQ $32, R11")
    for a in range(NA):
        P(f"\tVFMADD231PS.BCST {4*a}(R12), Z5, {T[a]}")
    P(f"\tADDQ ${4*NA}, R12")
    P(f"\tJMP  {name}_group")
    P(f"\n{name}_done:")
    P("\tMOVQ y+56(FP), DI")
    P("\tMOVQ ystride+64(FP), R13")
    P("\tMOVQ mask+72(FP), AX")
    P("\tKMOVW AX, K1")
    for a in range(NA):
        P(f"\tVMOVUPS {T[a]}, K1, (DI)")
        if a < NA - 1:
            P("\tADDQ R13, DI")
    P("\tVZEROUPPER")
    P("\tRET\n")

for q8 in (False, True):
    for na in (8, 4, 2, 1):
        kernel(na, q8)
sys.stdout.write("\n".join(out))

sys.stdout.write('''
// func quantQ8Blocks(x *float32, nb int, q *byte, c *int32, d *float32, stride int, mul int32) (ok bool)
// Rounds nb whole 32-element blocks of x to int8 as quantizeRecords does (the
// same float32 operations, so the same codes and scales): per block the
// codes go to q, mul × their sum to c and the scale to d, and q, c and d
// advance by stride bytes per block. Blocks whose max|x| is below minQ8 get
// zero codes and scale. It returns false when x holds Inf or NaN.
TEXT ·quantQ8Blocks(SB), NOSPLIT, $0-57
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ c+24(FP), R8
	MOVQ d+32(FP), R9
	MOVQ stride+40(FP), R10
	MOVL mul+48(FP), R11
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31 // |x| mask
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z30 // +Inf
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z29 // sign bit
	MOVL $0x3f000000, AX
	VPBROADCASTD AX, Z28 // 0.5
	MOVL $127, AX
	VPBROADCASTD AX, Z27 // 127 (int)
	MOVL $-127, AX
	VPBROADCASTD AX, Z26 // -127 (int)
	MOVL $0x42fe0000, AX
	VMOVD AX, X25        // 127.0
	MOVL $0x0da24260, AX
	VMOVD AX, X24        // minQ8 = 1e-30
	KXORW K4, K4, K4     // Inf or NaN seen

q8_loop:
	TESTQ CX, CX
	JZ    q8_done
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VANDPS  Z31, Z0, Z2
	VANDPS  Z31, Z1, Z3
	VCMPPS  $5, Z30, Z2, K2 // not less than +Inf: Inf or NaN
	VCMPPS  $5, Z30, Z3, K3
	KORW    K2, K4, K4
	KORW    K3, K4, K4
	VMAXPS  Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS  Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VMAXPS  X3, X2, X2
	VPERMILPS $0x4e, X2, X3
	VMAXPS  X3, X2, X2
	VPERMILPS $0xb1, X2, X3
	VMAXPS  X3, X2, X2 // m = max|x| in lane 0
	VUCOMISS X24, X2
	JAE     q8_scale
	VPXORD  X0, X0, X0 // a zero (or negligible) block
	VMOVDQU X0, (DI)
	VMOVDQU X0, 16(DI)
	MOVL    $0, (R8)
	MOVL    $0, (R9)
	JMP     q8_next

q8_scale:
	VDIVSS  X25, X2, X4 // scale = m/127
	VDIVSS  X2, X25, X5 // inv = 127/m
	VBROADCASTSS X5, Z5
	VANDPS  Z29, Z0, Z6
	VANDPS  Z29, Z1, Z7
	VORPS   Z28, Z6, Z6 // ±0.5 with the sign of x
	VORPS   Z28, Z7, Z7
	VMULPS  Z5, Z0, Z0
	VMULPS  Z5, Z1, Z1
	VADDPS  Z6, Z0, Z0
	VADDPS  Z7, Z1, Z1
	VCVTTPS2DQ Z0, Z0
	VCVTTPS2DQ Z1, Z1
	VPMINSD Z27, Z0, Z0
	VPMINSD Z27, Z1, Z1
	VPMAXSD Z26, Z0, Z0
	VPMAXSD Z26, Z1, Z1
	VPMOVDB Z0, (DI)
	VPMOVDB Z1, 16(DI)
	VPADDD  Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDD  Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD  X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDD  X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPADDD  X1, X0, X0
	VMOVD   X0, AX
	IMULL   R11, AX
	MOVL    AX, (R8)
	VMOVSS  X4, (R9)

q8_next:
	ADDQ $128, SI
	ADDQ R10, DI
	ADDQ R10, R8
	ADDQ R10, R9
	DECQ CX
	JMP  q8_loop

q8_done:
	KORTESTW K4, K4
	SETEQ    ok+56(FP)
	VZEROUPPER
	RET
''')
