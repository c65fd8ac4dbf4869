package symb

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := llamaConfig()
	c.Model.NumLayers = 11
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	tensors := map[string]Info{
		Embeddings:                {DType: F16, Shape: []int{512, 64}},
		FinalNorm:                 {DType: F32, Shape: []int{64}},
		LayerTensor(2, AttnQ):     {DType: INT4, Scheme: SchemeSym, GroupSize: 32, Shape: []int{64, 64}},
		LayerTensor(10, AttnQ):    {DType: INT8, Scheme: SchemeAsym, GroupSize: 64, Shape: []int{64, 100}},
		LayerTensor(10, NormAttn): {DType: BF16, Shape: []int{64}},
	}
	var wantParams, wantTensorBytes int64
	for name, in := range tensors {
		p := TensorPath(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := WriteFile(p, randomTensor(rng, name, in)); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		wantTensorBytes += st.Size()
		wantParams += in.Elements()
	}
	os.MkdirAll(filepath.Join(dir, "tokenizer"), 0o755)
	os.WriteFile(filepath.Join(dir, "tokenizer", "tokenizer.json"), []byte(strings.Repeat("t", 1000)), 0o644)
	cfg, _ := os.Stat(filepath.Join(dir, ConfigFile))

	s, err := Describe(dir)
	if err != nil {
		t.Fatal(err)
	}
	if wantParams != 512*64+64+64*64+64*100+64 {
		t.Fatalf("test setup: %d params", wantParams)
	}
	if s.Params != wantParams || s.TensorBytes != wantTensorBytes || s.TotalBytes != wantTensorBytes+1000+cfg.Size() {
		t.Errorf("params %d bytes %d total %d, want %d %d %d", s.Params, s.TensorBytes, s.TotalBytes, wantParams, wantTensorBytes, wantTensorBytes+1000+cfg.Size())
	}
	if want := 8 * float64(wantTensorBytes) / float64(wantParams); s.BitsPerWeight != want {
		t.Errorf("bits per weight %g, want %g", s.BitsPerWeight, want)
	}
	var names []string
	for _, ti := range s.Tensors {
		names = append(names, ti.Name)
	}
	want := []string{"embeddings", "final_norm", "layers/layer_02/attn_q", "layers/layer_10/attn_q", "layers/layer_10/norm_attn"}
	if !slices.Equal(names, want) {
		t.Fatalf("tensors %v, want %v", names, want)
	}
	q := s.Tensors[3]
	if q.DType != "int8" || q.Scheme != "asym" || q.GroupSize != 64 || !slices.Equal(q.Shape, []int{64, 100}) || q.Params != 6400 {
		t.Errorf("attn_q of layer 10: %+v", q)
	}
	if n := s.Tensors[1]; n.Scheme != "" || n.GroupSize != 0 {
		t.Errorf("float tensor with scheme: %+v", n)
	}
	if s.Architecture != "llama" || s.Quantization.Weights != "int4" || s.Model.NumLayers != 11 {
		t.Errorf("config fields: %+v", s)
	}

	// A damaged header is an error naming the file.
	bad := TensorPath(dir, LayerTensor(2, AttnQ))
	os.Truncate(bad, 100)
	if _, err := Describe(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "attn_q.symb") {
		t.Errorf("truncated tensor: %v", err)
	}
}

func TestDescribeNotAModelFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Describe(dir); !errors.Is(err, ErrNotSymb) || !strings.Contains(err.Error(), dir+" is not a .symb model folder") {
		t.Errorf("empty folder: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Describe(f); !errors.Is(err, ErrNotSymb) {
		t.Errorf("file: %v", err)
	}
	if _, err := Describe(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestNaturalLess(t *testing.T) {
	t.Parallel()
	names := []string{"layers/layer_100/a", "layers/layer_10/b", "layers/layer_9/a", "layers/layer_10/a", "a10", "a9", "a009x", "b", "a"}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	want := []string{"a", "a9", "a009x", "a10", "b", "layers/layer_9/a", "layers/layer_10/a", "layers/layer_10/b", "layers/layer_100/a"}
	if !slices.Equal(names, want) {
		t.Errorf("got %v", names)
	}
}
