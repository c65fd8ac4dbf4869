package runtime

import (
	"fmt"

	"github.com/symbc/symbc/symb"
)

// Multi-head latent attention (config "mla"), as in DeepSeek-V2/V3. Queries
// come from a low-rank projection (or a plain one when q_lora_rank is 0);
// keys and values come from a normalised latent of kv_lora_rank dimensions
// expanded per head by attn_kv_b, plus one rotary key of qk_rope_head_dim
// dimensions shared by all heads. Per head, queries and keys are
// [nope | rope] (qk_nope_head_dim + qk_rope_head_dim) and values have
// v_head_dim dimensions.
//
// The expanded keys and values are what the KV cache (or the symbiotic
// state) holds, so attention itself is the standard one with attnDims
// {heads, heads, nope+rope, v}. That matches the reference computation
// exactly; caching the latent instead would save memory but reorder the
// arithmetic.
//
// The .symb files hold the rotary rows of attn_q_b (or attn_q) and
// attn_kv_a in rotate-half order even when the source model stored them as
// interleaved pairs (mla.rope_interleave records the source layout only):
// the converter permutes those rows, so RoPE here is the usual rotate-half.

// mlaLayer holds one layer's latent attention projections.
type mlaLayer struct {
	qa     *symb.Tensor // [q_lora_rank, hidden]; nil when queries are not compressed
	qaNorm []float32    // [q_lora_rank]
	qb     *symb.Tensor // [heads·(nope+rope), q_lora_rank]
	q      *symb.Tensor // [heads·(nope+rope), hidden] when q_lora_rank is 0
	kva    *symb.Tensor // [kv_lora_rank+rope, hidden]: latent, then the shared rotary key
	kvNorm []float32    // [kv_lora_rank]
	kvb    *symb.Tensor // [heads·(nope+v), kv_lora_rank]: per head nope key rows, then value rows
}

// checkMLA refuses latent-attention settings this runtime does not combine.
func checkMLA(mc *symb.ModelConfig) error {
	a := mc.MLA
	if a == nil {
		return nil
	}
	switch {
	case mc.AttentionBias:
		return fmt.Errorf("%w: attention_bias with latent attention (mla)", ErrUnsupported)
	case mc.QKNorm:
		return fmt.Errorf("%w: qk_norm with latent attention (mla)", ErrUnsupported)
	case mc.ClipQKV > 0:
		return fmt.Errorf("%w: clip_qkv with latent attention (mla)", ErrUnsupported)
	}
	return nil
}

// mla loads layer i's latent attention projections (attn_o is loaded with
// the other layer tensors).
func (l *loader) mla(i int) *mlaLayer {
	name := func(s string) string { return symb.LayerTensor(i, s) }
	L := &mlaLayer{}
	if l.m.mc.MLA.QLoraRank > 0 {
		L.qa = l.matrix(name(symb.AttnQA))
		L.qaNorm = l.vector(name(symb.AttnQANorm), true)
		L.qb = l.matrix(name(symb.AttnQB))
	} else {
		L.q = l.matrix(name(symb.AttnQ))
	}
	L.kva = l.matrix(name(symb.AttnKVA))
	L.kvNorm = l.vector(name(symb.AttnKVANorm), true)
	L.kvb = l.matrix(name(symb.AttnKVB))
	if l.err != nil {
		return nil
	}
	return L
}

// mlaBuffers are latent attention's per-chunk scratch.
type mlaBuffers struct {
	cq  []float32 // compressed queries [n][q_lora_rank]
	ckv []float32 // attn_kv_a output [n][kv_lora_rank+rope]
	c   []float32 // normalised latent [n][kv_lora_rank]
	kv  []float32 // attn_kv_b output [n][heads·(nope+v)]
}

func newMLABuffers(mc *symb.ModelConfig, n int) mlaBuffers {
	a := mc.MLA
	return mlaBuffers{
		cq:  make([]float32, n*a.QLoraRank),
		ckv: make([]float32, n*(a.KVLoraRank+a.QKRopeHeadDim)),
		c:   make([]float32, n*a.KVLoraRank),
		kv:  make([]float32, n*mc.NumHeads*(a.QKNopeHeadDim+a.VHeadDim)),
	}
}

// latentQKV computes the queries (into s.b.q) and the expanded keys k and
// values v of the n tokens in s.b.h, with RoPE applied to the rotary parts.
func (s *Session) latentQKV(L *mlaLayer, n int, k, v []float32) {
	m, b, mb := s.m, &s.b, &s.b.mla
	a, d, hid := m.mc.MLA, m.dims, m.mc.HiddenSize
	nope, rot, vw, rkv := a.QKNopeHeadDim, a.QKRopeHeadDim, a.VHeadDim, a.KVLoraRank
	h := b.h[:n*hid]
	q := b.q[:n*d.qRow()]
	if L.qa != nil {
		cq := mb.cq[:n*a.QLoraRank]
		m.linear(cq, h, n, L.qa)
		m.normRows(cq, cq, L.qaNorm, n, a.QLoraRank)
		m.linear(q, cq, n, L.qb)
	} else {
		m.linear(q, h, n, L.q)
	}
	ckvW := rkv + rot
	ckv, c := mb.ckv[:n*ckvW], mb.c[:n*rkv]
	m.linear(ckv, h, n, L.kva)
	for t := range n {
		m.norm(c[t*rkv:(t+1)*rkv], ckv[t*ckvW:t*ckvW+rkv], L.kvNorm)
	}
	kvW := nope + vw
	kv := mb.kv[:n*d.heads*kvW]
	m.linear(kv, c, n, L.kvb)

	half := m.rope.dim / 2
	for t := range n {
		cos, sin := b.cos[t*half:(t+1)*half], b.sin[t*half:(t+1)*half]
		// Each head's query is [nope | rope]; rotate the rope part of all heads.
		m.rope.apply(q[t*d.qRow()+nope:(t+1)*d.qRow()], d.heads, d.qk, cos, sin)
		kr := ckv[t*ckvW+rkv : (t+1)*ckvW]
		m.rope.apply(kr, 1, rot, cos, sin)
		kt, vt, kvt := k[t*d.kRow():(t+1)*d.kRow()], v[t*d.vRow():(t+1)*d.vRow()], kv[t*d.heads*kvW:(t+1)*d.heads*kvW]
		for hh := range d.heads {
			kh := kt[hh*d.qk : (hh+1)*d.qk]
			copy(kh[:nope], kvt[hh*kvW:hh*kvW+nope])
			copy(kh[nope:], kr)
			copy(vt[hh*vw:(hh+1)*vw], kvt[hh*kvW+nope:(hh+1)*kvW])
		}
	}
}
