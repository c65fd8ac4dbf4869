package runtime

import (
	"math"
	"sync"

	"github.com/symbc/symbc/runtime/kernels"
)

// minParallelWork is the number of multiply-adds below which attention runs
// on the calling goroutine: starting workers costs more than it saves.
const minParallelWork = 1 << 15

// scoreScale is the factor applied to q·k. PyTorch multiplies a float32
// tensor by the Python scalar in float32, so the scale is rounded first.
func (m *Model) scoreScale() float32 {
	if m.mc.AttentionScale > 0 {
		return float32(m.mc.AttentionScale)
	}
	return float32(1 / math.Sqrt(float64(m.mc.HeadDim)))
}

// parallel runs fn over [0, items) split into contiguous ranges, one per
// worker; worker w owns s.scratch[w] of scratchLen floats. work estimates
// the multiply-adds, to stay on one goroutine when the job is small.
func (s *Session) parallel(items, work, scratchLen int, fn func(w, lo, hi int)) {
	workers := min(s.m.threads, items)
	if work < minParallelWork {
		workers = 1
	}
	for len(s.scratch) < workers {
		s.scratch = append(s.scratch, nil)
	}
	for w := range workers {
		s.scratch[w] = grow(s.scratch[w], scratchLen)
	}
	if workers <= 1 {
		fn(0, 0, items)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*items/workers, (w+1)*items/workers
		wg.Go(func() { fn(w, lo, hi) })
	}
	wg.Wait()
}

// attend computes causal softmax attention for the n new tokens of layer li
// against the KV cache, writing [n][heads·head_dim] to s.b.att. Query heads
// share key/value heads in groups (GQA). Each (token, head) pair is
// independent, so the split across workers does not change the result.
func (s *Session) attend(li, n int) {
	mc, L := &s.m.mc, &s.m.layers[li]
	hd, heads := mc.HeadDim, mc.NumHeads
	qd, kvd := heads*hd, mc.NumKVHeads*hd
	group := heads / mc.NumKVHeads
	keys, vals := s.kc[li], s.vc[li]
	scale := s.m.scoreScale()
	softcap := float32(mc.AttentionSoftcap)
	end := s.pos + n
	s.parallel(n*heads, n*heads*end*hd*2, end, func(w, lo, hi int) {
		scratch := s.scratch[w]
		for it := lo; it < hi; it++ {
			t, h := it/heads, it%heads
			p := s.pos + t // this query's position: it sees keys first..p
			first := 0
			if L.window > 0 {
				first = max(0, p-L.window+1)
			}
			qh := s.b.q[t*qd+h*hd : t*qd+(h+1)*hd]
			out := s.b.att[t*qd+h*hd : t*qd+(h+1)*hd]
			off := (h / group) * hd
			scores := scratch[:p+1-first]
			mx := float32(math.Inf(-1))
			for j := range scores {
				r := (first+j)*kvd + off
				x := kernels.Dot(qh, keys[r:r+hd]) * scale
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
				r := (first+j)*kvd + off
				kernels.Axpy(e*inv, vals[r:r+hd], out)
			}
		}
	})
}

// symbiotic is EngineSymbiotic's attention. Each query head h keeps a state
// M (head_dim × head_dim) in place of a KV cache. For every new token, with
// k and v from h's key/value head (after biases, norms and RoPE, as in the
// exact engine):
//
//	g = q·k · scale          (scale: attention_scale or 1/sqrt(head_dim))
//	a = σ(g)                 (logistic sigmoid)
//	M ← a·M + (1−a)·k⊗v      (M[i][j] += ... k[i]·v[j])
//	out = q·M                (out[j] = Σ_i q[i]·M[i][j], with the updated M)
//
// so a query that matches the new key keeps more of the past, and one that
// does not lets the new key/value pair overwrite it. Memory is constant in
// the sequence length; heads are independent, so they run in parallel while
// tokens run in order.
func (s *Session) symbiotic(li, n int) {
	mc := &s.m.mc
	hd, heads := mc.HeadDim, mc.NumHeads
	qd, kvd := heads*hd, mc.NumKVHeads*hd
	group := heads / mc.NumKVHeads
	scale := s.m.scoreScale()
	state := s.state[li]
	s.parallel(heads, n*heads*hd*hd*3, 0, func(_, lo, hi int) {
		for h := lo; h < hi; h++ {
			M := state[h*hd*hd : (h+1)*hd*hd]
			off := (h / group) * hd
			for t := range n {
				q := s.b.q[t*qd+h*hd : t*qd+(h+1)*hd]
				k := s.b.k[t*kvd+off : t*kvd+off+hd]
				v := s.b.v[t*kvd+off : t*kvd+off+hd]
				a := float32(1 / (1 + math.Exp(-float64(kernels.Dot(q, k)*scale))))
				for i := range hd {
					row := M[i*hd : (i+1)*hd]
					ki := (1 - a) * k[i]
					for j := range row {
						row[j] = a*row[j] + ki*v[j]
					}
				}
				out := s.b.att[t*qd+h*hd : t*qd+(h+1)*hd]
				clear(out)
				for i := range hd {
					kernels.Axpy(q[i], M[i*hd:(i+1)*hd], out)
				}
			}
		}
	})
}
