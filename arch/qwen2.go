package arch

import "github.com/symbc/symbc/symb"

// Qwen2 converts Qwen2ForCausalLM checkpoints (Qwen2, Qwen2.5): the Llama
// layout with biases on the q, k and v projections (not on o_proj).
type Qwen2 struct{}

// Name implements Adapter.
func (Qwen2) Name() string { return "qwen2" }

// Config implements Adapter. Defaults are Qwen2Config's: rms_norm_eps 1e-6,
// untied, no sliding window unless use_sliding_window.
func (Qwen2) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-6, rope: []string{"linear", "yarn"}}.common(hf)
	if err != nil {
		return m, err
	}
	m.AttentionBias = true // Qwen2Attention always has q/k/v biases
	return m, qwenWindow(hf, &m)
}

// Tensors implements Adapter.
func (Qwen2) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	return llamaLayout(c, func(int) []rename { return concat(normNames(), attnNames(c), mlpNames("mlp.")) })
}

// qwenWindow applies Qwen2/Qwen3's sliding-window rule: with
// use_sliding_window set, layers from max_window_layers on use the window
// and the ones below attend fully.
func qwenWindow(hf *HFConfig, m *symb.ModelConfig) error {
	use, err := hf.bool("use_sliding_window", false)
	if err != nil || !use {
		return err
	}
	w, err := hf.window(4096)
	if err != nil {
		return err
	}
	first, err := hf.Int("max_window_layers", 28)
	if err != nil {
		return err
	}
	return windowLayers(hf, m, w, func(i int) bool { return i >= first })
}
