package verify

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// defaultConversion converts a bundled real model with the default recipe
// (what `symbc convert M OUT` does).
func defaultConversion(t *testing.T, name string) string {
	t.Helper()
	src := sharedModel(t, name)
	dir := filepath.Join(t.TempDir(), name)
	if _, err := convert.Convert(context.Background(), src, dir, convert.WithDefaultBits(convert.DefaultBits)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// scaleTensor multiplies every scale of one INT4/INT8 tensor file by f.
func scaleTensor(t *testing.T, dir, name string, f float32) {
	t.Helper()
	p := symb.TensorPath(dir, name)
	fl, err := symb.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	src := fl.Tensor()
	tt := &symb.Tensor{Name: src.Name, Info: src.Info, Data: append([]byte(nil), src.Data...),
		Scales: append([]byte(nil), src.Scales...), Mins: append([]byte(nil), src.Mins...)}
	fl.Close()
	if len(tt.Scales) == 0 {
		t.Fatalf("%s is not quantized", name)
	}
	for i := 0; i+1 < len(tt.Scales); i += 2 {
		h := uint16(tt.Scales[i]) | uint16(tt.Scales[i+1])<<8
		v := quantize.F32ToF16(quantize.F16ToF32(h) * f)
		tt.Scales[i], tt.Scales[i+1] = byte(v), byte(v>>8)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteFile(p, tt); err != nil {
		t.Fatal(err)
	}
}

// swapLayers exchanges the files of two layers.
func swapLayers(t *testing.T, dir string, a, b int) {
	t.Helper()
	pa, pb := filepath.Dir(symb.TensorPath(dir, symb.LayerTensor(a, "x"))), filepath.Dir(symb.TensorPath(dir, symb.LayerTensor(b, "x")))
	tmp := pa + ".tmp"
	for _, mv := range [][2]string{{pa, tmp}, {pb, pa}, {tmp, pb}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDefaultVerifyPassesAndCatchesBreakage: plain Verify (built-in prompts,
// default thresholds, recorded source) passes the default conversion of both
// bundled real models and fails the same folder with one tensor's scales ×4
// or two layers swapped, even with hashes fixed up to match.
func TestDefaultVerifyPassesAndCatchesBreakage(t *testing.T) {
	for _, name := range []string{"stories260k", "babyllama-tok105"} {
		t.Run(name, func(t *testing.T) {
			dir := defaultConversion(t, name)
			rep, err := Verify(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass || rep.Numerics == nil {
				t.Fatalf("default conversion fails default verify: %+v %s", rep.Overall, rep.NumericsNote)
			}
			t.Logf("default: mean KL %.4f, top-1 %.3f", rep.Overall.MeanKLD, rep.Overall.Top1Agreement)
			for _, c := range []struct {
				name   string
				break_ func(dir string)
			}{
				{"mlp_down scales x4", func(d string) { scaleTensor(t, d, symb.LayerTensor(2, symb.MLPDown), 4) }},
				{"layers 1 and 3 swapped", func(d string) { swapLayers(t, d, 1, 3) }},
			} {
				bad := filepath.Join(t.TempDir(), "bad")
				if err := os.CopyFS(bad, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				c.break_(bad)
				remanifest(t, bad)
				rep, err := Verify(context.Background(), bad)
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Integrity.Pass {
					t.Fatalf("%s: integrity fails (%v); the test must reach the numeric checks", c.name, rep.Integrity.Problems)
				}
				if rep.Pass {
					t.Errorf("%s: verify passes a broken model: %+v", c.name, rep.Overall)
				}
				t.Logf("%s: mean KL %.4f, top-1 %.3f", c.name, rep.Overall.MeanKLD, rep.Overall.Top1Agreement)
			}
		})
	}
}
