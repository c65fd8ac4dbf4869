package symb

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestModelLazyTensors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteConfig(dir, llamaConfig()); err != nil {
		t.Fatal(err)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Config.Model.HiddenSize != 64 {
		t.Fatalf("config not loaded: %+v", m.Config.Model)
	}
	// No tensor file exists yet: OpenModel must not have touched any.
	name := LayerTensor(1, AttnQ)
	if m.Has(name) {
		t.Fatal("Has reports a file that does not exist")
	}
	if _, err := m.Tensor(name); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), name) {
		t.Fatalf("missing tensor: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	src := randomTensor(rng, name, Info{DType: INT4, Scheme: SchemeSym, GroupSize: 32, Shape: []int{64, 64}})
	p := TensorPath(dir, name)
	if want := filepath.Join(dir, "layers", "layer_01", "attn_q.symb"); p != want {
		t.Fatalf("TensorPath %q, want %q", p, want)
	}
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := WriteFile(p, src); err != nil {
		t.Fatal(err)
	}
	if !m.Has(name) {
		t.Fatal("Has misses the new file")
	}
	a, err := m.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != name || !bytes.Equal(a.Data, src.Data) || !bytes.Equal(a.Scales, src.Scales) {
		t.Fatalf("tensor %q differs", a.Name)
	}
	// A second call returns the same mapping, even when called concurrently.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			b, err := m.Tensor(name)
			if err != nil || &b.Data[0] != &a.Data[0] {
				t.Errorf("second Tensor call remapped the file: %v", err)
			}
		})
	}
	wg.Wait()
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b"} {
		if _, err := m.Tensor(bad); err == nil {
			t.Errorf("Tensor(%q) accepted", bad)
		}
	}
	// A corrupt tensor file reports the tensor's file.
	bad := LayerTensor(0, AttnK)
	os.MkdirAll(filepath.Dir(TensorPath(dir, bad)), 0o755)
	os.WriteFile(TensorPath(dir, bad), []byte("SYMB\x01\x00\x00\x00"), 0o644)
	if _, err := m.Tensor(bad); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "attn_k.symb") {
		t.Errorf("corrupt tensor: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Tensor(name); err != nil {
		t.Fatalf("Tensor after Close reopens: %v", err)
	}
}

func TestOpenModelNotAFolder(t *testing.T) {
	t.Parallel()
	if _, err := OpenModel(t.TempDir()); !errors.Is(err, ErrNotSymb) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := OpenModel(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrNotSymb) {
		t.Errorf("missing folder: %v", err)
	}
}

func TestTensorNames(t *testing.T) {
	t.Parallel()
	if got := LayerTensor(3, MLPDown); got != "layers/layer_03/mlp_down" {
		t.Error(got)
	}
	if got := LayerTensor(123, NormMLP); got != "layers/layer_123/norm_mlp" {
		t.Error(got)
	}
	if got := ExpertTensor(2, 7, MLPGate); got != "layers/layer_02/experts/expert_007/mlp_gate" {
		t.Error(got)
	}
}

func TestTensorViews(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 2))
	dir := t.TempDir()
	f32 := randomTensor(rng, "f", Info{DType: F32, Shape: []int{3, 5}})
	p := filepath.Join(dir, "f.symb")
	if err := WriteFile(p, f32); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := f.Tensor().Float32s()
	if err != nil || len(v) != 15 {
		t.Fatalf("Float32s: %d, %v", len(v), err)
	}
	if _, err := f.Tensor().Uint16s(); err == nil {
		t.Error("Uint16s on f32 succeeded")
	}
	q := randomTensor(rng, "q", Info{DType: INT8, Scheme: SchemeAsym, GroupSize: 64, Shape: []int{2, 130}})
	if len(q.ScaleWords()) != 6 || len(q.MinWords()) != 6 {
		t.Errorf("scale words %d, min words %d, want 6 each", len(q.ScaleWords()), len(q.MinWords()))
	}
	if _, err := q.Float32s(); err == nil {
		t.Error("Float32s on int8 succeeded")
	}
	if err := q.Check(); err != nil {
		t.Error(err)
	}
	q.Mins = q.Mins[:4]
	if err := q.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short mins: %v", err)
	}
}
