package arch

import (
	"fmt"

	"github.com/symbc/symbc/symb"
)

// Mixtral converts MixtralForCausalLM checkpoints: Mistral attention with
// a sparse mixture-of-experts MLP in every layer. The router takes a
// softmax over all experts, keeps the top k and renormalises them to sum 1.
type Mixtral struct{}

// Name implements Adapter.
func (Mixtral) Name() string { return "mixtral" }

// Config implements Adapter. Defaults are MixtralConfig's: rope_theta 1e6,
// rms_norm_eps 1e-5, 8 experts, top 2, no sliding window, untied.
func (Mixtral) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-5, theta: 1e6, rope: []string{"linear"}}.common(hf)
	if err != nil {
		return m, err
	}
	w, err := hf.window(0)
	if err != nil {
		return m, err
	}
	if err := windowLayers(hf, &m, w, func(int) bool { return true }); err != nil {
		return m, err
	}
	e, err := hf.Int("num_local_experts", 8)
	if err != nil {
		return m, err
	}
	k, err := hf.Int("num_experts_per_tok", 2)
	if err != nil {
		return m, err
	}
	if err := hf.positive("num_local_experts", e, maxExperts); err != nil {
		return m, err
	}
	if err := hf.positive("num_experts_per_tok", k, e); err != nil {
		return m, err
	}
	m.MoE = &symb.MoE{NumExperts: e, TopK: k, ExpertIntermediate: m.IntermediateSize, Router: "softmax_topk", NormTopK: true}
	return m, nil
}

// Tensors implements Adapter. Expert e of layer i is
// block_sparse_moe.experts.e.{w1 (gate), w3 (up), w2 (down)}.
func (Mixtral) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	experts := []rename{{symb.MLPGate, "w1.weight"}, {symb.MLPUp, "w3.weight"}, {symb.MLPDown, "w2.weight"}}
	return decoderTensors(c, hfEmbed, hfNorm, hfHead, hfLayers, func(i int, p string) ([]Mapping, error) {
		ms, err := copyNames(c, i, p, concat(normNames(), attnNames(c), []rename{{symb.MoERouter, "block_sparse_moe.gate.weight"}}))
		if err != nil {
			return nil, err
		}
		ex, err := copyExperts(c, i, func(e int) string { return fmt.Sprintf("%sblock_sparse_moe.experts.%d.", p, e) }, experts)
		return append(ms, ex...), err
	})
}
