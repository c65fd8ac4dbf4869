package arch

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/symbc/symbc/symb"
)

// DBRX converts DbrxForCausalLM checkpoints. Its config and tensor names
// are its own (d_model, attn_config, ffn_config; transformer.blocks.N):
//
//   - Wqkv rows are [q | k | v]; q, k and v are clamped to ±clip_qkv.
//   - Norms are LayerNorm without bias (epsilon 1e-5, torch's default).
//   - Each expert tensor (w1 gate, v1 up, w2 down) holds all experts,
//     [experts·ffn_hidden_size, d_model], expert e in rows e·F … (e+1)·F−1.
//     w1 and v1 are applied as x·Wᵀ like nn.Linear, but w2 as h·W, so each
//     expert's slice of w2 is transposed into the [d_model, F] layout.
//   - The router takes a softmax over all experts, keeps the top k and
//     divides them by their p-norm (p = moe_normalize_expert_weights; 1 is
//     the usual sum-to-one renormalisation).
type DBRX struct{}

// Name implements Adapter.
func (DBRX) Name() string { return "dbrx" }

// dbrxAttn and dbrxFFN are the nested objects of DbrxConfig, with pointers
// where absent and null differ from zero.
type dbrxAttn struct {
	ClipQKV   *float64 `json:"clip_qkv"`
	KVNHeads  *int     `json:"kv_n_heads"`
	RopeTheta *float64 `json:"rope_theta"`
}

type dbrxFFN struct {
	Hidden *int `json:"ffn_hidden_size"`
	Act    *struct {
		Name string `json:"name"`
	} `json:"ffn_act_fn"`
	Experts *int `json:"moe_num_experts"`
	TopK    *int `json:"moe_top_k"`
}

// orInt is *p, or def when p is nil.
func orInt(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// Config implements Adapter. Defaults are DbrxConfig's (kv_n_heads 1,
// rope_theta 10000, ffn_hidden_size 3584, 4 experts, top 1, silu,
// moe_normalize_expert_weights 1, untied).
func (DBRX) Config(hf *HFConfig) (symb.ModelConfig, error) {
	var m symb.ModelConfig
	if err := checkQuantization(hf); err != nil {
		return m, err
	}
	var attn dbrxAttn
	var ffn dbrxFFN
	var ffnRaw map[string]json.RawMessage // to tell an absent key from null
	if err := hf.obj("attn_config", &attn); err != nil {
		return m, err
	}
	if err := hf.obj("ffn_config", &ffn); err != nil {
		return m, err
	}
	if err := hf.obj("ffn_config", &ffnRaw); err != nil {
		return m, err
	}
	sizes := map[string]int{}
	for _, k := range []string{"d_model", "n_heads", "n_layers", "vocab_size"} {
		if !hf.Has(k) {
			return m, hf.configError("%s is missing", k)
		}
		v, err := hf.Int(k, 0)
		if err != nil {
			return m, err
		}
		if err := hf.positive(k, v, maxDim); err != nil {
			return m, err
		}
		sizes[k] = v
	}
	d, heads := sizes["d_model"], sizes["n_heads"]
	kv, f := orInt(attn.KVNHeads, 1), orInt(ffn.Hidden, 3584)
	e, k := orInt(ffn.Experts, 4), orInt(ffn.TopK, 1)
	switch {
	case d%heads != 0 || (d/heads)%2 != 0:
		return m, hf.configError("d_model %d over n_heads %d does not give an even head size", d, heads)
	case kv < 1 || kv > heads || heads%kv != 0:
		return m, hf.configError("attn_config.kv_n_heads is %d, want a divisor of n_heads %d", kv, heads)
	case f < 1 || f > maxDim:
		return m, hf.configError("ffn_config.ffn_hidden_size is %d", f)
	case e < 1 || e > maxExperts:
		return m, hf.configError("ffn_config.moe_num_experts is %d, want 1..%d", e, maxExperts)
	case k < 1 || k > e:
		return m, hf.configError("ffn_config.moe_top_k is %d, want 1..%d", k, e)
	}
	maxPos, err := hf.Int("max_seq_len", 2048)
	if err != nil {
		return m, err
	}
	if maxPos < 1 || maxPos > symb.MaxContextLength {
		return m, hf.configError("max_seq_len is %d, want 1..%d", maxPos, symb.MaxContextLength)
	}
	theta := 10000.0
	if attn.RopeTheta != nil {
		theta = *attn.RopeTheta
	}
	if !(theta > 1) || math.IsInf(theta, 0) {
		return m, hf.configError("attn_config.rope_theta is %g, want a finite number > 1", theta)
	}
	var clip float64
	if attn.ClipQKV != nil {
		clip = *attn.ClipQKV
		if !(clip > 0) || math.IsInf(clip, 0) {
			return m, hf.configError("attn_config.clip_qkv is %g, want > 0 or null", clip)
		}
	}
	act := "silu"
	if ffn.Act != nil && ffn.Act.Name != "" {
		act = ffn.Act.Name
	}
	if act, err = activation(hf, "ffn_config.ffn_act_fn.name", act); err != nil {
		return m, err
	}
	// The top-k weights are divided by their p-norm; p = 1 is the sum
	// (the weights are positive), null skips the division.
	norm := true
	if n, ok := ffnRaw["moe_normalize_expert_weights"]; ok {
		var p *float64
		if err := json.Unmarshal(n, &p); err != nil {
			return m, hf.configError("ffn_config.moe_normalize_expert_weights: %v", err)
		}
		switch {
		case p == nil:
			norm = false
		case *p != 1:
			return m, hf.unsupported("ffn_config.moe_normalize_expert_weights is %g: only 1 (sum to one) or null is supported", *p)
		}
	}
	if hf.TieWordEmbeddings != nil && *hf.TieWordEmbeddings {
		return m, hf.unsupported("tie_word_embeddings is true; DBRX models have a separate lm_head")
	}
	ids := slices.Clone(hf.EOSTokenIDs)
	if hf.BOSTokenID != nil {
		ids = append(ids, *hf.BOSTokenID)
	}
	for _, id := range ids {
		if id < 0 || id >= sizes["vocab_size"] {
			return m, hf.configError("token id %d is outside the vocabulary of %d", id, sizes["vocab_size"])
		}
	}
	m = symb.ModelConfig{
		VocabSize: sizes["vocab_size"], HiddenSize: d, IntermediateSize: f, NumLayers: sizes["n_layers"],
		NumHeads: heads, NumKVHeads: kv, HeadDim: d / heads, MaxPositions: maxPos,
		Norm: "layernorm", NormEps: 1e-5, Activation: act, RopeTheta: theta, ClipQKV: clip,
		MoE:        &symb.MoE{NumExperts: e, TopK: k, ExpertIntermediate: f, Router: "softmax_topk", NormTopK: norm},
		BOSTokenID: hf.BOSTokenID, EOSTokenIDs: append([]int(nil), hf.EOSTokenIDs...),
	}
	return m, nil
}

// Tensors implements Adapter.
func (DBRX) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	if c.MoE == nil {
		return nil, fmt.Errorf("dbrx: config without moe: %w", ErrConfig)
	}
	h, f, n := c.HiddenSize, c.IntermediateSize, c.MoE.NumExperts
	if c.MoE.ExpertIntermediate != f {
		return nil, fmt.Errorf("dbrx: expert_intermediate_size %d differs from intermediate_size %d: %w", c.MoE.ExpertIntermediate, f, ErrConfig)
	}
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	qkv, fused := []int{q + 2*kv, h}, []int{n * f, h}
	return decoderTensors(c, "transformer.wte.weight", "transformer.norm_f.weight", hfHead, "transformer.blocks.%d.",
		func(i int, p string) ([]Mapping, error) {
			ms, err := copyNames(c, i, p, []rename{
				{symb.NormAttn, "norm_attn_norm.norm_1.weight"},
				{symb.AttnO, "norm_attn_norm.attn.out_proj.weight"},
				{symb.NormMLP, "norm_attn_norm.norm_2.weight"},
				{symb.MoERouter, "ffn.router.layer.weight"},
			})
			if err != nil {
				return nil, err
			}
			wqkv := p + "norm_attn_norm.attn.Wqkv.weight"
			for _, s := range []struct {
				name string
				t    RowSlice
			}{{symb.AttnQ, RowSlice{0, q}}, {symb.AttnK, RowSlice{q, kv}}, {symb.AttnV, RowSlice{q + kv, kv}}} {
				m, err := layerMapping(c, i, s.name, wqkv, s.t, qkv)
				if err != nil {
					return nil, err
				}
				ms = append(ms, m)
			}
			for e := range n {
				rows := RowSlice{e * f, f}
				for _, x := range []struct {
					name, src string
					t         Transform
				}{
					{symb.MLPGate, "w1", rows},
					{symb.MLPUp, "v1", rows},
					{symb.MLPDown, "w2", Chain{rows, Transpose{}}},
				} {
					m, err := tableMapping(c, symb.ExpertTensor(i, e, x.name), p+"ffn.experts.mlp."+x.src, x.t, fused)
					if err != nil {
						return nil, err
					}
					ms = append(ms, m)
				}
			}
			return ms, nil
		})
}
