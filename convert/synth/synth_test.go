package synth

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/internal/sttest"
)

func load(t *testing.T, path string) safetensors.SafeTensors {
	t.Helper()
	return sttest.Read(t, path)
}

func stats(v safetensors.TensorView) (mean, std float64) {
	d := v.Data()
	n := len(d) / 2
	var s, s2 float64
	for i := 0; i < len(d); i += 2 {
		x := float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[i:])) << 16))
		s += x
		s2 += x * x
	}
	mean = s / float64(n)
	return mean, math.Sqrt(s2/float64(n) - mean*mean)
}

func TestWriteSingleFile(t *testing.T) {
	s, _ := Lookup("tiny")
	dir := filepath.Join(t.TempDir(), "m")
	if err := Write(context.Background(), dir, s); err != nil {
		t.Fatal(err)
	}
	st := load(t, filepath.Join(dir, "model.safetensors"))
	want := s.tensors()
	if st.Len() != len(want) {
		t.Fatalf("%d tensors, want %d", st.Len(), len(want))
	}
	for _, w := range want {
		v, ok := st.Tensor(w.name)
		if !ok || v.DType() != safetensors.BF16 {
			t.Fatalf("%s missing or not BF16", w.name)
		}
		var shape []int
		for _, d := range v.Shape() {
			shape = append(shape, int(d))
		}
		if !slices.Equal(shape, w.shape) {
			t.Fatalf("%s shape %v, want %v", w.name, shape, w.shape)
		}
	}
	// Weights ~N(0, 0.02), norms ~N(1, 0.1).
	q, _ := st.Tensor("model.layers.0.self_attn.q_proj.weight")
	if m, sd := stats(q); math.Abs(m) > 0.002 || math.Abs(sd-0.02) > 0.002 {
		t.Errorf("q_proj mean %.4f std %.4f", m, sd)
	}
	n, _ := st.Tensor("model.norm.weight")
	if m, sd := stats(n); math.Abs(m-1) > 0.05 || math.Abs(sd-0.1) > 0.03 {
		t.Errorf("norm mean %.4f std %.4f", m, sd)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["hidden_size"] != float64(s.Hidden) || cfg["tie_word_embeddings"] != s.Tied || cfg["torch_dtype"] != "bfloat16" {
		t.Fatalf("config %v", cfg)
	}
	if err := Write(context.Background(), dir, s); err == nil {
		t.Fatal("existing folder overwritten")
	}
}

func TestWriteSharded(t *testing.T) {
	s, _ := Lookup("tiny")
	dir := filepath.Join(t.TempDir(), "m")
	const limit = 50_000
	if err := Write(context.Background(), dir, s, WithShardBytes(limit), WithDType(F16), WithSeed(3)); err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Metadata struct {
			TotalSize int64 `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.WeightMap) != len(s.tensors()) || idx.Metadata.TotalSize != s.Bytes(F16) {
		t.Fatalf("index: %d tensors, total %d; want %d, %d", len(idx.WeightMap), idx.Metadata.TotalSize, len(s.tensors()), s.Bytes(F16))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "model-*-of-*.safetensors"))
	if len(files) < 3 {
		t.Fatalf("%d shards", len(files))
	}
	seen := 0
	for _, f := range files {
		st := load(t, f)
		var size uint64
		for _, nt := range st.Tensors() {
			if idx.WeightMap[nt.Name] != filepath.Base(f) || nt.TensorView.DType() != safetensors.F16 {
				t.Fatalf("%s: in %s, index says %s", nt.Name, filepath.Base(f), idx.WeightMap[nt.Name])
			}
			size += nt.TensorView.DataLen()
			seen++
		}
		if size > limit && st.Len() > 1 {
			t.Errorf("%s holds %d bytes in %d tensors, over the %d limit", f, size, st.Len(), limit)
		}
	}
	if seen != len(idx.WeightMap) {
		t.Fatalf("%d tensors in shards, %d in index", seen, len(idx.WeightMap))
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		name                         string
		hidden, inter, layers, vocab int
		tied                         bool
	}{{"llama-3.2-1b", 2048, 8192, 16, 128256, true}, {"llama-3.1-8b", 4096, 14336, 32, 128256, false}} {
		s, err := Lookup(c.name)
		if err != nil || s.Hidden != c.hidden || s.Intermediate != c.inter || s.Layers != c.layers || s.Vocab != c.vocab || s.Tied != c.tied || s.KVHeads != 8 || s.Heads != 32 {
			t.Errorf("%s: %+v %v", c.name, s, err)
		}
	}
	// Llama 3.2 1B has 1.24e9 parameters, 3.1 8B 8.03e9.
	s1, _ := Lookup("llama-3.2-1b")
	s8, _ := Lookup("llama-3.1-8b")
	if p := s1.Bytes(BF16) / 2; p < 1.23e9 || p > 1.25e9 {
		t.Errorf("1B params %d", p)
	}
	if p := s8.Bytes(BF16) / 2; p < 8.02e9 || p > 8.04e9 {
		t.Errorf("8B params %d", p)
	}
	if _, err := Lookup("gpt-5"); err == nil {
		t.Error("unknown shape accepted")
	}
}

// Options given a value they cannot take fail Write before it writes.
func TestBadOptions(t *testing.T) {
	t.Parallel()
	s := Shape{Name: "t", Layers: 1, Hidden: 16, Intermediate: 32, Heads: 2, KVHeads: 1, Vocab: 32, Tied: true}
	for name, opt := range map[string]Option{"dtype": WithDType("F8"), "shard": WithShardBytes(0)} {
		dir := filepath.Join(t.TempDir(), "m")
		if err := Write(context.Background(), dir, s, opt); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: wrote %s", name, dir)
		}
	}
}
