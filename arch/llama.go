package arch

import (
	"fmt"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// Llama converts LlamaForCausalLM checkpoints: Llama 2, 3, 3.1 and 3.2
// (tied or untied embeddings, grouped-query attention, llama3 RoPE
// scaling), and Llama-layout models with attention biases.
type Llama struct{}

// Name implements Adapter.
func (Llama) Name() string { return "llama" }

// Config implements Adapter. Defaults are LlamaConfig's: rms_norm_eps 1e-6,
// tie_word_embeddings false.
func (Llama) Config(hf *HFConfig) (symb.ModelConfig, error) {
	if err := checkQuantization(hf); err != nil {
		return symb.ModelConfig{}, err
	}
	m, err := hf.Common(1e-6)
	if err != nil {
		return m, err
	}
	if hf.HiddenAct != "" && hf.HiddenAct != "silu" {
		return m, hf.configError("hidden_act %q: the llama architecture supports only silu", hf.HiddenAct)
	}
	if hf.MLPBias {
		return m, hf.configError("mlp_bias is true: MLP biases are not supported")
	}
	m.RopeScaling, err = hf.Rope("llama3", "linear")
	if err != nil {
		return m, err
	}
	m.Norm = "rmsnorm"
	m.Activation = "silu"
	m.TieEmbeddings = hf.TieWordEmbeddings != nil && *hf.TieWordEmbeddings
	m.AttentionBias = hf.AttentionBias
	m.AttentionOutBias = hf.AttentionBias // LlamaAttention gives o_proj the same bias flag
	return m, nil
}

// Tensors implements Adapter.
func (Llama) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	if c.NumLayers > 1000 {
		return nil, fmt.Errorf("%d layers: %w", c.NumLayers, ErrConfig)
	}
	d, f, v := c.HiddenSize, c.IntermediateSize, c.VocabSize
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	ms := []Mapping{
		same(symb.Embeddings, quantize.RoleEmbedding, "model.embed_tokens.weight", v, d),
		same(symb.FinalNorm, quantize.RoleNorm, "model.norm.weight", d),
	}
	if !c.TieEmbeddings {
		ms = append(ms, same(symb.LMHead, quantize.RoleLMHead, "lm_head.weight", v, d))
	}
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		ms = append(ms,
			same(symb.LayerTensor(i, symb.NormAttn), quantize.RoleNorm, p+"input_layernorm.weight", d),
			same(symb.LayerTensor(i, symb.AttnQ), quantize.RoleLinear, p+"self_attn.q_proj.weight", q, d),
			same(symb.LayerTensor(i, symb.AttnK), quantize.RoleLinear, p+"self_attn.k_proj.weight", kv, d),
			same(symb.LayerTensor(i, symb.AttnV), quantize.RoleLinear, p+"self_attn.v_proj.weight", kv, d),
			same(symb.LayerTensor(i, symb.AttnO), quantize.RoleLinear, p+"self_attn.o_proj.weight", d, q),
			same(symb.LayerTensor(i, symb.NormMLP), quantize.RoleNorm, p+"post_attention_layernorm.weight", d),
			same(symb.LayerTensor(i, symb.MLPGate), quantize.RoleLinear, p+"mlp.gate_proj.weight", f, d),
			same(symb.LayerTensor(i, symb.MLPUp), quantize.RoleLinear, p+"mlp.up_proj.weight", f, d),
			same(symb.LayerTensor(i, symb.MLPDown), quantize.RoleLinear, p+"mlp.down_proj.weight", d, f),
		)
		if c.AttentionBias {
			ms = append(ms,
				same(symb.LayerTensor(i, symb.AttnQBias), quantize.RoleBias, p+"self_attn.q_proj.bias", q),
				same(symb.LayerTensor(i, symb.AttnKBias), quantize.RoleBias, p+"self_attn.k_proj.bias", kv),
				same(symb.LayerTensor(i, symb.AttnVBias), quantize.RoleBias, p+"self_attn.v_proj.bias", kv),
			)
		}
		if c.AttentionOutBias {
			ms = append(ms, same(symb.LayerTensor(i, symb.AttnOBias), quantize.RoleBias, p+"self_attn.o_proj.bias", d))
		}
	}
	return ms, nil
}

// same is a mapping that copies one source tensor unchanged.
func same(name string, role quantize.Role, src string, shape ...int) Mapping {
	return Mapping{Name: name, Role: role, Shape: shape, Sources: []Source{{Name: src, Shape: shape}}}
}
