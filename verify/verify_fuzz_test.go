package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

// FuzzReadReference: any reference.safetensors gives an error naming the
// file, or a reference whose ids index its logits.
func FuzzReadReference(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "testdata", "models", "*", "reference.safetensors"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no reference seeds under testdata/models (%v)", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\x7f{}"))
	path := filepath.Join(f.TempDir(), "reference.safetensors")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ref, err := ReadReference(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if ref.Vocab < 1 || len(ref.InputIDs) < 1 || len(ref.Logits) != len(ref.InputIDs)*ref.Vocab {
			t.Fatalf("accepted %d ids, vocab %d, %d logits", len(ref.InputIDs), ref.Vocab, len(ref.Logits))
		}
		if (ref.PromptIDs == nil) != (ref.GreedyIDs == nil) {
			t.Fatal("accepted prompt_ids without greedy_ids or the reverse")
		}
		for _, ids := range [][]int{ref.InputIDs, ref.PromptIDs, ref.GreedyIDs} {
			for _, id := range ids {
				if id < 0 || id >= ref.Vocab {
					t.Fatalf("accepted id %d with vocab %d", id, ref.Vocab)
				}
			}
		}
	})
}

// FuzzExpectedTensors: a config.symb.json that symb.ReadConfig accepts
// implies a bounded list of tensors for Integrity to walk.
func FuzzExpectedTensors(f *testing.F) {
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
		if err := os.WriteFile(filepath.Join(dir, symb.ConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := symb.ReadConfig(dir)
		if err != nil {
			return
		}
		want, err := expectedTensors(&cfg.Model)
		if err != nil {
			t.Fatalf("accepted config is refused by the tensor walk: %v", err)
		}
		if int64(len(want)) > cfg.Model.TensorFiles() || len(want) > symb.MaxTensorFiles {
			t.Fatalf("%d tensors implied, bound says %d", len(want), cfg.Model.TensorFiles())
		}
		for _, w := range want {
			for _, d := range w.shape {
				if d < 0 {
					t.Fatalf("%s: negative dimension in %v", w.name, w.shape)
				}
			}
		}
	})
}
