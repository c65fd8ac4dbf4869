package arch

import (
	"math"

	"github.com/symbc/symbc/symb"
)

// Gemma converts GemmaForCausalLM checkpoints: the Llama layout with
// RMSNorms that scale by (1 + w), embeddings multiplied by
// sqrt(hidden_size), a GeGLU MLP, tied embeddings and an explicit head_dim.
type Gemma struct{}

// Name implements Adapter.
func (Gemma) Name() string { return "gemma" }

// Config implements Adapter. Defaults are GemmaConfig's: head_dim 256,
// rms_norm_eps 1e-6, tied.
func (Gemma) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := gemmaCommon(hf)
	if err != nil {
		return m, err
	}
	m.AttentionBias, m.AttentionOutBias = hf.AttentionBias, hf.AttentionBias
	return m, nil
}

// gemmaCommon reads what Gemma and Gemma 2 share.
func gemmaCommon(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-6, tie: true, headDim: 256}.common(hf)
	if err != nil {
		return m, err
	}
	// GemmaMLP takes its activation from hidden_activation and ignores
	// hidden_act (early Gemma configs say "gelu" there, but the models were
	// trained with the tanh approximation); unset means gelu_pytorch_tanh.
	act := "gelu_pytorch_tanh"
	if hf.Has("hidden_activation") {
		if err := hf.obj("hidden_activation", &act); err != nil {
			return m, err
		}
	}
	if m.Activation, err = activation(hf, "hidden_activation", act); err != nil {
		return m, err
	}
	m.NormWeightOffset = 1
	// transformers rounds sqrt(hidden_size) to the compute dtype; float32
	// keeps the value a float32 reference uses.
	m.EmbeddingScale = float32(math.Sqrt(float64(m.HiddenSize)))
	return m, nil
}

// Tensors implements Adapter.
func (Gemma) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	return llamaLayout(c, func(int) []rename { return concat(normNames(), attnNames(c), mlpNames("mlp.")) })
}
