package convert

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

func TestBadSourcesWriteNothing(t *testing.T) {
	const up1 = "model.layers.1.mlp.up_proj.weight"
	cases := []struct {
		name    string
		fixture string
		edit    func(t *testing.T, dir string)
		is      error
		want    []string // substrings of the error
	}{
		{
			name: "missing tensor", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "model.safetensors")
				ts := readST(t, p)
				delete(ts, up1)
				writeST(t, p, ts)
			},
			is: ErrCheckpoint, want: []string{"model.safetensors", up1, "missing", "layers/layer_01/mlp_up"},
		},
		{
			name: "shape disagrees with config.json", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["intermediate_size"] = 200 })
			},
			is: ErrCheckpoint, want: []string{"model.safetensors", "mlp.gate_proj.weight", "[192 64]", "config.json implies [200 64]"},
		},
		{
			name: "unsupported dtype", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "model.safetensors")
				ts := readST(t, p)
				x := ts[up1]
				x.dtype, x.raw = safetensors.I32, make([]byte, 4*len(x.f32))
				writeST(t, p, ts)
			},
			is: ErrCheckpoint, want: []string{"model.safetensors", up1, "I32"},
		},
		{
			name: "unknown architecture", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) {
					m["architectures"] = []string{"FooForCausalLM"}
					m["model_type"] = "foo"
				})
			},
			is: arch.ErrUnsupported, want: []string{"config.json", "FooForCausalLM", "LlamaForCausalLM"},
		},
		{
			name: "tensor the architecture does not use", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "model.safetensors")
				ts := readST(t, p)
				ts["model.layers.0.mlp.extra.weight"] = ts[up1]
				writeST(t, p, ts)
			},
			is: ErrCheckpoint, want: []string{"model.layers.0.mlp.extra.weight", "not used"},
		},
		{
			name: "truncated file", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "model.safetensors")
				st, _ := os.Stat(p)
				if err := os.Truncate(p, st.Size()-10); err != nil {
					t.Fatal(err)
				}
			},
			is: ErrCheckpoint, want: []string{"model.safetensors", "truncated"},
		},
		{
			name: "no weights", fixture: "llama3",
			edit: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "model.safetensors"))
			},
			is: ErrCheckpoint, want: []string{"model.safetensors", "model.safetensors.index.json"},
		},
		{
			// A NaN is only found while streaming: the partial output must
			// still vanish.
			name: "NaN in a weight", fixture: "stories260k",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "model.safetensors")
				ts := readST(t, p)
				x := ts["model.layers.3.mlp.down_proj.weight"] // [64, 172]
				binary.LittleEndian.PutUint32(x.raw[4*(5*172+17):], math.Float32bits(float32(math.NaN())))
				writeST(t, p, ts)
			},
			is: quantize.ErrNonFinite, want: []string{"model.safetensors", "model.layers.3.mlp.down_proj.weight", "row 5, column 17"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join(fixtures, c.fixture))
			c.edit(t, dir)
			out := filepath.Join(t.TempDir(), "out")
			_, err := Convert(context.Background(), dir, out, withChunkElems(64))
			if err == nil {
				t.Fatal("conversion succeeded")
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %q does not wrap %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			assertNothingWritten(t, out)
		})
	}
}

func TestExistingOutput(t *testing.T) {
	src := filepath.Join(fixtures, "llama3")
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(out, "keep.txt")
	os.WriteFile(keep, []byte("x"), 0o644)
	if _, err := Convert(context.Background(), src, out); !errors.Is(err, ErrExists) {
		t.Fatalf("existing output: %v, want ErrExists", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatal("existing output was touched")
	}
	// --force with a failing conversion keeps the old folder.
	bad := copyDir(t, src)
	os.Remove(filepath.Join(bad, "model.safetensors"))
	if _, err := Convert(context.Background(), bad, out, WithForce(true)); err == nil {
		t.Fatal("broken source converted")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatal("failed --force conversion removed the old folder")
	}
	if _, err := Convert(context.Background(), src, out, WithForce(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keep); !os.IsNotExist(err) {
		t.Fatal("--force kept a file of the old folder")
	}
	m, err := symb.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if probs, err := m.Check(context.Background(), out, 1); err != nil || len(probs) != 0 {
		t.Fatalf("replaced folder: %v %v", probs, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Fatalf("leftovers next to the output: %v", ents)
	}
	// The source folder itself (or a parent of it) is never an output.
	if _, err := Convert(context.Background(), src, src, WithForce(true)); err == nil {
		t.Fatal("converting a folder onto itself was accepted")
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	// Cancelled when the first tensor is written.
	var once sync.Once
	cancelOnTensor := func(e Event) {
		if e.Kind == EventTensor {
			once.Do(cancel)
		}
	}
	_, err := Convert(ctx, filepath.Join(fixtures, "stories260k"), out,
		WithProgress(cancelOnTensor), withChunkElems(64), WithJobs(2))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled conversion: %v", err)
	}
	assertNothingWritten(t, out)
}
