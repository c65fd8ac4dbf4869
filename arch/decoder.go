package arch

import (
	"fmt"

	"github.com/symbc/symbc/symb"
)

// This file holds what the adapters share: mappings whose shape and role come
// from the format's tensor table (symb.ModelConfig.Spec), and name tables
// that map .symb layer tensors to checkpoint tensors copied unchanged. A
// family's adapter composes tables and adds mappings only for the tensors it
// must split, transpose or permute.

// maxLayers bounds the layer count an adapter will list, so that a hostile
// config cannot make Tensors allocate without limit.
const maxLayers = 1000

// maxExperts bounds the experts per layer for the same reason.
const maxExperts = 1 << 12

// Checkpoint names of the model-level tensors in the Llama layout, which
// every family here but DBRX uses.
const (
	hfEmbed  = "model.embed_tokens.weight"
	hfNorm   = "model.norm.weight"
	hfHead   = "lm_head.weight"
	hfLayers = "model.layers.%d."
)

// rename is one row of a name table: a .symb tensor name (relative to its
// layer, or to its expert) and the checkpoint tensor it is copied from
// (relative to the layer or expert prefix).
type rename struct{ symb, hf string }

// normNames are the two norms of a pre-norm decoder layer.
func normNames() []rename {
	return []rename{
		{symb.NormAttn, "input_layernorm.weight"},
		{symb.NormMLP, "post_attention_layernorm.weight"},
	}
}

// attnNames are the attention projections of a Llama-layout layer with the
// optional biases and per-head norms that c enables.
func attnNames(c symb.ModelConfig) []rename {
	t := []rename{
		{symb.AttnQ, "self_attn.q_proj.weight"},
		{symb.AttnK, "self_attn.k_proj.weight"},
		{symb.AttnV, "self_attn.v_proj.weight"},
		{symb.AttnO, "self_attn.o_proj.weight"},
	}
	if c.AttentionBias {
		t = append(t,
			rename{symb.AttnQBias, "self_attn.q_proj.bias"},
			rename{symb.AttnKBias, "self_attn.k_proj.bias"},
			rename{symb.AttnVBias, "self_attn.v_proj.bias"})
	}
	if c.AttentionOutBias {
		t = append(t, rename{symb.AttnOBias, "self_attn.o_proj.bias"})
	}
	if c.QKNorm {
		t = append(t,
			rename{symb.AttnQNorm, "self_attn.q_norm.weight"},
			rename{symb.AttnKNorm, "self_attn.k_norm.weight"})
	}
	return t
}

// mlpNames are the dense gated MLP under prefix ("mlp." in most families).
func mlpNames(prefix string) []rename {
	return []rename{
		{symb.MLPGate, prefix + "gate_proj.weight"},
		{symb.MLPUp, prefix + "up_proj.weight"},
		{symb.MLPDown, prefix + "down_proj.weight"},
	}
}

// sharedNames are DeepSeek-style shared experts, stored as one MLP.
func sharedNames(prefix string) []rename {
	return []rename{
		{symb.SharedGate, prefix + "gate_proj.weight"},
		{symb.SharedUp, prefix + "up_proj.weight"},
		{symb.SharedDown, prefix + "down_proj.weight"},
	}
}

// tableMapping is the mapping of the .symb tensor name, with the shape and
// role the config's tensor table (symb.ModelConfig.Spec) gives it, read from
// checkpoint tensor src through t (nil: copied unchanged). in is the shape of
// the source when it differs from the output (a fused or transposed tensor);
// nil means the same shape. A name the table does not list for this config
// is an error: the adapter and the format disagree.
func tableMapping(c symb.ModelConfig, name, src string, t Transform, in []int) (Mapping, error) {
	s, ok := c.Spec(name)
	if !ok {
		return Mapping{}, fmt.Errorf("tensor %q is not in the format's tensor table for this config: %w", name, ErrConfig)
	}
	if in == nil {
		in = s.Shape
	}
	return Mapping{Name: name, Role: s.Role, Shape: s.Shape,
		Sources: []Source{{Name: src, Shape: in}}, Transform: t}, nil
}

// layerMapping is tableMapping for tensor name of layer i.
func layerMapping(c symb.ModelConfig, i int, name, src string, t Transform, in []int) (Mapping, error) {
	return tableMapping(c, symb.LayerTensor(i, name), src, t, in)
}

// copyNames maps every row of table for layer i, each read unchanged from
// prefix + its checkpoint name.
func copyNames(c symb.ModelConfig, i int, prefix string, table []rename) ([]Mapping, error) {
	out := make([]Mapping, 0, len(table))
	for _, r := range table {
		m, err := layerMapping(c, i, r.symb, prefix+r.hf, nil, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// copyExperts maps the routed experts of layer i: for each expert e, every
// row of table read unchanged from prefix(e) + its checkpoint name.
func copyExperts(c symb.ModelConfig, i int, prefix func(e int) string, table []rename) ([]Mapping, error) {
	if c.MoE == nil {
		return nil, fmt.Errorf("layer %d: experts listed for a config without moe", i)
	}
	var out []Mapping
	for e := range c.MoE.NumExperts {
		for _, r := range table {
			m, err := tableMapping(c, symb.ExpertTensor(i, e, r.symb), prefix(e)+r.hf, nil, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// decoderTensors lists the model-level tensors (read from embed, norm and,
// when untied, head) and then, for each layer, what layer returns given the
// layer's index and checkpoint prefix (layerFmt formatted with the index).
func decoderTensors(c symb.ModelConfig, embed, norm, head, layerFmt string,
	layer func(i int, prefix string) ([]Mapping, error)) ([]Mapping, error) {
	if c.NumLayers < 1 || c.NumLayers > maxLayers {
		return nil, fmt.Errorf("%d layers (want 1..%d): %w", c.NumLayers, maxLayers, ErrConfig)
	}
	if e := c.MoE; e != nil && (e.NumExperts < 1 || e.NumExperts > maxExperts) {
		return nil, fmt.Errorf("%d experts (want 1..%d): %w", e.NumExperts, maxExperts, ErrConfig)
	}
	var ms []Mapping
	for _, t := range []struct{ name, src string }{{symb.Embeddings, embed}, {symb.FinalNorm, norm}, {symb.LMHead, head}} {
		if t.name == symb.LMHead && c.TieEmbeddings {
			continue
		}
		m, err := tableMapping(c, t.name, t.src, nil, nil)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	for i := range c.NumLayers {
		lm, err := layer(i, fmt.Sprintf(layerFmt, i))
		if err != nil {
			return nil, err
		}
		ms = append(ms, lm...)
	}
	return ms, nil
}

// llamaLayout is the tensor list of a dense Llama-layout model whose layers
// are exactly the tables given (norms, attention, MLP, optional tensors).
func llamaLayout(c symb.ModelConfig, tables func(i int) []rename) ([]Mapping, error) {
	return decoderTensors(c, hfEmbed, hfNorm, hfHead, hfLayers, func(i int, p string) ([]Mapping, error) {
		return copyNames(c, i, p, tables(i))
	})
}

// concat joins name tables.
func concat(ts ...[]rename) []rename {
	var out []rename
	for _, t := range ts {
		out = append(out, t...)
	}
	return out
}
