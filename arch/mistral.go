package arch

import "github.com/symbc/symbc/symb"

// Mistral converts MistralForCausalLM checkpoints: the Llama layout without
// biases, with a sliding attention window on every layer.
type Mistral struct{}

// Name implements Adapter.
func (Mistral) Name() string { return "mistral" }

// Config implements Adapter. Defaults are MistralConfig's: rms_norm_eps
// 1e-6, untied, sliding_window 4096 when the key is absent (null: none).
func (Mistral) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-6, rope: []string{"linear"}}.common(hf)
	if err != nil {
		return m, err
	}
	w, err := hf.window(4096)
	if err != nil {
		return m, err
	}
	return m, windowLayers(hf, &m, w, func(int) bool { return true })
}

// Tensors implements Adapter.
func (Mistral) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	return llamaLayout(c, func(int) []rename { return concat(normNames(), attnNames(c), mlpNames("mlp.")) })
}
