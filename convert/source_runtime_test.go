package convert_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/verify"
)

// TestSourceRunsInRuntime runs the converter's view of the Hugging Face
// checkpoints (no conversion, weights as stored) through runtime.New, the
// path calibration and verification take to run the original model, and
// compares with the transformers reference logits.
func TestSourceRunsInRuntime(t *testing.T) {
	for _, name := range []string{"llama3", "stories260k"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "models", name)
			cfg, w, err := convert.OpenSource(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			m, err := runtime.New(cfg, w, runtime.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			ref, err := verify.ReadReference(filepath.Join(dir, "reference.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.NewSession().Forward(context.Background(), ref.InputIDs)
			if err != nil {
				t.Fatal(err)
			}
			var d, scale float64
			for i, v := range ref.Logits {
				d = math.Max(d, math.Abs(float64(got[i]-v)))
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			if d > 1e-4*scale {
				t.Errorf("max abs logit error %g exceeds 1e-4 × %g", d, scale)
			}
		})
	}
}
