package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/symb"
)

// maxConfigBytes bounds what ReadHFConfig loads; real config.json files are a
// few kilobytes.
const maxConfigBytes = 16 << 20

// HFConfig is a Hugging Face config.json: the fields shared by most decoder
// families, decoded, plus every key raw so that an adapter can read the
// fields of its own family (sliding_window, q_lora_rank, ...).
//
// Pointer fields distinguish "absent" from zero, because the defaults differ
// between families (tie_word_embeddings defaults to false for Llama and to
// true for Gemma).
type HFConfig struct {
	Architectures []string `json:"architectures"`
	ModelType     string   `json:"model_type"`

	HiddenSize        int  `json:"hidden_size"`
	IntermediateSize  int  `json:"intermediate_size"`
	NumHiddenLayers   int  `json:"num_hidden_layers"`
	NumAttentionHeads int  `json:"num_attention_heads"`
	NumKeyValueHeads  *int `json:"num_key_value_heads"`
	HeadDim           *int `json:"head_dim"`
	VocabSize         int  `json:"vocab_size"`
	MaxPositions      int  `json:"max_position_embeddings"`

	RMSNormEps  *float64         `json:"rms_norm_eps"`
	RopeTheta   *float64         `json:"rope_theta"`
	RopeScaling *json.RawMessage `json:"rope_scaling"`

	TieWordEmbeddings *bool   `json:"tie_word_embeddings"`
	AttentionBias     bool    `json:"attention_bias"`
	MLPBias           bool    `json:"mlp_bias"`
	HiddenAct         string  `json:"hidden_act"`
	TorchDType        string  `json:"torch_dtype"`
	BOSTokenID        *int    `json:"bos_token_id"`
	EOSTokenIDs       TokenID `json:"eos_token_id"`

	// Raw holds every top-level key as it appeared in the file.
	Raw map[string]json.RawMessage `json:"-"`
	// Path is the file the config was read from, for error messages.
	Path string `json:"-"`
}

// TokenID is a token id field that Hugging Face writes as an int, a list of
// ints or null (eos_token_id).
type TokenID []int

// UnmarshalJSON accepts null, an int or a list of ints.
func (t *TokenID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return fmt.Errorf("token id list: %w", err)
		}
		*t = ids
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return fmt.Errorf("token id: %w", err)
	}
	*t = TokenID{id}
	return nil
}

// ParseHFConfig decodes the bytes of a config.json; path names it in errors.
func ParseHFConfig(b []byte, path string) (*HFConfig, error) {
	var c HFConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(b, &c.Raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	return &c, nil
}

// ReadHFConfig reads and decodes a config.json file.
func ReadHFConfig(path string) (*HFConfig, error) {
	b, err := fileio.ReadLimited(path, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	return ParseHFConfig(b, path)
}

// Has reports whether key is present and not null.
func (c *HFConfig) Has(key string) bool {
	v, ok := c.Raw[key]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// Int reads an integer field of the family's own, def when absent or null.
func (c *HFConfig) Int(key string, def int) (int, error) {
	if !c.Has(key) {
		return def, nil
	}
	var v int
	if err := json.Unmarshal(c.Raw[key], &v); err != nil {
		return 0, fmt.Errorf("%s: %s: %w", c.Path, key, err)
	}
	return v, nil
}

// Float reads a number field of the family's own, def when absent or null.
func (c *HFConfig) Float(key string, def float64) (float64, error) {
	if !c.Has(key) {
		return def, nil
	}
	var v float64
	if err := json.Unmarshal(c.Raw[key], &v); err != nil {
		return 0, fmt.Errorf("%s: %s: %w", c.Path, key, err)
	}
	return v, nil
}

// ErrConfig reports a config.json value that is missing, out of range or
// inconsistent.
var ErrConfig = errors.New("invalid config.json")

// configError names the file and the key.
func (c *HFConfig) configError(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", c.Path, fmt.Sprintf(format, args...), ErrConfig)
}

// maxDim bounds every size read from a config so that products of a few of
// them stay far from overflow (2^24 covers any real vocabulary or width).
const maxDim = 1 << 24

// Common decodes and checks the fields every standard decoder family has and
// returns them as a symb.ModelConfig with the family-independent defaults
// (rope_theta 10000, kv heads = heads, head_dim = hidden/heads). The adapter
// then fills norm, activation and its own features.
func (c *HFConfig) Common(defaultEps float64) (symb.ModelConfig, error) {
	var m symb.ModelConfig
	for _, f := range []struct {
		key string
		v   int
	}{
		{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"vocab_size", c.VocabSize},
	} {
		if !c.Has(f.key) {
			return m, c.configError("%s is missing", f.key)
		}
		if f.v <= 0 || f.v > maxDim {
			return m, c.configError("%s is %d, want 1..%d", f.key, f.v, maxDim)
		}
	}
	kv := c.NumAttentionHeads
	if c.NumKeyValueHeads != nil {
		kv = *c.NumKeyValueHeads
	}
	if kv <= 0 || kv > c.NumAttentionHeads || c.NumAttentionHeads%kv != 0 {
		return m, c.configError("num_key_value_heads is %d, want a divisor of num_attention_heads %d", kv, c.NumAttentionHeads)
	}
	hd := 0
	if c.HeadDim != nil {
		hd = *c.HeadDim
	} else {
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return m, c.configError("hidden_size %d is not a multiple of num_attention_heads %d and head_dim is not given", c.HiddenSize, c.NumAttentionHeads)
		}
		hd = c.HiddenSize / c.NumAttentionHeads
	}
	if hd <= 0 || hd > 1<<12 || hd%2 != 0 {
		return m, c.configError("head_dim is %d, want an even number in 2..4096", hd)
	}
	eps := defaultEps
	if c.RMSNormEps != nil {
		eps = *c.RMSNormEps
	}
	if !(eps > 0 && eps < 1) {
		return m, c.configError("rms_norm_eps is %g, want 0 < eps < 1", eps)
	}
	theta := 10000.0
	if c.RopeTheta != nil {
		theta = *c.RopeTheta
	}
	if !(theta > 1) || math.IsInf(theta, 0) {
		return m, c.configError("rope_theta is %g, want a finite number > 1", theta)
	}
	if c.MaxPositions < 0 || c.MaxPositions > symb.MaxContextLength || (c.MaxPositions == 0 && c.Has("max_position_embeddings")) {
		return m, c.configError("max_position_embeddings is %d, want 1..%d", c.MaxPositions, symb.MaxContextLength)
	}
	if c.BOSTokenID != nil && (*c.BOSTokenID < 0 || *c.BOSTokenID >= c.VocabSize) {
		return m, c.configError("bos_token_id %d is outside the vocabulary of %d", *c.BOSTokenID, c.VocabSize)
	}
	for _, id := range c.EOSTokenIDs {
		if id < 0 || id >= c.VocabSize {
			return m, c.configError("eos_token_id %d is outside the vocabulary of %d", id, c.VocabSize)
		}
	}
	m = symb.ModelConfig{
		VocabSize:        c.VocabSize,
		HiddenSize:       c.HiddenSize,
		IntermediateSize: c.IntermediateSize,
		NumLayers:        c.NumHiddenLayers,
		NumHeads:         c.NumAttentionHeads,
		NumKVHeads:       kv,
		HeadDim:          hd,
		MaxPositions:     c.MaxPositions,
		NormEps:          eps,
		RopeTheta:        theta,
		BOSTokenID:       c.BOSTokenID,
		EOSTokenIDs:      append([]int(nil), c.EOSTokenIDs...),
	}
	return m, nil
}

// hfRopeScaling is rope_scaling as Hugging Face writes it; older files say
// "type", newer ones "rope_type".
type hfRopeScaling struct {
	Type                          string  `json:"type"`
	RopeType                      string  `json:"rope_type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
	BetaFast                      float64 `json:"beta_fast"`
	BetaSlow                      float64 `json:"beta_slow"`
	MScale                        float64 `json:"mscale"`
	MScaleAllDim                  float64 `json:"mscale_all_dim"`
	AttentionFactor               float64 `json:"attention_factor"`
}

// Rope decodes rope_scaling and accepts only the types in allowed
// (nil, and the type "default", mean plain RoPE and return nil). Each type's
// required fields are checked, so the runtime can trust them.
func (c *HFConfig) Rope(allowed ...string) (*symb.RopeScaling, error) {
	if c.RopeScaling == nil || bytes.Equal(bytes.TrimSpace(*c.RopeScaling), []byte("null")) {
		return nil, nil
	}
	var r hfRopeScaling
	if err := json.Unmarshal(*c.RopeScaling, &r); err != nil {
		return nil, c.configError("rope_scaling: %v", err)
	}
	typ := r.RopeType
	if typ == "" {
		typ = r.Type
	}
	if typ == "" || typ == "default" {
		return nil, nil
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == typ
	}
	if !ok {
		return nil, c.configError("rope_scaling type %q is not supported for this architecture (supported: %s)", typ, strings.Join(allowed, ", "))
	}
	if !(r.Factor > 0) || math.IsInf(r.Factor, 0) {
		return nil, c.configError("rope_scaling %s: factor is %g, want > 0", typ, r.Factor)
	}
	s := &symb.RopeScaling{
		Type: typ, Factor: r.Factor,
		LowFreqFactor: r.LowFreqFactor, HighFreqFactor: r.HighFreqFactor,
		OriginalMaxPositionEmbeddings: r.OriginalMaxPositionEmbeddings,
		BetaFast:                      r.BetaFast, BetaSlow: r.BetaSlow,
		MScale: r.MScale, MScaleAllDim: r.MScaleAllDim, AttentionFactor: r.AttentionFactor,
	}
	if r.AttentionFactor < 0 || math.IsInf(r.AttentionFactor, 0) {
		return nil, c.configError("rope_scaling %s: attention_factor is %g, want > 0", typ, r.AttentionFactor)
	}
	if typ == "llama3" {
		if !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor) || r.OriginalMaxPositionEmbeddings <= 0 {
			return nil, c.configError("rope_scaling llama3 needs low_freq_factor > 0, high_freq_factor > low_freq_factor and original_max_position_embeddings > 0 (got %g, %g, %d)",
				r.LowFreqFactor, r.HighFreqFactor, r.OriginalMaxPositionEmbeddings)
		}
	}
	return s, nil
}
