package runtime

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// referenceCases are checkpoints whose logits transformers computed, read
// from testdata/models (or ../shared's copy).
var referenceCases = []string{"llama3", "stories260k", "qwen2", "qwen3", "mistral", "gemma", "gemma2",
	"mixtral", "dbrx", "deepseek"}

func newTestModel(t testing.TB, name string, opts ...Option) *Model {
	t.Helper()
	cfg, w := hfModel(t, modelDir(t, name))
	m, err := New(cfg, w, opts...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func maxAbs(x []float32) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// stepwiseLogits feeds ids to a fresh session one token at a time and
// returns every position's logits, for comparison with one batched pass.
func stepwiseLogits(t *testing.T, m *Model, ids []int) []float32 {
	t.Helper()
	s := m.NewSession()
	var step []float32
	for _, id := range ids {
		l, err := s.Forward(context.Background(), []int{id})
		if err != nil {
			t.Fatal(err)
		}
		step = append(step, l...)
	}
	return step
}

// TestReferenceLogits runs each model over its reference input_ids in one
// forward pass and compares every position's logits with transformers'.
func TestReferenceLogits(t *testing.T) {
	for _, name := range referenceCases {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, name, WithThreads(2))
			ref := loadReference(t, modelDir(t, name))
			got, err := m.NewSession().Forward(context.Background(), ref.inputIDs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(ref.logits) {
				t.Fatalf("got %d logits, want %d", len(got), len(ref.logits))
			}
			diff, scale := maxAbsDiff(got, ref.logits), maxAbs(ref.logits)
			t.Logf("%s: max abs logit error %.3g (max |logit| %.4g, relative %.2g)", name, diff, scale, diff/scale)
			if diff > 1e-4*scale {
				t.Errorf("max abs error %g exceeds 1e-4 × %g", diff, scale)
			}
		})
	}
}

// greedy prefills prompt and then decodes n tokens one by one with argmax.
func greedy(t testing.TB, s *Session, prompt []int, n int) []int {
	t.Helper()
	ctx := context.Background()
	if err := s.Prefill(ctx, prompt); err != nil {
		t.Fatal(err)
	}
	var out []int
	for len(out) < n {
		id := kernels.ArgMax(s.LastLogits())
		out = append(out, id)
		if len(out) == n {
			break
		}
		if _, err := s.Forward(ctx, []int{id}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestReferenceGreedy checks prefill plus cached decoding against
// transformers' generate(do_sample=False).
func TestReferenceGreedy(t *testing.T) {
	for _, name := range referenceCases {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, name, WithThreads(2))
			ref := loadReference(t, modelDir(t, name))
			got := greedy(t, m.NewSession(), ref.promptIDs, len(ref.greedyIDs))
			if !equalInts(got, ref.greedyIDs) {
				t.Errorf("greedy ids\n got %v\nwant %v", got, ref.greedyIDs)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBatchMatchesStepwise checks that a batched prefill and one token at a
// time give the same logits (MatMul vs MatVec, cache appends), and that a
// split prefill continues the cache correctly.
func TestBatchMatchesStepwise(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"llama3", "stories260k", "mixtral", "dbrx", "deepseek"} {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, name, WithThreads(2))
			ids := loadReference(t, modelDir(t, name)).inputIDs
			batch, err := m.NewSession().Forward(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			step := stepwiseLogits(t, m, ids)
			if d := maxAbsDiff(batch, step); d > 1e-5*maxAbs(batch) {
				t.Errorf("batch vs stepwise: max abs difference %g", d)
			}
			s2 := m.NewSession()
			a, err := s2.Forward(ctx, ids[:10])
			if err != nil {
				t.Fatal(err)
			}
			b, err := s2.Forward(ctx, ids[10:])
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(batch, append(a, b...)); d > 1e-5*maxAbs(batch) {
				t.Errorf("split prefill: max abs difference %g", d)
			}
			if last := s2.LastLogits(); maxAbsDiff(last, batch[len(batch)-len(last):]) != 0 {
				t.Error("LastLogits differs from the last row of Forward")
			}
			s2.Reset()
			c, err := s2.Forward(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if maxAbsDiff(c, batch) != 0 {
				t.Error("after Reset, Forward differs from a fresh session")
			}
		})
	}
}

// TestThreadsAgree checks that the thread count does not change a single bit.
func TestThreadsAgree(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []Engine{EngineExact, EngineSymbiotic} {
		t.Run(engine.String(), func(t *testing.T) {
			ids := loadReference(t, modelDir(t, "stories260k")).inputIDs
			var outs [][]float32
			for _, n := range []int{1, 2, 3} {
				m := newTestModel(t, "stories260k", WithThreads(n), WithEngine(engine))
				s := m.NewSession()
				l, err := s.Forward(ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				l2, err := s.Forward(ctx, []int{5})
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, append(l, l2...))
			}
			for i := 1; i < len(outs); i++ {
				if d := maxAbsDiff(outs[0], outs[i]); d != 0 {
					t.Errorf("threads 1 vs %d: max abs difference %g", i+1, d)
				}
			}
		})
	}
}

// TestSymbioticConstantMemory checks that the symbiotic engine's attention
// memory does not grow with the sequence while the exact engine's does.
func TestSymbioticConstantMemory(t *testing.T) {
	ctx := context.Background()
	mem := func(engine Engine) (early, late int64, logits []float32) {
		m := newTestModel(t, "stories260k", WithThreads(2), WithEngine(engine))
		s := m.NewSession()
		if _, err := s.Forward(ctx, []int{1, 403, 407, 261}); err != nil {
			t.Fatal(err)
		}
		early = s.MemoryBytes()
		for i := range 300 {
			if _, err := s.Forward(ctx, []int{300 + i%200}); err != nil {
				t.Fatal(err)
			}
		}
		return early, s.MemoryBytes(), s.LastLogits()
	}
	early, late, logits := mem(EngineSymbiotic)
	mc := newTestModel(t, "stories260k").mc
	want := int64(mc.NumLayers * mc.NumHeads * mc.HeadDim * mc.HeadDim * 4)
	if early != want || late != want {
		t.Errorf("symbiotic memory %d bytes after 4 tokens, %d after 304; want %d both times", early, late, want)
	}
	if !allFinite(logits) || maxAbs(logits) == 0 {
		t.Errorf("symbiotic logits are degenerate: max |logit| %g", maxAbs(logits))
	}
	early, late, _ = mem(EngineExact)
	if late <= early {
		t.Errorf("exact engine memory %d → %d bytes: the KV cache should grow", early, late)
	}
}

func allFinite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

func TestContextOverflow(t *testing.T) {
	ctx := context.Background()
	m := newTestModel(t, "llama3", WithMaxContext(8))
	s := m.NewSession()
	if _, err := s.Forward(ctx, make([]int, 9)); !errors.Is(err, ErrContextFull) {
		t.Fatalf("9 tokens in a context of 8: got %v, want ErrContextFull", err)
	}
	if _, err := s.Forward(ctx, make([]int, 8)); err != nil {
		t.Fatalf("8 tokens in a context of 8: %v", err)
	}
	_, err := s.Forward(ctx, []int{1})
	if !errors.Is(err, ErrContextFull) || !strings.Contains(err.Error(), "8") {
		t.Fatalf("token 9: got %v, want ErrContextFull naming the limit", err)
	}
	// The cache grows in whole blocks: 8 positions take one.
	if limit := kvBlockTokens * kvBytesPerToken(m, symb.F32); s.MemoryBytes() > limit {
		t.Errorf("KV cache holds %d bytes, more than the one block of %d bytes 8 positions need", s.MemoryBytes(), limit)
	}
	if _, err := m.NewSession().Forward(ctx, []int{256}); err == nil || errors.Is(err, ErrContextFull) {
		t.Errorf("out-of-vocabulary id: got %v", err)
	}
}

func TestForwardCancelled(t *testing.T) {
	m := newTestModel(t, "llama3")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := m.NewSession()
	if _, err := s.Forward(ctx, []int{1, 2, 3}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if _, err := s.Forward(context.Background(), []int{1}); !errors.Is(err, ErrSessionBroken) {
		t.Errorf("after an interrupted pass: got %v, want ErrSessionBroken", err)
	}
	s.Reset()
	if _, err := s.Forward(context.Background(), []int{1}); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}

// TestLoadErrors checks that bad weights and unsupported configs are refused
// with an error naming the problem.
func TestLoadErrors(t *testing.T) {
	dir := modelDir(t, "llama3")
	tests := []struct {
		name   string
		edit   func(*symb.Config, hfWeights)
		target error
		want   string
	}{
		{"missing tensor", func(_ *symb.Config, w hfWeights) { delete(w, symb.LayerTensor(1, symb.MLPUp)) },
			ErrBadWeights, "layers/layer_01/mlp_up"},
		{"wrong shape", func(_ *symb.Config, w hfWeights) {
			t := *w[symb.LayerTensor(0, symb.AttnK)]
			t.Shape = []int{16, 128}
			w[symb.LayerTensor(0, symb.AttnK)] = &t
		}, ErrBadWeights, "layers/layer_00/attn_k"},
		{"truncated data", func(_ *symb.Config, w hfWeights) {
			t := *w[symb.FinalNorm]
			t.Data = t.Data[:10]
			w[symb.FinalNorm] = &t
		}, ErrBadWeights, "final_norm"},
		{"untied without lm_head", func(c *symb.Config, _ hfWeights) { c.Model.TieEmbeddings = false }, ErrBadWeights, "lm_head"},
		{"missing bias", func(c *symb.Config, _ hfWeights) { c.Model.AttentionBias = true }, ErrBadWeights, "attn_q_bias"},
		{"moe without experts", func(c *symb.Config, _ hfWeights) {
			c.Model.MoE = &symb.MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 8, Router: "softmax_topk"}
		}, ErrBadWeights, "layers/layer_00/moe_router"},
		{"moe router", func(c *symb.Config, _ hfWeights) {
			c.Model.MoE = &symb.MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 8, Router: "expert_choice"}
		}, ErrUnsupported, "expert_choice"},
		{"moe router bias", func(c *symb.Config, _ hfWeights) {
			c.Model.MoE = &symb.MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 8, Router: "softmax_topk", RouterBias: true}
		}, ErrUnsupported, "router_bias"},
		{"moe top_k", func(c *symb.Config, _ hfWeights) {
			c.Model.MoE = &symb.MoE{NumExperts: 4, TopK: 5, ExpertIntermediate: 8, Router: "softmax_topk"}
		}, ErrBadWeights, "top_k"},
		{"moe groups", func(c *symb.Config, _ hfWeights) {
			c.Model.MoE = &symb.MoE{NumExperts: 6, TopK: 2, ExpertIntermediate: 8, Router: "sigmoid_grouped", NumGroups: 4, TopKGroups: 1}
		}, ErrBadWeights, "n_group"},
		{"mla without tensors", func(c *symb.Config, _ hfWeights) {
			c.Model.MLA = &symb.MLA{KVLoraRank: 8, QKNopeHeadDim: 8, QKRopeHeadDim: 8, VHeadDim: 8}
		}, ErrBadWeights, "layers/layer_00/attn_kv_a"},
		{"mla odd rope", func(c *symb.Config, _ hfWeights) {
			c.Model.MLA = &symb.MLA{KVLoraRank: 8, QKNopeHeadDim: 8, QKRopeHeadDim: 7, VHeadDim: 8}
		}, ErrBadWeights, "qk_rope_head_dim"},
		{"mla with bias", func(c *symb.Config, _ hfWeights) {
			c.Model.MLA = &symb.MLA{KVLoraRank: 8, QKNopeHeadDim: 8, QKRopeHeadDim: 8, VHeadDim: 8}
			c.Model.AttentionBias = true
		}, ErrUnsupported, "attention_bias"},
		{"norm", func(c *symb.Config, _ hfWeights) { c.Model.Norm = "groupnorm" }, ErrUnsupported, "groupnorm"},
		{"yarn factor", func(c *symb.Config, _ hfWeights) { c.Model.RopeScaling = &symb.RopeScaling{Type: "yarn"} }, ErrBadWeights, "yarn"},
		{"rope type", func(c *symb.Config, _ hfWeights) {
			c.Model.RopeScaling = &symb.RopeScaling{Type: "longrope", Factor: 4}
		}, ErrUnsupported, "longrope"},
		{"activation", func(c *symb.Config, _ hfWeights) { c.Model.Activation = "relu2" }, ErrUnsupported, "relu2"},
		{"heads", func(c *symb.Config, _ hfWeights) { c.Model.NumKVHeads = 3 }, ErrBadWeights, "num_kv_heads"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, w := hfModel(t, dir)
			tc.edit(cfg, w)
			_, err := New(cfg, w)
			if !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %v naming %q", err, tc.target, tc.want)
			}
		})
	}
}
