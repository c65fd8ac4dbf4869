package verify

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

// tinyConfig is a small untied Llama-style model: H 32, I 48, 4 heads of 8,
// 2 kv heads, 2 layers, vocab 40.
func tinyConfig() *symb.Config {
	return &symb.Config{
		Architecture: "llama",
		Model: symb.ModelConfig{
			VocabSize: 40, HiddenSize: 32, IntermediateSize: 48, NumLayers: 2,
			NumHeads: 4, NumKVHeads: 2, HeadDim: 8, MaxPositions: 64,
			Norm: "rmsnorm", NormEps: 1e-5, Activation: "silu", RopeTheta: 10000,
		},
		Quantization: symb.Quantization{Weights: "int4", Scheme: "sym", GroupSize: 32, Method: "rtn", Embeddings: "f16", LMHead: "int8", Norms: "f32"},
		Tool:         symb.Tool{Name: "symbc", Version: "test"},
	}
}

// tensorSpec is a tensor to write: written by hand in each test (never derived
// from expectedTensors, which is what is under test).
type tensorSpec struct {
	name  string
	shape []int
}

// llamaTensors lists the tensors of tinyConfig, by hand from FORMAT.md §4.
func llamaTensors(layers int) []tensorSpec {
	ts := []tensorSpec{{"embeddings", []int{40, 32}}, {"final_norm", []int{32}}, {"lm_head", []int{40, 32}}}
	for i := range layers {
		p := symb.LayerTensor(i, "")
		ts = append(ts,
			tensorSpec{p + "norm_attn", []int{32}}, tensorSpec{p + "norm_mlp", []int{32}},
			tensorSpec{p + "attn_q", []int{32, 32}}, tensorSpec{p + "attn_k", []int{16, 32}},
			tensorSpec{p + "attn_v", []int{16, 32}}, tensorSpec{p + "attn_o", []int{32, 32}},
			tensorSpec{p + "mlp_gate", []int{48, 32}}, tensorSpec{p + "mlp_up", []int{48, 32}},
			tensorSpec{p + "mlp_down", []int{32, 48}},
		)
	}
	return ts
}

// writeTensor writes a tensor of random content: f32 for vectors, f16 for
// embeddings, int4 sym (random codes, finite scales) for matrices.
func writeTensor(t *testing.T, rng *rand.Rand, dir string, ts tensorSpec) {
	t.Helper()
	info := symb.Info{DType: symb.INT4, Scheme: symb.SchemeSym, GroupSize: 32, Shape: ts.shape}
	switch {
	case len(ts.shape) == 1:
		info = symb.Info{DType: symb.F32, Shape: ts.shape}
	case ts.name == symb.Embeddings:
		info = symb.Info{DType: symb.F16, Shape: ts.shape}
	}
	d, s, m, err := info.SectionSizes()
	if err != nil {
		t.Fatal(err)
	}
	tn := &symb.Tensor{Info: info, Data: make([]byte, d)}
	for i := range tn.Data {
		tn.Data[i] = byte(rng.Uint32())
	}
	if info.DType == symb.F32 {
		for i := 0; i < len(tn.Data); i += 4 {
			binary.LittleEndian.PutUint32(tn.Data[i:], 0x3f800000) // 1.0: finite
		}
	}
	if info.DType == symb.F16 {
		for i := 0; i < len(tn.Data); i += 2 {
			tn.Data[i+1] &= 0x3b // keep the exponent below all-ones
		}
	}
	if s > 0 {
		tn.Scales = make([]byte, s)
		for i := 0; i < len(tn.Scales); i += 2 {
			binary.LittleEndian.PutUint16(tn.Scales[i:], 0x2000+uint16(rng.IntN(0x800))) // small positive f16
		}
	}
	if m > 0 {
		tn.Mins = make([]byte, m)
	}
	p := symb.TensorPath(dir, ts.name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteFile(p, tn); err != nil {
		t.Fatal(err)
	}
}

// buildModel writes a complete, valid model folder and returns it.
func buildModel(t *testing.T, cfg *symb.Config, tensors []tensorSpec) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(len(tensors)), 99))
	for _, ts := range tensors {
		writeTensor(t, rng, dir, ts)
	}
	if err := symb.WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "tokenizer"), 0o755)
	os.WriteFile(filepath.Join(dir, "tokenizer", "tokenizer.json"), []byte(`{"model":{}}`), 0o644)
	remanifest(t, dir)
	return dir
}

// remanifest rewrites manifest.json for the folder as it is now, so that a
// test can check what the other layers catch on their own.
func remanifest(t *testing.T, dir string) {
	t.Helper()
	m, err := symb.BuildManifest(context.Background(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

func integrity(t *testing.T, dir string) *IntegrityReport {
	t.Helper()
	rep, err := Integrity(context.Background(), dir, WithJobs(2))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantProblems asserts that the report fails and lists, for each file, a
// problem containing the text given, and nothing about any other file.
func wantProblems(t *testing.T, rep *IntegrityReport, want map[string][]string) {
	t.Helper()
	if rep.Pass {
		t.Fatal("report passes")
	}
	byFile := map[string][]string{}
	for _, p := range rep.Problems {
		byFile[p.File] = append(byFile[p.File], p.Problem)
	}
	for file, texts := range want {
		for _, text := range texts {
			found := false
			for _, msg := range byFile[file] {
				found = found || strings.Contains(msg, text)
			}
			if !found {
				t.Errorf("no problem for %s containing %q; problems: %v", file, text, rep.Problems)
			}
		}
	}
	for file := range byFile {
		if _, ok := want[file]; !ok {
			t.Errorf("unexpected problem for %s: %v", file, byFile[file])
		}
	}
}

func TestIntegrityCleanFolder(t *testing.T) {
	dir := buildModel(t, tinyConfig(), llamaTensors(2))
	rep := integrity(t, dir)
	if !rep.Pass || len(rep.Problems) != 0 {
		t.Fatalf("clean folder: %v", rep.Problems)
	}
	if rep.Tensors != 21 || rep.Files != 23 || rep.Bytes <= 0 {
		t.Errorf("tensors %d files %d bytes %d, want 21 tensors, 23 files", rep.Tensors, rep.Files, rep.Bytes)
	}
}

func TestIntegrityFindsDamage(t *testing.T) {
	swap := func(dir, a, b string) {
		pa, pb := symb.TensorPath(dir, a), symb.TensorPath(dir, b)
		os.Rename(pa, pa+".x")
		os.Rename(pb, pa)
		os.Rename(pa+".x", pb)
	}
	l0, l1 := func(n string) string { return symb.LayerTensor(0, n) }, func(n string) string { return symb.LayerTensor(1, n) }
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   map[string][]string
	}{
		{"flipped byte", func(t *testing.T, dir string) {
			p := symb.TensorPath(dir, l1("mlp_down"))
			b, _ := os.ReadFile(p)
			b[200] ^= 0x10
			os.WriteFile(p, b, 0o644)
		}, map[string][]string{l1("mlp_down") + ".symb": {"sha256"}}},
		{"truncated file", func(t *testing.T, dir string) {
			p := symb.TensorPath(dir, l0("attn_v"))
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-10)
		}, map[string][]string{l0("attn_v") + ".symb": {"size", "corrupt"}}},
		{"missing layer", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "layers", "layer_01"))
		}, func() map[string][]string {
			w := map[string][]string{}
			for _, ts := range llamaTensors(2)[12:] {
				w[ts.name+".symb"] = []string{"missing"}
			}
			return w
		}()},
		{"attn_q and mlp_up swapped", func(t *testing.T, dir string) { swap(dir, l0("attn_q"), l0("mlp_up")) },
			map[string][]string{
				l0("attn_q") + ".symb": {"size", "shape [48 32], config implies [32 32]"},
				l0("mlp_up") + ".symb": {"size", "shape [32 32], config implies [48 32]"},
			}},
		// Same shape: only the digests can tell.
		{"attn_k and attn_v swapped", func(t *testing.T, dir string) { swap(dir, l1("attn_k"), l1("attn_v")) },
			map[string][]string{l1("attn_k") + ".symb": {"sha256"}, l1("attn_v") + ".symb": {"sha256"}}},
		{"extra file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "tokenizer", "extra.txt"), []byte("x"), 0o644)
		}, map[string][]string{"tokenizer/extra.txt": {"not in the manifest"}}},
		{"manifest missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, symb.ManifestFile)) },
			map[string][]string{symb.ManifestFile: {"missing"}}},
		{"manifest with hostile path", func(t *testing.T, dir string) {
			p := filepath.Join(dir, symb.ManifestFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"config.symb.json"`, `"../config.symb.json"`, 1)), 0o644)
		}, map[string][]string{symb.ManifestFile: {"corrupt", "../config.symb.json"}}},
		{"config missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, symb.ConfigFile))
			remanifest(t, dir)
		}, map[string][]string{symb.ConfigFile: {"missing"}}},
		{"config invalid", func(t *testing.T, dir string) {
			c := tinyConfig()
			c.Model.NumKVHeads = 3
			b, _ := os.ReadFile(filepath.Join(dir, symb.ConfigFile))
			os.WriteFile(filepath.Join(dir, symb.ConfigFile), []byte(strings.Replace(string(b), `"num_kv_heads": 2`, `"num_kv_heads": 3`, 1)), 0o644)
			remanifest(t, dir)
		}, map[string][]string{symb.ConfigFile: {"num_kv_heads 3"}}},
		{"config disagrees with tensors", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, symb.ConfigFile))
			os.WriteFile(filepath.Join(dir, symb.ConfigFile), []byte(strings.Replace(string(b), `"intermediate_size": 48`, `"intermediate_size": 64`, 1)), 0o644)
			remanifest(t, dir)
		}, map[string][]string{
			l0("mlp_gate") + ".symb": {"intermediate_size × hidden_size"}, l0("mlp_up") + ".symb": {"[64 32]"}, l0("mlp_down") + ".symb": {"[32 64]"},
			l1("mlp_gate") + ".symb": {"[64 32]"}, l1("mlp_up") + ".symb": {"[64 32]"}, l1("mlp_down") + ".symb": {"[32 64]"},
		}},
		{"tied config with an lm_head file", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, symb.ConfigFile))
			os.WriteFile(filepath.Join(dir, symb.ConfigFile), []byte(strings.Replace(string(b), `"tie_word_embeddings": false`, `"tie_word_embeddings": true`, 1)), 0o644)
			remanifest(t, dir)
		}, map[string][]string{"lm_head.symb": {"does not imply"}}},
		{"non-finite scale", func(t *testing.T, dir string) {
			p := symb.TensorPath(dir, l0("attn_o"))
			f, err := symb.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			off := f.ScalesOffset + 2*(1*1+0) // row 1, group 0 (one group per row)
			f.Close()
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint16(b[off:], 0x7e00) // NaN
			os.WriteFile(p, b, 0o644)
			remanifest(t, dir)
		}, map[string][]string{l0("attn_o") + ".symb": {"1 scale value(s) are not finite, the first in row 1, group 0"}}},
		{"symlink", func(t *testing.T, dir string) {
			if err := os.Symlink("tokenizer.json", filepath.Join(dir, "tokenizer", "link.json")); err != nil {
				t.Fatal(err)
			}
		}, map[string][]string{"tokenizer/link.json": {"not a regular file"}, symb.ManifestFile: {"not compared"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := buildModel(t, tinyConfig(), llamaTensors(2))
			c.damage(t, dir)
			wantProblems(t, integrity(t, dir), c.want)
		})
	}
}

func TestIntegrityFeatureTensors(t *testing.T) {
	cfg := tinyConfig()
	cfg.Model.TieEmbeddings = true
	cfg.Model.NumLayers = 3
	cfg.Model.AttentionBias, cfg.Model.AttentionOutBias, cfg.Model.QKNorm, cfg.Model.PostNorms = true, true, true, true
	cfg.Model.MoE = &symb.MoE{NumExperts: 2, TopK: 1, ExpertIntermediate: 16, NumShared: 2, Router: "softmax_topk", FirstDenseLayers: 1}
	var ts []tensorSpec
	for _, x := range llamaTensors(3) {
		if x.name != "lm_head" && !(strings.Contains(x.name, "/mlp_") && !strings.HasPrefix(x.name, "layers/layer_00/")) {
			ts = append(ts, x)
		}
	}
	for i := range 3 {
		p := symb.LayerTensor(i, "")
		ts = append(ts,
			tensorSpec{p + "attn_q_bias", []int{32}}, tensorSpec{p + "attn_k_bias", []int{16}}, tensorSpec{p + "attn_v_bias", []int{16}},
			tensorSpec{p + "attn_o_bias", []int{32}}, tensorSpec{p + "attn_q_norm", []int{8}}, tensorSpec{p + "attn_k_norm", []int{8}},
			tensorSpec{p + "norm_attn_post", []int{32}}, tensorSpec{p + "norm_mlp_post", []int{32}},
		)
		if i == 0 {
			continue
		}
		ts = append(ts, tensorSpec{p + "moe_router", []int{2, 32}},
			tensorSpec{p + "shared_mlp_gate", []int{32, 32}}, tensorSpec{p + "shared_mlp_up", []int{32, 32}}, tensorSpec{p + "shared_mlp_down", []int{32, 32}})
		for e := range 2 {
			ts = append(ts, tensorSpec{symb.ExpertTensor(i, e, "mlp_gate"), []int{16, 32}},
				tensorSpec{symb.ExpertTensor(i, e, "mlp_up"), []int{16, 32}}, tensorSpec{symb.ExpertTensor(i, e, "mlp_down"), []int{32, 16}})
		}
	}
	dir := buildModel(t, cfg, ts)
	rep := integrity(t, dir)
	if !rep.Pass {
		t.Fatalf("valid MoE folder: %v", rep.Problems)
	}
	if rep.Tensors != len(ts) {
		t.Errorf("checked %d tensors, wrote %d", rep.Tensors, len(ts))
	}

	os.Remove(symb.TensorPath(dir, symb.ExpertTensor(2, 1, "mlp_down")))
	os.Remove(symb.TensorPath(dir, symb.LayerTensor(2, "attn_k_norm")))
	writeTensor(t, rand.New(rand.NewPCG(1, 1)), dir, tensorSpec{symb.LayerTensor(2, "mlp_up"), []int{48, 32}})
	remanifest(t, dir)
	wantProblems(t, integrity(t, dir), map[string][]string{
		"layers/layer_02/experts/expert_001/mlp_down.symb": {"missing"},
		"layers/layer_02/attn_k_norm.symb":                 {"missing"},
		"layers/layer_02/mlp_up.symb":                      {"does not imply"},
	})
}

// TestIntegrityRouterBias: moe_router_bias is present exactly when
// moe.router_bias says so (FORMAT.md §4). Integrity once accepted it as
// optional whatever the config said, so a folder missing the bias its
// config promises passed, and so did one with a bias the runtime never reads.
func TestIntegrityRouterBias(t *testing.T) {
	cfg := tinyConfig()
	cfg.Model.TieEmbeddings = true
	cfg.Model.NumLayers = 2
	cfg.Model.MoE = &symb.MoE{NumExperts: 2, TopK: 1, ExpertIntermediate: 16, Router: "sigmoid_grouped", FirstDenseLayers: 1}
	var ts []tensorSpec
	for _, x := range llamaTensors(2) {
		if x.name != "lm_head" && !(strings.HasPrefix(x.name, "layers/layer_01/mlp_")) {
			ts = append(ts, x)
		}
	}
	ts = append(ts, tensorSpec{symb.LayerTensor(1, "moe_router"), []int{2, 32}})
	for e := range 2 {
		ts = append(ts, tensorSpec{symb.ExpertTensor(1, e, "mlp_gate"), []int{16, 32}},
			tensorSpec{symb.ExpertTensor(1, e, "mlp_up"), []int{16, 32}}, tensorSpec{symb.ExpertTensor(1, e, "mlp_down"), []int{32, 16}})
	}
	bias := tensorSpec{symb.LayerTensor(1, "moe_router_bias"), []int{2}}

	// No bias in the config: a bias file is one the config does not imply.
	dir := buildModel(t, cfg, append(ts, bias))
	wantProblems(t, integrity(t, dir), map[string][]string{
		"layers/layer_01/moe_router_bias.symb": {"does not imply"},
	})

	// The config promises a bias: a folder without it is incomplete.
	cfg.Model.MoE.RouterBias = true
	dir = buildModel(t, cfg, ts)
	wantProblems(t, integrity(t, dir), map[string][]string{
		"layers/layer_01/moe_router_bias.symb": {"missing"},
	})

	// With the bias, the folder passes, and a bias of the wrong size does not.
	dir = buildModel(t, cfg, append(ts, bias))
	if rep := integrity(t, dir); !rep.Pass {
		t.Fatalf("valid folder with router bias: %v", rep.Problems)
	}
	writeTensor(t, rand.New(rand.NewPCG(1, 1)), dir, tensorSpec{bias.name, []int{3}})
	remanifest(t, dir)
	wantProblems(t, integrity(t, dir), map[string][]string{
		"layers/layer_01/moe_router_bias.symb": {"shape [3], config implies [2] (num_experts)"},
	})
}

func TestIntegrityMLA(t *testing.T) {
	cfg := tinyConfig()
	cfg.Model.NumLayers = 1
	cfg.Model.MLA = &symb.MLA{QLoraRank: 24, KVLoraRank: 16, QKNopeHeadDim: 8, QKRopeHeadDim: 4, VHeadDim: 6}
	p := symb.LayerTensor(0, "")
	ts := []tensorSpec{{"embeddings", []int{40, 32}}, {"final_norm", []int{32}}, {"lm_head", []int{40, 32}},
		{p + "norm_attn", []int{32}}, {p + "norm_mlp", []int{32}},
		{p + "attn_q_a", []int{24, 32}}, {p + "attn_q_a_norm", []int{24}}, {p + "attn_q_b", []int{48, 24}},
		{p + "attn_kv_a", []int{20, 32}}, {p + "attn_kv_a_norm", []int{16}}, {p + "attn_kv_b", []int{56, 16}},
		{p + "attn_o", []int{32, 24}},
		{p + "mlp_gate", []int{48, 32}}, {p + "mlp_up", []int{48, 32}}, {p + "mlp_down", []int{32, 48}},
	}
	dir := buildModel(t, cfg, ts)
	if rep := integrity(t, dir); !rep.Pass {
		t.Fatalf("valid MLA folder: %v", rep.Problems)
	}
	// Without query compression attn_q replaces attn_q_a/attn_q_a_norm/attn_q_b.
	b, _ := os.ReadFile(filepath.Join(dir, symb.ConfigFile))
	os.WriteFile(filepath.Join(dir, symb.ConfigFile), []byte(strings.Replace(string(b), `"q_lora_rank": 24`, `"q_lora_rank": 0`, 1)), 0o644)
	remanifest(t, dir)
	wantProblems(t, integrity(t, dir), map[string][]string{
		p + "attn_q.symb":        {"missing", "[48 32]"},
		p + "attn_q_a.symb":      {"does not imply"},
		p + "attn_q_a_norm.symb": {"does not imply"},
		p + "attn_q_b.symb":      {"does not imply"},
	})
}

func TestIntegrityErrors(t *testing.T) {
	if _, err := Integrity(context.Background(), t.TempDir()); !errors.Is(err, symb.ErrNotSymb) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := Integrity(context.Background(), filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
	dir := buildModel(t, tinyConfig(), llamaTensors(2))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Integrity(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	// A config implying an absurd number of tensor files is reported, not walked.
	b, _ := os.ReadFile(filepath.Join(dir, symb.ConfigFile))
	os.WriteFile(filepath.Join(dir, symb.ConfigFile), []byte(strings.Replace(string(b), `"num_layers": 2`, `"num_layers": 1000000`, 1)), 0o644)
	remanifest(t, dir)
	rep := integrity(t, dir)
	if rep.Pass || len(rep.Problems) != 1 || rep.Problems[0].File != symb.ConfigFile || !strings.Contains(rep.Problems[0].Problem, "tensor files") {
		t.Errorf("huge config: %v", rep.Problems)
	}
}

func TestIntegrityCapsProblems(t *testing.T) {
	cfg := tinyConfig()
	cfg.Model.NumLayers = 150 // 1350 implied layer tensors, none written
	dir := buildModel(t, cfg, llamaTensors(0))
	rep := integrity(t, dir)
	if len(rep.Problems) != maxProblems || rep.Omitted != 150*9-maxProblems || rep.Pass {
		t.Errorf("%d problems listed, %d omitted", len(rep.Problems), rep.Omitted)
	}
}

func TestIntegrityNegativeJobs(t *testing.T) {
	if _, err := Integrity(context.Background(), t.TempDir(), WithJobs(-1)); err == nil || !strings.Contains(err.Error(), "jobs is -1") {
		t.Errorf("WithJobs(-1): %v", err)
	}
}
