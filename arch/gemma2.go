package arch

import (
	"math"

	"github.com/symbc/symbc/symb"
)

// Gemma2 converts Gemma2ForCausalLM checkpoints: Gemma plus a norm on the
// output of attention and of the MLP (before each residual add), attention
// scaled by query_pre_attn_scalar^-0.5, soft-capped attention scores and
// final logits, and a sliding window on the even layers.
type Gemma2 struct{}

// Name implements Adapter.
func (Gemma2) Name() string { return "gemma2" }

// Config implements Adapter. Defaults are Gemma2Config's:
// query_pre_attn_scalar 256, attn_logit_softcapping 50,
// final_logit_softcapping 30, sliding_window 4096 (null turns each off).
func (Gemma2) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := gemmaCommon(hf)
	if err != nil {
		return m, err
	}
	m.AttentionBias, m.AttentionOutBias = hf.AttentionBias, hf.AttentionBias
	m.PostNorms = true
	qs, err := hf.Float("query_pre_attn_scalar", 256)
	if err != nil {
		return m, err
	}
	if !(qs > 0) || math.IsInf(qs, 0) {
		return m, hf.configError("query_pre_attn_scalar is %g, want > 0", qs)
	}
	m.AttentionScale = 1 / math.Sqrt(qs)
	for _, f := range []struct {
		key string
		def float64
		dst *float64
	}{{"attn_logit_softcapping", 50, &m.AttentionSoftcap}, {"final_logit_softcapping", 30, &m.FinalSoftcap}} {
		v := f.def
		if _, ok := hf.Raw[f.key]; ok {
			if v, err = hf.Float(f.key, 0); err != nil {
				return m, err
			}
		}
		if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return m, hf.configError("%s is %g, want >= 0 or null", f.key, v)
		}
		*f.dst = v
	}
	w, err := hf.window(4096)
	if err != nil {
		return m, err
	}
	// Gemma2Attention gives even layers the window, odd ones full attention.
	return m, windowLayers(hf, &m, w, func(i int) bool { return i%2 == 0 })
}

// Tensors implements Adapter. Gemma 2's post_attention_layernorm is the
// norm on the attention output; the norm before the MLP is
// pre_feedforward_layernorm.
func (Gemma2) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	norms := []rename{
		{symb.NormAttn, "input_layernorm.weight"},
		{symb.NormAttnPost, "post_attention_layernorm.weight"},
		{symb.NormMLP, "pre_feedforward_layernorm.weight"},
		{symb.NormMLPPost, "post_feedforward_layernorm.weight"},
	}
	return llamaLayout(c, func(int) []rename { return concat(norms, attnNames(c), mlpNames("mlp.")) })
}
