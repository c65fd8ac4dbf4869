package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestRoute checks expert choice and weights on hand-made router logits.
func TestRoute(t *testing.T) {
	e1, e2, e3 := math.Exp(1), math.Exp(2), math.Exp(3)
	// Scores for the grouped cases: group 0 holds the single best expert (0),
	// but group 1's two best scores sum higher, so group 0 is excluded.
	grouped := []float32{4, -3, -3, -3, 1, 0.5, 0.8, -2}
	s := func(i int) float64 { return sigmoid64(float64(grouped[i])) }
	tests := []struct {
		name   string
		moe    symb.MoE
		logits []float32
		bias   []float32
		sel    []int
		w      []float64
	}{
		{"softmax then top-2, raw", symb.MoE{Router: "softmax_topk", TopK: 2},
			[]float32{1, 3, 2, 0}, nil, []int{1, 2},
			[]float64{e3 / (1 + e1 + e2 + e3), e2 / (1 + e1 + e2 + e3)}},
		{"softmax then top-2, renormalised", symb.MoE{Router: "softmax_topk", TopK: 2, NormTopK: true},
			[]float32{1, 3, 2, 0}, nil, []int{1, 2},
			[]float64{e3 / (e2 + e3), e2 / (e2 + e3)}},
		{"ties go to the lower index", symb.MoE{Router: "softmax_topk", TopK: 2, NormTopK: true},
			[]float32{2, 5, 5, 1}, nil, []int{1, 2}, []float64{0.5, 0.5}},
		{"top-2 then softmax, scaled", symb.MoE{Router: "topk_softmax", TopK: 2, ScalingFactor: 2},
			[]float32{1, 3, 2, 0}, nil, []int{1, 2},
			[]float64{2 * e3 / (e2 + e3), 2 * e2 / (e2 + e3)}},
		{"sigmoid, no groups, raw scores", symb.MoE{Router: "sigmoid_grouped", TopK: 3},
			grouped, nil, []int{0, 4, 6}, []float64{s(0), s(4), s(6)}},
		{"group limit excludes the best expert", symb.MoE{Router: "sigmoid_grouped", TopK: 2, NumGroups: 2, TopKGroups: 1,
			NormTopK: true, ScalingFactor: 2.5},
			grouped, nil, []int{4, 6}, []float64{2.5 * s(4) / (s(4) + s(6)), 2.5 * s(6) / (s(4) + s(6))}},
		// The bias promotes expert 5 over 6 for the choice; the weights
		// still come from the scores without it.
		{"bias chooses, scores weigh", symb.MoE{Router: "sigmoid_grouped", TopK: 2, NumGroups: 2, TopKGroups: 1,
			NormTopK: true, ScalingFactor: 2.5},
			grouped, []float32{0, 0, 0, 0, 0, 0.2, 0, 0}, []int{5, 4},
			[]float64{2.5 * s(5) / (s(4) + s(5)), 2.5 * s(4) / (s(4) + s(5))}},
		// A bias can lift a group: 0.6 on expert 1 gives group 0 the pair
		// 0.98+0.65 > 0.73+0.69, so experts 0 and 1 win.
		{"bias lifts a group", symb.MoE{Router: "sigmoid_grouped", TopK: 2, NumGroups: 2, TopKGroups: 1},
			grouped, []float32{0, 0.6, 0, 0, 0, 0, 0, 0}, []int{0, 1}, []float64{s(0), s(1)}},
		// Excluded experts score 0, not −∞, as in the reference: with every
		// biased score negative, group 1 is kept (−2.58 > −2.97) yet an
		// excluded expert of group 0 (the lowest index, by the tie rule) is
		// chosen, weighted by its own score.
		{"excluded experts score zero", symb.MoE{Router: "sigmoid_grouped", TopK: 1, NumGroups: 2, TopKGroups: 1},
			grouped, []float32{-2, -2, -2, -2, -2, -2, -2, -2}, []int{0}, []float64{s(0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.moe.NumExperts = len(tc.logits)
			r := newRouter(&tc.moe)
			sel := make([]int, tc.moe.TopK)
			w := make([]float32, tc.moe.TopK)
			r.route(tc.logits, tc.bias, sel, w, make([]float32, r.scratchLen(len(tc.logits))))
			if !slices.Equal(sel, tc.sel) {
				t.Fatalf("chose %v, want %v", sel, tc.sel)
			}
			for j := range w {
				if math.Abs(float64(w[j])-tc.w[j]) > 1e-6*math.Abs(tc.w[j]) {
					t.Errorf("weights %v, want %v", w, tc.w)
					break
				}
			}
		})
	}
}

// TestRouteNaN checks that NaN logits still choose distinct, valid experts.
func TestRouteNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, kind := range []string{"softmax_topk", "topk_softmax", "sigmoid_grouped"} {
		moe := symb.MoE{Router: kind, NumExperts: 4, TopK: 2, NumGroups: 2, TopKGroups: 1}
		r := newRouter(&moe)
		sel, w := make([]int, 2), make([]float32, 2)
		r.route([]float32{nan, nan, nan, nan}, nil, sel, w, make([]float32, r.scratchLen(4)))
		if sel[0] < 0 || sel[1] < 0 || sel[0] == sel[1] || sel[0] > 3 || sel[1] > 3 {
			t.Errorf("%s: chose %v", kind, sel)
		}
	}
}

// TestOnlyChosenExpertsRun checks that a sparse layer computes exactly
// top_k experts per token, in a batch and one token at a time.
func TestOnlyChosenExpertsRun(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"mixtral", "deepseek"} {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, name, WithThreads(2))
			e := m.mc.MoE
			sparse := int64(m.mc.NumLayers - e.FirstDenseLayers)
			ids := loadReference(t, modelDir(t, name)).inputIDs
			s := m.NewSession()
			if _, err := s.Forward(ctx, ids); err != nil {
				t.Fatal(err)
			}
			want := int64(len(ids)) * int64(e.TopK) * sparse
			if s.expertRows != want {
				t.Errorf("batch of %d: %d expert rows computed, want %d", len(ids), s.expertRows, want)
			}
			if _, err := s.Forward(ctx, ids[:1]); err != nil {
				t.Fatal(err)
			}
			if got := s.expertRows - want; got != int64(e.TopK)*sparse {
				t.Errorf("one token: %d expert rows computed, want %d", got, int64(e.TopK)*sparse)
			}
		})
	}
}

// TestSparseFeaturesMatter switches single features off and checks that the
// logits move far beyond the reference tolerance, so the reference tests
// do exercise them.
func TestSparseFeaturesMatter(t *testing.T) {
	// reinterleave puts the rotary rows of x back in the checkpoint's
	// interleaved order, undoing the mapping's deinterleaved.
	reinterleave := func(w hfWeights, name string, rot int, starts []int) {
		x := w[name]
		c := rowsOf(x, name, 0, x.Shape[0])
		rb := x.Shape[1] * x.DType.ElemSize()
		for _, s := range starts {
			for j := range rot / 2 {
				copy(c.Data[(s+2*j)*rb:(s+2*j+1)*rb], x.Data[(s+j)*rb:(s+j+1)*rb])
				copy(c.Data[(s+2*j+1)*rb:(s+2*j+2)*rb], x.Data[(s+rot/2+j)*rb:(s+rot/2+j+1)*rb])
			}
		}
		w[name] = c
	}
	tests := []struct {
		model, name string
		edit        func(*symb.ModelConfig, hfWeights)
	}{
		{"mixtral", "top-1", func(c *symb.ModelConfig, _ hfWeights) { c.MoE.TopK = 1 }},
		{"mixtral", "no renormalisation", func(c *symb.ModelConfig, _ hfWeights) { c.MoE.NormTopK = false }},
		{"dbrx", "no clip_qkv", func(c *symb.ModelConfig, _ hfWeights) { c.ClipQKV = 0 }},
		{"dbrx", "rmsnorm", func(c *symb.ModelConfig, _ hfWeights) { c.Norm = "rmsnorm" }},
		{"deepseek", "no group limit", func(c *symb.ModelConfig, _ hfWeights) { c.MoE.NumGroups, c.MoE.TopKGroups = 0, 0 }},
		{"deepseek", "no router bias", func(c *symb.ModelConfig, _ hfWeights) { c.MoE.RouterBias = false }},
		{"deepseek", "no scaling factor", func(c *symb.ModelConfig, _ hfWeights) { c.MoE.ScalingFactor = 0 }},
		{"deepseek", "no shared expert", func(c *symb.ModelConfig, _ hfWeights) { c.MoE.NumShared = 0 }},
		{"deepseek", "no yarn", func(c *symb.ModelConfig, _ hfWeights) { c.RopeScaling = nil }},
		{"deepseek", "interleaved rotary rows", func(c *symb.ModelConfig, w hfWeights) {
			a := c.MLA
			var starts []int
			for h := range c.NumHeads {
				starts = append(starts, h*(a.QKNopeHeadDim+a.QKRopeHeadDim)+a.QKNopeHeadDim)
			}
			for i := range c.NumLayers {
				reinterleave(w, symb.LayerTensor(i, symb.AttnQB), a.QKRopeHeadDim, starts)
				reinterleave(w, symb.LayerTensor(i, symb.AttnKVA), a.QKRopeHeadDim, []int{a.KVLoraRank})
			}
		}},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.name, func(t *testing.T) {
			ref := loadReference(t, modelDir(t, tc.model))
			cfg, w := hfModel(t, modelDir(t, tc.model))
			tc.edit(&cfg.Model, w)
			m, err := New(cfg, w, WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.NewSession().Forward(ctx, ref.inputIDs)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, ref.logits); d < 0.1 {
				t.Errorf("logits moved by only %g with the feature off", d)
			}
		})
	}
}

// TestSparseThreadsAgree checks that the thread count does not change a
// bit of a latent-attention, mixture-of-experts model.
func TestSparseThreadsAgree(t *testing.T) {
	ctx := context.Background()
	ids := loadReference(t, modelDir(t, "deepseek")).inputIDs
	var outs [][]float32
	for _, n := range []int{1, 3} {
		s := newTestModel(t, "deepseek", WithThreads(n)).NewSession()
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
	if d := maxAbsDiff(outs[0], outs[1]); d != 0 {
		t.Errorf("threads 1 vs 3: max abs difference %g", d)
	}
}

// TestLatentSymbiotic runs latent attention with the symbiotic engine: its
// state per head is (nope+rope) × v_head_dim and does not grow.
func TestLatentSymbiotic(t *testing.T) {
	ctx := context.Background()
	m := newTestModel(t, "deepseek", WithThreads(2), WithEngine(EngineSymbiotic))
	a := m.mc.MLA
	want := int64(m.mc.NumLayers*m.mc.NumHeads*(a.QKNopeHeadDim+a.QKRopeHeadDim)*a.VHeadDim) * 4
	s := m.NewSession()
	ids := loadReference(t, modelDir(t, "deepseek")).inputIDs
	for range 3 {
		l, err := s.Forward(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if !allFinite(l) || maxAbs(l) == 0 {
			t.Fatalf("degenerate logits: max |logit| %g", maxAbs(l))
		}
		if got := s.MemoryBytes(); got != want {
			t.Fatalf("symbiotic memory %d bytes after %d tokens, want %d", got, s.Pos(), want)
		}
	}
}

// TestSparseLoadFolder writes the sparse models as .symb folders and checks
// that Load reads every expert, router bias and latent tensor by name and
// computes what New computes.
func TestSparseLoadFolder(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"dbrx", "deepseek"} {
		t.Run(name, func(t *testing.T) {
			cfg, w := hfModel(t, modelDir(t, name))
			m, err := Load(writeFolder(t, cfg, w), WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ids := loadReference(t, modelDir(t, name)).inputIDs
			got, err := m.NewSession().Forward(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			want, err := newTestModel(t, name, WithThreads(2)).NewSession().Forward(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d != 0 {
				t.Errorf("Load vs New: max abs difference %g", d)
			}
		})
	}
}

// TestSparseLoadErrors checks that missing expert, router-bias and latent
// tensors are named in the error.
func TestSparseLoadErrors(t *testing.T) {
	tests := []struct {
		model, name string
		edit        func(*symb.Config, hfWeights)
		want        string
	}{
		{"mixtral", "expert", func(_ *symb.Config, w hfWeights) { delete(w, symb.ExpertTensor(1, 3, symb.MLPDown)) },
			"layers/layer_01/experts/expert_003/mlp_down"},
		{"dbrx", "expert shape", func(_ *symb.Config, w hfWeights) {
			n := symb.ExpertTensor(0, 2, symb.MLPDown)
			w[n] = transposed(w[n], n) // w2 left as DBRX stores it
		}, "layers/layer_00/experts/expert_002/mlp_down"},
		{"deepseek", "router bias", func(_ *symb.Config, w hfWeights) { delete(w, symb.LayerTensor(2, symb.MoERouterBias)) },
			"layers/layer_02/moe_router_bias"},
		{"deepseek", "shared expert", func(_ *symb.Config, w hfWeights) { delete(w, symb.LayerTensor(1, symb.SharedUp)) },
			"layers/layer_01/shared_mlp_up"},
		{"deepseek", "dense layer", func(_ *symb.Config, w hfWeights) { delete(w, symb.LayerTensor(0, symb.MLPGate)) },
			"layers/layer_00/mlp_gate"},
		{"deepseek", "q_a norm", func(_ *symb.Config, w hfWeights) { delete(w, symb.LayerTensor(1, symb.AttnQANorm)) },
			"layers/layer_01/attn_q_a_norm"},
		{"deepseek", "uncompressed queries", func(c *symb.Config, _ hfWeights) { c.Model.MLA.QLoraRank = 0 },
			"layers/layer_00/attn_q"},
		{"deepseek", "kv_b shape", func(c *symb.Config, _ hfWeights) { c.Model.MLA.VHeadDim = 16 },
			"layers/layer_00/attn_kv_b"},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.name, func(t *testing.T) {
			cfg, w := hfModel(t, modelDir(t, tc.model))
			tc.edit(cfg, w)
			_, err := New(cfg, w)
			if !errors.Is(err, ErrBadWeights) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrBadWeights naming %q", err, tc.want)
			}
		})
	}
}

func TestLayerNorm(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	w := []float32{1, 2, 0.5, -1}
	got := make([]float32, 4)
	layerNorm(got, x, w, 1e-5, 0)
	inv := 1 / math.Sqrt(1.25+1e-5) // mean 2.5, biased variance 1.25
	for i := range x {
		want := (float64(x[i]) - 2.5) * inv * float64(w[i])
		if math.Abs(float64(got[i])-want) > 1e-6 {
			t.Errorf("layerNorm[%d] = %g, want %g", i, got[i], want)
		}
	}
	// A large common offset must not cancel the variance.
	for i := range x {
		x[i] += 1e4
	}
	layerNorm(x, x, w, 1e-5, 0) // in place
	for i := range x {
		want := (float64(i+1) - 2.5) * inv * float64(w[i])
		if math.Abs(float64(x[i])-want) > 1e-4 {
			t.Errorf("with offset 1e4: layerNorm[%d] = %g, want %g", i, x[i], want)
		}
	}
}

// TestUncompressedQueries runs latent attention with q_lora_rank 0 (a plain
// attn_q, as in DeepSeek-V2-Lite), here attn_q_b·attn_q_a, and checks that
// prefill in one batch and token by token agree.
func TestUncompressedQueries(t *testing.T) {
	ctx := context.Background()
	cfg, w := hfModel(t, modelDir(t, "deepseek"))
	a := cfg.Model.MLA
	for i := range cfg.Model.NumLayers {
		qa, qb := w[symb.LayerTensor(i, symb.AttnQA)], w[symb.LayerTensor(i, symb.AttnQB)]
		A, B := toF32(t, qa), toF32(t, qb)
		rows, hid := qb.Shape[0], qa.Shape[1]
		q := make([]float32, rows*hid)
		for r := range rows {
			for k := range a.QLoraRank {
				for c := range hid {
					q[r*hid+c] += B[r*a.QLoraRank+k] * A[k*hid+c]
				}
			}
		}
		name := symb.LayerTensor(i, symb.AttnQ)
		w[name] = &symb.Tensor{Name: name, Info: symb.Info{DType: symb.F32, Shape: []int{rows, hid}}, Data: f32Bytes(q)}
		for _, n := range []string{symb.AttnQA, symb.AttnQANorm, symb.AttnQB} {
			delete(w, symb.LayerTensor(i, n))
		}
	}
	a.QLoraRank = 0
	m, err := New(cfg, w, WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	ids := loadReference(t, modelDir(t, "deepseek")).inputIDs
	batch, err := m.NewSession().Forward(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	step := stepwiseLogits(t, m, ids)
	if !allFinite(batch) || maxAbs(batch) == 0 {
		t.Fatalf("degenerate logits: max |logit| %g", maxAbs(batch))
	}
	if d := maxAbsDiff(batch, step); d > 1e-5*maxAbs(batch) {
		t.Errorf("batch vs stepwise: max abs difference %g", d)
	}
}

// toF32 decodes a BF16 or F32 tensor.
func toF32(t testing.TB, x *symb.Tensor) []float32 {
	t.Helper()
	out := make([]float32, x.Elements())
	for r := range x.Shape[0] {
		kernels.Row(out[r*x.Shape[1]:(r+1)*x.Shape[1]], x, r)
	}
	return out
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// TestQuantizedSparse runs DeepSeek's experts, router and latent projections
// as packed INT8 and as the same values expanded to float32: the kernels
// must agree. (Closeness to the reference is not asserted: at position 4
// layer 2's two expert groups score within 1e-3 of each other, so any
// rounding of the weights may flip that choice and move the logits there
// by several units.)
func TestQuantizedSparse(t *testing.T) {
	ctx := context.Background()
	spec := quantize.Spec{Type: quantize.INT8, Scheme: quantize.Symmetric, GroupSize: 32}
	cfg, w := hfModel(t, modelDir(t, "deepseek"))
	f32 := hfWeights{}
	for name, x := range w {
		if len(x.Shape) == 2 {
			x = &symb.Tensor{Name: name, Info: symb.Info{DType: symb.F32, Shape: x.Shape}, Data: f32Bytes(toF32(t, x))}
		}
		f32[name] = x
	}
	qw := quantized(t, f32, spec)
	ids := loadReference(t, modelDir(t, "deepseek")).inputIDs
	run := func(w hfWeights, opts ...Option) []float32 {
		m, err := New(cfg, w, append([]Option{WithThreads(2)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.NewSession().Forward(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	got, want, orig := run(qw), run(dequantized(t, qw, spec)), run(f32)
	// The generic kernels multiply by the float32 input: they must read
	// every packed layout to float32 rounding.
	if gen := run(qw, WithKernels(kernels.Generic)); maxAbsDiff(gen, want) > 1e-5*maxAbs(want) {
		t.Errorf("generic kernels, packed vs expanded weights: max abs difference %g", maxAbsDiff(gen, want))
	}
	// The AVX-512 kernels round the input of INT8 products to int8 per
	// 32-element block (see TestQuantizedWeights). On these random weights
	// that moves a position's logits by up to 0.071 of its max |logit|
	// (measured), except where it flips a near-tied expert choice (positions
	// 19 and 22: several units), so: at most two positions beyond 0.1.
	tol, flips := 1e-5, 0
	if k, _ := kernels.Select(kernels.Auto); k == kernels.AVX512 {
		tol, flips = 0.1, 2
	}
	V := len(got) / len(ids)
	far := 0
	for p := range ids {
		g, w := got[p*V:(p+1)*V], want[p*V:(p+1)*V]
		if d := maxAbsDiff(g, w); d > tol*maxAbs(w) {
			far++
			t.Logf("position %d: packed vs expanded weights: max abs difference %g (max |logit| %g)", p, d, maxAbs(w))
		}
	}
	if far > flips {
		t.Errorf("packed vs expanded weights: %d positions beyond %g of max |logit|, want at most %d", far, tol, flips)
	}
	if maxAbsDiff(got, orig) == 0 {
		t.Error("quantized logits equal the float32 ones exactly: weights were not quantized")
	}
}
