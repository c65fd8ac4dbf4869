package convert

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/symb"
)

// Quality-targeted precision choice. Every weight matrix (linear layers, the
// embeddings, the LM head) may be stored as any of several candidate specs.
// For each tensor t and candidate s the converter measures
//
//	E_t(s) = Σ_rows Σ_c imp_c·(w − ŵ)²
//
// the importance-weighted squared error of quantizing t with s, and once per
// tensor the sensitivity g_t: the mean KL divergence of the model's next-token
// distributions when t alone is quantized with the coarsest candidate, divided
// by that candidate's E_t. To second order small perturbations add, so the
// predicted KL of a whole assignment is Σ_t g_t·E_t(s_t). A Lagrangian search
// then picks, per tensor, the candidate minimising KL + λ·bytes, with λ set
// so the result meets the size (--bits) or the quality (--max-kld) target.

// candidateSpecs are the storage choices a weight matrix may get: INT4 with
// the weighted search at three group sizes, both schemes; INT8; F16.
func candidateSpecs() []quantize.Spec {
	var out []quantize.Spec
	for _, g := range []int{128, 64, 32} {
		for _, sc := range []quantize.Scheme{quantize.Symmetric, quantize.Asymmetric} {
			out = append(out, quantize.Spec{Type: quantize.INT4, Scheme: sc, Method: recipeMethod, GroupSize: g})
		}
	}
	return append(out,
		quantize.Spec{Type: quantize.INT8, Scheme: quantize.Symmetric, Method: quantize.MSE, GroupSize: 128},
		quantize.Spec{Type: quantize.F16})
}

// recipeMethod is how the per-tensor recipe quantizes INT4 candidates:
// GPTQ when the inputs' second moments fit in memory, else the weighted
// scale search (QuantizeRowsGPTQ falls back by itself).
const recipeMethod = quantize.GPTQ

// allocatable reports whether the precision choice applies to an item.
func allocatable(it *item) bool {
	switch it.Role {
	case symb.RoleLinear, symb.RoleEmbedding, symb.RoleLMHead:
		return it.Rows() > 1
	}
	return false
}

// option is one candidate for one tensor.
type option struct {
	spec  quantize.Spec
	bytes int64   // file size
	err   float64 // E_t(spec)
}

// tensorChoice is everything the allocation knows about one tensor.
type tensorChoice struct {
	index int // into the item list
	gain  float64
	opts  []option
}

// fileBytes is the exact file size of a tensor stored with spec.
func fileBytes(spec quantize.Spec, shape []int) (int64, error) {
	info, err := infoFor(spec, shape)
	if err != nil {
		return 0, err
	}
	h, err := symb.NewHeader(info)
	if err != nil {
		return 0, err
	}
	return h.FileSize(), nil
}

// errorSampleRows bounds the rows of a tensor the error table quantizes;
// larger tensors are sampled evenly and the sums scaled up.
const errorSampleRows = 256

// sampleRows reads up to errorSampleRows evenly spaced rows of it as float32
// and returns them with the factor that scales their sums to the tensor.
func sampleRows(it *item) ([]float32, float64, error) {
	rows, cols := it.Rows(), it.Cols()
	n := min(rows, errorSampleRows)
	buf := make([]float32, n*cols)
	if n == rows {
		if err := it.reader.Read(buf, 0, rows, 0, cols); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", it.Name, err)
		}
		return buf, 1, nil
	}
	for i := range n {
		r := i * rows / n
		if err := it.reader.Read(buf[i*cols:(i+1)*cols], r, r+1, 0, cols); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", it.Name, err)
		}
	}
	return buf, float64(rows) / float64(n), nil
}

// errorTable fills the options of every allocatable item.
func errorTable(ctx context.Context, items []*item, imp map[string][]float32, jobs int) ([]tensorChoice, error) {
	var idx []int
	for i, it := range items {
		if allocatable(it) {
			idx = append(idx, i)
		}
	}
	out := make([]tensorChoice, len(idx))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	for k, i := range idx {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			it := items[i]
			x, scale, err := sampleRows(it)
			if err != nil {
				return err
			}
			tc := tensorChoice{index: i}
			for _, s := range candidateSpecs() {
				e, err := quantize.WeightedError(s, x, it.Cols(), imp[it.Name])
				if err != nil {
					return fmt.Errorf("%s as %s: %w", it.Name, s, err)
				}
				b, err := fileBytes(s, it.Shape)
				if err != nil {
					return fmt.Errorf("%s as %s: %w", it.Name, s, err)
				}
				tc.opts = append(tc.opts, option{spec: s, bytes: b, err: e * scale})
			}
			out[k] = tc
			return nil
		})
	}
	return out, g.Wait()
}

// swapWeights serves base's tensors except one replaced by t.
type swapWeights struct {
	base runtime.Weights
	t    *symb.Tensor
}

func (s swapWeights) Tensor(name string) (*symb.Tensor, error) {
	if name == s.t.Name {
		return s.t, nil
	}
	return s.base.Tensor(name)
}

// measureGains sets the sensitivity of every choice: tensor t alone is
// quantized with its coarsest candidate (the first), the model runs over
// segs, and the mean KL against the float model divided by that
// candidate's error is the gain. It reports false, changing nothing, when
// the passes would cost more than the gain budget; the caller then falls
// back to relative errors.
func measureGains(ctx context.Context, cfg *symb.Config, w runtime.Weights, items []*item, tcs []tensorChoice,
	hess []*moment, segs [][]int, params int64, threads int) (bool, error) {
	tokens := min(gainMaxTokens, int(gainFLOPs/(2*float64(params)*float64(len(tcs)+1))))
	if tokens < 64 {
		return false, nil
	}
	segs = takeTokens(segs, tokens)
	ref, err := runLogits(ctx, cfg, w, segs, threads)
	if err != nil {
		return false, err
	}
	vocab := cfg.Model.VocabSize
	for k := range tcs {
		tc := &tcs[k]
		it := items[tc.index]
		o := tc.opts[0]
		t, err := dequantized(it, o.spec, hess[tc.index])
		if err != nil {
			return false, err
		}
		got, err := runLogits(ctx, cfg, swapWeights{w, t}, segs, threads)
		if err != nil {
			return false, err
		}
		kl := meanKL(ref, got, vocab)
		tc.gain = kl / max(o.err, 1e-30)
	}
	return true, nil
}

// relativeGains is the fallback sensitivity: each tensor's error relative
// to the energy of its output, Σ_rows Σ_c imp_c·w², so every tensor's
// relative error counts the same.
func relativeGains(items []*item, tcs []tensorChoice, imp map[string][]float32) error {
	for k := range tcs {
		it := items[tcs[k].index]
		x, scale, err := sampleRows(it)
		if err != nil {
			return err
		}
		w := imp[it.Name]
		cols := it.Cols()
		var e float64
		for i, v := range x {
			f := float64(v) * float64(v)
			if w != nil {
				f *= float64(w[i%cols])
			}
			e += f
		}
		tcs[k].gain = 1 / max(e*scale, 1e-30)
	}
	return nil
}

// takeTokens keeps the first n tokens of segs.
func takeTokens(segs [][]int, n int) [][]int {
	var out [][]int
	for _, s := range segs {
		if n <= 0 {
			break
		}
		s = s[:min(len(s), n)]
		out = append(out, s)
		n -= len(s)
	}
	return out
}

// dequantized is it stored with spec (with GPTQ when h is given) and
// expanded back to an F32 tensor under the item's name.
func dequantized(it *item, spec quantize.Spec, h *moment) (*symb.Tensor, error) {
	rows, cols := it.Rows(), it.Cols()
	x := make([]float32, rows*cols)
	if err := it.reader.Read(x, 0, rows, 0, cols); err != nil {
		return nil, fmt.Errorf("%s: %w", it.Name, err)
	}
	db, sb, mb, err := spec.Layout(rows, cols)
	if err != nil {
		return nil, err
	}
	data, sc, mi := make([]byte, db), make([]byte, sb), make([]byte, mb)
	if h != nil && spec.Method == quantize.GPTQ {
		f, err := quantize.NewGPTQFactor(h.mean(), cols)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name, err)
		}
		orig := slices.Clone(x)
		if err := quantize.QuantizeRowsGPTQ(spec, orig, cols, f, data, sc, mi); err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name, err)
		}
	} else if err := quantize.QuantizeRows(spec, x, cols, data, sc, mi); err != nil {
		return nil, fmt.Errorf("%s: %w", it.Name, err)
	}
	if err := quantize.Dequantize(spec, data, sc, mi, rows, cols, x); err != nil {
		return nil, err
	}
	b := make([]byte, 4*len(x))
	copy(bytesAs[float32](b), x)
	return &symb.Tensor{Name: it.Name, Info: symb.Info{DType: symb.F32, Shape: slices.Clone(it.Shape)}, Data: b}, nil
}

// runLogits returns the logits of every position of every segment.
func runLogits(ctx context.Context, cfg *symb.Config, w runtime.Weights, segs [][]int, threads int) ([]float32, error) {
	m, err := runtime.New(cfg, w, runtime.WithThreads(threads))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var out []float32
	for _, ids := range segs {
		l, err := m.NewSession().Forward(ctx, ids)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

// meanKL is the mean over positions of KL(softmax(ref) ‖ softmax(got)).
func meanKL(ref, got []float32, vocab int) float64 {
	n := len(ref) / vocab
	var sum float64
	for p := range n {
		r, g := ref[p*vocab:(p+1)*vocab], got[p*vocab:(p+1)*vocab]
		lr, lg := logSumExp(r), logSumExp(g)
		var kl float64
		for i := range r {
			a := float64(r[i]) - lr
			kl += math.Exp(a) * (a - (float64(g[i]) - lg))
		}
		sum += max(kl, 0)
	}
	return sum / float64(max(n, 1))
}

func logSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// pick returns, per choice, the option minimising gain·err + λ·bytes.
func pick(tcs []tensorChoice, lambda float64) (sel []int, bytes int64, kl float64) {
	sel = make([]int, len(tcs))
	for k, tc := range tcs {
		best, bestCost := 0, math.Inf(1)
		for j, o := range tc.opts {
			c := tc.gain*o.err + lambda*float64(o.bytes)
			if c < bestCost {
				best, bestCost = j, c
			}
		}
		sel[k] = best
		bytes += tc.opts[best].bytes
		kl += tc.gain * tc.opts[best].err
	}
	return sel, bytes, kl
}

// allocate chooses one option per tensor: with budget > 0 the lowest
// predicted KL within budget bytes, otherwise the fewest bytes whose
// predicted KL is at most maxKLD. It returns the choice and its prediction.
func allocate(tcs []tensorChoice, budget int64, maxKLD float64) ([]int, float64, error) {
	if len(tcs) == 0 {
		return nil, 0, nil
	}
	// λ large favours bytes, small favours KL; bisect in log space.
	lo, hi := -80.0, 80.0 // log λ
	ok := func(lg float64) bool {
		_, b, kl := pick(tcs, math.Exp(lg))
		if budget > 0 {
			return b <= budget
		}
		return kl <= maxKLD
	}
	if least := leastBytes(tcs); budget > 0 && least > budget {
		return nil, 0, fmt.Errorf("the smallest choice takes %d bytes, more than the %d the target allows", least, budget)
	}
	if budget <= 0 && !ok(lo) {
		sel, _, kl := pick(tcs, math.Exp(lo))
		return sel, kl, fmt.Errorf("predicted mean KL %.4g of the most precise choice is above --max-kld %g", kl, maxKLD)
	}
	if budget > 0 && ok(lo) {
		sel, _, kl := pick(tcs, math.Exp(lo))
		return sel, kl, nil
	}
	// budget: find the smallest λ that fits; max-kld: the largest λ that meets it.
	for range 100 {
		mid := (lo + hi) / 2
		if ok(mid) == (budget > 0) {
			hi = mid
		} else {
			lo = mid
		}
	}
	l := hi
	if budget <= 0 {
		l = lo
	}
	sel, b, kl := pick(tcs, math.Exp(l))
	if budget > 0 {
		sel, kl = fill(tcs, sel, budget-b)
	}
	return sel, kl, nil
}

// leastBytes is the size of the smallest choice for every tensor.
func leastBytes(tcs []tensorChoice) int64 {
	var n int64
	for _, tc := range tcs {
		b := tc.opts[0].bytes
		for _, o := range tc.opts {
			b = min(b, o.bytes)
		}
		n += b
	}
	return n
}

// fill spends leftover bytes on the upgrades with the best KL saved per byte.
func fill(tcs []tensorChoice, sel []int, spare int64) ([]int, float64) {
	for {
		bestK, bestJ, bestRate := -1, -1, 0.0
		for k, tc := range tcs {
			cur := tc.opts[sel[k]]
			for j, o := range tc.opts {
				db := o.bytes - cur.bytes
				dk := tc.gain * (cur.err - o.err)
				if db <= 0 || db > spare || dk <= 0 {
					continue
				}
				if r := dk / float64(db); r > bestRate {
					bestK, bestJ, bestRate = k, j, r
				}
			}
		}
		if bestK < 0 {
			break
		}
		spare -= tcs[bestK].opts[bestJ].bytes - tcs[bestK].opts[sel[bestK]].bytes
		sel[bestK] = bestJ
	}
	var kl float64
	for k, tc := range tcs {
		kl += tc.gain * tc.opts[sel[k]].err
	}
	return sel, kl
}

// sortedNames lists the keys of m in order (for stable records).
func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
