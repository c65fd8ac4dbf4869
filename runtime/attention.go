package runtime

import (
	"math"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// attnDims are the widths attention works with. Standard attention has
// qk = v = head_dim; latent attention (mla.go) expands its latent to
// per-head keys of qk_nope+qk_rope dimensions and values of v_head_dim.
type attnDims struct {
	heads, kvHeads int // query heads; key/value heads (heads is a multiple)
	qk, v          int // per-head widths of queries and keys, and of values
}

func (d attnDims) qRow() int   { return d.heads * d.qk }   // one token's queries
func (d attnDims) kRow() int   { return d.kvHeads * d.qk } // one token's keys
func (d attnDims) vRow() int   { return d.kvHeads * d.v }  // one token's values
func (d attnDims) outRow() int { return d.heads * d.v }    // one token's attention output

// newAttnDims reads the widths from the config.
func newAttnDims(mc *symb.ModelConfig) attnDims {
	if a := mc.MLA; a != nil {
		return attnDims{heads: mc.NumHeads, kvHeads: mc.NumHeads, qk: a.QKNopeHeadDim + a.QKRopeHeadDim, v: a.VHeadDim}
	}
	return attnDims{heads: mc.NumHeads, kvHeads: mc.NumKVHeads, qk: mc.HeadDim, v: mc.HeadDim}
}

// scoreScale is the factor applied to q·k: attention_scale when set, else
// 1/sqrt of the query/key width, times mscale² for latent attention with a
// YaRN mscale_all_dim (see FORMAT.md, mla). PyTorch multiplies a float32
// tensor by the Python scalar in float32, so the scale is rounded once at
// the end.
func scoreScale(mc *symb.ModelConfig, d attnDims) float32 {
	if mc.AttentionScale > 0 {
		return float32(mc.AttentionScale)
	}
	scale := 1 / math.Sqrt(float64(d.qk))
	if rs := mc.RopeScaling; mc.MLA != nil && rs != nil && rs.MScaleAllDim != 0 {
		ms := yarnMScale(rs.Factor, rs.MScaleAllDim)
		scale = scale * ms * ms
	}
	return float32(scale)
}

// parallel runs fn over [0, items) split into contiguous ranges on the
// model's worker pool; worker w owns s.scratch[w] of scratchLen floats. work
// estimates the multiply-adds, to stay on one thread when the job is small.
func (s *Session) parallel(items, work, scratchLen int, fn func(w, lo, hi int)) {
	workers := s.m.pool.Threads()
	for len(s.scratch) < workers {
		s.scratch = append(s.scratch, nil)
	}
	for w := range workers {
		s.scratch[w] = grow(s.scratch[w], scratchLen)
	}
	s.m.pool.Run(items, 1, int64(work), fn)
}

// Blocked attention: the query rows of one key/value head (a block of
// tokens times the query heads of its group) meet the keys in blocks of
// attnKeyBlock positions. Scores and outputs are dense products
// (kernels.MulAddT), and the softmax is computed online (a running maximum
// and sum per row, the partial output rescaled when the maximum grows), so
// scratch memory does not depend on the context length.
const (
	attnKeyBlock  = 128 // key positions per block; a multiple of 8
	attnRowTarget = 64  // query rows per work item, at least one token
)

// attnItem is a run of query rows [lo, hi) of one sequence at consecutive
// positions pos, pos+1, ...; table is its KV cache block table when the
// cache is paged.
type attnItem struct {
	lo, hi, pos int
	table       []int
}

// kvSource reads one layer's past keys and values for blocked attention.
type kvSource interface {
	// keys returns the keys of positions [p0, p1) of key/value head g as
	// rows of qk floats every stride floats: a view of the cache when it
	// holds float32 in that shape, else dst filled.
	keys(dst []float32, table []int, g, p0, p1 int) (k []float32, stride int)
	// valuesT writes the values of positions [p0, p1) of key/value head g
	// transposed: element c of position p goes to dst[c*ld+p-p0]. It may
	// write anything into the columns from p1-p0 up to the next multiple
	// of 8 (below ld), which the caller pads.
	valuesT(dst []float32, ld int, table []int, g, p0, p1 int)
}

// attnTokens is how many query tokens one work item takes.
func (d attnDims) attnTokens() int { return max(1, attnRowTarget/(d.heads/d.kvHeads)) }

// attnScratch is the scratch one attention worker needs, in floats.
func (d attnDims) attnScratch() int {
	rows, kb := d.attnTokens()*(d.heads/d.kvHeads), attnKeyBlock
	return rows*d.qk + kb*d.qk + d.v*kb + rows*kb + rows*d.v + 2*rows
}

// splitItems appends to dst the rows [lo, hi) at positions pos, ... cut
// into work items of at most d.attnTokens() tokens.
func (d attnDims) splitItems(dst []attnItem, lo, hi, pos int, table []int) []attnItem {
	step := d.attnTokens()
	for t := lo; t < hi; t += step {
		dst = append(dst, attnItem{lo: t, hi: min(t+step, hi), pos: pos + t - lo, table: table})
	}
	return dst
}

// attendItems computes causal softmax attention of layer li for the query
// rows of items (in s.b.q) against src, writing s.b.att. Work is split by
// (key/value head, item); each pair is independent, so the split across
// workers does not change the result.
func (s *Session) attendItems(li int, items []attnItem, src kvSource) {
	d := s.m.dims
	window := s.m.layers[li].window
	work := 0
	for _, it := range items {
		last := it.pos + it.hi - it.lo
		work += (it.hi - it.lo) * (last - firstKey(it.pos, window)) * d.heads * (d.qk + d.v)
	}
	scale, capAt := s.m.attnScale, float32(s.m.mc.AttentionSoftcap)
	s.parallel(len(items)*d.kvHeads, work, d.attnScratch(), func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			attendBlocked(&s.b, d, i/len(items), items[i%len(items)], window, src, scale, capAt, s.scratch[w])
		}
	})
}

// firstKey is the first position a query at position p sees: 0, or the
// start of its sliding window.
func firstKey(p, window int) int {
	if window > 0 {
		return max(0, p-window+1)
	}
	return 0
}

// attendBlocked is the attention of the rows of it for the query heads of
// key/value head g: scores[j] = q·key_j · scale (soft-capped when softcap >
// 0) over the positions the row sees, and out = Σ softmax(scores)_j ·
// value_j.
func attendBlocked(b *buffers, d attnDims, g int, it attnItem, window int, src kvSource, scale, softcap float32, scratch []float32) {
	qk, vw, group := d.qk, d.v, d.heads/d.kvHeads
	qr, or := d.qRow(), d.outRow()
	kb := attnKeyBlock
	rows := (it.hi - it.lo) * group
	take := func(n int) []float32 {
		out := scratch[:n:n]
		scratch = scratch[n:]
		return out
	}
	q, kbuf, vt, sc, acc := take(rows*qk), take(kb*qk), take(vw*kb), take(rows*kb), take(rows*vw)
	mx, sum := take(rows), take(rows)
	// Row r is token it.lo + r/group, query head g·group + r%group; the
	// group's heads are adjacent in a token's queries.
	for t := it.lo; t < it.hi; t++ {
		copy(q[(t-it.lo)*group*qk:], b.q[t*qr+g*group*qk:t*qr+(g+1)*group*qk])
	}
	clear(acc)
	clear(sum)
	for r := range mx {
		mx[r] = float32(math.Inf(-1))
	}
	last := it.pos + it.hi - 1 - it.lo
	// Key blocks start at multiples of kb, so a row meets the same blocks
	// (and gives the same bits) whichever item it is in.
	for k0 := firstKey(it.pos, window) / kb * kb; k0 <= last; k0 += kb {
		k1 := min(k0+kb, last+1)
		nk := k1 - k0
		nkp := (nk + 7) &^ 7 // the value product takes whole vectors of keys
		keys, ks := src.keys(kbuf, it.table, g, k0, k1)
		src.valuesT(vt, kb, it.table, g, k0, k1)
		if nkp > nk {
			for c := range vw {
				clear(vt[c*kb+nk : c*kb+nkp])
			}
		}
		for r := range rows {
			clear(sc[r*kb : r*kb+nk])
		}
		kernels.MulAddT(sc, kb, q, qk, rows, keys, ks, nk, qk)
		for r := range rows {
			p := it.pos + r/group
			row := sc[r*kb : r*kb+nkp]
			lo, hi := max(firstKey(p, window)-k0, 0), min(p+1-k0, nk) // visible keys
			if lo >= hi {
				clear(row)
				continue
			}
			var m float32
			if softcap > 0 {
				m = float32(math.Inf(-1))
				for j := lo; j < hi; j++ {
					row[j] = softcap * float32(math.Tanh(float64(row[j]*scale/softcap)))
					m = max(m, row[j])
				}
			} else {
				m = kernels.ScaleMax(row[lo:hi], scale)
			}
			if m > mx[r] {
				if alpha := kernels.Exp(mx[r] - m); alpha != 1 {
					kernels.Scale(alpha, acc[r*vw:(r+1)*vw])
					sum[r] *= alpha
				}
				mx[r] = m
			}
			sum[r] += kernels.ExpSum(row[lo:hi], mx[r])
			clear(row[:lo])
			clear(row[hi:])
		}
		kernels.MulAddT(acc, vw, sc, kb, rows, vt, kb, vw, nkp)
	}
	for r := range rows {
		t, h := it.lo+r/group, g*group+r%group
		out := b.att[t*or+h*vw : t*or+(h+1)*vw]
		inv := 1 / sum[r]
		for c, v := range acc[r*vw : (r+1)*vw] {
			out[c] = v * inv
		}
	}
}

// symbiotic is EngineSymbiotic's attention. Each query head h keeps a state
// M (qk × v: head_dim × head_dim for standard attention) in place of a KV
// cache. For every new token, with k and v from h's key/value head (after
// biases, norms and RoPE, as in the exact engine):
//
//	g = q·k · scale          (the exact engine's score scale)
//	a = σ(g)                 (logistic sigmoid)
//	M ← a·M + (1−a)·k⊗v      (M[i][j] += ... k[i]·v[j])
//	out = q·M                (out[j] = Σ_i q[i]·M[i][j], with the updated M)
//
// so a query that matches the new key keeps more of the past, and one that
// does not lets the new key/value pair overwrite it. Memory is constant in
// the sequence length; heads are independent, so they run in parallel while
// tokens run in order.
func (s *Session) symbiotic(state []float32, n int) {
	d := s.m.dims
	qk, vw, heads := d.qk, d.v, d.heads
	qr, kr, vr, or := d.qRow(), d.kRow(), d.vRow(), d.outRow()
	group := heads / d.kvHeads
	scale := s.m.attnScale
	s.parallel(heads, n*heads*qk*vw*3, 0, func(_, lo, hi int) {
		for h := lo; h < hi; h++ {
			M := state[h*qk*vw : (h+1)*qk*vw]
			kOff, vOff := (h/group)*qk, (h/group)*vw
			for t := range n {
				q := s.b.q[t*qr+h*qk : t*qr+(h+1)*qk]
				k := s.b.k[t*kr+kOff : t*kr+kOff+qk]
				v := s.b.v[t*vr+vOff : t*vr+vOff+vw]
				a := float32(1 / (1 + math.Exp(-float64(kernels.Dot(q, k)*scale))))
				for i := range qk {
					row := M[i*vw : (i+1)*vw]
					ki := (1 - a) * k[i]
					for j := range row {
						row[j] = a*row[j] + ki*v[j]
					}
				}
				out := s.b.att[t*or+h*vw : t*or+(h+1)*vw]
				clear(out)
				for i := range qk {
					kernels.Axpy(q[i], M[i*vw:(i+1)*vw], out)
				}
			}
		}
	})
}
