package symb

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// Ext is the file extension of a tensor file.
const Ext = ".symb"

// Names of model-level tensors (FORMAT.md §4). A tensor's name is its path in
// the model folder, with forward slashes and without the extension.
const (
	Embeddings = "embeddings"
	FinalNorm  = "final_norm"
	LMHead     = "lm_head" // only when embeddings are not tied
)

// Names of per-layer tensors, relative to layers/layer_NN/.
const (
	AttnQ    = "attn_q"
	AttnK    = "attn_k"
	AttnV    = "attn_v"
	AttnO    = "attn_o"
	MLPGate  = "mlp_gate"
	MLPUp    = "mlp_up"
	MLPDown  = "mlp_down"
	NormAttn = "norm_attn" // before attention
	NormMLP  = "norm_mlp"  // before the MLP

	AttnQBias    = "attn_q_bias"
	AttnKBias    = "attn_k_bias"
	AttnVBias    = "attn_v_bias"
	AttnOBias    = "attn_o_bias"
	AttnQNorm    = "attn_q_norm"    // per-head RMSNorm on q, [head_dim]
	AttnKNorm    = "attn_k_norm"    // per-head RMSNorm on k, [head_dim]
	NormAttnPost = "norm_attn_post" // on the attention output, before the residual add
	NormMLPPost  = "norm_mlp_post"  // on the MLP output, before the residual add

	// Mixture of experts: the router, its selection bias, and shared experts.
	MoERouter     = "moe_router"      // [num_experts, hidden]
	MoERouterBias = "moe_router_bias" // [num_experts], added for selection only
	SharedGate    = "shared_mlp_gate"
	SharedUp      = "shared_mlp_up"
	SharedDown    = "shared_mlp_down"

	// Multi-head latent attention (replaces attn_q/attn_k/attn_v).
	AttnQA      = "attn_q_a"       // [q_lora_rank, hidden]
	AttnQANorm  = "attn_q_a_norm"  // [q_lora_rank]
	AttnQB      = "attn_q_b"       // [heads·(nope+rope), q_lora_rank]
	AttnKVA     = "attn_kv_a"      // [kv_lora_rank+rope, hidden]
	AttnKVANorm = "attn_kv_a_norm" // [kv_lora_rank]
	AttnKVB     = "attn_kv_b"      // [heads·(nope+v), kv_lora_rank]
)

// LayerTensor names a tensor of layer i: "layers/layer_03/attn_q".
func LayerTensor(i int, name string) string {
	return fmt.Sprintf("layers/layer_%02d/%s", i, name)
}

// ExpertTensor names a tensor of expert e in layer i:
// "layers/layer_03/experts/expert_007/mlp_gate" (name is mlp_gate, mlp_up or mlp_down).
func ExpertTensor(i, e int, name string) string {
	return fmt.Sprintf("layers/layer_%02d/experts/expert_%03d/%s", i, e, name)
}

// TensorPath is the file that holds tensor name inside the model folder dir.
func TensorPath(dir, name string) string {
	return filepath.Join(dir, filepath.FromSlash(name)+Ext)
}

// CheckRelPath rejects a folder-relative path that could escape its folder:
// empty, absolute, containing "..", backslashes or a drive letter.
func CheckRelPath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.Contains(p, ":"):
		return fmt.Errorf("path %q is absolute or not a plain relative path", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("path %q has a %q component", p, part)
		}
	}
	return nil
}
