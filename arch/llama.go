package arch

import "github.com/symbc/symbc/symb"

// Llama converts LlamaForCausalLM checkpoints: Llama 2, 3, 3.1 and 3.2
// (tied or untied embeddings, grouped-query attention, llama3 RoPE
// scaling), and Llama-layout models with attention biases.
type Llama struct{}

// Name implements Adapter.
func (Llama) Name() string { return "llama" }

// Config implements Adapter. Defaults are LlamaConfig's: rms_norm_eps 1e-6,
// tie_word_embeddings false.
func (Llama) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-6, rope: []string{"llama3", "linear"}}.common(hf)
	if err != nil {
		return m, err
	}
	if m.Activation != "silu" {
		return m, hf.configError("hidden_act %q: the llama architecture supports only silu", hf.HiddenAct)
	}
	if hf.MLPBias {
		return m, hf.configError("mlp_bias is true: MLP biases are not supported")
	}
	// LlamaAttention gives o_proj the same bias flag as q, k and v.
	m.AttentionBias, m.AttentionOutBias = hf.AttentionBias, hf.AttentionBias
	return m, nil
}

// Tensors implements Adapter.
func (Llama) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	return llamaLayout(c, func(int) []rename { return concat(normNames(), attnNames(c), mlpNames("mlp.")) })
}
