package symb

import (
	"slices"
	"testing"
)

// tableConfig is a small model with every optional feature: untied, biases,
// q/k norms, post norms, and MoE from layer 1 with shared experts.
func tableConfig() ModelConfig {
	return ModelConfig{
		VocabSize: 40, HiddenSize: 32, IntermediateSize: 48, NumLayers: 3,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 8,
		AttentionBias: true, AttentionOutBias: true, QKNorm: true, PostNorms: true,
		MoE: &MoE{NumExperts: 2, TopK: 1, ExpertIntermediate: 16, NumShared: 2, FirstDenseLayers: 1},
	}
}

// TestTensorsShapes checks shapes and roles against FORMAT.md §4, written
// out by hand for tableConfig.
func TestTensorsShapes(t *testing.T) {
	t.Parallel()
	c := tableConfig()
	want := map[string]struct {
		shape []int
		role  Role
	}{
		"embeddings":                                  {[]int{40, 32}, RoleEmbedding},
		"final_norm":                                  {[]int{32}, RoleNorm},
		"lm_head":                                     {[]int{40, 32}, RoleLMHead},
		"layers/layer_00/attn_q":                      {[]int{32, 32}, RoleLinear},
		"layers/layer_00/attn_k":                      {[]int{16, 32}, RoleLinear},
		"layers/layer_00/attn_k_bias":                 {[]int{16}, RoleBias},
		"layers/layer_00/attn_o_bias":                 {[]int{32}, RoleBias},
		"layers/layer_00/attn_q_norm":                 {[]int{8}, RoleNorm},
		"layers/layer_00/norm_mlp_post":               {[]int{32}, RoleNorm},
		"layers/layer_00/mlp_down":                    {[]int{32, 48}, RoleLinear},
		"layers/layer_01/moe_router":                  {[]int{2, 32}, RoleRouter},
		"layers/layer_01/shared_mlp_gate":             {[]int{32, 32}, RoleLinear},
		"layers/layer_02/shared_mlp_down":             {[]int{32, 32}, RoleLinear},
		"layers/layer_02/experts/expert_001/mlp_down": {[]int{32, 16}, RoleLinear},
		"layers/layer_01/experts/expert_000/mlp_gate": {[]int{16, 32}, RoleLinear},
	}
	all, err := c.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	// 3 model-level; layer 0: 2 norms, 4 attention, 4 biases, 2 q/k norms,
	// 2 post norms, 3 MLP; layers 1, 2: the same without the MLP, plus the
	// router, 3 shared and 2·3 expert tensors.
	if n := 3 + 17 + 2*(14+1+3+6); len(all) != n || c.TensorFiles() != int64(n) {
		t.Errorf("%d tensors, TensorFiles %d, want %d", len(all), c.TensorFiles(), n)
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
		got, ok := c.Spec(s.Name)
		if !ok || !slices.Equal(got.Shape, s.Shape) || got.Role != s.Role {
			t.Errorf("Spec(%s) = %v %v, Tensors lists %v", s.Name, got, ok, s)
		}
		if w, ok := want[s.Name]; ok && (!slices.Equal(w.shape, s.Shape) || w.role != s.Role) {
			t.Errorf("%s: %v %v, want %v %v", s.Name, s.Shape, s.Role, w.shape, w.role)
		}
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("%s not listed", n)
		}
	}
	for _, n := range []string{
		"layers/layer_01/mlp_gate",                    // sparse layer: no dense MLP
		"layers/layer_00/moe_router",                  // dense layer
		"layers/layer_00/experts/expert_000/mlp_gate", // dense layer
		"layers/layer_01/experts/expert_002/mlp_gate", // only 2 experts
		"layers/layer_01/experts/expert_00/mlp_gate",  // not the folder's spelling
		"layers/layer_1/attn_q",                       // not the folder's spelling
		"layers/layer_03/attn_q",                      // only 3 layers
		"layers/layer_01/moe_router_bias",             // router_bias not set
		"layers/layer_00/attn_q_a",                    // no MLA
		"layers/layer_00",
		"lm_head.symb",
		"",
	} {
		if s, ok := c.Spec(n); ok {
			t.Errorf("Spec(%q) = %v, want not implied", n, s)
		}
	}
}

// TestRouterBiasPresence: moe_router_bias is present exactly when
// moe.router_bias says so (FORMAT.md §4), in every sparse layer. The
// integrity check once treated it as optional whatever the config said.
func TestRouterBiasPresence(t *testing.T) {
	t.Parallel()
	for _, bias := range []bool{false, true} {
		c := tableConfig()
		c.MoE.RouterBias = bias
		all, err := c.Tensors()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range all {
			if s.Name == LayerTensor(1, MoERouterBias) || s.Name == LayerTensor(2, MoERouterBias) || s.Name == LayerTensor(0, MoERouterBias) {
				got = append(got, s.Name)
				if !slices.Equal(s.Shape, []int{2}) || s.Role != RoleBias {
					t.Errorf("%s: %v %v", s.Name, s.Shape, s.Role)
				}
			}
		}
		want := 0
		if bias {
			want = 2
		}
		if len(got) != want {
			t.Errorf("router_bias %v: listed %v", bias, got)
		}
		if _, ok := c.Spec(LayerTensor(2, MoERouterBias)); ok != bias {
			t.Errorf("router_bias %v: Spec says present %v", bias, ok)
		}
		if c.TensorFiles() != int64(len(all)) {
			t.Errorf("router_bias %v: TensorFiles %d, listed %d", bias, c.TensorFiles(), len(all))
		}
	}
}

// TestTensorsMLA: latent attention replaces attn_q/k/v, and q_lora_rank 0
// keeps an uncompressed attn_q.
func TestTensorsMLA(t *testing.T) {
	t.Parallel()
	c := ModelConfig{VocabSize: 40, HiddenSize: 32, IntermediateSize: 48, NumLayers: 1, NumHeads: 4, NumKVHeads: 4, HeadDim: 8, TieEmbeddings: true,
		MLA: &MLA{QLoraRank: 24, KVLoraRank: 16, QKNopeHeadDim: 8, QKRopeHeadDim: 4, VHeadDim: 6}}
	names := func() map[string][]int {
		all, err := c.Tensors()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]int{}
		for _, s := range all {
			m[s.Name] = s.Shape
		}
		return m
	}
	l := func(n string) string { return LayerTensor(0, n) }
	got := names()
	for n, want := range map[string][]int{l(AttnQA): {24, 32}, l(AttnQANorm): {24}, l(AttnQB): {48, 24},
		l(AttnKVA): {20, 32}, l(AttnKVANorm): {16}, l(AttnKVB): {56, 16}, l(AttnO): {32, 24}} {
		if !slices.Equal(got[n], want) {
			t.Errorf("%s: %v, want %v", n, got[n], want)
		}
	}
	for _, n := range []string{l(AttnQ), l(AttnK), l(AttnV), LMHead} {
		if _, ok := got[n]; ok {
			t.Errorf("%s listed with latent attention", n)
		}
	}
	c.MLA.QLoraRank = 0
	got = names()
	if !slices.Equal(got[l(AttnQ)], []int{48, 32}) {
		t.Errorf("attn_q without q_lora_rank: %v", got[l(AttnQ)])
	}
	if _, ok := got[l(AttnQA)]; ok {
		t.Error("attn_q_a listed with q_lora_rank 0")
	}
}

func TestTensorsBounded(t *testing.T) {
	t.Parallel()
	c := tableConfig()
	c.NumLayers = 1 << 20
	if _, err := c.Tensors(); err == nil {
		t.Fatalf("%d tensor files listed without complaint", c.TensorFiles())
	}
}
