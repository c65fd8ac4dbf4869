package runtime

import (
	"context"
	"fmt"

	"github.com/symbc/symbc/runtime/kernels"
)

// batchSeg is one sequence's part of a batched pass: ids to append at
// positions pos, pos+1, ..., whose keys and values go to the blocks of table.
type batchSeg struct {
	ids    []int
	pos    int
	table  []int
	logits bool // compute the logits of the segment's last token
}

// batchRow locates one row of a batched pass in its sequence.
type batchRow struct {
	table []int
	pos   int
}

// batchSpan is the rows [lo, hi) of one segment.
type batchSpan struct{ lo, hi int }

// batcher runs passes over rows of many sequences at once: every linear
// layer is one MatMul over all rows (the weights are read once per pass,
// which is what makes decoding B streams together nearly B times faster than
// one by one on a memory-bound CPU), and attention reads each row's own
// sequence from the paged KV cache. It is not safe for concurrent use.
type batcher struct {
	m      *Model
	w      *Session // activations and attention scratch
	cache  *kvCache
	rows   []batchRow
	spans  []batchSpan
	logits []float32 // [segments with logits][vocab]
}

func newBatcher(m *Model, cache *kvCache) *batcher {
	b := &batcher{m: m, cache: cache}
	b.w = &Session{m: m, eng: b}
	return b
}

// step runs the model over every segment and returns the logits of the
// segments that asked for them, in order, flattened as [k][vocab]. The KV
// cache blocks for every position must be in the tables. The returned slice
// is overwritten by the next step. An interrupted step leaves the cache
// rows of its positions half-written; they are rewritten when the positions
// are run again, so nothing needs repair.
func (bt *batcher) step(ctx context.Context, segs []batchSeg) ([]float32, error) {
	m, mc, s := bt.m, &bt.m.mc, bt.w
	hid, vocab := mc.HiddenSize, mc.VocabSize
	n := 0
	for _, g := range segs {
		if len(g.ids) == 0 || g.pos+len(g.ids) > m.maxCtx || (g.pos+len(g.ids)+kvBlockTokens-1)/kvBlockTokens > len(g.table) {
			return nil, fmt.Errorf("batch: segment of %d tokens at %d with %d blocks does not fit", len(g.ids), g.pos, len(g.table))
		}
		n += len(g.ids)
	}
	if n == 0 {
		return nil, nil
	}
	b := s.buffers(n)
	half := m.rope.dim / 2
	bt.rows, bt.spans = bt.rows[:0], bt.spans[:0]
	var outRows []int
	t := 0
	for _, g := range segs {
		for i, id := range g.ids {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("batch: token %d is outside the vocabulary of %d", id, vocab)
			}
			x := b.x[(t+i)*hid : (t+i+1)*hid]
			kernels.Row(x, m.emb, id)
			if mc.EmbeddingScale != 0 {
				kernels.Scale(mc.EmbeddingScale, x)
			}
			bt.rows = append(bt.rows, batchRow{table: g.table, pos: g.pos + i})
		}
		m.rope.tables(b.cos[t*half:], b.sin[t*half:], g.pos, len(g.ids))
		bt.spans = append(bt.spans, batchSpan{t, t + len(g.ids)})
		t += len(g.ids)
		if g.logits {
			outRows = append(outRows, t-1)
		}
	}
	for li := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.layer(li, n)
	}
	k := len(outRows)
	if k == 0 {
		return nil, nil
	}
	h := b.h[:k*hid]
	for j, r := range outRows {
		m.norm(h[j*hid:(j+1)*hid], b.x[r*hid:(r+1)*hid], m.finalNorm)
	}
	bt.logits = grow(bt.logits, k*vocab)
	m.linear(bt.logits, h, k, m.lmHead)
	if mc.FinalSoftcap > 0 {
		softcap(bt.logits, float32(mc.FinalSoftcap))
	}
	return bt.logits, nil
}

// reserve does nothing: step checks that the tables hold every position.
func (bt *batcher) reserve(*Session, int) {}

// attend stores the keys and values of the n rows in s.b.k and s.b.v in the
// cache and computes causal attention of each row against its own sequence.
func (bt *batcher) attend(s *Session, li, n int) { attendCache(s, bt.cache, li, bt.rows[:n], bt.spans) }

// reset does nothing: the Scheduler releases each sequence's blocks.
func (bt *batcher) reset() {}

// memoryBytes is 0: the Scheduler accounts for its cache.
func (bt *batcher) memoryBytes() int64 { return 0 }

// attendCache stores the keys and values of rows (in s.b.k and s.b.v) in
// c and computes causal attention of each row against its own sequence:
// attendItems over the cache's blocks, converted to float32 a key block at
// a time. The rows of a span are consecutive positions of one sequence.
func attendCache(s *Session, c *kvCache, li int, rows []batchRow, spans []batchSpan) {
	b, d := &s.b, s.m.dims
	kr, vr := d.kRow(), d.vRow()
	// Rows are split over the pool: each writes its own cache slot. Stores
	// miss the caches (the weights streamed through them since the cache
	// was last touched); run on one thread they took ~0.9 ms of a 31-47 ms
	// 8-stream step on the 1B shape while the other thread waited.
	const perElem = 8 // rough cost of storing one element, in multiply-adds
	s.m.pool.Run(len(rows), 1, int64(len(rows)*(kr+vr)*perElem), func(_, lo, hi int) {
		for t := lo; t < hi; t++ {
			r := rows[t]
			c.write(r.table[r.pos/kvBlockTokens], li, r.pos%kvBlockTokens, b.k[t*kr:(t+1)*kr], b.v[t*vr:(t+1)*vr])
		}
	})
	s.items = s.items[:0]
	for _, sp := range spans {
		r := rows[sp.lo]
		s.items = d.splitItems(s.items, sp.lo, sp.hi, r.pos, r.table)
	}
	s.attendItems(li, s.items, pagedKV{c: c, li: li, qk: d.qk, vw: d.v})
}

// pagedKV reads layer li of a paged cache.
type pagedKV struct {
	c          *kvCache
	li, qk, vw int
}

func (p pagedKV) keys(dst []float32, table []int, g, p0, p1 int) ([]float32, int) {
	p.c.gather(dst, table, p.li, p0, p1, g*p.qk, p.qk)
	return dst, p.qk
}

func (p pagedKV) valuesT(dst []float32, ld int, table []int, g, p0, p1 int) {
	p.c.gatherT(dst, ld, table, p.li, p0, p1, g*p.vw, p.vw)
}
