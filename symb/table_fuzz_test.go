package symb

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTensors: a config.symb.json that ReadConfig accepts
// implies a bounded list of tensors for checkers and loaders to walk.
func FuzzTensors(f *testing.F) {
	base := func(mut func(m map[string]any)) []byte {
		m := map[string]any{"vocab_size": 512, "hidden_size": 64, "intermediate_size": 172, "num_layers": 5,
			"num_heads": 8, "num_kv_heads": 4, "head_dim": 8, "tie_word_embeddings": true,
			"attention_bias": true, "qk_norm": true, "post_norms": true}
		mut(m)
		b, err := json.Marshal(map[string]any{"format": "symb", "format_version": "1.0", "model": m})
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(base(func(map[string]any) {}))
	f.Add(base(func(m map[string]any) {
		m["moe"] = map[string]any{"num_experts": 65536, "top_k": 2, "expert_intermediate_size": 16777216, "first_k_dense_replace": 1}
	}))
	f.Add(base(func(m map[string]any) {
		m["num_layers"] = 16777216
		m["hidden_size"] = 16777216
		m["vocab_size"] = 16777216
	}))
	f.Add(base(func(m map[string]any) {
		m["mla"] = map[string]any{"q_lora_rank": 16, "kv_lora_rank": 16, "qk_nope_head_dim": 16777216, "qk_rope_head_dim": 4, "v_head_dim": 8}
	}))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := ReadConfig(dir)
		if err != nil {
			return
		}
		want, err := cfg.Model.Tensors()
		if err != nil {
			t.Fatalf("accepted config is refused by the tensor table: %v", err)
		}
		if int64(len(want)) != cfg.Model.TensorFiles() || len(want) > MaxTensorFiles {
			t.Fatalf("%d tensors implied, TensorFiles says %d", len(want), cfg.Model.TensorFiles())
		}
		for _, w := range want {
			for _, d := range w.Shape {
				if d < 0 {
					t.Fatalf("%s: negative dimension in %v", w.Name, w.Shape)
				}
			}
		}
	})
}
