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
	b.w = &Session{m: m, paged: b}
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

// attend stores the keys and values of the n rows in s.b.k and s.b.v in the
// cache and computes causal attention of each row against its own
// sequence. Work is split by (segment, key/value head): a worker gathers
// the head's keys and values of the segment's positions once (converting
// them to float32) for all of the segment's rows and the query heads of
// the group.
func (bt *batcher) attend(s *Session, li, n int) {
	m, c, b := bt.m, bt.cache, &s.b
	d := m.dims
	qk, vw, kvHeads := d.qk, d.v, d.kvHeads
	qr, kr, vr, or := d.qRow(), d.kRow(), d.vRow(), d.outRow()
	group := d.heads / kvHeads
	window := m.layers[li].window
	first := func(p int) int {
		if window > 0 {
			return max(0, p-window+1)
		}
		return 0
	}
	longest, work := 0, 0
	for t, r := range bt.rows[:n] {
		c.write(r.table[r.pos/kvBlockTokens], li, r.pos%kvBlockTokens, b.k[t*kr:(t+1)*kr], b.v[t*vr:(t+1)*vr])
		work += (r.pos + 1 - first(r.pos)) * d.heads * (qk + vw)
	}
	for _, sp := range bt.spans {
		lo, hi := bt.rows[sp.lo].pos, bt.rows[sp.hi-1].pos
		longest = max(longest, hi+1-first(lo))
	}
	scale, capAt := m.attnScale, float32(m.mc.AttentionSoftcap)
	s.parallel(len(bt.spans)*kvHeads, work, longest*(qk+vw+1), func(w, lo, hi int) {
		scratch := s.scratch[w]
		for it := lo; it < hi; it++ {
			sp, g := bt.spans[it/kvHeads], it%kvHeads
			table := bt.rows[sp.lo].table
			f0, end := first(bt.rows[sp.lo].pos), bt.rows[sp.hi-1].pos+1
			span := end - f0
			keys, vals := scratch[:span*qk], scratch[span*qk:span*(qk+vw)]
			c.gather(keys, table, li, f0, end, g*qk, qk, false)
			c.gather(vals, table, li, f0, end, g*vw, vw, true)
			for t := sp.lo; t < sp.hi; t++ {
				p := bt.rows[t].pos
				f := first(p) - f0 // this row sees positions first(p)..p
				scores := scratch[span*(qk+vw) : span*(qk+vw)+p+1-first(p)]
				for h := g * group; h < (g+1)*group; h++ {
					attendHead(b.q[t*qr+h*qk:t*qr+(h+1)*qk], b.att[t*or+h*vw:t*or+(h+1)*vw],
						keys[f*qk:], vals[f*vw:], qk, vw, scores, scale, capAt)
				}
			}
		}
	})
}
