package arch

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/symbc/symbc/symb"
)

// defaults are the values a family's transformers config class uses for
// keys config.json leaves out. They differ between families (Mixtral's
// rope_theta is 1e6, Gemma ties its embeddings and has head_dim 256), and a
// wrong default would give a model that runs with wrong numbers.
type defaults struct {
	eps     float64  // rms_norm_eps
	theta   float64  // rope_theta; 0 means 10000
	tie     bool     // tie_word_embeddings
	headDim int      // head_dim; 0 means hidden_size / num_attention_heads
	act     string   // hidden_act; "" means silu
	rope    []string // rope_scaling types the family's modeling code accepts
}

// common reads what every Llama-layout family shares: sizes, norm epsilon,
// RoPE, embedding tying, activation. Family adapters add their features.
func (d defaults) common(hf *HFConfig) (symb.ModelConfig, error) {
	if err := checkQuantization(hf); err != nil {
		return symb.ModelConfig{}, err
	}
	h, err := withRopeParameters(hf)
	if err != nil {
		return symb.ModelConfig{}, err
	}
	if h.HeadDim == nil && d.headDim > 0 {
		hd := d.headDim
		h.HeadDim = &hd
	}
	if h.RopeTheta == nil && d.theta > 0 {
		t := d.theta
		h.RopeTheta = &t
	}
	m, err := h.Common(d.eps)
	if err != nil {
		return m, err
	}
	if m.RopeScaling, err = h.Rope(d.rope...); err != nil {
		return m, err
	}
	m.Norm = "rmsnorm"
	m.TieEmbeddings = d.tie
	if hf.TieWordEmbeddings != nil {
		m.TieEmbeddings = *hf.TieWordEmbeddings
	}
	act := hf.HiddenAct
	if act == "" {
		act = d.act
	}
	if m.Activation, err = activation(hf, "hidden_act", act); err != nil {
		return m, err
	}
	return m, nil
}

// activation maps a transformers ACT2FN name to the .symb activation.
// gelu_new and gelu_fast are the same tanh approximation written
// differently; an empty name means silu.
func activation(hf *HFConfig, key, name string) (string, error) {
	switch name {
	case "", "silu", "swish":
		return "silu", nil
	case "gelu_pytorch_tanh", "gelu_new", "gelu_fast":
		return "gelu_tanh", nil
	case "gelu":
		return "gelu", nil
	}
	return "", hf.configError("%s %q is not supported (supported: silu, gelu, gelu_pytorch_tanh)", key, name)
}

// withRopeParameters returns hf, or a copy whose rope_theta and
// rope_scaling come from rope_parameters, the single object newer
// transformers releases write instead of those two keys.
func withRopeParameters(hf *HFConfig) (*HFConfig, error) {
	h := *hf
	if !hf.Has("rope_parameters") || hf.Has("rope_theta") || hf.Has("rope_scaling") {
		return &h, nil
	}
	raw := hf.Raw["rope_parameters"]
	var p struct {
		Theta *float64 `json:"rope_theta"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, hf.configError("rope_parameters: %v", err)
	}
	h.RopeTheta = p.Theta
	h.RopeScaling = &raw
	return &h, nil
}

// obj decodes an object-valued key of config.json into v; absent or null
// leaves v unchanged.
func (c *HFConfig) obj(key string, v any) error {
	if !c.Has(key) {
		return nil
	}
	if err := json.Unmarshal(c.Raw[key], v); err != nil {
		return c.configError("%s: %v", key, err)
	}
	return nil
}

// bool reads a boolean key, def when absent or null.
func (c *HFConfig) bool(key string, def bool) (bool, error) {
	v := def
	if err := c.obj(key, &v); err != nil {
		return false, err
	}
	return v, nil
}

// window reads the sliding_window key: def when absent, 0 (none) when null.
func (c *HFConfig) window(def int) (int, error) {
	if _, ok := c.Raw["sliding_window"]; !ok {
		return def, nil
	}
	w, err := c.Int("sliding_window", 0)
	if err != nil {
		return 0, err
	}
	if w < 0 || w > maxDim {
		return 0, c.configError("sliding_window is %d, want 0..%d", w, maxDim)
	}
	return w, nil
}

// windowLayers turns "layer i uses the sliding window" into the two config
// fields the format has: a window on every layer, or on the even layers
// only. layer_types, which newer releases write, overrides uses. Any other
// pattern is refused rather than run with the wrong mask.
func windowLayers(hf *HFConfig, m *symb.ModelConfig, w int, uses func(i int) bool) error {
	m.SlidingWindow, m.SlidingWindowEven = 0, false
	if w <= 0 {
		return nil
	}
	if hf.Has("layer_types") {
		var types []string
		if err := hf.obj("layer_types", &types); err != nil {
			return err
		}
		if len(types) != m.NumLayers {
			return hf.configError("layer_types lists %d layers, num_hidden_layers is %d", len(types), m.NumLayers)
		}
		for i, t := range types {
			if t != "sliding_attention" && t != "full_attention" {
				return hf.unsupported("layer_types[%d] is %q", i, t)
			}
		}
		uses = func(i int) bool { return types[i] == "sliding_attention" }
	}
	all, even, none := true, true, true
	for i := range m.NumLayers {
		u := uses(i)
		all = all && u
		none = none && !u
		even = even && u == (i%2 == 0)
	}
	switch {
	case none:
	case all:
		m.SlidingWindow = w
	case even:
		m.SlidingWindow, m.SlidingWindowEven = w, true
	default:
		var on []string
		for i := range m.NumLayers {
			if uses(i) {
				on = append(on, fmt.Sprint(i))
			}
		}
		return hf.unsupported("the sliding window applies to layers %s only; only all layers or the even ones can be expressed",
			strings.Join(on, ","))
	}
	return nil
}

// partialRotary sets RopeDim from partial_rotary_factor, as transformers
// computes it (int(head_dim · factor)); a factor of 1 leaves it 0.
func partialRotary(hf *HFConfig, m *symb.ModelConfig) error {
	f, err := hf.Float("partial_rotary_factor", 1)
	if err != nil {
		return err
	}
	if !(f > 0 && f <= 1) {
		return hf.configError("partial_rotary_factor is %g, want 0 < f <= 1", f)
	}
	if f == 1 {
		return nil
	}
	d := int(float64(m.HeadDim) * f)
	if d < 2 || d%2 != 0 {
		return hf.configError("partial_rotary_factor %g gives %d rotary dimensions of head_dim %d, want an even number >= 2", f, d, m.HeadDim)
	}
	m.RopeDim = d
	return nil
}

// yarnMScale is YaRN's magnitude correction 0.1·m·ln(factor) + 1, 1 when
// the factor does not stretch the context (transformers' yarn_get_mscale).
func yarnMScale(factor, m float64) float64 {
	if factor <= 1 {
		return 1
	}
	return 0.1*m*math.Log(factor) + 1
}

// positive checks that a count read from config.json is in 1..max.
func (c *HFConfig) positive(key string, v, max int) error {
	if v < 1 || v > max {
		return c.configError("%s is %d, want 1..%d", key, v, max)
	}
	return nil
}

// unsupported reports a valid config.json value that this converter (or the
// .symb format) cannot represent, naming the file.
func (c *HFConfig) unsupported(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", c.Path, fmt.Sprintf(format, args...), ErrUnsupported)
}
