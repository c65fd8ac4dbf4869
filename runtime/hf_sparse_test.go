package runtime

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/symbc/symbc/internal/sttest"
	"github.com/symbc/symbc/symb"
)

// This file maps the mixture-of-experts and latent-attention test
// checkpoints (Mixtral, DBRX, DeepSeek-V3) to .symb names and layouts, the
// way the converter's adapters do: DBRX's fused Wqkv is split, its fused
// expert tensors are sliced per expert and w2 is transposed to [out, in];
// DeepSeek's interleaved rotary rows are permuted to rotate-half order.

// hfSparseConfig is the part of config.json these families use.
type hfSparseConfig struct {
	hfConfig
	NumLocalExperts int     `json:"num_local_experts"`
	ExpertsPerTok   int     `json:"num_experts_per_tok"`
	NRoutedExperts  int     `json:"n_routed_experts"`
	NSharedExperts  int     `json:"n_shared_experts"`
	MoEInter        int     `json:"moe_intermediate_size"`
	NGroup          int     `json:"n_group"`
	TopKGroup       int     `json:"topk_group"`
	RoutedScaling   float64 `json:"routed_scaling_factor"`
	NormTopKProb    bool    `json:"norm_topk_prob"`
	FirstKDense     int     `json:"first_k_dense_replace"`
	QLoraRank       *int    `json:"q_lora_rank"`
	KVLoraRank      int     `json:"kv_lora_rank"`
	QKNopeHeadDim   int     `json:"qk_nope_head_dim"`
	QKRopeHeadDim   int     `json:"qk_rope_head_dim"`
	VHeadDim        int     `json:"v_head_dim"`
	RopeInterleave  *bool   `json:"rope_interleave"` // absent: true (DeepseekV3Config's default)

	// DBRX
	DModel    int `json:"d_model"`
	NHeads    int `json:"n_heads"`
	NLayers   int `json:"n_layers"`
	MaxSeqLen int `json:"max_seq_len"`
	Attn      struct {
		ClipQKV   *float64 `json:"clip_qkv"`
		KVNHeads  int      `json:"kv_n_heads"`
		RopeTheta float64  `json:"rope_theta"`
	} `json:"attn_config"`
	FFN struct {
		Act struct {
			Name string `json:"name"`
		} `json:"ffn_act_fn"`
		HiddenSize int      `json:"ffn_hidden_size"`
		NormP      *float64 `json:"moe_normalize_expert_weights"`
		NumExperts int      `json:"moe_num_experts"`
		TopK       int      `json:"moe_top_k"`
	} `json:"ffn_config"`
}

// hfSparseModel builds the config and weights of a mixtral, dbrx or
// deepseek_v3 checkpoint whose config.json is b.
func hfSparseModel(t testing.TB, dir string, b []byte) (*symb.Config, hfWeights) {
	t.Helper()
	var hc hfSparseConfig
	if err := json.Unmarshal(b, &hc); err != nil {
		t.Fatalf("%s/config.json: %v", dir, err)
	}
	st := sttest.Read(t, filepath.Join(dir, "model.safetensors"))
	src := map[string]*symb.Tensor{}
	for _, nt := range st.Tensors() {
		src[nt.Name] = stTensor(t, nt.Name, nt.TensorView)
	}
	var mc symb.ModelConfig
	w := hfWeights{}
	switch hc.ModelType {
	case "mixtral":
		mc = mixtralConfig(&hc)
		mapMixtral(t, src, w)
	case "dbrx":
		mc = dbrxConfig(&hc)
		mapDBRX(t, &mc, src, w)
	case "deepseek_v3":
		mc = deepseekConfig(&hc)
		mapDeepseek(t, &mc, src, w)
	default:
		t.Fatalf("%s: model_type %q is not a sparse family", dir, hc.ModelType)
	}
	if len(src) > 0 {
		for name := range src {
			t.Fatalf("%s: unexpected tensor %s", dir, name)
		}
	}
	return &symb.Config{Format: "symb", FormatVersion: "1.0", Architecture: hc.ModelType, Model: mc}, w
}

func mixtralConfig(hc *hfSparseConfig) symb.ModelConfig {
	mc := symb.ModelConfig{
		VocabSize: hc.VocabSize, HiddenSize: hc.HiddenSize, NumLayers: hc.NumLayers, NumHeads: hc.NumHeads,
		NumKVHeads: hc.NumKVHeads, HeadDim: hc.HeadDim, MaxPositions: hc.MaxPositions, Norm: "rmsnorm",
		NormEps: hc.RMSNormEps, Activation: "silu", RopeTheta: hc.RopeTheta, SlidingWindow: hc.SlidingWindow,
		TieEmbeddings: hc.TieEmbeddings != nil && *hc.TieEmbeddings,
		// Every layer is sparse: intermediate_size is the experts' width.
		MoE: &symb.MoE{NumExperts: hc.NumLocalExperts, TopK: hc.ExpertsPerTok, ExpertIntermediate: hc.IntermediateSize,
			Router: "softmax_topk", NormTopK: true},
	}
	if mc.HeadDim == 0 {
		mc.HeadDim = mc.HiddenSize / mc.NumHeads
	}
	return mc
}

func dbrxConfig(hc *hfSparseConfig) symb.ModelConfig {
	mc := symb.ModelConfig{
		VocabSize: hc.VocabSize, HiddenSize: hc.DModel, NumLayers: hc.NLayers, NumHeads: hc.NHeads,
		NumKVHeads: hc.Attn.KVNHeads, HeadDim: hc.DModel / hc.NHeads, MaxPositions: hc.MaxSeqLen,
		Norm: "layernorm", NormEps: 1e-5, Activation: hc.FFN.Act.Name, RopeTheta: hc.Attn.RopeTheta,
		TieEmbeddings: hc.TieEmbeddings != nil && *hc.TieEmbeddings,
		MoE: &symb.MoE{NumExperts: hc.FFN.NumExperts, TopK: hc.FFN.TopK, ExpertIntermediate: hc.FFN.HiddenSize,
			Router: "softmax_topk", NormTopK: hc.FFN.NormP != nil},
	}
	if hc.Attn.ClipQKV != nil {
		mc.ClipQKV = *hc.Attn.ClipQKV
	}
	return mc
}

func deepseekConfig(hc *hfSparseConfig) symb.ModelConfig {
	mc := symb.ModelConfig{
		VocabSize: hc.VocabSize, HiddenSize: hc.HiddenSize, IntermediateSize: hc.IntermediateSize,
		NumLayers: hc.NumLayers, NumHeads: hc.NumHeads, NumKVHeads: hc.NumHeads,
		HeadDim: hc.QKNopeHeadDim + hc.QKRopeHeadDim, MaxPositions: hc.MaxPositions, Norm: "rmsnorm",
		NormEps: hc.RMSNormEps, Activation: "silu", RopeTheta: hc.RopeTheta,
		TieEmbeddings: hc.TieEmbeddings != nil && *hc.TieEmbeddings,
		MoE: &symb.MoE{NumExperts: hc.NRoutedExperts, TopK: hc.ExpertsPerTok, ExpertIntermediate: hc.MoEInter,
			NumShared: hc.NSharedExperts, Router: "sigmoid_grouped", RouterBias: true, NormTopK: hc.NormTopKProb,
			ScalingFactor: hc.RoutedScaling, NumGroups: hc.NGroup, TopKGroups: hc.TopKGroup, FirstDenseLayers: hc.FirstKDense},
		MLA: &symb.MLA{KVLoraRank: hc.KVLoraRank, QKNopeHeadDim: hc.QKNopeHeadDim, QKRopeHeadDim: hc.QKRopeHeadDim,
			VHeadDim: hc.VHeadDim, RopeInterleave: hc.RopeInterleave == nil || *hc.RopeInterleave},
	}
	if hc.QLoraRank != nil {
		mc.MLA.QLoraRank = *hc.QLoraRank
	}
	if rs := hc.RopeScaling; rs != nil {
		num := func(k string) float64 { f, _ := rs[k].(float64); return f }
		typ, _ := rs["rope_type"].(string)
		mc.RopeScaling = &symb.RopeScaling{Type: typ, Factor: num("factor"),
			OriginalMaxPositionEmbeddings: int(num("original_max_position_embeddings")),
			BetaFast:                      num("beta_fast"), BetaSlow: num("beta_slow"),
			MScale: num("mscale"), MScaleAllDim: num("mscale_all_dim"), AttentionFactor: num("attention_factor")}
	}
	return mc
}

// take removes and returns src[name], failing when it is absent.
func take(t testing.TB, src map[string]*symb.Tensor, name string) *symb.Tensor {
	t.Helper()
	x, ok := src[name]
	if !ok {
		t.Fatalf("checkpoint has no tensor %s", name)
	}
	delete(src, name)
	return x
}

// renamed returns x under a new name (the data is shared).
func renamed(x *symb.Tensor, name string) *symb.Tensor {
	c := *x
	c.Name = name
	return &c
}

// rowsOf copies rows [r0, r1) of the 2-D tensor x.
func rowsOf(x *symb.Tensor, name string, r0, r1 int) *symb.Tensor {
	rb := x.Shape[1] * x.DType.ElemSize()
	c := &symb.Tensor{Name: name, Info: symb.Info{DType: x.DType, Shape: []int{r1 - r0, x.Shape[1]}}}
	c.Data = append([]byte(nil), x.Data[r0*rb:r1*rb]...)
	return c
}

// transposed copies the 2-D tensor x as its transpose.
func transposed(x *symb.Tensor, name string) *symb.Tensor {
	rows, cols, es := x.Shape[0], x.Shape[1], x.DType.ElemSize()
	c := &symb.Tensor{Name: name, Info: symb.Info{DType: x.DType, Shape: []int{cols, rows}}, Data: make([]byte, len(x.Data))}
	for r := range rows {
		for k := range cols {
			copy(c.Data[(k*rows+r)*es:(k*rows+r+1)*es], x.Data[(r*cols+k)*es:(r*cols+k+1)*es])
		}
	}
	return c
}

// deinterleaved copies x with each block of rot rows starting at a row of
// starts moved from interleaved pairs (2j, 2j+1) to rotate-half order
// (j, j+rot/2), so that output j of the block is source row 2j and output
// rot/2+j is source row 2j+1.
func deinterleaved(x *symb.Tensor, name string, rot int, starts []int) *symb.Tensor {
	c := rowsOf(x, name, 0, x.Shape[0])
	rb := x.Shape[1] * x.DType.ElemSize()
	for _, s := range starts {
		for j := range rot / 2 {
			copy(c.Data[(s+j)*rb:(s+j+1)*rb], x.Data[(s+2*j)*rb:(s+2*j+1)*rb])
			copy(c.Data[(s+rot/2+j)*rb:(s+rot/2+j+1)*rb], x.Data[(s+2*j+1)*rb:(s+2*j+2)*rb])
		}
	}
	return c
}

// mapLayers moves every "prefix.L.suffix" tensor of src whose suffix is in
// names to layer L's .symb name, and calls other for the remaining ones of
// that prefix.
func mapLayers(t testing.TB, src map[string]*symb.Tensor, w hfWeights, prefix string, names map[string]string,
	other func(layer int, suffix string, x *symb.Tensor)) {
	t.Helper()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\.(\d+)\.(.+)$`)
	for name, x := range src {
		m := re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		delete(src, name)
		if s, ok := names[m[2]]; ok {
			w[symb.LayerTensor(i, s)] = renamed(x, symb.LayerTensor(i, s))
			continue
		}
		other(i, m[2], x)
	}
}

func mapMixtral(t testing.TB, src map[string]*symb.Tensor, w hfWeights) {
	w[symb.Embeddings] = renamed(take(t, src, "model.embed_tokens.weight"), symb.Embeddings)
	w[symb.FinalNorm] = renamed(take(t, src, "model.norm.weight"), symb.FinalNorm)
	w[symb.LMHead] = renamed(take(t, src, "lm_head.weight"), symb.LMHead)
	expertRe := regexp.MustCompile(`^block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$`)
	roles := map[string]string{"w1": symb.MLPGate, "w3": symb.MLPUp, "w2": symb.MLPDown}
	mapLayers(t, src, w, "model.layers", map[string]string{
		"input_layernorm.weight": symb.NormAttn, "post_attention_layernorm.weight": symb.NormMLP,
		"self_attn.q_proj.weight": symb.AttnQ, "self_attn.k_proj.weight": symb.AttnK,
		"self_attn.v_proj.weight": symb.AttnV, "self_attn.o_proj.weight": symb.AttnO,
		"block_sparse_moe.gate.weight": symb.MoERouter,
	}, func(i int, suffix string, x *symb.Tensor) {
		m := expertRe.FindStringSubmatch(suffix)
		if m == nil {
			t.Fatalf("unexpected tensor model.layers.%d.%s", i, suffix)
		}
		e, _ := strconv.Atoi(m[1])
		name := symb.ExpertTensor(i, e, roles[m[2]])
		w[name] = renamed(x, name)
	})
}

func mapDBRX(t testing.TB, mc *symb.ModelConfig, src map[string]*symb.Tensor, w hfWeights) {
	w[symb.Embeddings] = renamed(take(t, src, "transformer.wte.weight"), symb.Embeddings)
	w[symb.FinalNorm] = renamed(take(t, src, "transformer.norm_f.weight"), symb.FinalNorm)
	w[symb.LMHead] = renamed(take(t, src, "lm_head.weight"), symb.LMHead)
	qd, kvd := mc.NumHeads*mc.HeadDim, mc.NumKVHeads*mc.HeadDim
	F := mc.MoE.ExpertIntermediate
	mapLayers(t, src, w, "transformer.blocks", map[string]string{
		"norm_attn_norm.norm_1.weight": symb.NormAttn, "norm_attn_norm.norm_2.weight": symb.NormMLP,
		"norm_attn_norm.attn.out_proj.weight": symb.AttnO, "ffn.router.layer.weight": symb.MoERouter,
	}, func(i int, suffix string, x *symb.Tensor) {
		switch suffix {
		case "norm_attn_norm.attn.Wqkv.weight": // rows [q | k | v]
			for _, p := range []struct {
				role   string
				r0, r1 int
			}{{symb.AttnQ, 0, qd}, {symb.AttnK, qd, qd + kvd}, {symb.AttnV, qd + kvd, qd + 2*kvd}} {
				w[symb.LayerTensor(i, p.role)] = rowsOf(x, symb.LayerTensor(i, p.role), p.r0, p.r1)
			}
		case "ffn.experts.mlp.w1", "ffn.experts.mlp.v1", "ffn.experts.mlp.w2":
			// [experts·F, d_model]; expert e owns rows e·F…(e+1)·F−1. w1 and
			// v1 are [out, in] already; w2 is applied as h·W, so [in, out].
			for e := range mc.MoE.NumExperts {
				switch suffix {
				case "ffn.experts.mlp.w1":
					n := symb.ExpertTensor(i, e, symb.MLPGate)
					w[n] = rowsOf(x, n, e*F, (e+1)*F)
				case "ffn.experts.mlp.v1":
					n := symb.ExpertTensor(i, e, symb.MLPUp)
					w[n] = rowsOf(x, n, e*F, (e+1)*F)
				default:
					n := symb.ExpertTensor(i, e, symb.MLPDown)
					w[n] = transposed(rowsOf(x, n, e*F, (e+1)*F), n)
				}
			}
		default:
			t.Fatalf("unexpected tensor transformer.blocks.%d.%s", i, suffix)
		}
	})
}

func mapDeepseek(t testing.TB, mc *symb.ModelConfig, src map[string]*symb.Tensor, w hfWeights) {
	w[symb.Embeddings] = renamed(take(t, src, "model.embed_tokens.weight"), symb.Embeddings)
	w[symb.FinalNorm] = renamed(take(t, src, "model.norm.weight"), symb.FinalNorm)
	w[symb.LMHead] = renamed(take(t, src, "lm_head.weight"), symb.LMHead)
	a := mc.MLA
	qk := a.QKNopeHeadDim + a.QKRopeHeadDim
	var qStarts []int // the rotary rows of each head of attn_q_b / attn_q
	for h := range mc.NumHeads {
		qStarts = append(qStarts, h*qk+a.QKNopeHeadDim)
	}
	rope := func(x *symb.Tensor, name string, starts []int) *symb.Tensor {
		if !a.RopeInterleave {
			return renamed(x, name)
		}
		return deinterleaved(x, name, a.QKRopeHeadDim, starts)
	}
	expertRe := regexp.MustCompile(`^mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$`)
	roles := map[string]string{"gate": symb.MLPGate, "up": symb.MLPUp, "down": symb.MLPDown}
	mapLayers(t, src, w, "model.layers", map[string]string{
		"input_layernorm.weight": symb.NormAttn, "post_attention_layernorm.weight": symb.NormMLP,
		"self_attn.q_a_proj.weight": symb.AttnQA, "self_attn.q_a_layernorm.weight": symb.AttnQANorm,
		"self_attn.kv_a_layernorm.weight": symb.AttnKVANorm, "self_attn.kv_b_proj.weight": symb.AttnKVB,
		"self_attn.o_proj.weight": symb.AttnO,
		"mlp.gate_proj.weight":    symb.MLPGate, "mlp.up_proj.weight": symb.MLPUp, "mlp.down_proj.weight": symb.MLPDown,
		"mlp.gate.weight": symb.MoERouter, "mlp.gate.e_score_correction_bias": symb.MoERouterBias,
		"mlp.shared_experts.gate_proj.weight": symb.SharedGate, "mlp.shared_experts.up_proj.weight": symb.SharedUp,
		"mlp.shared_experts.down_proj.weight": symb.SharedDown,
	}, func(i int, suffix string, x *symb.Tensor) {
		switch suffix {
		case "self_attn.q_b_proj.weight":
			n := symb.LayerTensor(i, symb.AttnQB)
			w[n] = rope(x, n, qStarts)
		case "self_attn.q_proj.weight":
			n := symb.LayerTensor(i, symb.AttnQ)
			w[n] = rope(x, n, qStarts)
		case "self_attn.kv_a_proj_with_mqa.weight": // the last rope rows are the shared rotary key
			n := symb.LayerTensor(i, symb.AttnKVA)
			w[n] = rope(x, n, []int{a.KVLoraRank})
		default:
			m := expertRe.FindStringSubmatch(suffix)
			if m == nil {
				t.Fatalf("unexpected tensor model.layers.%d.%s", i, suffix)
			}
			e, _ := strconv.Atoi(m[1])
			n := symb.ExpertTensor(i, e, roles[m[2]])
			w[n] = renamed(x, n)
		}
	})
}
