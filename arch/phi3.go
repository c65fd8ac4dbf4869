package arch

import (
	"fmt"

	"github.com/symbc/symbc/symb"
)

// Phi3 converts Phi3ForCausalLM checkpoints (Phi-3, Phi-3.5, Phi-4-mini):
// the Llama layout with fused projections, qkv_proj rows [q | k | v] and
// gate_up_proj rows [gate | up], which are split into the standard tensors.
type Phi3 struct{}

// Name implements Adapter.
func (Phi3) Name() string { return "phi3" }

// Config implements Adapter. Defaults are Phi3Config's: rms_norm_eps 1e-5,
// untied, no sliding window. LongRoPE (the 128k variants) is refused by the
// rope_scaling check.
func (Phi3) Config(hf *HFConfig) (symb.ModelConfig, error) {
	m, err := defaults{eps: 1e-5}.common(hf)
	if err != nil {
		return m, err
	}
	if err := partialRotary(hf, &m); err != nil {
		return m, err
	}
	w, err := hf.window(0)
	if err != nil {
		return m, err
	}
	return m, windowLayers(hf, &m, w, func(int) bool { return true })
}

// Tensors implements Adapter.
func (Phi3) Tensors(c symb.ModelConfig) ([]Mapping, error) {
	h, f := c.HiddenSize, c.IntermediateSize
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	qkv, gateUp := []int{q + 2*kv, h}, []int{2 * f, h}
	// The row ranges of each part of the fused tensors.
	split := []struct {
		name, src string
		t         RowSlice
		in        []int
	}{
		{symb.AttnQ, "self_attn.qkv_proj.weight", RowSlice{0, q}, qkv},
		{symb.AttnK, "self_attn.qkv_proj.weight", RowSlice{q, kv}, qkv},
		{symb.AttnV, "self_attn.qkv_proj.weight", RowSlice{q + kv, kv}, qkv},
		{symb.MLPGate, "mlp.gate_up_proj.weight", RowSlice{0, f}, gateUp},
		{symb.MLPUp, "mlp.gate_up_proj.weight", RowSlice{f, f}, gateUp},
	}
	return decoderTensors(c, hfEmbed, hfNorm, hfHead, hfLayers, func(i int, p string) ([]Mapping, error) {
		ms, err := copyNames(c, i, p, concat(normNames(), []rename{
			{symb.AttnO, "self_attn.o_proj.weight"},
			{symb.MLPDown, "mlp.down_proj.weight"},
		}))
		if err != nil {
			return nil, err
		}
		for _, s := range split {
			m, err := layerMapping(c, i, s.name, p+s.src, s.t, s.in)
			if err != nil {
				return nil, fmt.Errorf("phi3: %w", err)
			}
			ms = append(ms, m)
		}
		return ms, nil
	})
}
