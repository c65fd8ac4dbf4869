package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// writeFolder writes cfg and w as a .symb model folder with stories260k's
// tokenizer (when its 512 ids fit the model's vocabulary: Load refuses a
// tokenizer of another model) and a generation_config.json.
func writeFolder(t *testing.T, cfg *symb.Config, w hfWeights) string {
	t.Helper()
	dir := t.TempDir()
	if err := symb.WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	for name, tensor := range w {
		p := symb.TensorPath(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := symb.WriteFile(p, tensor); err != nil {
			t.Fatal(err)
		}
	}
	tokDir := filepath.Join(dir, "tokenizer")
	if err := os.Mkdir(tokDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if cfg.Model.VocabSize < 512 {
			break
		}
		b, err := os.ReadFile(filepath.Join(modelDir(t, "stories260k"), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tokDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gc := `{"bos_token_id": 1, "eos_token_id": [2, 7]}`
	if err := os.WriteFile(filepath.Join(tokDir, "generation_config.json"), []byte(gc), 0o644); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir)
	return dir
}

func writeManifest(t *testing.T, dir string) {
	t.Helper()
	m, err := symb.BuildManifest(context.Background(), dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

// TestLoadStructure: Load refuses a folder that does not match its config
// before mapping anything (it once ran a folder of 5 layers whose config
// said 3, and folders without a manifest).
func TestLoadStructure(t *testing.T) {
	cfg, w := hfModel(t, modelDir(t, "stories260k"))
	dir := writeFolder(t, cfg, w)

	fewer := *cfg
	fewer.Model.NumLayers = 3
	if err := symb.WriteConfig(dir, &fewer); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir)
	_, err := Load(dir)
	if !errors.Is(err, symb.ErrCorrupt) || !strings.Contains(err.Error(), "layers/layer_03/") || !strings.Contains(err.Error(), "does not imply") {
		t.Errorf("config of 3 layers over 5: %v", err)
	}

	if err := symb.WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir)
	if m, err := Load(dir); err != nil {
		t.Fatalf("folder restored: %v", err)
	} else {
		m.Close()
	}
	// A tensor file the manifest does not list, for a layer the config
	// does not have.
	extra := symb.TensorPath(dir, symb.LayerTensor(5, symb.AttnQ))
	os.MkdirAll(filepath.Dir(extra), 0o755)
	if err := symb.WriteFile(extra, w[symb.LayerTensor(0, symb.AttnQ)]); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); !errors.Is(err, symb.ErrCorrupt) || !strings.Contains(err.Error(), "layers/layer_05/attn_q.symb") {
		t.Errorf("stray tensor file: %v", err)
	}
	os.Remove(extra)

	if err := os.Remove(filepath.Join(dir, symb.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); !errors.Is(err, symb.ErrCorrupt) || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("folder without manifest: %v", err)
	}
}

// TestLoadFolder runs a .symb folder (mapped files and tokenizer/ found by
// Load) and compares it with the same
// weights given through New.
func TestLoadFolder(t *testing.T) {
	ctx := context.Background()
	cfg, w := hfModel(t, modelDir(t, "stories260k"))
	dir := writeFolder(t, cfg, w)
	m, err := Load(dir, WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Tokenizer() == nil {
		t.Fatal("Load did not pick up tokenizer/")
	}
	// The converter merges generation_config.json into config.symb.json;
	// the runtime reads only the latter, so the 7 written above is ignored.
	if eos := m.EOS(); !slices.Equal(eos, cfg.Model.EOSTokenIDs) || slices.Contains(eos, 7) {
		t.Errorf("EOS ids %v, want config.symb.json's %v", eos, cfg.Model.EOSTokenIDs)
	}
	ref := loadReference(t, modelDir(t, "stories260k"))
	got, err := m.NewSession().Forward(ctx, ref.inputIDs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := newTestModel(t, "stories260k", WithThreads(2)).NewSession().Forward(ctx, ref.inputIDs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(got, want); d != 0 {
		t.Errorf("Load vs New: max abs difference %g", d)
	}
	// Tied embeddings count once; stories260k's README gives 260,032 parameters.
	if m.Params() != 260032 || m.SizeBytes() != 4*260032 {
		t.Errorf("params %d, size %d bytes; want 260032 and %d", m.Params(), m.SizeBytes(), 4*260032)
	}
}

func TestLoadErrorsFolder(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty folder succeeded")
	}
	cfg, w := hfModel(t, modelDir(t, "stories260k"))
	dir := writeFolder(t, cfg, w)
	if err := os.Remove(symb.TensorPath(dir, symb.LayerTensor(4, symb.MLPDown))); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "layers/layer_04/mlp_down") {
		t.Errorf("missing tensor: got %v", err)
	}
}

// quantized returns w with every matrix stored as spec.
func quantized(t *testing.T, w hfWeights, spec quantize.Spec) hfWeights {
	t.Helper()
	out := hfWeights{}
	for name, tensor := range w {
		if len(tensor.Shape) != 2 {
			out[name] = tensor
			continue
		}
		src, err := tensor.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		rows, cols := tensor.Shape[0], tensor.Shape[1]
		d, s, mn, err := spec.Layout(rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		q := &symb.Tensor{Name: name, Info: symb.Info{DType: symb.INT8, Scheme: symb.SchemeSym, GroupSize: spec.GroupSize, Shape: tensor.Shape},
			Data: make([]byte, d), Scales: make([]byte, s)}
		if spec.Type == quantize.INT4 {
			q.DType = symb.INT4
		}
		if spec.Scheme == quantize.Asymmetric {
			q.Scheme, q.Mins = symb.SchemeAsym, make([]byte, mn)
		}
		q.Info = q.Info.WithPackedTail() // the quantizer packs tail groups
		if err := quantize.QuantizeRows(spec, src, cols, q.Data, q.Scales, q.Mins); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = q
	}
	return out
}

// TestQuantizedWeights runs stories260k with INT8 and INT4 matrices (rows of
// 172 columns are padded to whole groups) and checks that the logits stay
// near the float32 reference: the runtime must read every packed layout.
func TestQuantizedWeights(t *testing.T) {
	ctx := context.Background()
	ref := loadReference(t, modelDir(t, "stories260k"))
	for _, tc := range []struct {
		spec quantize.Spec
		tol  float64 // of max |logit|
	}{
		{quantize.Spec{Type: quantize.INT8, Scheme: quantize.Symmetric, GroupSize: 32}, 0.02},
		{quantize.Spec{Type: quantize.INT8, Scheme: quantize.Asymmetric, GroupSize: 64}, 0.02},
		{quantize.Spec{Type: quantize.INT4, Scheme: quantize.Asymmetric, GroupSize: 32}, 0.25},
		{quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, GroupSize: 128}, 0.35}, // rtn sym: 0.30
		{quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, GroupSize: 64}, 0.35},  // rtn sym: 0.31
	} {
		t.Run(tc.spec.String(), func(t *testing.T) {
			cfg, w := hfModel(t, modelDir(t, "stories260k"))
			qw := quantized(t, w, tc.spec)
			m, err := New(cfg, qw, WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.NewSession().Forward(ctx, ref.inputIDs)
			if err != nil {
				t.Fatal(err)
			}
			d, scale := maxAbsDiff(got, ref.logits), maxAbs(ref.logits)
			t.Logf("%s: max abs logit error %.3g (%.2g of max |logit|)", tc.spec, d, d/scale)
			if d > tc.tol*scale {
				t.Errorf("max abs error %g exceeds %g × %g", d, tc.tol, scale)
			}
			if d == 0 {
				t.Error("quantized logits equal the float32 reference exactly: weights were not quantized")
			}
			// The same model with the quantized weights expanded to float32
			// must agree closely: that isolates kernel errors from rounding.
			mf, err := New(cfg, dequantized(t, qw, tc.spec), WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			want, err := mf.NewSession().Forward(ctx, ref.inputIDs)
			if err != nil {
				t.Fatal(err)
			}
			// The generic kernels multiply by the float32 input: they must
			// read every packed layout to float32 rounding.
			mg, err := New(cfg, qw, WithThreads(2), WithKernels(kernels.Generic))
			if err != nil {
				t.Fatal(err)
			}
			gen, err := mg.NewSession().Forward(ctx, ref.inputIDs)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(gen, want); d > 1e-5*scale {
				t.Errorf("generic kernels, packed vs expanded weights: max abs difference %g", d)
			}
			// The AVX-512 kernels round each 32-element block of the input
			// to int8 (scale max|block|/127, as llama.cpp's Q8_0) for every
			// INT4 and INT8 product (the GEMM and the packed MatVec; asym
			// min terms multiply the rounded input too). That rounding moves
			// stories260k's logits by up to 0.016 of max |logit| (measured:
			// int8 g32 0.016, int8 asym g64 0.014, int4 asym g32 0.015, int4
			// g128 0.012, int4 g64 0.016), about what INT8 weights move
			// them. The kernels themselves are held to float64 sums over
			// the rounded input in the kernels package
			// (TestGEMMAgainstOracle); other kernel sets keep 1e-5.
			tol := 1e-5
			if m.Kernels() == kernels.AVX512 {
				tol = 0.025
			}
			d = maxAbsDiff(got, want)
			t.Logf("%s: packed (%s kernels) vs expanded weights: max abs difference %.3g (%.2g of max |logit|)", tc.spec, m.Kernels(), d, d/scale)
			if d > tol*scale {
				t.Errorf("packed vs expanded weights: max abs difference %g exceeds %g × %g", d, tol, scale)
			}
		})
	}
}

// dequantized expands the quantized tensors of w to F32 with the quantize
// package (independent of the kernels' own dequantization).
func dequantized(t *testing.T, w hfWeights, spec quantize.Spec) hfWeights {
	t.Helper()
	out := hfWeights{}
	for name, q := range w {
		if !q.DType.Quantized() {
			out[name] = q
			continue
		}
		rows, cols := q.Rows(), q.Cols()
		f := make([]float32, rows*cols)
		if err := quantize.Dequantize(spec, q.Data, q.Scales, q.Mins, rows, cols, f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
		out[name] = &symb.Tensor{Name: name, Info: symb.Info{DType: symb.F32, Shape: q.Shape}, Data: data}
	}
	return out
}

// TestOptionErrors: a negative thread count or context is an error, not
// silently "all cores" (0 is the one spelling of that).
func TestOptionErrors(t *testing.T) {
	cfg, w := hfModel(t, modelDir(t, "stories260k"))
	for _, o := range []Option{WithThreads(-1), WithMaxContext(-5)} {
		if _, err := New(cfg, w, o); err == nil || !strings.Contains(err.Error(), "-") {
			t.Errorf("option accepted: %v", err)
		}
	}
	m, err := New(cfg, w, WithThreads(0))
	if err != nil || m.Threads() < 1 {
		t.Fatalf("WithThreads(0): %v, %d threads", err, m.Threads())
	}
}
