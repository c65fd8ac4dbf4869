package arch

import "github.com/symbc/symbc/symb"

// Qwen3 converts Qwen3ForCausalLM checkpoints: the Llama layout with a
// per-head RMSNorm on q and k (q_norm, k_norm, applied before RoPE) and an
// explicit head_dim that need not be hidden_size / heads.
type Qwen3 struct{}

// Name implements Adapter.
func (Qwen3) Name() string { return "qwen3" }

// Config implements Adapter. Defaults are Qwen3Config's: head_dim 128,
// rms_norm_eps 1e-6, untied, attention_bias false (it covers q, k, v and o).
func (Qwen3) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-6, headDim: 128, rope: []string{"linear", "yarn"}}.common(hf)
	if err != nil {
		return m, err
	}
	m.QKNorm = true
	m.AttentionBias, m.AttentionOutBias = hf.AttentionBias, hf.AttentionBias
	return m, qwenWindow(hf, &m)
}

// Tensors implements Adapter.
func (Qwen3) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	return llamaLayout(c, func(int) []rename { return concat(normNames(), attnNames(c), mlpNames("mlp.")) })
}
