package kernels

//go:generate sh -c "python3 gemm_amd64_gen.py > gemm_amd64.s"

import (
	"math/bits"
	"runtime"
	"unsafe"
)

// Declarations of gemm_amd64.s; gemmKernel checks the bounds they rely on.

//go:noescape
func gemmQ4x8(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ4x4(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ4x2(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ4x1(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ8x8(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ8x4(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ8x2(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ8x1(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func quantQ8Blocks(x *float32, nb int, q *byte, c *int32, d *float32, stride int, mul int32) (ok bool)

// quantizeRecordsAsm runs quantizeRecords over the first nfull blocks (all
// inside x) in assembly; it reports how many it did (0 without AVX-512) and
// false when x holds Inf or NaN.
func quantizeRecordsAsm(rec []byte, na, a int, x []float32, nfull int, mul int32) (int, bool) {
	if !haveAVX512 || nfull == 0 {
		return 0, true
	}
	if len(x) < nfull*q8Block || len(rec) < nfull*40*na || a >= na {
		panic("kernels: quantizeRecordsAsm: buffers shorter than the blocks")
	}
	ok := quantQ8Blocks(&x[0], nfull, &rec[32*a], (*int32)(unsafe.Pointer(&rec[32*na+4*a])),
		(*float32)(unsafe.Pointer(&rec[36*na+4*a])), 40*na, mul)
	return nfull, ok
}

// gemmKernel runs tile ti of t against input group gi (na inputs) of in,
// writing the rows of the tile selected by mask for each input a to
// y[a·rows:].
func gemmKernel(t *q4Tiles, ti int, in *gemmInput, gi, na int, y []float32, rows int, mask uint64) {
	w := t.w[ti*t.nblocks*t.bb : (ti+1)*t.nblocks*t.bb]
	sc := t.sc[ti*t.ngroups*gemmTile : (ti+1)*t.ngroups*gemmTile]
	rec := in.recs[gi]
	if len(rec) != t.nblocks*40*na || len(w) == 0 {
		panic("kernels: gemmKernel: input records do not match the weight")
	}
	last := (na-1)*rows + bits.Len64(mask) - 1 // highest element written
	_ = y[last]
	var mn *uint16
	var xg *float32
	if t.mn != nil {
		mn = &t.mn[ti*t.ngroups*gemmTile]
		sums := in.sums[gi]
		if len(sums) != t.ngroups*na {
			panic("kernels: gemmKernel: group sums do not match the weight")
		}
		xg = &sums[0]
	}
	var f func(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)
	switch {
	case na == 8 && t.q8:
		f = gemmQ8x8
	case na == 4 && t.q8:
		f = gemmQ8x4
	case na == 2 && t.q8:
		f = gemmQ8x2
	case na == 1 && t.q8:
		f = gemmQ8x1
	case na == 8:
		f = gemmQ4x8
	case na == 4:
		f = gemmQ4x4
	case na == 2:
		f = gemmQ4x2
	case na == 1:
		f = gemmQ4x1
	default:
		panic("kernels: gemmKernel: unsupported input group width")
	}
	f(&w[0], &sc[0], mn, &rec[0], xg, t.nblocks, t.bpg, &y[0], 4*rows, mask)
	runtime.KeepAlive(t) // t.w may be mapped memory that t's cleanup releases
}
