package kernels

import "math/bits"

// Declarations of gemm_amd64.s; gemmKernel checks the bounds they rely on.

//go:noescape
func gemmQ4x8(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ4x4(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ4x2(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

//go:noescape
func gemmQ4x1(w *byte, sc, mn *uint16, xs *byte, xg *float32, nblocks, bpg int, y *float32, ystride int, mask uint64)

// gemmKernel runs tile ti of t against input group gi (na inputs) of in,
// writing the rows of the tile selected by mask for each input a to
// y[a·rows:].
func gemmKernel(t *q4Tiles, ti int, in *gemmInput, gi, na int, y []float32, rows int, mask uint64) {
	w := t.w[ti*t.nblocks*gemmBlockBytes : (ti+1)*t.nblocks*gemmBlockBytes]
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
	f := gemmQ4x1
	switch na {
	case 8:
		f = gemmQ4x8
	case 4:
		f = gemmQ4x4
	case 2:
		f = gemmQ4x2
	case 1:
	default:
		panic("kernels: gemmKernel: unsupported input group width")
	}
	f(&w[0], &sc[0], mn, &rec[0], xg, t.nblocks, t.bpg, &y[0], 4*rows, mask)
}
