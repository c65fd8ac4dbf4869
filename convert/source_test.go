package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/convert/synth"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

func TestShardedCheckpoint(t *testing.T) {
	tiny, err := synth.Lookup("tiny")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	single, sharded := filepath.Join(root, "single"), filepath.Join(root, "sharded")
	ctx := context.Background()
	if err := synth.Write(ctx, single, tiny, synth.WithSeed(7)); err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(ctx, sharded, tiny, synth.WithSeed(7), synth.WithShardBytes(40_000)); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(sharded, "model-*-of-*.safetensors"))
	if len(shards) < 3 {
		t.Fatalf("%d shards, want several", len(shards))
	}
	policy, _ := PolicyRequest{Quantize: "f32"}.Policy()
	outs := map[string]string{}
	for _, src := range []string{single, sharded} {
		outs[src] = filepath.Join(root, "out-"+filepath.Base(src))
		if _, err := Convert(ctx, src, outs[src], WithPolicy(policy)); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := symb.ReadManifest(outs[single])
	b, _ := symb.ReadManifest(outs[sharded])
	// Every file but config.symb.json (which records the source path) is
	// identical: the layout of the input does not matter.
	var n int
	for i := range a.Files {
		if a.Files[i].Path == symb.ConfigFile {
			continue
		}
		n++
		if a.Files[i] != b.Files[i] {
			t.Errorf("%s differs between single-file and sharded sources", a.Files[i].Path)
		}
	}
	if n != 2+1+2*9 { // embeddings, final_norm, lm_head (untied), 2 layers
		t.Fatalf("%d tensor files", n)
	}

	// An index naming a shard that lacks the tensor is refused.
	idx := filepath.Join(sharded, indexFile)
	editJSON(t, idx, func(m map[string]any) {
		wm := m["weight_map"].(map[string]any)
		wm["lm_head.weight"] = filepath.Base(shards[0])
	})
	out := filepath.Join(root, "bad")
	if _, err := Convert(ctx, sharded, out); err == nil || !strings.Contains(err.Error(), "lm_head.weight") {
		t.Fatalf("inconsistent index: %v", err)
	}
	assertNothingWritten(t, out)
}

func TestOpenSource(t *testing.T) {
	src := filepath.Join(fixtures, "llama3")
	cfg, w, err := OpenSource(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if cfg.Architecture != "llama" || cfg.Model.NumLayers != 2 || cfg.Model.HeadDim != 16 || cfg.Quantization.Weights != "bf16" {
		t.Fatalf("config %+v", cfg)
	}
	st := readST(t, filepath.Join(src, "model.safetensors"))
	names := hfName(2, true)
	if got := w.Names(); len(got) != len(names) {
		t.Fatalf("names %v", got)
	}
	for name, hfn := range names {
		tn, err := w.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if tn.DType != symb.BF16 || !slices.Equal(tn.Shape, st[hfn].shape) || !bytes.Equal(tn.Data, st[hfn].raw) || tn.Check() != nil {
			t.Fatalf("%s: %s %v, not the stored bytes of %s", name, tn.DType, tn.Shape, hfn)
		}
	}
	if _, err := w.Tensor("lm_head"); err == nil {
		t.Fatal("tied model served an lm_head")
	}
}

func TestHubSourceFromCache(t *testing.T) {
	// A Hub cache laid out as the Hub's clients leave it; offline, so the
	// test proves nothing is fetched when everything is cached.
	cache := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(cache, "models--acme--tiny-llama")
	snap := filepath.Join(repo, "snapshots", commit)
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	os.MkdirAll(filepath.Dir(snap), 0o755)
	if err := os.Rename(copyDir(t, filepath.Join(fixtures, "stories260k")), snap); err != nil {
		t.Fatal(err)
	}
	client, err := hub.New(hub.WithCacheDir(cache), hub.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	sum, err := Convert(context.Background(), "acme/tiny-llama", out, WithHub(client))
	if err != nil {
		t.Fatal(err)
	}
	c, err := symb.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.ID != "acme/tiny-llama" || c.Source.Revision != commit || c.Source.Path != "" || sum.Source != "acme/tiny-llama@"+commit {
		t.Fatalf("source record %+v, summary %q", c.Source, sum.Source)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer", "tokenizer.json")); err != nil {
		t.Fatal(err)
	}

	// A Hub id that is not cached fails offline without writing anything.
	out2 := filepath.Join(t.TempDir(), "out")
	if _, err := Convert(context.Background(), "acme/other", out2, WithHub(client)); err == nil || !strings.Contains(err.Error(), "acme/other") {
		t.Fatalf("uncached model offline: %v", err)
	}
	assertNothingWritten(t, out2)
	// Neither a folder nor a Hub id.
	if _, err := Convert(context.Background(), "./no/such/../folder!", out2); err == nil || !strings.Contains(err.Error(), "no such folder") {
		t.Fatalf("bad source: %v", err)
	}
}

func TestGenerationConfigEOS(t *testing.T) {
	dir := copyDir(t, filepath.Join(fixtures, "llama3"))
	gen := []byte(`{"bos_token_id": 1, "eos_token_id": [5, 2, 7], "temperature": 0.6, "top_k": 20, "top_p": 0.9}`)
	os.WriteFile(filepath.Join(dir, "generation_config.json"), gen, 0o644)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Convert(context.Background(), dir, out); err != nil {
		t.Fatal(err)
	}
	c, _ := symb.ReadConfig(out)
	if !slices.Equal(c.Model.EOSTokenIDs, []int{2, 5, 7}) {
		t.Fatalf("eos ids %v, want config.json's 2 then 5 and 7", c.Model.EOSTokenIDs)
	}
	// The sampling settings are merged into config.symb.json.
	if g := c.Generation; g == nil || *g.Temperature != 0.6 || *g.TopK != 20 || *g.TopP != 0.9 || g.MinP != nil {
		t.Fatalf("generation %+v", g)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "tokenizer", "generation_config.json")); !bytes.Equal(b, gen) {
		t.Fatal("generation_config.json not copied verbatim")
	}
	if c.Quantization.LMHead != "" || c.Quantization.Norms != "f16" {
		t.Fatalf("quantization record %+v", c.Quantization)
	}
	// A source recommending an impossible setting is refused, naming it.
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"top_p": 2}`), 0o644)
	out2 := filepath.Join(t.TempDir(), "out")
	if _, err := Convert(context.Background(), dir, out2); err == nil || !strings.Contains(err.Error(), "top_p") {
		t.Fatalf("top_p 2: %v", err)
	}
	assertNothingWritten(t, out2)
}

func TestPolicyRequest(t *testing.T) {
	int4 := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 128}
	p, err := PolicyRequest{}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.For(symb.RoleLinear, 64, 64) != int4 || p.For(symb.RoleEmbedding, 64, 64) != int4 ||
		p.For(symb.RoleLMHead, 64, 64) != int4 || p.For(symb.RoleNorm, 1, 64).Type != quantize.F16 {
		t.Fatalf("default policy %+v", p)
	}
	p, _ = PolicyRequest{Quantize: "f32"}.Policy()
	for _, r := range []symb.Role{symb.RoleLinear, symb.RoleEmbedding, symb.RoleLMHead, symb.RoleNorm, symb.RoleBias, symb.RoleRouter} {
		if s := p.For(r, 8, 8); s.Type != quantize.F32 {
			t.Errorf("f32 policy stores %s as %s", r, s)
		}
	}
	p, _ = PolicyRequest{Quantize: "int8", Scheme: "asym", Method: "mse", GroupSize: 64, Embeddings: "f16", LMHead: "int4"}.Policy()
	if s := p.For(symb.RoleLinear, 8, 8); s != (quantize.Spec{Type: quantize.INT8, Scheme: quantize.Asymmetric, Method: quantize.MSE, GroupSize: 64}) {
		t.Errorf("linear %s", s)
	}
	if p.For(symb.RoleEmbedding, 8, 8).Type != quantize.F16 || p.For(symb.RoleLMHead, 8, 8).Type != quantize.INT4 {
		t.Errorf("overrides not applied: %+v", p)
	}
	for _, bad := range []PolicyRequest{{Quantize: "int3"}, {Scheme: "skew"}, {Method: "awq"}, {GroupSize: 100}, {LMHead: "q2"}} {
		if _, err := bad.Policy(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	sum, err := Convert(context.Background(), filepath.Join(fixtures, "llama3"), out)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sum)
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"files", "bytes_in", "bytes_out", "params", "bits_per_weight", "seconds", "gb_per_s", "out"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary JSON lacks %q: %s", k, b)
		}
	}
	var total int64
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && info.Name() != symb.LocalFile {
			total += info.Size()
		}
		return nil
	})
	if sum.BytesOut != total || sum.BytesIn != 115008*2 {
		t.Fatalf("bytes out %d (folder %d), in %d", sum.BytesOut, total, sum.BytesIn)
	}
}
