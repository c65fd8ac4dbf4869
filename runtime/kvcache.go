package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// kvBlockTokens is the number of positions one KV cache block holds. Prefix
// sharing works in whole blocks, so smaller blocks reuse more of a prompt;
// larger ones cost less bookkeeping.
const kvBlockTokens = 16

// ErrKVCacheFull means the KV cache budget cannot hold a sequence: its prompt
// needs more blocks than the whole budget, or a running sequence found no
// free block for its next position.
var ErrKVCacheFull = errors.New("KV cache budget exhausted")

// kvCache is a fixed budget of KV memory shared by the sequences of a
// Scheduler, in blocks of kvBlockTokens positions (paged attention). A
// sequence holds a table of block ids; block b keeps, for every layer, the
// keys and values of its positions.
//
// Full blocks are also entered in a prefix index keyed by a hash of every
// token from the start of the sequence to the block's end, so a later
// sequence with the same prefix (a shared system prompt, the earlier turns
// of a chat) takes the blocks instead of computing them. Blocks no sequence
// uses stay cached until a new block is needed, least recently used first.
//
// kvCache is not safe for concurrent use; the Scheduler's lock guards it.
type kvCache struct {
	layers     int
	kRow, vRow int
	dtype      symb.DType // F16 or F32
	blocks     int

	k16, v16 []uint16 // [blocks][layers][kvBlockTokens][kRow or vRow]
	k32, v32 []float32

	ref    []int32  // sequences using each block
	hash   []uint64 // prefix hash of an indexed block, 0 when not indexed
	toks   [][kvBlockTokens]int32
	used   []uint64 // tick of the last use, for eviction
	tick   uint64
	free   []int          // unindexed blocks with no references
	index  map[uint64]int // prefix hash → block
	seed   maphash.Seed
	cached int // indexed blocks with no references (evictable)
}

// kvBytesPerToken is the KV memory one position takes in every layer.
func kvBytesPerToken(m *Model, dtype symb.DType) int64 {
	return int64(len(m.layers)) * int64(m.dims.kRow()+m.dims.vRow()) * int64(dtype.ElemSize())
}

// newKVCache makes a cache of the given number of blocks for m's layers.
// Memory is reserved, not touched: pages become resident when first written.
func newKVCache(m *Model, dtype symb.DType, blocks int) *kvCache {
	c := &kvCache{
		layers: len(m.layers), kRow: m.dims.kRow(), vRow: m.dims.vRow(), dtype: dtype, blocks: blocks,
		ref: make([]int32, blocks), hash: make([]uint64, blocks), toks: make([][kvBlockTokens]int32, blocks),
		used: make([]uint64, blocks), index: map[uint64]int{}, seed: maphash.MakeSeed(),
	}
	per := c.layers * kvBlockTokens
	if dtype == symb.F16 {
		c.k16, c.v16 = make([]uint16, blocks*per*c.kRow), make([]uint16, blocks*per*c.vRow)
	} else {
		c.k32, c.v32 = make([]float32, blocks*per*c.kRow), make([]float32, blocks*per*c.vRow)
	}
	c.free = make([]int, blocks)
	for i := range c.free {
		c.free[i] = blocks - 1 - i // pop from the end: block 0 first
	}
	return c
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
		delete(c.index, c.hash[b])
		c.hash[b] = 0
		c.cached--
	}
	if b >= 0 {
		c.ref[b] = 1
		c.touch(b)
	}
	return b
}

func (c *kvCache) touch(b int) {
	c.tick++
	c.used[b] = c.tick
}

// release drops one reference to each block; unreferenced blocks stay in the
// prefix index when they are in it and become free otherwise.
func (c *kvCache) release(blocks []int) {
	for _, b := range blocks {
		c.ref[b]--
		if c.ref[b] > 0 {
			continue
		}
		if c.hash[b] != 0 {
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
		if c.ref[b] == 0 {
			c.cached--
		}
		c.ref[b]++
		c.touch(b)
		blocks = append(blocks, b)
		hash = h
		ids = ids[kvBlockTokens:]
	}
	return blocks, hash
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
	for i, t := range ids {
		c.toks[b][i] = int32(t)
	}
	c.hash[b] = h
	c.index[h] = b
	return h
}

// offset is the index of position slot of block b, layer li, in the K (row
// width kRow) or V (vRow) arena.
func (c *kvCache) offset(b, li, slot, row int) int {
	return ((b*c.layers+li)*kvBlockTokens + slot) * row
}

// write stores the key and value rows of one position.
func (c *kvCache) write(b, li, slot int, k, v []float32) {
	ko, vo := c.offset(b, li, slot, c.kRow), c.offset(b, li, slot, c.vRow)
	if c.dtype == symb.F16 {
		quantize.F32ToF16Slice(c.k16[ko:ko+c.kRow], k)
		quantize.F32ToF16Slice(c.v16[vo:vo+c.vRow], v)
		return
	}
	copy(c.k32[ko:ko+c.kRow], k)
	copy(c.v32[vo:vo+c.vRow], v)
}

// gather copies elements [lo, lo+w) of the key (or value) rows of positions
// [first, end) of a sequence with block table table into dst, as float32,
// one row of w after the other.
func (c *kvCache) gather(dst []float32, table []int, li, first, end, lo, w int, values bool) {
	row := c.kRow
	a16, a32 := c.k16, c.k32
	if values {
		row, a16, a32 = c.vRow, c.v16, c.v32
	}
	for p := first; p < end; p++ {
		o := c.offset(table[p/kvBlockTokens], li, p%kvBlockTokens, row) + lo
		d := dst[(p-first)*w : (p-first+1)*w]
		if a16 != nil {
			quantize.F16ToF32Slice(d, a16[o:o+w])
		} else {
			copy(d, a32[o:o+w])
		}
	}
}

// gatherT writes elements [lo, lo+w) of the value rows of positions
// [first, end) transposed into dst: element c of position p goes to
// dst[c*ld+p-first].
func (c *kvCache) gatherT(dst []float32, ld int, table []int, li, first, end, lo, w int) {
	for p := first; p < end; p++ {
		o := c.offset(table[p/kvBlockTokens], li, p%kvBlockTokens, c.vRow) + lo
		if c.v16 != nil {
			for i, h := range c.v16[o : o+w] {
				dst[i*ld+p-first] = quantize.F16ToF32(h)
			}
		} else {
			for i, x := range c.v32[o : o+w] {
				dst[i*ld+p-first] = x
			}
		}
	}
}

// String describes the budget for logs.
func (c *kvCache) String() string {
	return fmt.Sprintf("%d blocks of %d tokens (%s)", c.blocks, kvBlockTokens, c.dtype)
}
