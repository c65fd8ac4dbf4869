package verify

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// convertCase converts a shared test model with the given spec into a temp folder.
func convertCase(t *testing.T, name string, spec quantize.Spec) (dir, src string) {
	t.Helper()
	src = sharedModel(t, name)
	dir = filepath.Join(t.TempDir(), name)
	if _, err := convert.Convert(context.Background(), src, dir, convert.WithPolicy(quantize.PolicyFromSpec(spec))); err != nil {
		t.Fatal(err)
	}
	return dir, src
}

func TestNumericsLosslessMatchesReference(t *testing.T) {
	for _, name := range []string{"llama3", "stories260k"} {
		t.Run(name, func(t *testing.T) {
			dir, src := convertCase(t, name, quantize.Spec{Type: quantize.F32})
			rep, err := Numerics(context.Background(), dir, WithReference(filepath.Join(src, "reference.safetensors")))
			if err != nil {
				t.Fatal(err)
			}
			c := rep.Cases[0]
			t.Logf("%s f32: max_abs_diff %.3g (max|logit| %.3g), mean KL %.3g, greedy %d/%d",
				name, c.MaxAbsDiff, c.MaxAbsLogit, c.MeanKLD, c.GreedyMatched, c.GreedyTotal)
			if !rep.Pass || !rep.Thresholds.Lossless {
				t.Fatalf("lossless conversion failed: %+v", rep)
			}
			if c.GreedyTotal < 16 || c.GreedyMatched != c.GreedyTotal {
				t.Fatalf("greedy %d/%d", c.GreedyMatched, c.GreedyTotal)
			}
			if c.MaxAbsDiff > 1e-4*c.MaxAbsLogit {
				t.Fatalf("max abs diff %g", c.MaxAbsDiff)
			}
		})
	}
}

func TestNumericsInt4AgainstReferenceAndSource(t *testing.T) {
	dir, src := convertCase(t, "llama3", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, GroupSize: 32})
	rep, err := Numerics(context.Background(), dir,
		WithReference(filepath.Join(src, "reference.safetensors")),
		WithSource(src), WithPrompts([]Prompt{{Name: "ids", IDs: []int{1, 5, 9, 200, 17, 42, 255, 3, 77, 128}}}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Thresholds.Lossless || len(rep.Cases) != 2 {
		t.Fatalf("int4 report: %+v", rep)
	}
	for _, c := range rep.Cases {
		t.Logf("%s (%s): mean KL %.4f, top1 %.3f, cosine %.4f, max_abs %.3f", c.Name, c.Kind, c.MeanKLD, c.Top1Agreement, c.Cosine, c.MaxAbsDiff)
		if c.MeanKLD <= 0 || c.MaxAbsDiff <= 0 {
			t.Fatalf("a 4-bit conversion cannot match exactly: %+v", c.Metrics)
		}
	}
	// The source comparison and the reference comparison see the same model:
	// the source runs at float32 like the reference, so their KL figures agree in size.
	if r, s := rep.Cases[0].MeanKLD, rep.Cases[1].MeanKLD; s > 20*r || r > 20*s {
		t.Fatalf("reference KL %g and source KL %g disagree wildly", r, s)
	}
}

func TestNumericsWrongReference(t *testing.T) {
	dir, _ := convertCase(t, "llama3", quantize.Spec{Type: quantize.F32})
	other := sharedModel(t, "stories260k")
	_, err := Numerics(context.Background(), dir, WithReference(filepath.Join(other, "reference.safetensors")))
	if err == nil || !strings.Contains(err.Error(), "another model") {
		t.Fatalf("reference of another model: %v", err)
	}
}

func TestNumericsStrictThresholdFails(t *testing.T) {
	dir, src := convertCase(t, "llama3", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, GroupSize: 128})
	rep, err := Numerics(context.Background(), dir, WithReference(filepath.Join(src, "reference.safetensors")), WithMaxKLD(1e-9))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || len(rep.Cases[0].Failures) == 0 || !strings.Contains(rep.Cases[0].Failures[0], "KL") {
		t.Fatalf("a 1e-9 KL bound must fail a 4-bit model: %+v", rep.Cases[0])
	}
}

func TestNumericsNeedsSomethingToCompare(t *testing.T) {
	if got := recordedSource(&symb.Config{Source: symb.Source{Path: "/nonexistent/model"}}, t.TempDir()); got != "" {
		t.Fatalf("missing source resolved to %q", got)
	}
	_, err := Numerics(context.Background(), filepath.Join(t.TempDir(), "nothing"))
	if err == nil {
		t.Fatal("no model folder accepted")
	}
	if errors.Is(err, ErrNoReference) {
		t.Fatal("a missing folder must say so, not ask for a reference")
	}
}

// TestNumericsInt4Bounds: the documented INT4 bounds (docs/VERIFY.md) pass on
// every shared case: the trained model with the defaults, the tiny random one
// with its documented, looser bounds.
func TestNumericsInt4Bounds(t *testing.T) {
	int4 := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, GroupSize: 128}
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"stories260k", nil},
		{"llama3", []Option{WithMaxKLD(1.5), WithMinTop1(0.4)}},
	} {
		dir, src := convertCase(t, c.name, int4)
		rep, err := Numerics(context.Background(), dir, append(c.opts, WithReference(filepath.Join(src, "reference.safetensors")))...)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass {
			t.Errorf("%s int4: %+v", c.name, rep.Cases[0])
		}
	}
}
