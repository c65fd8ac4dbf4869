package symb

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/internal/fileio"
)

// ConfigFile is the name of the model description inside a model folder.
const ConfigFile = "config.symb.json"

// Config is the content of config.symb.json (FORMAT.md §5).
type Config struct {
	Format        string       `json:"format"`         // always "symb"
	FormatVersion string       `json:"format_version"` // "1.0"
	Architecture  string       `json:"architecture"`   // adapter that wrote the folder, e.g. "llama"
	Model         ModelConfig  `json:"model"`
	Quantization  Quantization `json:"quantization"`
	Source        Source       `json:"source"`
	Tool          Tool         `json:"tool"`
	Generation    *Generation  `json:"generation,omitempty"` // recommended sampling settings; nil when the source has none
}

// ModelConfig holds every hyperparameter the runtime needs. The runtime
// branches on these fields (features), never on the architecture name.
type ModelConfig struct {
	VocabSize        int     `json:"vocab_size"`
	HiddenSize       int     `json:"hidden_size"`
	IntermediateSize int     `json:"intermediate_size"`
	NumLayers        int     `json:"num_layers"`
	NumHeads         int     `json:"num_heads"`
	NumKVHeads       int     `json:"num_kv_heads"`
	HeadDim          int     `json:"head_dim"`
	MaxPositions     int     `json:"max_position_embeddings"`
	Norm             string  `json:"norm"`                         // "rmsnorm" or "layernorm"
	NormEps          float64 `json:"norm_eps"`                     // epsilon inside the norm
	NormWeightOffset float32 `json:"norm_weight_offset,omitempty"` // 1 for (1+w) norms
	Activation       string  `json:"activation"`                   // "silu", "gelu_tanh", "gelu"

	RopeTheta   float64      `json:"rope_theta"`
	RopeScaling *RopeScaling `json:"rope_scaling,omitempty"`
	RopeDim     int          `json:"rope_dim,omitempty"` // rotary dimensions per head when partial (0: all of head_dim)

	TieEmbeddings  bool    `json:"tie_word_embeddings"`
	EmbeddingScale float32 `json:"embedding_scale,omitempty"` // multiply embeddings (0: none)

	AttentionBias     bool    `json:"attention_bias,omitempty"`      // attn_{q,k,v}_bias exist
	AttentionOutBias  bool    `json:"attention_out_bias,omitempty"`  // attn_o_bias exists
	QKNorm            bool    `json:"qk_norm,omitempty"`             // per-head attn_q_norm/attn_k_norm
	PostNorms         bool    `json:"post_norms,omitempty"`          // norm_attn_post / norm_mlp_post
	AttentionScale    float64 `json:"attention_scale,omitempty"`     // 0: 1/sqrt(head_dim)
	AttentionSoftcap  float64 `json:"attention_softcap,omitempty"`   // cap·tanh(x/cap) on scores
	FinalSoftcap      float64 `json:"final_logit_softcap,omitempty"` // same on logits
	ClipQKV           float64 `json:"clip_qkv,omitempty"`            // clamp q, k, v
	SlidingWindow     int     `json:"sliding_window,omitempty"`      // tokens, 0: none
	SlidingWindowEven bool    `json:"sliding_window_even_layers_only,omitempty"`

	MoE *MoE `json:"moe,omitempty"`
	MLA *MLA `json:"mla,omitempty"`

	BOSTokenID  *int  `json:"bos_token_id,omitempty"`
	EOSTokenIDs []int `json:"eos_token_ids,omitempty"`
}

// RopeScaling mirrors Hugging Face's rope_scaling object.
type RopeScaling struct {
	Type                          string  `json:"type"` // "llama3", "linear", "yarn", ...
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
	BetaFast                      float64 `json:"beta_fast,omitempty"`
	BetaSlow                      float64 `json:"beta_slow,omitempty"`
	MScale                        float64 `json:"mscale,omitempty"`
	MScaleAllDim                  float64 `json:"mscale_all_dim,omitempty"`
	AttentionFactor               float64 `json:"attention_factor,omitempty"` // yarn: multiplies cos and sin (0: derived from factor and mscale)
}

// MoE describes sparse mixture-of-experts MLPs.
type MoE struct {
	NumExperts         int     `json:"num_experts"`
	TopK               int     `json:"top_k"`
	ExpertIntermediate int     `json:"expert_intermediate_size"`
	NumShared          int     `json:"num_shared_experts,omitempty"`
	Router             string  `json:"router"`                // "softmax_topk", "topk_softmax", "sigmoid_grouped"
	RouterBias         bool    `json:"router_bias,omitempty"` // moe_router_bias exists (selection-only bias)
	NormTopK           bool    `json:"norm_topk_prob,omitempty"`
	ScalingFactor      float64 `json:"routed_scaling_factor,omitempty"`
	NumGroups          int     `json:"n_group,omitempty"`
	TopKGroups         int     `json:"topk_group,omitempty"`
	FirstDenseLayers   int     `json:"first_k_dense_replace,omitempty"` // layers before this use a dense MLP
}

// MLA describes multi-head latent attention.
type MLA struct {
	QLoraRank      int  `json:"q_lora_rank"`
	KVLoraRank     int  `json:"kv_lora_rank"`
	QKNopeHeadDim  int  `json:"qk_nope_head_dim"`
	QKRopeHeadDim  int  `json:"qk_rope_head_dim"`
	VHeadDim       int  `json:"v_head_dim"`
	RopeInterleave bool `json:"rope_interleave,omitempty"`
}

// Quantization records how the weights were written.
type Quantization struct {
	Weights    string `json:"weights"`          // dtype of linear weights: int4, int8, f16, bf16, f32
	Scheme     string `json:"scheme,omitempty"` // sym or asym for int dtypes
	GroupSize  int    `json:"group_size,omitempty"`
	Method     string `json:"method,omitempty"`  // rtn or mse
	Embeddings string `json:"embeddings"`        // dtype of embeddings.symb
	LMHead     string `json:"lm_head,omitempty"` // dtype of lm_head.symb when untied
	Norms      string `json:"norms"`             // dtype of norms
	// Recipe says how the storage of each weight was chosen when it was not
	// one spec for all: e.g. "bits 4.5" or "max-kld 0.03". Tensors then
	// lists every weight matrix's spec ("int4-sym-mse-g64") and Weights,
	// Scheme, GroupSize and Method describe the first linear layer only.
	Recipe       string            `json:"recipe,omitempty"`
	PredictedKLD float64           `json:"predicted_kld,omitempty"` // the recipe's predicted mean KL (nats) on the calibration text
	Calibration  *Calibration      `json:"calibration,omitempty"`
	Tensors      map[string]string `json:"tensors,omitempty"`
}

// Calibration records the text the converter ran the source model on to
// measure activation statistics and per-tensor sensitivity.
type Calibration struct {
	Text         string `json:"text"`                  // "builtin" or the file name given
	SHA256       string `json:"sha256"`                // of the text
	Tokens       int    `json:"tokens"`                // tokens run for activation statistics
	Sensitivity  string `json:"sensitivity,omitempty"` // "measured" (KL per tensor) or "relative" (too large to measure)
	ScaledInputs int    `json:"awq_inputs,omitempty"`  // linear-layer inputs whose channels were rescaled (AWQ)
}

// Source records where the weights came from.
type Source struct {
	ID            string   `json:"id,omitempty"`       // Hub id, when converted from the Hub
	Revision      string   `json:"revision,omitempty"` // commit hash when known
	Path          string   `json:"path,omitempty"`     // local folder, when converted from one
	Architectures []string `json:"architectures,omitempty"`
	ModelType     string   `json:"model_type,omitempty"`
	DType         string   `json:"dtype,omitempty"` // storage dtype of the source weights
}

// Tool names the program that wrote the folder.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// maxConfigBytes bounds config.symb.json.
const maxConfigBytes = 16 << 20

// ReadConfig reads and checks dir/config.symb.json.
func ReadConfig(dir string) (*Config, error) {
	p := filepath.Join(dir, ConfigFile)
	b, err := fileio.ReadLimited(p, maxConfigBytes)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: not a .symb model folder (no %s): %w", dir, ConfigFile, ErrNotSymb)
		}
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &c, nil
}

// Validate checks the fields every reader depends on.
func (c *Config) Validate() error {
	if c.Format != "symb" {
		return fmt.Errorf("format is %q, want \"symb\": %w", c.Format, ErrNotSymb)
	}
	var major, minor int
	if _, err := fmt.Sscanf(c.FormatVersion, "%d.%d", &major, &minor); err != nil {
		return fmt.Errorf("format_version %q is not MAJOR.MINOR: %w", c.FormatVersion, ErrCorrupt)
	}
	if major != MajorVersion {
		return fmt.Errorf("%w: folder is version %s, this reader understands %d.x", ErrVersion, c.FormatVersion, MajorVersion)
	}
	if err := c.Model.Validate(); err != nil {
		return fmt.Errorf("model.%w", err)
	}
	if err := c.Generation.Validate(); err != nil {
		return fmt.Errorf("generation.%w", err)
	}
	return nil
}

// maxSize bounds every size in a ModelConfig, so that products of two sizes
// fit an int on every platform the runtime supports.
const maxSize = 1 << 24

// Validate checks the hyperparameters every reader depends on: sizes in
// range, heads that group, MoE and MLA counts bounded (readers loop over
// layers and experts), the number of tensor files the config implies
// bounded, rotary dimensions even, and no negative window, soft-cap, clip or
// scale. Errors name the field (without the "model." prefix) and wrap
// ErrCorrupt. Whether a runtime implements a norm, activation or router is
// for that runtime to say.
func (m *ModelConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", m.VocabSize}, {"hidden_size", m.HiddenSize}, {"num_layers", m.NumLayers},
		{"num_heads", m.NumHeads}, {"num_kv_heads", m.NumKVHeads}, {"head_dim", m.HeadDim}} {
		if f.v <= 0 || f.v > maxSize {
			return fmt.Errorf("%s is %d: %w", f.name, f.v, ErrCorrupt)
		}
	}
	if m.MaxPositions < 0 || m.MaxPositions > MaxContextLength {
		return fmt.Errorf("max_position_embeddings is %d, want 1..%d (0: not given): %w", m.MaxPositions, MaxContextLength, ErrCorrupt)
	}
	if m.NumHeads%m.NumKVHeads != 0 {
		return fmt.Errorf("num_heads %d is not a multiple of num_kv_heads %d: %w", m.NumHeads, m.NumKVHeads, ErrCorrupt)
	}
	if m.IntermediateSize < 0 || m.IntermediateSize > maxSize {
		return fmt.Errorf("intermediate_size is %d: %w", m.IntermediateSize, ErrCorrupt)
	}
	// Readers loop over experts and layers, so these counts must be bounded
	// before anyone trusts them.
	if e := m.MoE; e != nil {
		switch {
		case e.NumExperts < 1 || e.NumExperts > 1<<16:
			return fmt.Errorf("moe.num_experts is %d (want 1..%d): %w", e.NumExperts, 1<<16, ErrCorrupt)
		case e.TopK < 1 || e.TopK > e.NumExperts:
			return fmt.Errorf("moe.top_k is %d (want 1..num_experts %d): %w", e.TopK, e.NumExperts, ErrCorrupt)
		case e.ExpertIntermediate < 1 || e.ExpertIntermediate > maxSize:
			return fmt.Errorf("moe.expert_intermediate_size is %d: %w", e.ExpertIntermediate, ErrCorrupt)
		case e.NumShared < 0 || e.NumShared > 1<<16 || e.NumShared*e.ExpertIntermediate > maxSize:
			return fmt.Errorf("moe.num_shared_experts is %d with expert_intermediate_size %d: %w", e.NumShared, e.ExpertIntermediate, ErrCorrupt)
		case e.FirstDenseLayers < 0 || e.FirstDenseLayers > m.NumLayers:
			return fmt.Errorf("moe.first_k_dense_replace is %d (want 0..num_layers %d): %w", e.FirstDenseLayers, m.NumLayers, ErrCorrupt)
		case e.ScalingFactor < 0 || math.IsInf(e.ScalingFactor, 0) || math.IsNaN(e.ScalingFactor):
			return fmt.Errorf("moe.routed_scaling_factor is %g: %w", e.ScalingFactor, ErrCorrupt)
		case e.NumGroups < 0 || e.TopKGroups < 0:
			return fmt.Errorf("moe.n_group %d, topk_group %d: %w", e.NumGroups, e.TopKGroups, ErrCorrupt)
		}
	}
	// A dense layer needs an MLP; a model whose every layer is sparse has
	// none to size.
	if (m.MoE == nil || m.MoE.FirstDenseLayers > 0) && m.IntermediateSize < 1 {
		return fmt.Errorf("intermediate_size is %d with dense layers: %w", m.IntermediateSize, ErrCorrupt)
	}
	// Checkers and loaders build a table entry per tensor file, so the count
	// a config implies is bounded too, not only each factor.
	if n := m.TensorFiles(); n > MaxTensorFiles {
		return fmt.Errorf("num_layers %d implies %d tensor files with its experts, more than %d: %w", m.NumLayers, n, MaxTensorFiles, ErrCorrupt)
	}
	if a := m.MLA; a != nil {
		for _, f := range []struct {
			name   string
			v, min int
		}{{"q_lora_rank", a.QLoraRank, 0}, {"kv_lora_rank", a.KVLoraRank, 1}, {"qk_nope_head_dim", a.QKNopeHeadDim, 0},
			{"qk_rope_head_dim", a.QKRopeHeadDim, 2}, {"v_head_dim", a.VHeadDim, 1}} {
			if f.v < f.min || f.v > maxSize {
				return fmt.Errorf("mla.%s is %d: %w", f.name, f.v, ErrCorrupt)
			}
		}
		if a.QKRopeHeadDim%2 != 0 {
			return fmt.Errorf("mla.qk_rope_head_dim %d is odd (rotary dimensions come in pairs): %w", a.QKRopeHeadDim, ErrCorrupt)
		}
	}
	// Rotary dimensions come in pairs.
	if m.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim %d is odd: %w", m.HeadDim, ErrCorrupt)
	}
	if m.RopeDim < 0 || m.RopeDim > m.HeadDim || m.RopeDim%2 != 0 {
		return fmt.Errorf("rope_dim %d with head_dim %d (want an even number up to head_dim): %w", m.RopeDim, m.HeadDim, ErrCorrupt)
	}
	if m.SlidingWindow < 0 {
		return fmt.Errorf("sliding_window is %d: %w", m.SlidingWindow, ErrCorrupt)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"attention_softcap", m.AttentionSoftcap}, {"final_logit_softcap", m.FinalSoftcap}, {"clip_qkv", m.ClipQKV}, {"attention_scale", m.AttentionScale}} {
		if f.v < 0 {
			return fmt.Errorf("%s is %g (want ≥ 0): %w", f.name, f.v, ErrCorrupt)
		}
	}
	return nil
}

// MaxContextLength bounds max_position_embeddings. The longest contexts of
// open models are a few million tokens (Llama 4 Scout: 10M).
const MaxContextLength = 1 << 24

// WriteConfig writes dir/config.symb.json (indented, trailing newline).
func WriteConfig(dir string, c *Config) error {
	if c.Format == "" {
		c.Format = "symb"
	}
	if c.FormatVersion == "" {
		c.FormatVersion = fmt.Sprintf("%d.%d", MajorVersion, MinorVersion)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644)
}
