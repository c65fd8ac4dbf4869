package symb

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storiesConfig is config.symb.json as the converter writes it for
// testdata/models/stories260k.
const storiesConfig = `{"format": "symb", "format_version": "1.0", "architecture": "llama",
  "model": {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 172, "num_layers": 5,
    "num_heads": 8, "num_kv_heads": 4, "head_dim": 8, "max_position_embeddings": 512,
    "norm": "rmsnorm", "norm_eps": 0.00001, "activation": "silu", "rope_theta": 10000,
    "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_ids": [2]},
  "quantization": {"weights": "int4", "scheme": "sym", "group_size": 128, "method": "rtn", "embeddings": "int4", "norms": "f16"},
  "source": {"path": "testdata/models/stories260k", "architectures": ["LlamaForCausalLM"], "model_type": "llama", "dtype": "f32"},
  "tool": {"name": "symbc", "version": "(devel)"}}`

func configSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{[]byte(storiesConfig), []byte(`{}`), []byte(`null`), []byte(`{"format":"symb","format_version":"1.0","model":{"num_layers":1e9}}`)}
	moe := llamaConfig()
	moe.Format, moe.FormatVersion = "symb", "1.0"
	moe.Model.MoE = &MoE{NumExperts: 8, TopK: 2, ExpertIntermediate: 32, NumShared: 1, Router: "softmax_topk", FirstDenseLayers: 1}
	mla := llamaConfig()
	mla.Format, mla.FormatVersion = "symb", "1.0"
	mla.Model.MLA = &MLA{QLoraRank: 16, KVLoraRank: 16, QKNopeHeadDim: 8, QKRopeHeadDim: 4, VHeadDim: 8}
	for _, c := range []*Config{llamaConfig(), moe, mla} {
		if c.Format == "" {
			c.Format, c.FormatVersion = "symb", "1.0"
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzReadConfig: any config.symb.json gives an error or a config whose
// sizes every reader may trust: each bounded, and the number of tensor files
// it implies bounded, so walking them cannot allocate without limit.
func FuzzReadConfig(f *testing.F) {
	for _, s := range configSeeds(f) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := ReadConfig(dir)
		if err != nil {
			// Every error names the file it is about.
			if p := filepath.Join(dir, ConfigFile) + ": "; !strings.HasPrefix(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		m := c.Model
		if n := m.TensorFiles(); n > MaxTensorFiles || n < 0 {
			t.Fatalf("accepted config implies %d tensor files", n)
		}
		for _, v := range []int{m.VocabSize, m.HiddenSize, m.NumLayers, m.NumHeads, m.NumKVHeads, m.HeadDim} {
			if v < 1 || v > 1<<24 {
				t.Fatalf("accepted dimension %d", v)
			}
		}
		if m.NumHeads%m.NumKVHeads != 0 {
			t.Fatalf("accepted num_heads %d, num_kv_heads %d", m.NumHeads, m.NumKVHeads)
		}
		// What was accepted survives a write and a read.
		out := t.TempDir()
		if err := WriteConfig(out, c); err != nil {
			t.Fatalf("accepted config does not write: %v", err)
		}
		if _, err := ReadConfig(out); err != nil {
			t.Fatalf("written config does not read back: %v", err)
		}
	})
}

// manifestSeeds are manifests of a real folder (the stories260k test model)
// and hostile variants.
func manifestSeeds(t testing.TB) [][]byte {
	m, err := BuildManifest(context.Background(), filepath.Join("..", "testdata", "models", "stories260k"), 1)
	if err != nil {
		t.Fatal(err)
	}
	real, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const sum = `"0000000000000000000000000000000000000000000000000000000000000000"`
	return [][]byte{real,
		[]byte(`{"format":"symb-manifest","version":1,"files":[]}`),
		[]byte(`{"format":"symb-manifest","version":1,"files":[{"path":"../x","size":1,"sha256":` + sum + `}]}`),
		[]byte(`{"format":"symb-manifest","version":1,"files":[{"path":"a","size":-1,"sha256":` + sum + `}]}`),
		[]byte(`{"format":"symb-manifest","version":1,"files":[{"path":"a","size":1,"sha256":` + sum + `},{"path":"a","size":1,"sha256":` + sum + `}]}`),
		[]byte(`{"format":"symb-manifest","version":1,"files":[{"path":"/etc/passwd","size":1,"sha256":"zz"}]}`),
		[]byte(`{"format":"symb-manifest","version":2}`),
	}
}

// FuzzReadManifest: any manifest.json gives an error or a manifest whose
// entries are safe to join to the folder and compare.
func FuzzReadManifest(f *testing.F) {
	for _, s := range manifestSeeds(f) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error wraps no ErrCorrupt: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range m.Files {
			if err := CheckRelPath(e.Path); err != nil {
				t.Fatalf("accepted path %q: %v", e.Path, err)
			}
			if seen[e.Path] || Unlisted(e.Path) || e.Size < 0 || len(e.SHA256) != 64 {
				t.Fatalf("accepted entry %+v", e)
			}
			seen[e.Path] = true
		}
		// Checking the (nearly empty) folder reports problems, never fails
		// or looks outside it.
		if _, err := m.Check(context.Background(), dir, 1); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
}

// TestValidateBoundsTensorFiles: every field within its own range can still
// imply a table too large to build; Validate refuses that, and keeps the
// largest real mixture-of-experts shapes.
func TestValidateBoundsTensorFiles(t *testing.T) {
	t.Parallel()
	deep := llamaConfig()
	deep.Format, deep.FormatVersion = "symb", "1.0"
	deep.Model.NumLayers = 1 << 24
	if err := deep.Validate(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("num_layers 2^24: err = %v, want ErrCorrupt", err)
	}
	wide := llamaConfig()
	wide.Format, wide.FormatVersion = "symb", "1.0"
	wide.Model.MoE = &MoE{NumExperts: 1 << 16, TopK: 2, ExpertIntermediate: 8}
	if err := wide.Validate(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("65536 experts × 2 layers: err = %v, want ErrCorrupt", err)
	}
	// DeepSeek-V3 and Kimi-K2 sized: 61 layers of 256 and 384 experts.
	for _, experts := range []int{256, 384} {
		big := llamaConfig()
		big.Format, big.FormatVersion = "symb", "1.0"
		big.Model.NumLayers = 61
		big.Model.MoE = &MoE{NumExperts: experts, TopK: 8, ExpertIntermediate: 2048, NumShared: 1, FirstDenseLayers: 3}
		if err := big.Validate(); err != nil {
			t.Errorf("%d experts × 61 layers rejected: %v", experts, err)
		}
	}
}
