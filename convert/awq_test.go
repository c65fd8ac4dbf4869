package convert

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/symb"
)

// TestAWQFoldIsLossless: after the channel scales are applied (weights'
// columns multiplied, the producing norm gain or layer rows divided), the
// float model computes the same logits. Every family fixture runs, so the
// folds into (1+w) norms (gemma, gemma2), into attn_v with its bias (qwen2),
// grouped-query attention and the skipped layer kinds (MLA, routed experts,
// clip_qkv) are all covered. The statistics are made up, spread over
// several orders of magnitude so the search scales (nearly) every input;
// the bound is what float32 rounding of the folded weights allows.
func TestAWQFoldIsLossless(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"llama3", "gemma", "gemma2", "qwen2", "qwen3", "phi3", "mistral", "mixtral", "dbrx", "deepseek", "babyllama-tok105"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "models", name)
			o, err := newOptions([]Option{WithPolicy(quantize.PolicyFromSpec(quantize.Spec{Type: quantize.F32}))})
			if err != nil {
				t.Fatal(err)
			}
			src, err := resolve(ctx, dir, o)
			if err != nil {
				t.Fatal(err)
			}
			cfg, items, ck, err := load(src)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			scfg, err := sourceConfig(src, cfg, items, o)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]int, 24)
			for i := range ids {
				ids[i] = (i*7919 + 3) % cfg.VocabSize
			}
			w := newSourceWeights(src.dir, ck, items)
			logits := func() []float32 {
				m, err := runtime.New(scfg, w, runtime.WithThreads(2))
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				got, err := m.NewSession().Forward(ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			before := logits()

			rng := rand.New(rand.NewPCG(1, 2))
			a := &activations{imp: map[string][]float32{}}
			for _, it := range items {
				if it.Role != symb.RoleLinear {
					continue
				}
				imp := make([]float32, it.Cols())
				for c := range imp {
					imp[c] = float32(math.Exp(3 * rng.NormFloat64()))
				}
				a.imp[it.Name] = imp
			}
			spec := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 32}
			n, err := applyAWQ(ctx, cfg, items, spec, a, 2)
			if err != nil {
				t.Fatal(err)
			}
			want := len(awqInputs(cfg, items))
			if want == 0 || n < want/2 {
				t.Fatalf("scaled %d of %d foldable inputs; the test needs most of them scaled", n, want)
			}
			w.reset()
			after := logits()
			var d, scale float64
			for i, v := range before {
				d = math.Max(d, math.Abs(float64(after[i]-v)))
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			t.Logf("%d of %d inputs scaled; max |logit diff| %.3g of max |logit| %.3g", n, want, d, scale)
			if !(d <= 1e-4*scale) {
				t.Errorf("max |logit diff| %.3g exceeds 1e-4 × max |logit| %.3g", d, scale)
			}
		})
	}
}
