package verify

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/quantize"
)

// TestQualityTable measures the table in docs/VERIFY.md (run with -v) and
// checks its ordering facts: more bits never lose to fewer on the same model.
func TestQualityTable(t *testing.T) {
	if testing.Short() {
		t.Skip("quality table: 18 conversions; skipped with -short")
	}
	kl := map[string]float64{}
	specs := []struct {
		name string
		s    quantize.Spec
	}{
		{"int4 g128 sym rtn", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 128}},
		{"int4 g128 sym mse", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.MSE, GroupSize: 128}},
		{"int4 g128 asym rtn", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Asymmetric, Method: quantize.RTN, GroupSize: 128}},
		{"int4 g128 asym mse", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Asymmetric, Method: quantize.MSE, GroupSize: 128}},
		{"int4 g32 sym rtn", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 32}},
		{"int4 g32 asym mse", quantize.Spec{Type: quantize.INT4, Scheme: quantize.Asymmetric, Method: quantize.MSE, GroupSize: 32}},
		{"int8 g128 sym", quantize.Spec{Type: quantize.INT8, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 128}},
		{"f16", quantize.Spec{Type: quantize.F16}},
		{"bf16", quantize.Spec{Type: quantize.BF16}},
	}
	for _, m := range []string{"stories260k", "llama3"} {
		for _, sp := range specs {
			dir, src := convertCase(t, m, sp.s)
			rep, err := Numerics(context.Background(), dir, WithReference(filepath.Join(src, "reference.safetensors")))
			if err != nil {
				t.Fatal(err)
			}
			c := rep.Cases[0]
			kl[m+" "+sp.name] = c.MeanKLD
			t.Logf("| %s | %s | %.4f | %.4f | %.4f | %.3f | %.4f | %d/%d |\n", m, sp.name, c.MeanKLD, c.P99KLD, c.MaxKLD, c.Top1Agreement, c.Cosine, c.GreedyMatched, c.GreedyTotal)
		}
	}
	for _, m := range []string{"stories260k", "llama3"} {
		if !(kl[m+" f16"] < kl[m+" int8 g128 sym"] && kl[m+" int8 g128 sym"] < kl[m+" int4 g128 sym rtn"]) {
			t.Errorf("%s: KL not ordered f16 < int8 < int4: %v", m, kl)
		}
	}
}
