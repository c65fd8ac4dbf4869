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

// attend computes causal softmax attention for the n new tokens of layer li
// against the KV cache, writing [n][heads·head_dim] to s.b.att. Query heads
// share key/value heads in groups (GQA). Each (token, head) pair is
// independent, so the split across workers does not change the result.
func (s *Session) attend(li, n int) {
	m, L := s.m, &s.m.layers[li]
	d := m.dims
	qk, vw, heads := d.qk, d.v, d.heads
	qr, kr, vr, or := d.qRow(), d.kRow(), d.vRow(), d.outRow()
	group := heads / d.kvHeads
	keys, vals := s.kc[li], s.vc[li]
	scale := m.attnScale
	softcap := float32(m.mc.AttentionSoftcap)
	end := s.pos + n
	s.parallel(n*heads, n*heads*end*(qk+vw), end, func(w, lo, hi int) {
		scratch := s.scratch[w]
		for it := lo; it < hi; it++ {
			t, h := it/heads, it%heads
			p := s.pos + t // this query's position: it sees keys first..p
			first := 0
			if L.window > 0 {
				first = max(0, p-L.window+1)
			}
			qh := s.b.q[t*qr+h*qk : t*qr+(h+1)*qk]
			out := s.b.att[t*or+h*vw : t*or+(h+1)*vw]
			kOff, vOff := (h/group)*qk, (h/group)*vw
			attendHead(qh, out, keys[first*kr+kOff:], vals[first*vr+vOff:], kr, vr, scratch[:p+1-first], scale, softcap)
		}
	})
}

// attendHead is softmax attention of one query head: scores[j] = q·key_j ·
// scale (soft-capped when softcap > 0) over the len(scores) positions whose
// keys start every kStride floats of keys and values every vStride of vals,
// and out = Σ softmax(scores)_j · value_j. Every engine path computes a head
// through here, so a batched pass gives the same numbers as a single one.
func attendHead(q, out, keys, vals []float32, kStride, vStride int, scores []float32, scale, softcap float32) {
	qk, vw := len(q), len(out)
	mx := float32(math.Inf(-1))
	for j := range scores {
		r := j * kStride
		x := kernels.Dot(q, keys[r:r+qk]) * scale
		if softcap > 0 {
			x = softcap * float32(math.Tanh(float64(x/softcap)))
		}
		scores[j] = x
		mx = max(mx, x)
	}
	var sum float32
	for j, x := range scores {
		e := float32(math.Exp(float64(x - mx)))
		scores[j] = e
		sum += e
	}
	clear(out)
	inv := 1 / sum
	for j, e := range scores {
		r := j * vStride
		kernels.Axpy(e*inv, vals[r:r+vw], out)
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
func (s *Session) symbiotic(li, n int) {
	d := s.m.dims
	qk, vw, heads := d.qk, d.v, d.heads
	qr, kr, vr, or := d.qRow(), d.kRow(), d.vRow(), d.outRow()
	group := heads / d.kvHeads
	scale := s.m.attnScale
	state := s.state[li]
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
