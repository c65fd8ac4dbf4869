package runtime

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/internal/sttest"
	"github.com/symbc/symbc/symb"
)

// This file reads the Hugging Face test checkpoints straight from their
// safetensors into symb.Tensors, standing in for the converter so that the
// forward pass is checked against transformers' own logits.

// modelDir returns testdata/models/name, or ../shared's copy for cases not
// kept in the repository (skipping when neither exists).
func modelDir(t testing.TB, name string) string {
	for _, d := range []string{
		filepath.Join("..", "testdata", "models", name),
		filepath.Join("..", "..", "shared", "testdata", "models", name),
	} {
		if _, err := os.Stat(filepath.Join(d, "model.safetensors")); err == nil {
			return d
		}
	}
	t.Skipf("test model %s is absent (neither testdata/models/%s nor ../shared/testdata/models/%s)", name, name, name)
	return ""
}

// hfWeights serves tensors by .symb name.
type hfWeights map[string]*symb.Tensor

func (w hfWeights) Tensor(name string) (*symb.Tensor, error) {
	t, ok := w[name]
	if !ok {
		return nil, fmt.Errorf("tensor %s: %w", name, os.ErrNotExist)
	}
	return t, nil
}

// hfConfig is the part of config.json the test models use.
type hfConfig struct {
	ModelType          string          `json:"model_type"`
	VocabSize          int             `json:"vocab_size"`
	HiddenSize         int             `json:"hidden_size"`
	IntermediateSize   int             `json:"intermediate_size"`
	NumLayers          int             `json:"num_hidden_layers"`
	NumHeads           int             `json:"num_attention_heads"`
	NumKVHeads         int             `json:"num_key_value_heads"`
	HeadDim            int             `json:"head_dim"`
	MaxPositions       int             `json:"max_position_embeddings"`
	RMSNormEps         float64         `json:"rms_norm_eps"`
	HiddenAct          string          `json:"hidden_act"`
	HiddenActivation   string          `json:"hidden_activation"`
	RopeTheta          float64         `json:"rope_theta"`
	RopeScaling        map[string]any  `json:"rope_scaling"`
	TieEmbeddings      *bool           `json:"tie_word_embeddings"` // absent: true, as in PretrainedConfig
	AttentionBias      bool            `json:"attention_bias"`
	SlidingWindow      int             `json:"sliding_window"`
	QueryPreAttnScalar float64         `json:"query_pre_attn_scalar"`
	AttnSoftcap        float64         `json:"attn_logit_softcapping"`
	FinalSoftcap       float64         `json:"final_logit_softcapping"`
	BOS                *int            `json:"bos_token_id"`
	EOS                json.RawMessage `json:"eos_token_id"`
}

// hfModel loads dir's config.json and model.safetensors.
func hfModel(t testing.TB, dir string) (*symb.Config, hfWeights) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hc hfConfig
	if err := json.Unmarshal(b, &hc); err != nil {
		t.Fatalf("%s/config.json: %v", dir, err)
	}
	switch hc.ModelType {
	case "mixtral", "dbrx", "deepseek_v3":
		return hfSparseModel(t, dir, b)
	}
	mc := symb.ModelConfig{
		VocabSize: hc.VocabSize, HiddenSize: hc.HiddenSize, IntermediateSize: hc.IntermediateSize,
		NumLayers: hc.NumLayers, NumHeads: hc.NumHeads, NumKVHeads: hc.NumKVHeads, HeadDim: hc.HeadDim,
		MaxPositions: hc.MaxPositions, Norm: "rmsnorm", NormEps: hc.RMSNormEps, Activation: "silu",
		RopeTheta: hc.RopeTheta, TieEmbeddings: hc.TieEmbeddings == nil || *hc.TieEmbeddings, AttentionBias: hc.AttentionBias,
		BOSTokenID: hc.BOS,
	}
	if mc.NumKVHeads == 0 {
		mc.NumKVHeads = mc.NumHeads
	}
	if mc.HeadDim == 0 {
		mc.HeadDim = mc.HiddenSize / mc.NumHeads
	}
	if len(hc.EOS) > 0 && string(hc.EOS) != "null" {
		var one int
		if json.Unmarshal(hc.EOS, &one) == nil {
			mc.EOSTokenIDs = []int{one}
		} else if err := json.Unmarshal(hc.EOS, &mc.EOSTokenIDs); err != nil {
			t.Fatalf("eos_token_id: %v", err)
		}
	}
	if rs := hc.RopeScaling; rs != nil {
		typ, _ := rs["rope_type"].(string)
		if typ == "" {
			typ, _ = rs["type"].(string)
		}
		num := func(k string) float64 { f, _ := rs[k].(float64); return f }
		mc.RopeScaling = &symb.RopeScaling{
			Type: typ, Factor: num("factor"), LowFreqFactor: num("low_freq_factor"), HighFreqFactor: num("high_freq_factor"),
			OriginalMaxPositionEmbeddings: int(num("original_max_position_embeddings")),
		}
	}
	norms := map[string]string{"input_layernorm": symb.NormAttn, "post_attention_layernorm": symb.NormMLP}
	// Per-family differences, standing in for what the converter's
	// architecture adapters do.
	switch hc.ModelType {
	case "qwen2":
		mc.AttentionBias = true
	case "qwen3":
		mc.QKNorm = true
	case "mistral":
		mc.SlidingWindow = hc.SlidingWindow
	case "gemma", "gemma2":
		mc.NormWeightOffset = 1
		mc.EmbeddingScale = float32(math.Sqrt(float64(hc.HiddenSize)))
		mc.Activation = "gelu_tanh"
		if hc.ModelType == "gemma2" {
			mc.PostNorms = true
			mc.AttentionScale = 1 / math.Sqrt(hc.QueryPreAttnScalar)
			mc.AttentionSoftcap = hc.AttnSoftcap
			mc.FinalSoftcap = hc.FinalSoftcap
			mc.SlidingWindow = hc.SlidingWindow
			mc.SlidingWindowEven = true
			norms = map[string]string{
				"input_layernorm": symb.NormAttn, "post_attention_layernorm": symb.NormAttnPost,
				"pre_feedforward_layernorm": symb.NormMLP, "post_feedforward_layernorm": symb.NormMLPPost,
			}
		}
	}
	cfg := &symb.Config{Format: "symb", FormatVersion: "1.0", Architecture: hc.ModelType, Model: mc}

	st := sttest.Read(t, filepath.Join(dir, "model.safetensors"))
	layerRe := regexp.MustCompile(`^model\.layers\.(\d+)\.(.+)$`)
	names := map[string]string{
		"self_attn.q_proj.weight": symb.AttnQ, "self_attn.k_proj.weight": symb.AttnK,
		"self_attn.v_proj.weight": symb.AttnV, "self_attn.o_proj.weight": symb.AttnO,
		"self_attn.q_proj.bias": symb.AttnQBias, "self_attn.k_proj.bias": symb.AttnKBias,
		"self_attn.v_proj.bias":   symb.AttnVBias,
		"self_attn.q_norm.weight": symb.AttnQNorm, "self_attn.k_norm.weight": symb.AttnKNorm,
		"mlp.gate_proj.weight": symb.MLPGate, "mlp.up_proj.weight": symb.MLPUp, "mlp.down_proj.weight": symb.MLPDown,
	}
	for hf, s := range norms {
		names[hf+".weight"] = s
	}
	w := hfWeights{}
	for _, nt := range st.Tensors() {
		var name string
		switch nt.Name {
		case "model.embed_tokens.weight":
			name = symb.Embeddings
		case "model.norm.weight":
			name = symb.FinalNorm
		case "lm_head.weight":
			name = symb.LMHead
		default:
			m := layerRe.FindStringSubmatch(nt.Name)
			if m == nil || names[m[2]] == "" {
				t.Fatalf("%s: unexpected tensor %s", dir, nt.Name)
			}
			i, _ := strconv.Atoi(m[1])
			name = symb.LayerTensor(i, names[m[2]])
		}
		w[name] = stTensor(t, name, nt.TensorView)
	}
	return cfg, w
}

// stTensor copies a safetensors view (whose data may be unaligned) into a symb.Tensor.
func stTensor(t testing.TB, name string, v safetensors.TensorView) *symb.Tensor {
	t.Helper()
	var dt symb.DType
	switch v.DType() {
	case safetensors.F32:
		dt = symb.F32
	case safetensors.F16:
		dt = symb.F16
	case safetensors.BF16:
		dt = symb.BF16
	default:
		t.Fatalf("%s: dtype %s", name, v.DType())
	}
	shape := make([]int, len(v.Shape()))
	for i, d := range v.Shape() {
		shape[i] = int(d)
	}
	return &symb.Tensor{Name: name, Info: symb.Info{DType: dt, Shape: shape}, Data: append([]byte(nil), v.Data()...)}
}

// reference is the content of a reference.safetensors.
type reference struct {
	inputIDs, promptIDs, greedyIDs []int
	logits                         []float32
}

func loadReference(t testing.TB, dir string) reference {
	t.Helper()
	r := sttest.ReadReference(t, dir)
	return reference{inputIDs: r.Input, promptIDs: r.Prompt, greedyIDs: r.Greedy, logits: r.Logits}
}
