package arch

import (
	"fmt"
	"math"

	"github.com/symbc/symbc/symb"
)

// DeepseekV3 converts DeepseekV3ForCausalLM checkpoints (DeepSeek-V3, R1
// and their smaller relatives with the same layout):
//
//   - Multi-head latent attention: queries through a low-rank projection
//     (q_a_proj, q_a_layernorm, q_b_proj, or one q_proj when q_lora_rank is
//     null), keys and values through a shared latent (kv_a_proj_with_mqa,
//     kv_a_layernorm, kv_b_proj). The rotary part of each query head and the
//     shared rotary key are stored as interleaved pairs (rope_interleave,
//     true in every release); they are reordered into rotate-half order
//     here, so the .symb tensors use the same RoPE as every other model.
//     mla.rope_interleave records the source layout (FORMAT.md §4).
//   - YaRN RoPE, whose mscale also enters the softmax scale: the output's
//     attention_scale is qk_head_dim^-0.5 · mscale².
//   - Layers before first_k_dense_replace have a dense MLP; the others a
//     mixture of experts with a sigmoid router, a selection-only bias
//     (e_score_correction_bias), group-limited top-k, routed_scaling_factor
//     and shared experts.
type DeepseekV3 struct{}

// Name implements Adapter.
func (DeepseekV3) Name() string { return "deepseek_v3" }

// deepseekKeys are the integer keys of DeepseekV3Config with their defaults.
type deepseekKeys struct {
	qLora, kvLora, nope, rope, v         int
	experts, topK, shared, moeI          int
	groups, topKGroups, firstDense, freq int
}

// Config implements Adapter. Defaults are DeepseekV3Config's (q_lora_rank
// 1536, kv_lora_rank 512, qk_nope_head_dim 128, qk_rope_head_dim 64,
// v_head_dim 128, 256 experts, top 8, 8 groups, top 4 groups, 1 shared,
// first_k_dense_replace 3, routed_scaling_factor 2.5, norm_topk_prob true,
// rope_interleave true).
func (DeepseekV3) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-6, rope: []string{"yarn"}}.common(hf)
	if err != nil {
		return m, err
	}
	if hf.AttentionBias {
		return m, hf.unsupported("attention_bias is true: biases on the latent attention projections are not supported")
	}
	k := deepseekKeys{}
	for _, f := range []struct {
		key      string
		def, min int
		dst      *int
	}{
		{"kv_lora_rank", 512, 1, &k.kvLora}, {"qk_nope_head_dim", 128, 0, &k.nope},
		{"qk_rope_head_dim", 64, 2, &k.rope}, {"v_head_dim", 128, 1, &k.v},
		{"n_routed_experts", 256, 1, &k.experts}, {"num_experts_per_tok", 8, 1, &k.topK},
		{"n_shared_experts", 1, 0, &k.shared}, {"moe_intermediate_size", 2048, 1, &k.moeI},
		{"n_group", 8, 1, &k.groups}, {"topk_group", 4, 1, &k.topKGroups},
		{"first_k_dense_replace", 3, 0, &k.firstDense}, {"moe_layer_freq", 1, 1, &k.freq},
	} {
		if *f.dst, err = hf.Int(f.key, f.def); err != nil {
			return m, err
		}
		if *f.dst < f.min || *f.dst > maxDim {
			return m, hf.configError("%s is %d, want %d..%d", f.key, *f.dst, f.min, maxDim)
		}
	}
	// q_lora_rank null means queries are not compressed.
	if _, ok := hf.Raw["q_lora_rank"]; !ok {
		k.qLora = 1536
	} else if k.qLora, err = hf.Int("q_lora_rank", 0); err != nil {
		return m, err
	}
	switch {
	case k.qLora < 0 || k.qLora > maxDim:
		return m, hf.configError("q_lora_rank is %d", k.qLora)
	case k.rope%2 != 0:
		return m, hf.configError("qk_rope_head_dim is %d, want an even number", k.rope)
	case k.experts > maxExperts:
		return m, hf.configError("n_routed_experts is %d, want at most %d", k.experts, maxExperts)
	case k.experts%k.groups != 0:
		return m, hf.configError("n_routed_experts %d is not a multiple of n_group %d", k.experts, k.groups)
	case k.topKGroups > k.groups:
		return m, hf.configError("topk_group %d is more than n_group %d", k.topKGroups, k.groups)
	case k.topK > k.topKGroups*(k.experts/k.groups):
		return m, hf.configError("num_experts_per_tok %d is more than the %d experts of topk_group %d groups", k.topK, k.topKGroups*(k.experts/k.groups), k.topKGroups)
	case k.freq != 1:
		return m, hf.unsupported("moe_layer_freq is %d: only 1 (every layer from first_k_dense_replace on) is supported", k.freq)
	case k.firstDense > m.NumLayers:
		return m, hf.configError("first_k_dense_replace %d is more than num_hidden_layers %d", k.firstDense, m.NumLayers)
	case m.NumKVHeads != m.NumHeads:
		return m, hf.configError("num_key_value_heads %d differs from num_attention_heads %d; latent attention has one key per head", m.NumKVHeads, m.NumHeads)
	}
	// Only the scoring this router implements is accepted; configs written
	// by DeepSeek's own code name it.
	for key, want := range map[string]string{"scoring_func": "sigmoid", "topk_method": "noaux_tc"} {
		v := want
		if err := hf.obj(key, &v); err != nil {
			return m, err
		}
		if v != want {
			return m, hf.unsupported("%s %q is not supported (want %q)", key, v, want)
		}
	}
	norm, err := hf.bool("norm_topk_prob", true)
	if err != nil {
		return m, err
	}
	scale, err := hf.Float("routed_scaling_factor", 2.5)
	if err != nil {
		return m, err
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return m, hf.configError("routed_scaling_factor is %g, want > 0", scale)
	}
	interleaved, err := hf.bool("rope_interleave", true)
	if err != nil {
		return m, err
	}
	m.HeadDim = k.nope + k.rope // the width q·k runs over
	m.MLA = &symb.MLA{QLoraRank: k.qLora, KVLoraRank: k.kvLora, QKNopeHeadDim: k.nope, QKRopeHeadDim: k.rope, VHeadDim: k.v,
		RopeInterleave: interleaved}
	m.MoE = &symb.MoE{NumExperts: k.experts, TopK: k.topK, ExpertIntermediate: k.moeI, NumShared: k.shared,
		Router: "sigmoid_grouped", RouterBias: true, NormTopK: norm, ScalingFactor: scale, NumGroups: k.groups, TopKGroups: k.topKGroups,
		FirstDenseLayers: k.firstDense}
	// DeepseekV3Attention multiplies its softmax scale by mscale² whenever
	// rope_scaling has a non-zero mscale_all_dim.
	m.AttentionScale = 1 / math.Sqrt(float64(m.HeadDim))
	if r := m.RopeScaling; r != nil && r.MScaleAllDim != 0 {
		ms := yarnMScale(r.Factor, r.MScaleAllDim)
		m.AttentionScale *= ms * ms
	}
	return m, nil
}

// Tensors implements Adapter.
func (DeepseekV3) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	a, e := c.MLA, c.MoE
	if a == nil || e == nil {
		return nil, fmt.Errorf("deepseek_v3: config without mla and moe: %w", ErrConfig)
	}
	heads := c.NumHeads
	qk := a.QKNopeHeadDim + a.QKRopeHeadDim
	// Each query head's rows are [nope | rope]; the latent's rows are
	// [kv_lora_rank | rope]. Only the rope rows are reordered.
	// A source already in rotate-half order is copied unchanged.
	var qT, kvT Transform
	if a.RopeInterleave {
		qPerm, err := DeinterleavePerm(heads*qk, qk, a.QKNopeHeadDim, a.QKRopeHeadDim)
		if err != nil {
			return nil, err
		}
		kvRows := a.KVLoraRank + a.QKRopeHeadDim
		kvPerm, err := DeinterleavePerm(kvRows, kvRows, a.KVLoraRank, a.QKRopeHeadDim)
		if err != nil {
			return nil, err
		}
		qT, kvT = PermuteRows{Perm: qPerm}, PermuteRows{Perm: kvPerm}
	}
	attn := []rename{
		{symb.AttnKVANorm, "self_attn.kv_a_layernorm.weight"},
		{symb.AttnKVB, "self_attn.kv_b_proj.weight"},
		{symb.AttnO, "self_attn.o_proj.weight"},
	}
	qName, qSrc := symb.AttnQ, "self_attn.q_proj.weight"
	if a.QLoraRank > 0 {
		attn = append(attn, rename{symb.AttnQA, "self_attn.q_a_proj.weight"}, rename{symb.AttnQANorm, "self_attn.q_a_layernorm.weight"})
		qName, qSrc = symb.AttnQB, "self_attn.q_b_proj.weight"
	}
	return decoderTensors(c, hfEmbed, hfNorm, hfHead, hfLayers, func(i int, p string) ([]Mapping, error) {
		t := concat(normNames(), attn)
		moe := i >= e.FirstDenseLayers
		if !moe {
			t = append(t, mlpNames("mlp.")...)
		} else {
			t = append(t, rename{symb.MoERouter, "mlp.gate.weight"})
			if e.RouterBias {
				t = append(t, rename{symb.MoERouterBias, "mlp.gate.e_score_correction_bias"})
			}
			if e.NumShared > 0 {
				t = append(t, sharedNames("mlp.shared_experts.")...)
			}
		}
		ms, err := copyNames(c, i, p, t)
		if err != nil {
			return nil, err
		}
		for _, r := range []struct {
			name, src string
			t         Transform
		}{{qName, p + qSrc, qT}, {symb.AttnKVA, p + "self_attn.kv_a_proj_with_mqa.weight", kvT}} {
			m, err := layerMapping(c, i, r.name, r.src, r.t, nil)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		if moe {
			ex, err := copyExperts(c, i, func(x int) string { return fmt.Sprintf("%smlp.experts.%d.", p, x) }, mlpNames(""))
			if err != nil {
				return nil, err
			}
			ms = append(ms, ex...)
		}
		return ms, nil
	})
}
