package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// kvBlockTokens is the number of positions one KV cache block holds. Prefix
// sharing takes whole blocks and copies the shared start of the next one,
// so smaller blocks copy less; larger ones cost less bookkeeping.
const kvBlockTokens = 16

// ErrKVCacheFull means the KV cache budget cannot hold a sequence: its prompt
// needs more blocks than the whole budget, or a running sequence alone
// outgrew it (others are preempted to make room, see Scheduler).
var ErrKVCacheFull = errors.New("KV cache budget exhausted")

// kvCache is KV memory in blocks of kvBlockTokens positions (paged
// attention): a fixed budget shared by the sequences of a Scheduler, or one
// Session's cache, grown as it needs blocks. A sequence holds a table of
// block ids; block b keeps, for every layer, the keys of its positions
// ([kvBlockTokens][kRow]) and their values transposed ([vRow][kvBlockTokens]),
// so that attention reads runs of positions of one value element.
//
// Full blocks are also entered in a prefix index keyed by a hash of every
// token from the start of the sequence to the block's end, so a later
// sequence with the same prefix (a shared system prompt, the earlier turns
// of a chat) takes the blocks instead of computing them; where its prefix
// ends inside an indexed block, it copies that block's shared rows into a
// fresh block (matchPart, copyPart). The last, partly filled block of a
// sequence that ends is entered too (publishTail), reachable only that way:
// its rows are always copied, never written again, so the next turn of a
// chat reuses every token the previous one stored. Blocks no sequence uses
// stay cached until a new block is needed, least recently used first.
//
// kvCache is not safe for concurrent use; the Scheduler's lock guards it.
type kvCache struct {
	layers     int
	kRow, vRow int
	qk, vw     int        // one head's key and value widths: an int8 scale each
	dtype      symb.DType // F32, F16 or INT8
	blocks     int

	k16, v16 []uint16 // per block and layer: keys [kvBlockTokens][kRow], values [vRow][kvBlockTokens]
	k32, v32 []float32
	// INT8: codes laid out as k16/v16, and per block, layer, position and
	// key/value head one scale for the keys and one for the values
	// (symmetric: element = code × scale).
	k8, v8         []int8
	kScale, vScale []float32

	ref    []int32  // sequences using each block
	hash   []uint64 // prefix hash of an indexed block, 0 when not indexed
	toks   [][kvBlockTokens]int32
	fill   []uint8  // positions of an indexed block that toks holds (kvBlockTokens but for a tail)
	used   []uint64 // tick of the last use, for eviction
	tick   uint64
	free   []int            // unindexed blocks with no references
	index  map[uint64]int   // prefix hash → block
	parent []uint64         // prefix hash before an indexed block
	kids   map[uint64][]int // prefix hash → indexed blocks that follow it
	seed   maphash.Seed
	cached int // indexed blocks with no references (evictable)
}

// kvBytesPerToken is the KV memory one position takes in every layer.
func kvBytesPerToken(m *Model, dtype symb.DType) int64 {
	d := m.dims
	if dtype == symb.INT8 {
		return int64(len(m.layers)) * int64(d.kRow()+d.vRow()+2*4*d.kvHeads)
	}
	return int64(len(m.layers)) * int64(d.kRow()+d.vRow()) * int64(dtype.ElemSize())
}

// checkKVType refuses a KV cache element type the cache cannot store.
func checkKVType(t symb.DType) error {
	if t != symb.F16 && t != symb.F32 && t != symb.INT8 {
		return fmt.Errorf("KV cache type %s, want f32, f16 or int8", t)
	}
	return nil
}

// ParseKVType reads a KV cache element type: "f32", "f16" or "int8".
func ParseKVType(s string) (symb.DType, error) {
	t, err := symb.ParseDType(s)
	if err != nil {
		return 0, fmt.Errorf("KV cache type %q, want f32, f16 or int8", s)
	}
	return t, checkKVType(t)
}

// newKVCache makes a cache of the given number of blocks for m's layers.
// Memory is reserved, not touched: pages become resident when first written.
func newKVCache(m *Model, dtype symb.DType, blocks int) *kvCache {
	c := &kvCache{
		layers: len(m.layers), kRow: m.dims.kRow(), vRow: m.dims.vRow(), qk: m.dims.qk, vw: m.dims.v, dtype: dtype,
		index: map[uint64]int{}, kids: map[uint64][]int{}, seed: maphash.MakeSeed(),
	}
	c.grow(blocks)
	return c
}

// grow adds n free blocks.
func (c *kvCache) grow(n int) {
	per := c.layers * kvBlockTokens
	switch c.dtype {
	case symb.F16:
		c.k16 = extend(c.k16, n*per*c.kRow)
		c.v16 = extend(c.v16, n*per*c.vRow)
	case symb.INT8:
		c.k8 = extend(c.k8, n*per*c.kRow)
		c.v8 = extend(c.v8, n*per*c.vRow)
		c.kScale = extend(c.kScale, n*per*c.kRow/c.qk)
		c.vScale = extend(c.vScale, n*per*c.vRow/c.vw)
	default:
		c.k32 = extend(c.k32, n*per*c.kRow)
		c.v32 = extend(c.v32, n*per*c.vRow)
	}
	c.ref = extend(c.ref, n)
	c.hash = extend(c.hash, n)
	c.parent = extend(c.parent, n)
	c.toks = extend(c.toks, n)
	c.fill = extend(c.fill, n)
	c.used = extend(c.used, n)
	for i := c.blocks + n - 1; i >= c.blocks; i-- {
		c.free = append(c.free, i) // pop from the end: the lowest block first
	}
	c.blocks += n
}

// extend returns s with n zero elements added. A fresh make (not append)
// leaves a large arena's pages untouched until they are written.
func extend[T any](s []T, n int) []T {
	if len(s) == 0 {
		return make([]T, n)
	}
	out := make([]T, len(s)+n)
	copy(out, s)
	return out
}

// bytes is the memory the cache holds.
func (c *kvCache) bytes() int64 {
	return int64(cap(c.k8)+cap(c.v8)) + int64(cap(c.k16)+cap(c.v16))*2 +
		int64(cap(c.k32)+cap(c.v32)+cap(c.kScale)+cap(c.vScale))*4
}

// available is the number of blocks alloc can still hand out.
func (c *kvCache) available() int { return len(c.free) + c.cached }

// alloc returns a block for the caller's exclusive use, evicting the least
// recently used cached block when none is free; -1 when every block is in use.
func (c *kvCache) alloc() int {
	b := -1
	if n := len(c.free); n > 0 {
		b = c.free[n-1]
		c.free = c.free[:n-1]
	} else if c.cached > 0 {
		for i := range c.blocks {
			if c.ref[i] == 0 && c.hash[i] != 0 && (b < 0 || c.used[i] < c.used[b]) {
				b = i
			}
		}
		c.unindex(b)
		c.cached--
	}
	if b >= 0 {
		c.ref[b] = 1
		c.touch(b)
	}
	return b
}

// unindex takes indexed block b out of the prefix index.
func (c *kvCache) unindex(b int) {
	if c.index[c.hash[b]] == b {
		delete(c.index, c.hash[b])
	}
	c.hash[b] = 0
	p := c.parent[b]
	if c.kids[p] = slices.DeleteFunc(c.kids[p], func(x int) bool { return x == b }); len(c.kids[p]) == 0 {
		delete(c.kids, p)
	}
}

func (c *kvCache) touch(b int) {
	c.tick++
	c.used[b] = c.tick
}

// release drops one reference to each block; unreferenced blocks stay in the
// prefix index when they are in it and become free otherwise. Blocks a
// sequence held count as used until now, its last block least recently, so
// eviction takes a cached prefix from its end and keeps its start usable.
func (c *kvCache) release(blocks []int) {
	for _, b := range slices.Backward(blocks) {
		c.ref[b]--
		if c.ref[b] > 0 {
			continue
		}
		if c.hash[b] != 0 {
			c.touch(b)
			c.cached++
			continue
		}
		c.free = append(c.free, b)
	}
}

// prefixHash chains the hash of the prefix before a block with its tokens.
// 0 is reserved for "not indexed".
func (c *kvCache) prefixHash(parent uint64, toks []int) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	var buf [8 + 4*kvBlockTokens]byte
	binary.LittleEndian.PutUint64(buf[:8], parent)
	for i, t := range toks {
		binary.LittleEndian.PutUint32(buf[8+4*i:], uint32(t))
	}
	h.Write(buf[:8+4*len(toks)])
	return max(h.Sum64(), 1)
}

// match returns the cached blocks holding the longest prefix of ids in whole
// blocks, each with a reference taken, and the chained hash after them.
func (c *kvCache) match(ids []int) (blocks []int, hash uint64) {
	for len(ids) >= kvBlockTokens {
		h := c.prefixHash(hash, ids[:kvBlockTokens])
		b, ok := c.index[h]
		if !ok || !c.sameTokens(b, ids[:kvBlockTokens]) {
			break
		}
		c.hold(b)
		blocks = append(blocks, b)
		hash = h
		ids = ids[kvBlockTokens:]
	}
	return blocks, hash
}

// hold takes a reference to block b, which stays cached (never evicted)
// until released.
func (c *kvCache) hold(b int) {
	if c.ref[b] == 0 && c.hash[b] != 0 {
		c.cached--
	}
	c.ref[b]++
	c.touch(b)
}

func (c *kvCache) sameTokens(b int, ids []int) bool {
	for i, t := range ids {
		if c.toks[b][i] != int32(t) {
			return false
		}
	}
	return true
}

// publish enters full block b, holding ids after the prefix hashed as
// parent, in the prefix index and returns its hash. When an equal block is
// already indexed, b stays private (a later release frees it).
func (c *kvCache) publish(b int, parent uint64, ids []int) uint64 {
	h := c.prefixHash(parent, ids)
	if _, ok := c.index[h]; ok {
		return h
	}
	c.enter(b, parent, h, ids)
	c.index[h] = b
	return h
}

// enter records block b, holding ids after the prefix hashed as parent, as
// a follower of parent for matchPart, and drops the unused tails it
// supersedes (those whose tokens start ids).
func (c *kvCache) enter(b int, parent, h uint64, ids []int) {
	for _, x := range slices.Clone(c.kids[parent]) {
		if c.ref[x] == 0 && int(c.fill[x]) < len(ids) && c.covers(x, ids[:c.fill[x]]) {
			c.unindex(x)
			c.cached--
			c.free = append(c.free, x)
		}
	}
	for i, t := range ids {
		c.toks[b][i] = int32(t)
	}
	c.fill[b] = uint8(len(ids))
	c.hash[b] = h
	c.parent[b] = parent
	c.kids[parent] = append(c.kids[parent], b)
}

// covers reports whether indexed block b starts with ids.
func (c *kvCache) covers(b int, ids []int) bool {
	return int(c.fill[b]) >= len(ids) && c.sameTokens(b, ids)
}

// publishTail enters block b, the last block of a sequence that stops
// using it and holds its positions ids (1 to kvBlockTokens-1 of them) after
// the prefix hashed as parent, among parent's followers: matchPart finds
// it, and a sequence that reuses it copies its rows, so it is never written
// again. Unless an indexed follower of parent already starts with ids, b
// is then cached rather than freed when released. The caller must be its
// only user.
func (c *kvCache) publishTail(b int, parent uint64, ids []int) {
	if len(ids) == 0 || len(ids) >= kvBlockTokens || c.hash[b] != 0 {
		return
	}
	for _, x := range c.kids[parent] {
		if c.covers(x, ids) {
			return
		}
	}
	// Not a key of the index: only matchPart reaches a tail. The hash of a
	// shorter run differs from any full block's.
	c.enter(b, parent, c.prefixHash(parent, ids), ids)
}

// matchPart finds the indexed block following the prefix hashed as parent
// whose tokens start with the longest run of ids, at most
// kvBlockTokens-1 of them: the part of a block a sequence can reuse by
// copying (copyPart). It returns the block and the length of the run, 0
// when no block starts with ids[0].
func (c *kvCache) matchPart(parent uint64, ids []int) (block, n int) {
	ids = ids[:min(len(ids), kvBlockTokens-1)]
	block = -1
	for _, b := range c.kids[parent] {
		k := 0
		for k < len(ids) && k < int(c.fill[b]) && c.toks[b][k] == int32(ids[k]) {
			k++
		}
		if k > n {
			block, n = b, k
		}
	}
	return block, n
}

// copyPart copies the keys and values of the first n positions of block
// src into block dst, in every layer.
func (c *kvCache) copyPart(dst, src, n int) {
	for li := range c.layers {
		k0, k1 := c.offset(src, li, 0), c.offset(src, li, n)
		d := c.offset(dst, li, 0)
		copyRun(c.k32, d, k0, k1)
		copyRun(c.k16, d, k0, k1)
		copyRun(c.k8, d, k0, k1)
		if c.kScale != nil {
			copyRun(c.kScale, d/c.qk, k0/c.qk, k1/c.qk)
			h := c.vRow / c.vw // value heads: one scale per position each
			copyRun(c.vScale, c.scaleIndex(dst, li, 0)*h, c.scaleIndex(src, li, 0)*h, c.scaleIndex(src, li, n)*h)
		}
		for e := range c.vRow {
			v0, vd := c.vOffset(src, li, e, 0), c.vOffset(dst, li, e, 0)
			copyRun(c.v32, vd, v0, v0+n)
			copyRun(c.v16, vd, v0, v0+n)
			copyRun(c.v8, vd, v0, v0+n)
		}
	}
}

// copyRun copies s[lo:hi] to s[at:] when s is in use.
func copyRun[T any](s []T, at, lo, hi int) {
	if s != nil {
		copy(s[at:at+hi-lo], s[lo:hi])
	}
}

// offset is the index of position slot of block b, layer li, in the K
// arena (rows of kRow).
func (c *kvCache) offset(b, li, slot int) int {
	return ((b*c.layers+li)*kvBlockTokens + slot) * c.kRow
}

// vOffset is the index of value element e of position slot of block b,
// layer li, in the V arena (transposed).
func (c *kvCache) vOffset(b, li, e, slot int) int {
	return ((b*c.layers+li)*c.vRow+e)*kvBlockTokens + slot
}

// scaleIndex is the position's index among every block's, layer's and
// position's int8 scales (times the key/value heads, plus the head).
func (c *kvCache) scaleIndex(b, li, slot int) int {
	return (b*c.layers+li)*kvBlockTokens + slot
}

// quantizeInt8 stores src as symmetric int8 codes at dst[i*stride] and
// returns the scale: max |src| / 127 (0 for an all-zero src).
func quantizeInt8(dst []int8, src []float32, stride int) float32 {
	var amax float32
	for _, x := range src {
		amax = max(amax, x, -x)
	}
	if amax == 0 {
		for i := range src {
			dst[i*stride] = 0
		}
		return 0
	}
	scale := amax / 127
	inv := 1 / scale
	for i, x := range src {
		dst[i*stride] = int8(math.Round(float64(min(max(x*inv, -127), 127))))
	}
	return scale
}

// write stores the key and value rows of one position. Writes of different
// positions touch different memory, so they may run concurrently (nothing
// else may use the cache meanwhile).
func (c *kvCache) write(b, li, slot int, k, v []float32) {
	ko, vo := c.offset(b, li, slot), c.vOffset(b, li, 0, slot)
	switch c.dtype {
	case symb.INT8:
		for h := range c.kRow / c.qk {
			c.kScale[ko/c.qk+h] = quantizeInt8(c.k8[ko+h*c.qk:ko+(h+1)*c.qk], k[h*c.qk:(h+1)*c.qk], 1)
		}
		hs := c.scaleIndex(b, li, slot) * (c.vRow / c.vw)
		for h := range c.vRow / c.vw {
			c.vScale[hs+h] = quantizeInt8(c.v8[vo+h*c.vw*kvBlockTokens:], v[h*c.vw:(h+1)*c.vw], kvBlockTokens)
		}
		return
	case symb.F16:
		kernels.F32ToF16(c.k16[ko:ko+c.kRow], k[:c.kRow])
		var half [64]uint16 // values converted a run at a time, then spread out
		for e0 := 0; e0 < c.vRow; e0 += len(half) {
			h := half[:min(len(half), c.vRow-e0)]
			kernels.F32ToF16(h, v[e0:e0+len(h)])
			for e, x := range h {
				c.v16[vo+(e0+e)*kvBlockTokens] = x
			}
		}
		return
	}
	copy(c.k32[ko:ko+c.kRow], k)
	for e, x := range v[:c.vRow] {
		c.v32[vo+e*kvBlockTokens] = x
	}
}

// gather copies elements [lo, lo+w) of the key rows of positions [first,
// end) of a sequence with block table table into dst, as float32, one row
// of w after the other. A block's rows are converted in one call.
func (c *kvCache) gather(dst []float32, table []int, li, first, end, lo, w int) {
	for p := first; p < end; {
		slot := p % kvBlockTokens
		run := min(kvBlockTokens-slot, end-p) // positions left in this block
		o := c.offset(table[p/kvBlockTokens], li, slot) + lo
		d := dst[(p-first)*w : (p-first+run)*w]
		switch {
		case c.k8 != nil:
			for j := range run {
				scale := c.kScale[(o+j*c.kRow)/c.qk] // w is one head's width, lo its start
				for i, q := range c.k8[o+j*c.kRow : o+j*c.kRow+w] {
					d[j*w+i] = float32(q) * scale
				}
			}
		case c.k16 != nil:
			kernels.F16ToF32Rows(d, w, c.k16[o:], c.kRow, run, w)
		default:
			for j := range run {
				copy(d[j*w:(j+1)*w], c.k32[o+j*c.kRow:o+j*c.kRow+w])
			}
		}
		p += run
	}
}

// gatherT writes value elements [lo, lo+w) of positions [first, end)
// transposed into dst, as float32: element lo+e of position p goes to
// dst[e*ld+p-first]. With float16 values it may also fill the columns from
// end-first up to the next multiple of 8 with whatever the last block holds
// in its later slots (stale data), converting whole vectors; the caller pads
// those columns.
func (c *kvCache) gatherT(dst []float32, ld int, table []int, li, first, end, lo, w int) {
	for p := first; p < end; {
		slot := p % kvBlockTokens
		run := min(kvBlockTokens-slot, end-p) // positions left in this block
		o := c.vOffset(table[p/kvBlockTokens], li, lo, slot)
		if c.v8 != nil {
			// w is one head's width, lo its start: one scale per position.
			hs := c.scaleIndex(table[p/kvBlockTokens], li, slot)*(c.vRow/c.vw) + lo/c.vw
			var scales [kvBlockTokens]float32
			for j := range run {
				scales[j] = c.vScale[hs+j*(c.vRow/c.vw)]
			}
			for e := range w {
				d := dst[e*ld+p-first : e*ld+p-first+run]
				for j, q := range c.v8[o : o+run] {
					d[j] = float32(q) * scales[j]
				}
				o += kvBlockTokens
			}
			p += run
			continue
		}
		if c.v16 != nil {
			cols := run
			if up := (run + 7) &^ 7; slot+up <= kvBlockTokens && p-first+up <= ld && (w-1)*ld+p-first+up <= len(dst) {
				cols = up
			}
			kernels.F16ToF32Rows(dst[p-first:], ld, c.v16[o:], kvBlockTokens, w, cols)
			p += run
			continue
		}
		for e := range w {
			copy(dst[e*ld+p-first:e*ld+p-first+run], c.v32[o:o+run])
			o += kvBlockTokens
		}
		p += run
	}
}

// String describes the budget for logs.
func (c *kvCache) String() string {
	return fmt.Sprintf("%d blocks of %d tokens (%s)", c.blocks, kvBlockTokens, c.dtype)
}
