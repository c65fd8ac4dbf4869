package kernels

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"

	"github.com/symbc/symbc/symb"
)

// The tiled INT4 and INT8 GEMM of the AVX-512 kernel set (gemm_amd64.s),
// for groups of any multiple of 32. MatMul over
// two or more inputs repacks a weight once, at its first such product,
// into tiles of gemmTile rows whose codes a vector load spreads one row per
// lane, so that each unpacked vector of codes serves up to eight inputs (one
// VPDPBUSD each, with the input's dword broadcast) and the conversion to
// float happens once per (input, 32-element block) for all 16 rows of the
// tile. The repacked copy (the size of the codes and scales) lives as long as
// the Pool; MatVec reads it too once it exists (useGEMM).

// gemmTile is the number of weight rows per tile (one per int32 lane).
const gemmTile = 16

// gemmBlockBytes is the size of one block (32 elements) of an INT4 tile's
// codes; an INT8 tile's blocks are twice that.
const gemmBlockBytes = gemmTile * q8Block / 2

// q4Tiles is an INT4 weight repacked for the GEMM kernels.
type q4Tiles struct {
	q8      bool     // INT8 codes (4 bytes per row and vector), else INT4
	bb      int      // bytes per block of a tile: gemmBlockBytes, twice that for INT8
	tiles   int      // ⌈rows/16⌉
	nblocks int      // 32-element blocks per row (kp/32)
	bpg     int      // blocks per group
	ngroups int      // groups per row
	w       []byte   // [tile][block][4 or 8 vectors][16 lanes][4 bytes]
	sc, mn  []uint16 // [tile][group][16] float16 (mn: asym only); zero past the last row
}

// gemmPacked is one Pool's cache entry: the tensor's repacked tiles, built
// once.
type gemmPacked struct {
	once  sync.Once
	data  *byte                   // the tensor's codes when packed: a tensor reusing its pointer with other data is packed again
	tiles atomic.Pointer[q4Tiles] // set once packed
}

// useGEMM reports whether MatMul over n inputs with v (INT4 or INT8, groups
// of a multiple of 32) runs the tiled kernels:
// always for two or more inputs, and for one (MatVec) once w is packed, so
// that a packed weight is read in one layout only.
func (p *Pool) useGEMM(w *symb.Tensor, v *wview, n int) bool {
	if p.kern != AVX512 || (v.dt != symb.INT4 && v.dt != symb.INT8) || v.g%q8Block != 0 || v.kp%q8Block != 0 {
		return false
	}
	if n >= 2 {
		return true
	}
	e, ok := p.packs.Load(w)
	return ok && e.(*gemmPacked).tiles.Load() != nil
}

// Prepare repacks the INT4 and INT8 weights among ws that the GEMM kernels of p
// would read, now rather than at their first product with several inputs
// (which would then pay for it); other weights are left alone. The packed
// copies, the size of the weights' codes and scales, live as long as p.
// It reports whether it packed any: products with those no longer read the
// weights' own codes (except for an input holding Inf or NaN).
func (p *Pool) Prepare(ws ...*symb.Tensor) bool {
	packed := false
	for _, w := range ws {
		if v := view(w); p.useGEMM(w, &v, 2) {
			p.tilesFor(w, &v)
			packed = true
		}
	}
	return packed
}

// tilesFor returns v's repacked tiles, packing them on first use.
func (p *Pool) tilesFor(w *symb.Tensor, v *wview) *q4Tiles {
	e, _ := p.packs.LoadOrStore(w, &gemmPacked{})
	g := e.(*gemmPacked)
	g.once.Do(func() {
		g.data = &v.data[0]
		g.tiles.Store(p.packQ4(v))
	})
	if g.data != &v.data[0] {
		return p.packQ4(v) // the tensor was rebuilt in place: never serve stale codes
	}
	return g.tiles.Load()
}

// packQ4 repacks the INT4 weight v into tiles (in parallel on the pool).
func (p *Pool) packQ4(v *wview) *q4Tiles {
	t := &q4Tiles{q8: v.dt == symb.INT8, bb: gemmBlockBytes, tiles: (v.rows + gemmTile - 1) / gemmTile,
		nblocks: v.kp / q8Block, bpg: v.g / q8Block, ngroups: v.gpr}
	if t.q8 {
		t.bb *= 2
	}
	t.w = bigBytes(t, t.tiles*t.nblocks*t.bb)
	t.sc = make([]uint16, t.tiles*t.ngroups*gemmTile)
	if v.asym {
		t.mn = make([]uint16, len(t.sc))
	}
	p.split(t.tiles, 1, int64(v.rows)*int64(v.kp), func(lo, hi int) {
		for ti := lo; ti < hi; ti++ {
			packTile(t, v, ti)
		}
	})
	return t
}

// packTile fills tile ti of t from v. For INT4, row l of the tile, block b, vector j,
// byte i holds the codes of elements 32b+8j+i (low nibble) and 32b+8j+4+i
// (high nibble); in v's layout element e of a block sits in byte e%16, low
// nibble for e < 16, high nibble otherwise. So vectors 0 and 1 take the low
// nibbles of bytes 0–7 and 8–15, vectors 2 and 3 their high nibbles.
func packTile(t *q4Tiles, v *wview, ti int) {
	rb := v.rowBytes()
	le := binary.LittleEndian
	const m = 0x0f0f0f0f
	nr := min(gemmTile, v.rows-ti*gemmTile) // rows past the last stay zero: the lane computes 0
	src := v.data[ti*gemmTile*rb:]
	tile := t.w[ti*t.nblocks*t.bb : (ti+1)*t.nblocks*t.bb]
	// Block by block, so that the tile is written in order.
	for b := range t.nblocks {
		dst := tile[b*t.bb : (b+1)*t.bb]
		if t.q8 { // vector j holds elements 4j..4j+3 of each row, sym codes moved to unsigned
			flip := uint32(0)
			if !v.asym {
				flip = 0x80808080
			}
			for l := range nr {
				s := src[l*rb+32*b : l*rb+32*b+32]
				for j := range 8 {
					le.PutUint32(dst[64*j+4*l:], le.Uint32(s[4*j:])^flip)
				}
			}
			continue
		}
		for l := range nr {
			s := src[l*rb+16*b : l*rb+16*b+16]
			for h := range 2 { // bytes 0–7, then 8–15
				lo, hi := le.Uint32(s[8*h:]), le.Uint32(s[8*h+4:])
				le.PutUint32(dst[64*h+4*l:], lo&m|(hi&m)<<4)
				le.PutUint32(dst[64*(h+2)+4*l:], lo>>4&m|hi&^m)
			}
		}
	}
	for l := range nr {
		r := ti*gemmTile + l
		for gi := range t.ngroups {
			t.sc[(ti*t.ngroups+gi)*gemmTile+l] = v.scales[r*v.gpr+gi]
			if v.asym {
				t.mn[(ti*t.ngroups+gi)*gemmTile+l] = v.mins[r*v.gpr+gi]
			}
		}
	}
}

// code reads back the code of row r, element e from t (tests): INT4 codes
// as stored, INT8 ones as the kernels read them (sym codes + 128).
func (t *q4Tiles) code(r, e int) byte {
	ti, l := r/gemmTile, r%gemmTile
	if t.q8 {
		return t.w[(ti*t.nblocks+e/32)*t.bb+64*(e%32/4)+4*l+e%4]
	}
	b, j, i := e/32, e%32/8, e%8
	by := t.w[(ti*t.nblocks+b)*t.bb+64*j+4*l+i%4]
	if i >= 4 {
		return by >> 4
	}
	return by & 15
}

// gemmWidths is how MatMul cuts n inputs into groups for the micro-kernels:
// as many 8s as fit, then at most one each of 4, 2 and 1. It depends on n
// only, and a result does not depend on its group's width.
func gemmWidths(n int, out []int) []int {
	out = out[:0]
	for ; n >= 8; n -= 8 {
		out = append(out, 8)
	}
	for _, w := range []int{4, 2, 1} {
		if n >= w {
			out = append(out, w)
			n -= w
		}
	}
	return out
}

// gemmInput is a batch of inputs quantized for the GEMM kernels: per group of
// na inputs, one record of 40·na bytes per block (na × 32 int8, na int32
// start values, na float32 scales; see gemm_amd64.s) and, for asym weights,
// na float32 sums of the rounded input per weight group (roundedSums).
type gemmInput struct {
	widths []int
	recs   [][]byte    // per input group
	sums   [][]float32 // per input group (asym only)
}

// quantizeGEMM fills in from the n rows of X (cols each) for weights of v's
// input layout. It returns false when X holds Inf or NaN.
func (p *Pool) quantizeGEMM(in *gemmInput, s *scratch, X []float32, n int, v *wview) bool {
	nb := v.kp / q8Block
	in.widths = gemmWidths(n, in.widths)
	total := 0
	for _, na := range in.widths {
		total += nb * 40 * na
	}
	if cap(s.u) < total {
		s.u = make([]byte, total)
	}
	buf := s.u[:total]
	in.recs, in.sums = in.recs[:0], in.sums[:0]
	if v.asym {
		if cap(s.f) < n*v.gpr {
			s.f = make([]float32, n*v.gpr)
		}
	}
	off, first := 0, 0
	starts := make([]int, len(in.widths))
	for gi, na := range in.widths {
		in.recs = append(in.recs, buf[off:off+nb*40*na])
		if v.asym {
			in.sums = append(in.sums, s.f[first*v.gpr:(first+na)*v.gpr])
		}
		starts[gi] = first
		off += nb * 40 * na
		first += na
	}
	var bad atomic.Bool
	mul := startMul(v)
	p.split(n, 1, int64(n)*int64(v.cols)*8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := len(starts) - 1
			for starts[gi] > i {
				gi--
			}
			na, a := in.widths[gi], i-starts[gi]
			x := X[i*v.cols : (i+1)*v.cols]
			if !quantizeRecords(in.recs[gi], na, a, x, nb, mul) {
				bad.Store(true)
				return
			}
			if v.asym {
				roundedSums(in.sums[gi], in.recs[gi], na, a, nb, v.g/q8Block)
			}
		}
	})
	return !bad.Load()
}

// roundedSums writes input a's sum per weight group of bpg blocks into
// sums[g*na+a], over the input as rounded in rec (Σ scale·code per block):
// the min term of an asym weight then multiplies the same input as the
// codes do, so that the product is W·x̃ for the rounded x̃ and its rounding
// error scales with the weights rather than with their offset codes (as
// llama.cpp's Q8_1 block sums).
func roundedSums(sums []float32, rec []byte, na, a, nb, bpg int) {
	le := binary.LittleEndian
	for g := range len(sums) / na {
		var sum float32
		for b := g * bpg; b < min((g+1)*bpg, nb); b++ {
			r := rec[b*40*na:]
			var qs int32
			for _, q := range r[32*a : 32*a+32] {
				qs += int32(int8(q))
			}
			sum += float32(qs) * math.Float32frombits(le.Uint32(r[36*na+4*a:]))
		}
		sums[g*na+a] = sum
	}
}

// minQ8 is the largest |x| of a block below which the block is rounded to
// zeros: its share of any product is negligible, and 127/m would overflow.
const minQ8 = 1e-30

// quantizeRecords writes input a of a group of na into the block records
// rec (start values mul × the block's sum): each 32-element block of x (zero past its end) rounded to int8 with
// scale max|block|/127, rounding half away from zero as q8Input.quantize
// does. The whole blocks run in assembly where the CPU has it.
func quantizeRecords(rec []byte, na, a int, x []float32, nb int, mul int32) bool {
	nfull := min(nb, len(x)/q8Block)
	done, ok := quantizeRecordsAsm(rec, na, a, x, nfull, mul)
	if !ok {
		return false
	}
	return quantizeRecordsGo(rec, na, a, x, done, nb, mul)
}

// startMul is the multiple of a block's input sum that starts its integer
// sum: it takes off the offset of the stored codes, 8 for INT4 sym and 128
// for INT8 sym (stored as unsigned in the tiles); asym codes have none.
func startMul(v *wview) int32 {
	switch {
	case v.asym:
		return 0
	case v.dt == symb.INT8:
		return -128
	}
	return -8
}

// quantizeRecordsGo is quantizeRecords for blocks [b0, nb).
func quantizeRecordsGo(rec []byte, na, a int, x []float32, b0, nb int, mul int32) bool {
	le := binary.LittleEndian
	for b := b0; b < nb; b++ {
		r := rec[b*40*na:]
		blk, m := loadQ8Block(x, b)
		if !(m <= math.MaxFloat32) {
			return false
		}
		var scale, inv float32
		if m >= minQ8 {
			scale, inv = m/127, 127/m
		}
		var sum int32
		q := r[32*a : 32*a+32]
		for k, e := range blk {
			v := q8Code(e, inv)
			q[k] = byte(int8(v))
			sum += v
		}
		le.PutUint32(r[32*na+4*a:], uint32(mul*sum))
		le.PutUint32(r[36*na+4*a:], math.Float32bits(scale))
	}
	return true
}

// matMulGEMM computes Ys[j] = X·W_jᵀ for weights that pass useGEMM and
// sameInput, splitting the row tiles of all weights across the threads. It
// returns false (having written nothing) when X holds Inf or NaN.
func (p *Pool) matMulGEMM(ws []*symb.Tensor, vs []wview, Ys [][]float32, X []float32, n int) bool {
	v0 := &vs[0]
	s := p.getBuf(0)
	defer p.putBuf(s)
	var in gemmInput
	if !p.quantizeGEMM(&in, s, X, n, v0) {
		return false
	}
	ts := make([]*q4Tiles, len(vs))
	total := 0
	for j := range vs {
		ts[j] = p.tilesFor(ws[j], &vs[j])
		total += ts[j].tiles
	}
	p.split(total, 1, int64(n)*int64(total)*gemmTile*int64(v0.cols), func(lo, hi int) {
		base := 0
		for j := range vs {
			if a, e := max(lo-base, 0), min(hi-base, ts[j].tiles); a < e {
				gemmTiles(ts[j], &vs[j], &in, Ys[j], a, e)
			}
			base += ts[j].tiles
		}
	})
	return true
}

// gemmTiles computes tiles [lo, hi) of Y = X·Wᵀ (all inputs).
func gemmTiles(t *q4Tiles, v *wview, in *gemmInput, Y []float32, lo, hi int) {
	for ti := lo; ti < hi; ti++ {
		r0 := ti * gemmTile
		mask := uint64(1)<<min(gemmTile, v.rows-r0) - 1
		first := 0
		for gi, na := range in.widths {
			gemmKernel(t, ti, in, gi, na, Y[first*v.rows+r0:], v.rows, mask)
			first += na
		}
	}
}
