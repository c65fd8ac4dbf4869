package runtime

import (
	"context"
	"fmt"
	"math"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// prefillChunk bounds how many tokens one batched pass processes, which
// bounds the scratch memory of a long prompt; larger chunks help MatMul
// reuse each weight row across more tokens.
const prefillChunk = 512

// Session is one sequence being processed: its position and attention
// memory (a KV cache, or the symbiotic state). A session is not safe for
// concurrent use; several sessions may share one Model.
type Session struct {
	m   *Model
	pos int
	eng engine // the past: a KV cache, the symbiotic state, or a Scheduler's rows

	// expertRows counts (token, expert) pairs computed by sparse MLPs, so
	// tests can check that only the selected experts run.
	expertRows int64

	last    []float32 // logits of the last position processed
	broken  bool      // a pass was interrupted half-way; only Reset repairs it
	b       buffers
	scratch [][]float32 // per attention worker (attendBlocked)
	items   []attnItem  // attention work items of the current pass
}

// buffers are per-chunk activations, reused across calls.
type buffers struct {
	n                     int
	x, h, q, k, v, att, o []float32
	gate, up              []float32 // widest of the dense, expert and shared MLPs
	cos, sin              []float32
	moe                   moeBuffers // sized only for mixture-of-experts models
	mla                   mlaBuffers // sized only for latent attention
}

// NewSession starts an empty sequence.
func (m *Model) NewSession() *Session {
	if m.engine == EngineExact {
		return &Session{m: m, eng: newKVEngine(m)}
	}
	return &Session{m: m, eng: newSymbioticState(m)}
}

// Pos is the number of tokens the session holds.
func (s *Session) Pos() int { return s.pos }

// MemoryBytes is the memory the session holds for attention: the KV cache's
// capacity (EngineExact) or the fixed per-head states (EngineSymbiotic).
func (s *Session) MemoryBytes() int64 { return s.eng.memoryBytes() }

// Reset empties the session, keeping its allocations for reuse.
func (s *Session) Reset() {
	s.pos = 0
	s.broken = false
	s.last = s.last[:0]
	s.eng.reset()
}

// LastLogits returns the logits of the last position processed (nil before
// the first Forward). The slice is overwritten by the next Forward.
func (s *Session) LastLogits() []float32 { return s.last }

// Forward appends ids to the sequence and returns the logits of every one of
// them, flattened as [len(ids)][vocab_size]. Bad input (an id outside the
// vocabulary, a full context) is refused before any work and leaves the
// session as it was; a cancelled pass leaves it unusable until Reset.
func (s *Session) Forward(ctx context.Context, ids []int) ([]float32, error) {
	return s.forward(ctx, ids, true)
}

// Prefill appends ids and computes logits for the last one only (see
// LastLogits), skipping the output head for the other positions.
func (s *Session) Prefill(ctx context.Context, ids []int) error {
	_, err := s.forward(ctx, ids, false)
	return err
}

func (s *Session) forward(ctx context.Context, ids []int, all bool) ([]float32, error) {
	m := s.m
	vocab := m.mc.VocabSize
	if len(ids) == 0 {
		return nil, fmt.Errorf("forward: no tokens")
	}
	if s.broken {
		return nil, ErrSessionBroken
	}
	if len(ids) > m.maxCtx-s.pos {
		return nil, fmt.Errorf("%w: %d tokens after %d would exceed the context of %d", ErrContextFull, len(ids), s.pos, m.maxCtx)
	}
	for i, id := range ids {
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("forward: token %d at index %d is outside the vocabulary of %d", id, i, vocab)
		}
	}
	var out []float32
	if all {
		out = make([]float32, len(ids)*vocab)
	}
	for start := 0; start < len(ids); start += prefillChunk {
		end := min(start+prefillChunk, len(ids))
		var dst []float32
		if all {
			dst = out[start*vocab : end*vocab]
		}
		if err := s.chunk(ctx, ids[start:end], dst, end == len(ids)); err != nil {
			// Some layers have seen the chunk and others not: the
			// symbiotic state (and the cache rows) are inconsistent.
			s.broken = true
			return nil, err
		}
	}
	return out, nil
}

// chunk runs the model over ids. With dst set, it writes the logits of every
// position there; with last set, it keeps the final position's logits.
func (s *Session) chunk(ctx context.Context, ids []int, dst []float32, last bool) error {
	m, mc := s.m, &s.m.mc
	n, hid := len(ids), mc.HiddenSize
	b := s.buffers(n)
	for t, id := range ids {
		x := b.x[t*hid : (t+1)*hid]
		kernels.Row(x, m.emb, id)
		if mc.EmbeddingScale != 0 {
			kernels.Scale(mc.EmbeddingScale, x)
		}
	}
	m.rope.tables(b.cos, b.sin, s.pos, n)
	s.eng.reserve(s, n)
	for li := range m.layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.layer(li, n)
	}
	s.pos += n

	switch {
	case dst != nil:
		m.normRows(b.h, b.x, m.finalNorm, n, hid)
		m.linear(dst, b.h, n, m.lmHead)
		if mc.FinalSoftcap > 0 {
			softcap(dst, float32(mc.FinalSoftcap))
		}
		if last {
			s.last = append(s.last[:0], dst[(n-1)*mc.VocabSize:]...)
		}
	case last:
		h := b.h[:hid]
		m.norm(h, b.x[(n-1)*hid:n*hid], m.finalNorm)
		s.last = grow(s.last, mc.VocabSize)
		m.pool.MatVec(s.last, h, m.lmHead)
		if mc.FinalSoftcap > 0 {
			softcap(s.last, float32(mc.FinalSoftcap))
		}
	}
	return nil
}

// layer runs transformer block li over the n tokens in s.b.x.
func (s *Session) layer(li, n int) {
	m, L, b := s.m, &s.m.layers[li], &s.b
	hid := m.mc.HiddenSize
	d := m.dims

	m.normRows(b.h, b.x, L.normAttn, n, hid)
	k, v := b.k[:n*d.kRow()], b.v[:n*d.vRow()]
	if L.mla != nil {
		s.latentQKV(L.mla, n, k, v)
	} else {
		s.projectQKV(L, n, k, v)
	}
	s.eng.attend(s, li, n)
	s.residual(L.o, L.oBias, L.normAttnPost, n, d.outRow(), b.att)

	m.normRows(b.h, b.x, L.normMLP, n, hid)
	if L.moe != nil {
		s.sparseMLP(L.moe, n)
		s.addOutput(nil, L.normMLPPost, n)
		return
	}
	inter := L.gate.Rows()
	gate, up := b.gate[:n*inter], b.up[:n*inter]
	m.observe(b.h[:n*hid], n, L.gate, L.up)
	m.pool.MatMuls([][]float32{gate, up}, b.h[:n*hid], n, L.gate, L.up)
	m.activate(gate, up)
	s.residual(L.down, nil, L.normMLPPost, n, inter, gate)
}

// projectQKV computes standard attention's q (into s.b.q), k and v for the n
// tokens in s.b.h: projections, biases, clipping, q/k norms and RoPE.
func (s *Session) projectQKV(L *layer, n int, k, v []float32) {
	m, mc, b := s.m, &s.m.mc, &s.b
	qd, kvd := s.m.dims.qRow(), s.m.dims.kRow()
	q := b.q[:n*qd]
	m.observe(b.h[:n*mc.HiddenSize], n, L.q, L.k, L.v)
	m.pool.MatMuls([][]float32{q, k, v}, b.h[:n*mc.HiddenSize], n, L.q, L.k, L.v)
	// Rows are independent, so a long chunk is split over the pool. With
	// the vector rotation (kernels.Rotate) a row costs about one pool work
	// unit per 8 query and key elements: 8 decoded rows of the 1B shape take
	// ~1.2 us and stay on the caller.
	m.pool.Run(n, 1, int64(n*(qd+kvd)/8), func(_, lo, hi int) {
		s.finishQKV(L, q, k, v, lo, hi)
	})
}

// finishQKV applies projectQKV's biases, clipping, q/k norms and RoPE to rows
// [lo, hi) of q, k and v.
func (s *Session) finishQKV(L *layer, q, k, v []float32, lo, hi int) {
	m, mc, b := s.m, &s.m.mc, &s.b
	hd := mc.HeadDim
	qd, kvd := s.m.dims.qRow(), s.m.dims.kRow()
	eps, off := float32(mc.NormEps), mc.NormWeightOffset
	half := m.rope.dim / 2
	for t := lo; t < hi; t++ {
		qt, kt, vt := q[t*qd:(t+1)*qd], k[t*kvd:(t+1)*kvd], v[t*kvd:(t+1)*kvd]
		if L.qBias != nil {
			kernels.Add(qt, L.qBias)
			kernels.Add(kt, L.kBias)
			kernels.Add(vt, L.vBias)
		}
		if c := float32(mc.ClipQKV); c > 0 {
			clamp(qt, c)
			clamp(kt, c)
			clamp(vt, c)
		}
		if L.qNorm != nil {
			headNorm(qt, L.qNorm, hd, eps, off)
			headNorm(kt, L.kNorm, hd, eps, off)
		}
		cos, sin := b.cos[t*half:(t+1)*half], b.sin[t*half:(t+1)*half]
		m.rope.apply(qt, mc.NumHeads, hd, cos, sin)
		m.rope.apply(kt, mc.NumKVHeads, hd, cos, sin)
	}
}

// residual adds w·in (+bias, then the optional post-norm) to every row of s.b.x.
func (s *Session) residual(w *symb.Tensor, bias, postNorm []float32, n, inDim int, in []float32) {
	hid := s.m.mc.HiddenSize
	s.m.linear(s.b.o[:n*hid], in[:n*inDim], n, w)
	s.addOutput(bias, postNorm, n)
}

// addOutput adds the block output in s.b.o (+bias, then the optional
// post-norm) to every row of the residual stream s.b.x.
func (s *Session) addOutput(bias, postNorm []float32, n int) {
	m, b, hid := s.m, &s.b, s.m.mc.HiddenSize
	for t := range n {
		ot := b.o[t*hid : (t+1)*hid]
		if bias != nil {
			kernels.Add(ot, bias)
		}
		if postNorm != nil {
			m.norm(ot, ot, postNorm)
		}
		kernels.Add(b.x[t*hid:(t+1)*hid], ot)
	}
}

// observe passes the input x (n rows) of the weights ws to the
// WithLinearInputs callback, when there is one.
func (m *Model) observe(x []float32, n int, ws ...*symb.Tensor) {
	if m.inputs == nil {
		return
	}
	for _, w := range ws {
		m.inputs(w.Name, x, n)
	}
}

// linear computes y = w·x for n rows of x: MatVec for one token (decode),
// MatMul for a batch (prefill) so each weight row is read once per batch.
func (m *Model) linear(y, x []float32, n int, w *symb.Tensor) {
	rows, cols := w.Rows(), w.Cols()
	m.observe(x[:n*cols], n, w)
	if n == 1 {
		m.pool.MatVec(y[:rows], x[:cols], w)
		return
	}
	m.pool.MatMul(y[:n*rows], x[:n*cols], n, w)
}

// buffers sizes the per-chunk activations for n tokens.
func (s *Session) buffers(n int) *buffers {
	b := &s.b
	if b.n >= n {
		return b
	}
	m, mc, d := s.m, &s.m.mc, s.m.dims
	*b = buffers{
		n:    n,
		x:    make([]float32, n*mc.HiddenSize),
		h:    make([]float32, n*mc.HiddenSize),
		o:    make([]float32, n*mc.HiddenSize),
		q:    make([]float32, n*d.qRow()),
		att:  make([]float32, n*d.outRow()),
		k:    make([]float32, n*d.kRow()),
		v:    make([]float32, n*d.vRow()),
		gate: make([]float32, n*m.mlpWidth),
		up:   make([]float32, n*m.mlpWidth),
		cos:  make([]float32, n*m.rope.dim/2),
		sin:  make([]float32, n*m.rope.dim/2),
	}
	if mc.MoE != nil {
		b.moe = newMoEBuffers(mc, n)
	}
	if mc.MLA != nil {
		b.mla = newMLABuffers(mc, n)
	}
	return b
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func clamp(x []float32, c float32) {
	for i, v := range x {
		x[i] = min(max(v, -c), c)
	}
}

// softcap maps x to c·tanh(x/c), bounding values smoothly to (−c, c).
func softcap(x []float32, c float32) {
	for i, v := range x {
		x[i] = c * float32(math.Tanh(float64(v/c)))
	}
}

// headNorm applies RMSNorm with weight w to each head_dim slice of x.
func headNorm(x, w []float32, hd int, eps, off float32) {
	for h := 0; h+hd <= len(x); h += hd {
		kernels.RMSNorm(x[h:h+hd], x[h:h+hd], w, eps, off)
	}
}

// activate computes gate = act(gate)·up in place, split over the pool's
// threads: element by element, so the result does not depend on the split.
// Run serially it took about 7% of the time of 8 streams decoding together
// on the 1B INT4 shape with 2 threads, while the other thread waited.
func (m *Model) activate(gate, up []float32) {
	const perElem = 24 // rough operations of one exp and its surroundings
	m.pool.Run(len(gate), 64, int64(len(gate))*perElem, func(_, lo, hi int) {
		gatedActivation(gate[lo:hi], up[lo:hi], m.mc.Activation)
	})
}

// gatedActivation computes gate = act(gate)·up in place.
func gatedActivation(gate, up []float32, kind string) {
	switch kind {
	case "gelu_tanh":
		kernels.GELUTanhMul(gate, up)
	case "gelu":
		// The exact (erf) GELU; computed in float64 and rounded once.
		for i, v := range gate {
			f := float64(v)
			gate[i] = float32(0.5*f*(1+math.Erf(f/math.Sqrt2))) * up[i]
		}
	default: // silu, checked at load
		kernels.SiLUMul(gate, up)
	}
}
