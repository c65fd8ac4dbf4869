package arch

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

func ptr[T any](v T) *T { return &v }

// familyCases are the test checkpoints with the config each adapter must
// derive, written out from the cases' READMEs and config.json files and the
// transformers config classes, and the number of .symb tensors.
func familyCases() []struct {
	dir, adapter string
	want         symb.ModelConfig
	tensors      int
} {
	return []struct {
		dir, adapter string
		want         symb.ModelConfig
		tensors      int
	}{
		{"qwen2", "qwen2", symb.ModelConfig{
			VocabSize: 320, HiddenSize: 64, IntermediateSize: 160, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, HeadDim: 16,
			MaxPositions: 32768, Norm: "rmsnorm", NormEps: 1e-6, Activation: "silu", RopeTheta: 1e6,
			AttentionBias: true, BOSTokenID: ptr(1), EOSTokenIDs: []int{2},
		}, 3 + 2*12},
		{"qwen3", "qwen3", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 192, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, HeadDim: 32,
			MaxPositions: 40960, Norm: "rmsnorm", NormEps: 1e-6, Activation: "silu", RopeTheta: 1e6,
			QKNorm: true, BOSTokenID: ptr(1), EOSTokenIDs: []int{2},
		}, 3 + 2*11},
		{"mistral", "mistral", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 192, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, HeadDim: 16,
			MaxPositions: 32768, Norm: "rmsnorm", NormEps: 1e-5, Activation: "silu", RopeTheta: 10000,
			SlidingWindow: 8, BOSTokenID: ptr(1), EOSTokenIDs: []int{2},
		}, 3 + 2*9},
		{"phi3", "phi3", symb.ModelConfig{
			VocabSize: 320, HiddenSize: 96, IntermediateSize: 160, NumLayers: 2, NumHeads: 6, NumKVHeads: 2, HeadDim: 16,
			MaxPositions: 4096, Norm: "rmsnorm", NormEps: 1e-5, Activation: "silu", RopeTheta: 10000,
			SlidingWindow: 2047, BOSTokenID: ptr(1), EOSTokenIDs: []int{2},
		}, 3 + 2*9},
		{"gemma", "gemma", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 192, NumLayers: 2, NumHeads: 4, NumKVHeads: 4, HeadDim: 32,
			MaxPositions: 8192, Norm: "rmsnorm", NormEps: 1e-6, NormWeightOffset: 1, Activation: "gelu_tanh", RopeTheta: 10000,
			TieEmbeddings: true, EmbeddingScale: 8, BOSTokenID: ptr(2), EOSTokenIDs: []int{1},
		}, 2 + 2*9},
		{"gemma2", "gemma2", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 192, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, HeadDim: 32,
			MaxPositions: 8192, Norm: "rmsnorm", NormEps: 1e-6, NormWeightOffset: 1, Activation: "gelu_tanh", RopeTheta: 10000,
			TieEmbeddings: true, EmbeddingScale: 8, PostNorms: true, AttentionScale: 0.25, AttentionSoftcap: 50, FinalSoftcap: 30,
			SlidingWindow: 8, SlidingWindowEven: true, BOSTokenID: ptr(2), EOSTokenIDs: []int{1},
		}, 2 + 2*11},
		{"mixtral", "mixtral", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 128, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, HeadDim: 16,
			MaxPositions: 32768, Norm: "rmsnorm", NormEps: 1e-5, Activation: "silu", RopeTheta: 1e6,
			MoE:        &symb.MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 128, Router: "softmax_topk", NormTopK: true},
			BOSTokenID: ptr(1), EOSTokenIDs: []int{2},
		}, 3 + 2*(2+4+1+4*3)},
		{"deepseek", "deepseek_v3", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 160, NumLayers: 3, NumHeads: 4, NumKVHeads: 4, HeadDim: 48,
			MaxPositions: 163840, Norm: "rmsnorm", NormEps: 1e-6, Activation: "silu", RopeTheta: 10000,
			RopeScaling: &symb.RopeScaling{Type: "yarn", Factor: 40, OriginalMaxPositionEmbeddings: 4096,
				BetaFast: 32, BetaSlow: 1, MScale: 1, MScaleAllDim: 1},
			// qk_head_dim^-0.5 · mscale², mscale = 0.1·1·ln 40 + 1.
			AttentionScale: math.Pow(0.1*math.Log(40)+1, 2) / math.Sqrt(48),
			MoE: &symb.MoE{NumExperts: 8, TopK: 2, ExpertIntermediate: 32, NumShared: 1, Router: "sigmoid_grouped",
				RouterBias: true, NormTopK: true, ScalingFactor: 2.5, NumGroups: 2, TopKGroups: 1, FirstDenseLayers: 1},
			MLA: &symb.MLA{QLoraRank: 48, KVLoraRank: 32, QKNopeHeadDim: 32, QKRopeHeadDim: 16, VHeadDim: 32,
				RopeInterleave: true},
			BOSTokenID: ptr(0), EOSTokenIDs: []int{1},
		}, 3 + (2 + 7 + 3) + 2*(2+7+2+3+8*3)},
		{"dbrx", "dbrx", symb.ModelConfig{
			VocabSize: 256, HiddenSize: 64, IntermediateSize: 128, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, HeadDim: 16,
			MaxPositions: 2048, Norm: "layernorm", NormEps: 1e-5, Activation: "silu", RopeTheta: 500000, ClipQKV: 2,
			MoE:        &symb.MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 128, Router: "softmax_topk", NormTopK: true},
			BOSTokenID: ptr(1), EOSTokenIDs: []int{2},
		}, 3 + 2*(4+3+4*3)},
	}
}

func TestFamilyFixtures(t *testing.T) {
	t.Parallel()
	for _, c := range familyCases() {
		t.Run(c.dir, func(t *testing.T) {
			dir := filepath.Join(fixtures, c.dir)
			hf, err := ReadHFConfig(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Detect(hf)
			if err != nil {
				t.Fatal(err)
			}
			if a.Name() != c.adapter {
				t.Fatalf("adapter %s, want %s", a.Name(), c.adapter)
			}
			cfg, err := a.Config(hf)
			if err != nil {
				t.Fatal(err)
			}
			got, want := cfg, c.want
			if math.Abs(got.AttentionScale-want.AttentionScale) > 1e-12*want.AttentionScale {
				t.Errorf("attention scale %v, want %v", got.AttentionScale, want.AttentionScale)
			}
			got.AttentionScale, want.AttentionScale = 0, 0
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config\n got %s\nwant %s", describe(got), describe(want))
			}
			sc := symb.Config{Format: "symb", FormatVersion: "1.0", Model: cfg}
			if err := sc.Validate(); err != nil {
				t.Errorf("symb validation: %v", err)
			}

			ms, err := a.Tensors(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(ms); err != nil {
				t.Fatal(err)
			}
			if len(ms) != c.tensors {
				t.Errorf("%d mappings, want %d", len(ms), c.tensors)
			}
			matchTable(t, cfg, ms)
			checkSources(t, ms, filepath.Join(dir, "model.safetensors"))
			for _, m := range ms {
				// The transform must turn the sources into the output shape.
				if m.Transform != nil {
					var in []Reader
					for _, s := range m.Sources {
						in = append(in, mem{shape: s.Shape, v: make([]float32, s.Shape[0]*s.Shape[len(s.Shape)-1])})
					}
					r, err := m.Transform.Apply(in)
					if err != nil {
						t.Fatalf("%s: %v", m.Name, err)
					}
					if !slices.Equal(r.Shape(), m.Shape) {
						t.Fatalf("%s: %s gives %v, want %v", m.Name, m.Transform, r.Shape(), m.Shape)
					}
				}
			}
		})
	}
}

// matchTable checks that an adapter writes exactly the tensors the format's
// table lists for cfg, each with the table's shape and role.
func matchTable(t *testing.T, cfg symb.ModelConfig, ms []Mapping) {
	t.Helper()
	table, err := cfg.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Mapping{}
	for _, m := range ms {
		byName[m.Name] = m
	}
	for _, s := range table {
		m, ok := byName[s.Name]
		switch {
		case !ok:
			t.Errorf("%s: in the tensor table, not written by the adapter", s.Name)
		case !slices.Equal(m.Shape, s.Shape) || m.Role != s.Role:
			t.Errorf("%s: adapter writes %v %v, table says %v %v", s.Name, m.Shape, m.Role, s.Shape, s.Role)
		}
		delete(byName, s.Name)
	}
	for n := range byName {
		t.Errorf("%s: written by the adapter, not in the tensor table", n)
	}
}

// describe prints a config with its nested objects expanded.
func describe(c symb.ModelConfig) string {
	s := fmt.Sprintf("%+v", c)
	if c.MoE != nil {
		s += fmt.Sprintf(" moe=%+v", *c.MoE)
	}
	if c.MLA != nil {
		s += fmt.Sprintf(" mla=%+v", *c.MLA)
	}
	if c.RopeScaling != nil {
		s += fmt.Sprintf(" rope=%+v", *c.RopeScaling)
	}
	return s
}

// TestDeepseekDeinterleave checks the row order of the rotary parts: within
// each query head, rows [nope | x0 y0 x1 y1 ...] become [nope | x0 x1 ... y0
// y1 ...]; in kv_a_proj_with_mqa the same happens after the latent rows.
func TestDeepseekDeinterleave(t *testing.T) {
	t.Parallel()
	hf, err := ReadHFConfig(filepath.Join(fixtures, "deepseek", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := DeepseekV3{}.Config(hf)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DeepseekV3{}.Tensors(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Mapping{}
	for _, m := range ms {
		byName[m.Name] = m
	}
	// want returns the source row of output row r for blocks of stride rows
	// whose rope part starts at off: written from the definition, not with
	// DeinterleavePerm.
	want := func(r, stride, off, rope int) int {
		b, j := r/stride*stride, r%stride
		if j < off {
			return r
		}
		k := j - off
		if k < rope/2 {
			return b + off + 2*k
		}
		return b + off + 2*(k-rope/2) + 1
	}
	for _, c := range []struct {
		name             string
		stride, off, dim int
	}{
		{symb.LayerTensor(1, symb.AttnQB), 48, 32, 16},
		{symb.LayerTensor(2, symb.AttnKVA), 48, 32, 16},
	} {
		m, ok := byName[c.name]
		if !ok {
			t.Fatalf("no mapping %s", c.name)
		}
		p, ok := m.Transform.(PermuteRows)
		if !ok {
			t.Fatalf("%s: transform %v, want a row permutation", c.name, m.Transform)
		}
		for r, src := range p.Perm {
			if w := want(r, c.stride, c.off, c.dim); src != w {
				t.Fatalf("%s: output row %d reads source row %d, want %d", c.name, r, src, w)
			}
		}
	}
}

// familyJSON is a small valid config.json for each adapter, with %s where
// a test adds keys.
var familyJSON = map[string]string{
	"llama":   `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100%s}`,
	"qwen2":   `{"architectures":["Qwen2ForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":4,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100%s}`,
	"qwen3":   `{"architectures":["Qwen3ForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100%s}`,
	"mistral": `{"architectures":["MistralForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100%s}`,
	"mixtral": `{"architectures":["MixtralForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100%s}`,
	"phi3":    `{"architectures":["Phi3ForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100%s}`,
	"gemma":   `{"architectures":["GemmaForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100%s}`,
	"gemma2":  `{"architectures":["Gemma2ForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":4,"num_attention_heads":4,"vocab_size":100%s}`,
	"deepseek_v3": `{"architectures":["DeepseekV3ForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,
		"q_lora_rank":16,"kv_lora_rank":16,"qk_nope_head_dim":8,"qk_rope_head_dim":8,"v_head_dim":8,"n_routed_experts":4,"num_experts_per_tok":2,
		"moe_intermediate_size":16,"n_group":2,"topk_group":1,"first_k_dense_replace":1%s}`,
	"dbrx": `{"architectures":["DbrxForCausalLM"],"d_model":64,"n_heads":4,"n_layers":2,"vocab_size":100,
		"attn_config":{"kv_n_heads":2},"ffn_config":{"ffn_hidden_size":32,"moe_num_experts":4,"moe_top_k":2%s}}`,
}

// familyConfig derives the config of family with extra keys added.
func familyConfig(t *testing.T, family, extra string) (symb.ModelConfig, error) {
	t.Helper()
	hf := parse(t, strings.Replace(familyJSON[family], "%s", extra, 1))
	a, err := Detect(hf)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != family {
		t.Fatalf("detected %s, want %s", a.Name(), family)
	}
	return a.Config(hf)
}

func TestFamilyDefaults(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		family, extra string
		check         func(symb.ModelConfig) bool
		what          string
	}{
		{"qwen2", "", func(m symb.ModelConfig) bool {
			return m.AttentionBias && !m.AttentionOutBias && m.SlidingWindow == 0 && !m.TieEmbeddings && m.NormEps == 1e-6 && m.RopeTheta == 10000
		}, "q/k/v biases, no window, untied, eps 1e-6, theta 1e4"},
		{"qwen2", `,"use_sliding_window":true,"sliding_window":16,"max_window_layers":0`, func(m symb.ModelConfig) bool {
			return m.SlidingWindow == 16 && !m.SlidingWindowEven
		}, "window on every layer from max_window_layers 0"},
		{"qwen2", `,"use_sliding_window":true,"sliding_window":16,"max_window_layers":4`, func(m symb.ModelConfig) bool {
			return m.SlidingWindow == 0
		}, "no window when max_window_layers covers every layer"},
		{"qwen2", `,"rope_scaling":{"type":"yarn","factor":4.0,"original_max_position_embeddings":32768,"attention_factor":1.5}`,
			func(m symb.ModelConfig) bool {
				r := m.RopeScaling
				return r != nil && *r == symb.RopeScaling{Type: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32768, AttentionFactor: 1.5}
			}, "yarn rope_scaling kept with its attention_factor"},
		{"qwen3", "", func(m symb.ModelConfig) bool { return m.HeadDim == 128 && m.QKNorm && !m.AttentionBias },
			"head_dim 128, q/k norms, no biases"},
		{"qwen3", `,"attention_bias":true,"head_dim":16`, func(m symb.ModelConfig) bool {
			return m.HeadDim == 16 && m.AttentionBias && m.AttentionOutBias
		}, "attention_bias covers o_proj too"},
		{"mistral", "", func(m symb.ModelConfig) bool { return m.SlidingWindow == 4096 && m.NormEps == 1e-6 },
			"sliding_window 4096 when absent"},
		{"mistral", `,"sliding_window":null`, func(m symb.ModelConfig) bool { return m.SlidingWindow == 0 }, "null window"},
		{"mixtral", "", func(m symb.ModelConfig) bool {
			return m.RopeTheta == 1e6 && m.NormEps == 1e-5 && m.SlidingWindow == 0 && m.MoE.NumExperts == 8 && m.MoE.TopK == 2
		}, "theta 1e6, eps 1e-5, 8 experts top 2"},
		{"phi3", `,"partial_rotary_factor":0.75`, func(m symb.ModelConfig) bool { return m.RopeDim == 12 && m.NormEps == 1e-5 },
			"rope_dim from partial_rotary_factor"},
		{"gemma", `,"hidden_act":"gelu"`, func(m symb.ModelConfig) bool {
			return m.HeadDim == 256 && m.TieEmbeddings && m.Activation == "gelu_tanh" && m.NormWeightOffset == 1 && m.EmbeddingScale == 8
		}, "head_dim 256, tied, hidden_act ignored for gelu_pytorch_tanh"},
		{"gemma", `,"hidden_activation":"gelu"`, func(m symb.ModelConfig) bool { return m.Activation == "gelu" },
			"hidden_activation honoured"},
		{"gemma2", "", func(m symb.ModelConfig) bool {
			return m.AttentionScale == 1.0/16 && m.AttentionSoftcap == 50 && m.FinalSoftcap == 30 && m.SlidingWindow == 4096 && m.SlidingWindowEven
		}, "Gemma2Config defaults"},
		{"gemma2", `,"final_logit_softcapping":null,"attn_logit_softcapping":null,"sliding_window":null`, func(m symb.ModelConfig) bool {
			return m.AttentionSoftcap == 0 && m.FinalSoftcap == 0 && m.SlidingWindow == 0
		}, "null switches soft-capping and the window off"},
		{"gemma2", `,"sliding_window":8,"layer_types":["sliding_attention","full_attention","sliding_attention","full_attention"]`,
			func(m symb.ModelConfig) bool { return m.SlidingWindow == 8 && m.SlidingWindowEven }, "layer_types, even pattern"},
		{"mistral", `,"rope_parameters":{"rope_type":"default","rope_theta":123456.0}`, func(m symb.ModelConfig) bool {
			return m.RopeTheta == 123456 && m.RopeScaling == nil
		}, "rope_parameters"},
		// Llama once read config.json on a path of its own that did not
		// know rope_parameters, and ran such a model with theta 10000.
		{"llama", `,"rope_parameters":{"rope_type":"default","rope_theta":123456.0}`, func(m symb.ModelConfig) bool {
			return m.RopeTheta == 123456 && m.RopeScaling == nil
		}, "rope_parameters"},
		{"llama", `,"rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}`,
			func(m symb.ModelConfig) bool {
				r := m.RopeScaling
				return m.RopeTheta == 500000 && r != nil && *r == symb.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
			}, "llama3 scaling inside rope_parameters"},
		{"deepseek_v3", `,"q_lora_rank":null`, func(m symb.ModelConfig) bool {
			return m.MLA.QLoraRank == 0 && m.HeadDim == 16 && m.AttentionScale == 0.25 && m.MoE.ScalingFactor == 2.5 && m.MoE.NormTopK
		}, "uncompressed queries, plain softmax scale without rope scaling"},
		{"dbrx", `,"moe_normalize_expert_weights":null`, func(m symb.ModelConfig) bool { return !m.MoE.NormTopK }, "no renormalisation"},
		{"dbrx", "", func(m symb.ModelConfig) bool {
			return m.MoE.NormTopK && m.RopeTheta == 10000 && m.ClipQKV == 0 && m.Norm == "layernorm" && m.HeadDim == 16
		}, "DbrxConfig defaults"},
	} {
		m, err := familyConfig(t, c.family, c.extra)
		if err != nil {
			t.Errorf("%s %s: %v", c.family, c.extra, err)
			continue
		}
		if !c.check(m) {
			t.Errorf("%s %s: want %s, got %s", c.family, c.extra, c.what, describe(m))
		}
	}
}

func TestFamilyConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		family, extra string
		is            error
		want          string
	}{
		{"qwen2", `,"use_sliding_window":true,"sliding_window":16,"max_window_layers":2`, ErrUnsupported, "layers 2,3"},
		{"phi3", `,"rope_scaling":{"type":"longrope","short_factor":[1],"long_factor":[1]}`, ErrConfig, `"longrope"`},
		{"phi3", `,"partial_rotary_factor":1.5`, ErrConfig, "partial_rotary_factor"},
		{"mistral", `,"hidden_act":"relu"`, ErrConfig, `hidden_act "relu"`},
		{"gemma", `,"rope_scaling":{"type":"linear","factor":2}`, ErrConfig, "rope_scaling"},
		{"gemma2", `,"sliding_window":8,"layer_types":["full_attention","sliding_attention","full_attention","sliding_attention"]`, ErrUnsupported, "layers 1,3"},
		{"gemma2", `,"query_pre_attn_scalar":0`, ErrConfig, "query_pre_attn_scalar"},
		{"mixtral", `,"num_experts_per_tok":9`, ErrConfig, "num_experts_per_tok"},
		{"qwen3", `,"quantization_config":{"quant_method":"gptq","bits":4}`, ErrUnsupported, `"gptq"`},
		{"deepseek_v3", `,"attention_bias":true`, ErrUnsupported, "attention_bias"},
		{"deepseek_v3", `,"scoring_func":"softmax"`, ErrUnsupported, "scoring_func"},
		{"deepseek_v3", `,"n_group":3`, ErrConfig, "n_group"},
		{"deepseek_v3", `,"num_key_value_heads":2`, ErrConfig, "num_key_value_heads"},
		{"dbrx", `,"moe_normalize_expert_weights":2`, ErrUnsupported, "moe_normalize_expert_weights"},
		{"dbrx", `,"moe_top_k":5`, ErrConfig, "moe_top_k"},
	} {
		_, err := familyConfig(t, c.family, c.extra)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s %s: error %v, want %v naming config.json and %s", c.family, c.extra, err, c.is, c.want)
		}
	}
	hf := parse(t, `{"architectures":["DbrxForCausalLM"],"n_heads":4,"n_layers":2,"vocab_size":100}`)
	if _, err := (DBRX{}).Config(hf); err == nil || !strings.Contains(err.Error(), "d_model is missing") {
		t.Errorf("dbrx without d_model: %v", err)
	}
}

func TestDeepseekUncompressedQueries(t *testing.T) {
	t.Parallel()
	cfg, err := familyConfig(t, "deepseek_v3", `,"q_lora_rank":null`)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DeepseekV3{}.Tensors(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(ms); err != nil {
		t.Fatal(err)
	}
	var q *Mapping
	for i := range ms {
		if strings.Contains(ms[i].Name, "attn_q_") {
			t.Errorf("%s listed for a model without q_lora_rank", ms[i].Name)
		}
		if ms[i].Name == symb.LayerTensor(0, symb.AttnQ) {
			q = &ms[i]
		}
	}
	if q == nil || q.Sources[0].Name != "model.layers.0.self_attn.q_proj.weight" || !slices.Equal(q.Shape, []int{4 * 16, 64}) {
		t.Fatalf("attn_q mapping %+v", q)
	}
	if _, ok := q.Transform.(PermuteRows); !ok {
		t.Fatalf("attn_q transform %v, want the rope rows reordered", q.Transform)
	}

	// A source already in rotate-half order is copied as it is.
	cfg, err = familyConfig(t, "deepseek_v3", `,"rope_interleave":false`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MLA.RopeInterleave {
		t.Fatal("rope_interleave false recorded as true")
	}
	ms, err = DeepseekV3{}.Tensors(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Transform != nil {
			t.Errorf("%s: transform %v for a rotate-half source", m.Name, m.Transform)
		}
	}
}

func TestIgnoredMTPLayers(t *testing.T) {
	t.Parallel()
	mla := symb.ModelConfig{NumLayers: 61, MLA: &symb.MLA{KVLoraRank: 1}}
	for name, want := range map[string]bool{
		"model.layers.61.eh_proj.weight":                   true,
		"model.layers.61.self_attn.q_a_proj.weight":        true,
		"model.layers.60.self_attn.q_a_proj.weight":        false,
		"model.layers.7x.foo":                              false,
		"model.embed_tokens.weight":                        false,
		"model.layers.0.self_attn.rotary_emb.inv_freq":     true,
		"model.layers.100.mlp.experts.0.gate_proj.weight":  true,
		"model.layers.-1.mlp.experts.0.gate_proj.weight":   false,
		"prefix.model.layers.99.mlp.experts.0.gate_proj.x": false,
	} {
		if got := Ignored(mla, name); got != want {
			t.Errorf("Ignored(MLA model, %s) = %v, want %v", name, got, want)
		}
	}
	// Without latent attention, extra layers are a mismatch, not MTP.
	if Ignored(symb.ModelConfig{NumLayers: 2}, "model.layers.2.mlp.gate_proj.weight") {
		t.Error("extra layer of a dense model ignored")
	}
}

func TestFamilyRegistry(t *testing.T) {
	t.Parallel()
	classes := []string{"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM", "MixtralForCausalLM",
		"Phi3ForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM", "DeepseekV3ForCausalLM", "DbrxForCausalLM"}
	types := []string{"llama", "qwen2", "qwen3", "mistral", "mixtral", "phi3", "gemma", "gemma2", "deepseek_v3", "dbrx"}
	s := Supported()
	if !slices.IsSorted(s) || len(s) != len(classes) {
		t.Fatalf("Supported() = %v", s)
	}
	for i, cl := range classes {
		if !slices.Contains(s, cl) {
			t.Errorf("Supported() lacks %s", cl)
		}
		a, err := Lookup(cl)
		if err != nil || a.Name() != types[i] {
			t.Errorf("Lookup(%s) = %v, %v", cl, a, err)
		}
		b, err := Lookup(types[i])
		if err != nil || b.Name() != types[i] {
			t.Errorf("Lookup(%s) = %v, %v", types[i], b, err)
		}
		// model_type alone finds the adapter too.
		d, err := Detect(parse(t, `{"model_type":"`+types[i]+`"}`))
		if err != nil || d.Name() != types[i] {
			t.Errorf("Detect(model_type %s) = %v, %v", types[i], d, err)
		}
	}
}
