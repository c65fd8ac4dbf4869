package symb

import (
	"fmt"
	"strconv"
	"strings"
)

// This file is the tensor table of FORMAT.md §4 in code: for a ModelConfig,
// which tensor files exist, with which shape and role. The converter's
// adapters, the integrity check and the runtime loader all read it from here,
// so a presence or shape rule is written once.

// Role classifies a tensor by what the model does with it. The converter
// picks a tensor's storage type from its role (quantize.Policy.For).
type Role uint8

// Roles of the tensors in a model folder.
const (
	RoleLinear    Role = iota // projection weights of attention and MLP blocks (and experts)
	RoleEmbedding             // token embedding table
	RoleLMHead                // output projection to the vocabulary
	RoleNorm                  // normalisation weights (RMSNorm/LayerNorm gains)
	RoleRouter                // MoE router / gate that scores experts
	RoleBias                  // bias vectors
	RoleOther                 // anything else (convolutions, position tables, ...)
)

// String returns a lower-case name for logs.
func (r Role) String() string {
	switch r {
	case RoleLinear:
		return "linear"
	case RoleEmbedding:
		return "embedding"
	case RoleLMHead:
		return "lm_head"
	case RoleNorm:
		return "norm"
	case RoleRouter:
		return "router"
	case RoleBias:
		return "bias"
	case RoleOther:
		return "other"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// TensorSpec is one tensor file that a ModelConfig implies.
type TensorSpec struct {
	Name  string // folder-relative name, e.g. "layers/layer_03/attn_q"
	Shape []int
	Role  Role
	// Dims is the shape in the config's terms ("num_kv_heads·head_dim ×
	// hidden_size"), for messages that explain a mismatch.
	Dims string
}

// row is one line of the table: a tensor relative to its layer (or expert)
// folder, present for the config it was built from.
type row struct {
	name  string
	shape []int
	role  Role
	dims  string
}

// modelRows are the model-level tensors.
func (m *ModelConfig) modelRows() []row {
	H, V := m.HiddenSize, m.VocabSize
	rs := []row{
		{Embeddings, []int{V, H}, RoleEmbedding, "vocab_size × hidden_size"},
		{FinalNorm, []int{H}, RoleNorm, "hidden_size"},
	}
	if !m.TieEmbeddings {
		rs = append(rs, row{LMHead, []int{V, H}, RoleLMHead, "vocab_size × hidden_size"})
	}
	return rs
}

// SparseLayer reports whether layer i has routed experts instead of a dense MLP.
func (m *ModelConfig) SparseLayer(i int) bool {
	return m.MoE != nil && i >= m.MoE.FirstDenseLayers
}

// layerRows are the tensors of layer i (not its experts), in FORMAT.md order.
func (m *ModelConfig) layerRows(i int) []row {
	H, I := m.HiddenSize, m.IntermediateSize
	nh, nkv, hd := m.NumHeads, m.NumKVHeads, m.HeadDim
	var rs []row
	r := func(name string, role Role, dims string, shape ...int) {
		rs = append(rs, row{name, shape, role, dims})
	}
	r(NormAttn, RoleNorm, "hidden_size", H)
	r(NormMLP, RoleNorm, "hidden_size", H)
	if a := m.MLA; a != nil {
		qk := a.QKNopeHeadDim + a.QKRopeHeadDim
		if a.QLoraRank > 0 {
			r(AttnQA, RoleLinear, "q_lora_rank × hidden_size", a.QLoraRank, H)
			r(AttnQANorm, RoleNorm, "q_lora_rank", a.QLoraRank)
			r(AttnQB, RoleLinear, "num_heads·(qk_nope_head_dim+qk_rope_head_dim) × q_lora_rank", nh*qk, a.QLoraRank)
		} else {
			r(AttnQ, RoleLinear, "num_heads·(qk_nope_head_dim+qk_rope_head_dim) × hidden_size", nh*qk, H)
		}
		r(AttnKVA, RoleLinear, "(kv_lora_rank+qk_rope_head_dim) × hidden_size", a.KVLoraRank+a.QKRopeHeadDim, H)
		r(AttnKVANorm, RoleNorm, "kv_lora_rank", a.KVLoraRank)
		r(AttnKVB, RoleLinear, "num_heads·(qk_nope_head_dim+v_head_dim) × kv_lora_rank", nh*(a.QKNopeHeadDim+a.VHeadDim), a.KVLoraRank)
		r(AttnO, RoleLinear, "hidden_size × num_heads·v_head_dim", H, nh*a.VHeadDim)
	} else {
		r(AttnQ, RoleLinear, "num_heads·head_dim × hidden_size", nh*hd, H)
		r(AttnK, RoleLinear, "num_kv_heads·head_dim × hidden_size", nkv*hd, H)
		r(AttnV, RoleLinear, "num_kv_heads·head_dim × hidden_size", nkv*hd, H)
		r(AttnO, RoleLinear, "hidden_size × num_heads·head_dim", H, nh*hd)
	}
	if m.AttentionBias {
		r(AttnQBias, RoleBias, "num_heads·head_dim", nh*hd)
		r(AttnKBias, RoleBias, "num_kv_heads·head_dim", nkv*hd)
		r(AttnVBias, RoleBias, "num_kv_heads·head_dim", nkv*hd)
	}
	if m.AttentionOutBias {
		r(AttnOBias, RoleBias, "hidden_size", H)
	}
	if m.QKNorm {
		r(AttnQNorm, RoleNorm, "head_dim", hd)
		r(AttnKNorm, RoleNorm, "head_dim", hd)
	}
	if m.PostNorms {
		r(NormAttnPost, RoleNorm, "hidden_size", H)
		r(NormMLPPost, RoleNorm, "hidden_size", H)
	}
	if !m.SparseLayer(i) {
		r(MLPGate, RoleLinear, "intermediate_size × hidden_size", I, H)
		r(MLPUp, RoleLinear, "intermediate_size × hidden_size", I, H)
		r(MLPDown, RoleLinear, "hidden_size × intermediate_size", H, I)
		return rs
	}
	e := m.MoE
	r(MoERouter, RoleRouter, "num_experts × hidden_size", e.NumExperts, H)
	if e.RouterBias {
		r(MoERouterBias, RoleBias, "num_experts", e.NumExperts)
	}
	if e.NumShared > 0 {
		S := e.NumShared * e.ExpertIntermediate
		r(SharedGate, RoleLinear, "num_shared_experts·expert_intermediate_size × hidden_size", S, H)
		r(SharedUp, RoleLinear, "num_shared_experts·expert_intermediate_size × hidden_size", S, H)
		r(SharedDown, RoleLinear, "hidden_size × num_shared_experts·expert_intermediate_size", H, S)
	}
	return rs
}

// expertRows are the tensors of every routed expert of a sparse layer.
func (m *ModelConfig) expertRows() []row {
	H, Ie := m.HiddenSize, m.MoE.ExpertIntermediate
	return []row{
		{MLPGate, []int{Ie, H}, RoleLinear, "expert_intermediate_size × hidden_size"},
		{MLPUp, []int{Ie, H}, RoleLinear, "expert_intermediate_size × hidden_size"},
		{MLPDown, []int{H, Ie}, RoleLinear, "hidden_size × expert_intermediate_size"},
	}
}

func (r row) spec(name string) TensorSpec {
	return TensorSpec{Name: name, Shape: r.shape, Role: r.role, Dims: r.dims}
}

// Tensors lists every tensor file the config implies (FORMAT.md §4): the
// model-level tensors, then layer by layer its tensors followed by its
// experts'. It refuses a config implying more than MaxTensorFiles, so a
// config that did not come through ReadConfig is bounded the same way.
func (m *ModelConfig) Tensors() ([]TensorSpec, error) {
	if n := m.TensorFiles(); n > MaxTensorFiles {
		return nil, fmt.Errorf("model implies about %d tensor files, more than %d: %w", n, MaxTensorFiles, ErrCorrupt)
	}
	var out []TensorSpec
	for _, r := range m.modelRows() {
		out = append(out, r.spec(r.name))
	}
	for i := range m.NumLayers {
		for _, r := range m.layerRows(i) {
			out = append(out, r.spec(LayerTensor(i, r.name)))
		}
		if !m.SparseLayer(i) {
			continue
		}
		ex := m.expertRows()
		for e := range m.MoE.NumExperts {
			for _, r := range ex {
				out = append(out, r.spec(ExpertTensor(i, e, r.name)))
			}
		}
	}
	return out, nil
}

// Spec returns the shape and role of the tensor called name ("final_norm",
// "layers/layer_03/attn_q", "layers/layer_03/experts/expert_007/mlp_up"),
// and false when the config does not imply that tensor.
func (m *ModelConfig) Spec(name string) (TensorSpec, bool) {
	rest, ok := strings.CutPrefix(name, "layers/layer_")
	if !ok {
		for _, r := range m.modelRows() {
			if r.name == name {
				return r.spec(name), true
			}
		}
		return TensorSpec{}, false
	}
	num, rest, ok := strings.Cut(rest, "/")
	i, err := strconv.Atoi(num)
	if !ok || err != nil || i < 0 || i >= m.NumLayers {
		return TensorSpec{}, false
	}
	var rows []row
	full := func(base string) string { return LayerTensor(i, base) }
	if x, ok := strings.CutPrefix(rest, "experts/expert_"); !ok {
		rows = m.layerRows(i)
	} else {
		if !m.SparseLayer(i) {
			return TensorSpec{}, false
		}
		num, rest, _ = strings.Cut(x, "/")
		e, err := strconv.Atoi(num)
		if err != nil || e < 0 || e >= m.MoE.NumExperts {
			return TensorSpec{}, false
		}
		rows, full = m.expertRows(), func(base string) string { return ExpertTensor(i, e, base) }
	}
	for _, r := range rows {
		// Comparing the whole name rejects spellings that parse to the same
		// indices ("layer_3", "expert_+07").
		if r.name == rest && full(r.name) == name {
			return r.spec(name), true
		}
	}
	return TensorSpec{}, false
}

// MaxTensorFiles bounds the tensor files a config may imply. The largest
// open mixture-of-experts models need under a hundred thousand.
const MaxTensorFiles = 1 << 18

// TensorFiles counts the tensor files the config implies, computed from the
// table without listing them and without overflow for any field values.
func (m *ModelConfig) TensorFiles() int64 {
	layers := int64(max(m.NumLayers, 0))
	n := int64(len(m.modelRows()))
	if m.MoE == nil {
		return n + layers*int64(len(m.layerRows(0)))
	}
	dense := min(int64(max(m.MoE.FirstDenseLayers, 0)), layers)
	sparse := layers - dense
	n += dense * int64(len(m.layerRows(0)))
	perSparse := int64(len(m.layerRows(m.MoE.FirstDenseLayers))) + 3*int64(max(m.MoE.NumExperts, 0))
	return n + sparse*perSparse
}
