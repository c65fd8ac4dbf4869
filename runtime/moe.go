package runtime

import (
	"fmt"
	"math"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// Sparse mixture-of-experts MLPs (config "moe"). A router scores every
// expert for each token, the top_k experts run on that token, and their
// outputs are summed with the router's weights; shared experts, when
// present, run on every token and are added unweighted.

// moeLayer holds one sparse MLP.
type moeLayer struct {
	router  *symb.Tensor // [E, hidden]
	bias    []float32    // selection-only bias [E]; nil when absent
	experts []expertMLP
	shared  *expertMLP // the shared experts as one MLP; nil when none
}

// expertMLP is one gated MLP: down(act(gate·x) ⊙ up·x).
type expertMLP struct{ gate, up, down *symb.Tensor }

// checkMoE refuses mixture-of-experts settings the router cannot honour.
func checkMoE(mc *symb.ModelConfig) error {
	e := mc.MoE
	if e == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: moe: %s", ErrBadWeights, fmt.Sprintf(format, args...))
	}
	switch e.Router {
	case "softmax_topk", "topk_softmax":
		if e.NumGroups > 1 {
			return fmt.Errorf("%w: moe: expert groups (n_group %d) with router %q", ErrUnsupported, e.NumGroups, e.Router)
		}
		if e.RouterBias {
			return fmt.Errorf("%w: moe: router_bias with router %q", ErrUnsupported, e.Router)
		}
	case "sigmoid_grouped":
		if e.NumGroups > 1 {
			size := e.NumExperts / e.NumGroups
			switch {
			case e.NumExperts%e.NumGroups != 0:
				return bad("num_experts %d is not a multiple of n_group %d", e.NumExperts, e.NumGroups)
			case e.TopKGroups < 1 || e.TopKGroups > e.NumGroups:
				return bad("topk_group is %d (want 1..n_group %d)", e.TopKGroups, e.NumGroups)
			case e.TopK > e.TopKGroups*size:
				return bad("top_k %d exceeds the %d experts of topk_group %d groups", e.TopK, e.TopKGroups*size, e.TopKGroups)
			}
		}
	default:
		return fmt.Errorf("%w: moe router %q (want softmax_topk, topk_softmax or sigmoid_grouped)", ErrUnsupported, e.Router)
	}
	return nil
}

// moe loads layer i's router, experts and shared experts.
func (l *loader) moe(i int) *moeLayer {
	e := l.m.mc.MoE
	L := &moeLayer{
		router: l.matrix(symb.LayerTensor(i, symb.MoERouter)),
		bias:   l.vector(symb.LayerTensor(i, symb.MoERouterBias), false),
	}
	L.experts = make([]expertMLP, e.NumExperts)
	for x := range L.experts {
		name := func(s string) string { return symb.ExpertTensor(i, x, s) }
		L.experts[x] = l.mlp(name(symb.MLPGate), name(symb.MLPUp), name(symb.MLPDown))
	}
	if e.NumShared > 0 {
		name := func(s string) string { return symb.LayerTensor(i, s) }
		sh := l.mlp(name(symb.SharedGate), name(symb.SharedUp), name(symb.SharedDown))
		L.shared = &sh
	}
	if l.err != nil {
		return nil
	}
	return L
}

// mlp loads a gated MLP.
func (l *loader) mlp(gate, up, down string) expertMLP {
	return expertMLP{gate: l.matrix(gate), up: l.matrix(up), down: l.matrix(down)}
}

// router turns one token's router logits into chosen experts and weights.
type router struct {
	kind      string // "softmax_topk", "topk_softmax" or "sigmoid_grouped"
	topK      int
	norm      bool    // renormalise the chosen weights to sum to 1
	scale     float32 // routed_scaling_factor (1 when unset)
	groups    int     // expert groups (sigmoid_grouped); ≤ 1 means none
	topGroups int     // groups kept
}

func newRouter(e *symb.MoE) router {
	r := router{kind: e.Router, topK: e.TopK, norm: e.NormTopK, scale: 1, groups: e.NumGroups, topGroups: e.TopKGroups}
	if e.ScalingFactor != 0 {
		r.scale = float32(e.ScalingFactor)
	}
	return r
}

// scratchLen is the scratch route needs for e experts.
func (r *router) scratchLen(e int) int { return 2*e + 2*max(r.groups, 1) }

// route fills sel with the topK chosen experts (best first) and w with their
// weights, from logits (one per expert). bias (nil or one per expert) is
// added to the scores for choosing only. scratch holds scratchLen floats.
// Every step is a float32 operation in the order transformers uses, and
// ties go to the lower index.
func (r *router) route(logits, bias []float32, sel []int, w []float32, scratch []float32) {
	n := len(logits)
	switch r.kind {
	case "softmax_topk":
		p := scratch[:n]
		copy(p, logits)
		softmax(p)
		topK(p, sel)
		for j, e := range sel {
			w[j] = p[e]
		}
		if r.norm {
			normalise(w, 0)
		}
	case "topk_softmax":
		topK(logits, sel)
		for j, e := range sel {
			w[j] = logits[e]
		}
		softmax(w)
		if r.norm {
			normalise(w, 0)
		}
	default: // sigmoid_grouped
		score, choice := scratch[:n], scratch[n:2*n]
		for i, x := range logits {
			score[i] = float32(1 / (1 + math.Exp(-float64(x))))
			choice[i] = score[i]
			if bias != nil {
				choice[i] += bias[i]
			}
		}
		if r.groups > 1 {
			r.limitGroups(choice, scratch[2*n:2*n+2*r.groups])
		}
		topK(choice, sel)
		for j, e := range sel {
			w[j] = score[e]
		}
		if r.norm {
			normalise(w, 1e-20)
		}
	}
	if r.scale != 1 {
		for j := range w {
			w[j] *= r.scale
		}
	}
}

// limitGroups keeps the topGroups groups of experts whose two best choice
// scores sum highest and sets the others' scores to 0 (not −∞: transformers
// masks with 0, so a masked expert can still beat a negative score).
func (r *router) limitGroups(choice, scratch []float32) {
	size := len(choice) / r.groups
	gscore, keep := scratch[:r.groups], scratch[r.groups:2*r.groups]
	for g := range gscore {
		grp := choice[g*size : (g+1)*size]
		var best [2]int
		n := min(2, size)
		topK(grp, best[:n])
		gscore[g] = grp[best[0]]
		if n == 2 {
			gscore[g] += grp[best[1]]
		}
		keep[g] = 0
	}
	for range r.topGroups {
		b := -1
		for g, v := range gscore {
			if keep[g] == 0 && (b < 0 || v > gscore[b]) {
				b = g
			}
		}
		keep[b] = 1
	}
	for g, k := range keep {
		if k == 0 {
			clear(choice[g*size : (g+1)*size])
		}
	}
}

// topK writes the indices of the len(sel) largest values of x to sel, best
// first; ties (and NaNs) go to the lower index.
func topK(x []float32, sel []int) {
	for j := range sel {
		b := -1
		for i, v := range x {
			if (b < 0 || v > x[b]) && !chosen(sel[:j], i) {
				b = i
			}
		}
		sel[j] = b
	}
}

func chosen(sel []int, i int) bool {
	for _, s := range sel {
		if s == i {
			return true
		}
	}
	return false
}

// softmax replaces x with exp(x − max) / Σ exp(x − max); exp is computed in
// float64 and rounded, the sum accumulated in float64.
func softmax(x []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += float64(e)
	}
	s := float32(sum)
	for i := range x {
		x[i] /= s
	}
}

// normalise divides w by its sum plus eps.
func normalise(w []float32, eps float32) {
	var sum float32
	for _, v := range w {
		sum += v
	}
	sum += eps
	for i := range w {
		w[i] /= sum
	}
}

// moeBuffers are the sparse MLP's per-chunk scratch.
type moeBuffers struct {
	logits  []float32 // router logits [n][E]
	sel     []int     // chosen experts [n][top_k]
	w       []float32 // their weights [n][top_k]
	order   []int     // indices into sel, grouped by expert, tokens ascending
	start   []int     // [E+1] where each expert's run of order begins
	fill    []int     // [E] next free slot per expert while grouping
	x, y    []float32 // one expert's gathered inputs and outputs [n][hidden]
	scratch []float32 // routing
}

func newMoEBuffers(mc *symb.ModelConfig, n int) moeBuffers {
	e := mc.MoE
	r := newRouter(e)
	return moeBuffers{
		logits:  make([]float32, n*e.NumExperts),
		sel:     make([]int, n*e.TopK),
		w:       make([]float32, n*e.TopK),
		order:   make([]int, n*e.TopK),
		start:   make([]int, e.NumExperts+1),
		fill:    make([]int, e.NumExperts),
		x:       make([]float32, n*mc.HiddenSize),
		y:       make([]float32, n*mc.HiddenSize),
		scratch: make([]float32, r.scratchLen(e.NumExperts)),
	}
}

// sparseMLP computes the sparse MLP of the n tokens in s.b.h into s.b.o.
// Tokens are grouped by expert so that each chosen expert runs once over
// all of its tokens (one MatMul per weight in prefill, a MatVec in decode),
// and experts no token chose are not touched. Outputs are accumulated in
// expert order, as transformers does, whatever the batch.
func (s *Session) sparseMLP(L *moeLayer, n int) {
	m, b := s.m, &s.b
	e, hid := m.mc.MoE, m.mc.HiddenSize
	E, k := e.NumExperts, e.TopK
	mb := &b.moe
	h := b.h[:n*hid]
	logits := mb.logits[:n*E]
	m.linear(logits, h, n, L.router)
	sel, w := mb.sel[:n*k], mb.w[:n*k]
	for t := range n {
		m.router.route(logits[t*E:(t+1)*E], L.bias, sel[t*k:(t+1)*k], w[t*k:(t+1)*k], mb.scratch)
	}
	// Counting sort of the (token, slot) pairs by expert.
	start := mb.start
	clear(start)
	for _, x := range sel {
		start[x+1]++
	}
	for x := range E {
		start[x+1] += start[x]
	}
	copy(mb.fill, start[:E])
	order := mb.order[:n*k]
	for i, x := range sel {
		order[mb.fill[x]] = i
		mb.fill[x]++
	}

	out := b.o[:n*hid]
	clear(out)
	for x := range E {
		pairs := order[start[x]:start[x+1]]
		cnt := len(pairs)
		if cnt == 0 {
			continue
		}
		// In a batched pass, an expert chosen by a single token runs on that
		// row twice: MatMul and MatVec round differently, and this keeps a
		// token's result independent of which other tokens share its experts
		// (every token of a batch gets MatMul's numbers, as in a dense layer).
		rows := cnt
		if cnt == 1 && n > 1 {
			rows = 2
		}
		X, Y := mb.x[:rows*hid], mb.y[:rows*hid]
		for j, i := range pairs {
			t := i / k
			copy(X[j*hid:(j+1)*hid], h[t*hid:(t+1)*hid])
		}
		if rows > cnt {
			copy(X[hid:], X[:hid])
		}
		s.runMLP(&L.experts[x], X, Y, rows)
		for j, i := range pairs {
			t := i / k
			ot, yt, wt := out[t*hid:(t+1)*hid], Y[j*hid:(j+1)*hid], w[i]
			for c, y := range yt {
				ot[c] += float32(y * wt) // the product is rounded first, as in the reference
			}
		}
		s.expertRows += int64(cnt)
	}
	if L.shared != nil {
		Y := mb.y[:n*hid]
		s.runMLP(L.shared, h, Y, n)
		kernels.Add(out, Y)
	}
}

// runMLP computes Y = down(act(gate·X) ⊙ up·X) for n rows of X, using
// s.b.gate and s.b.up as scratch.
func (s *Session) runMLP(f *expertMLP, X, Y []float32, n int) {
	m, b := s.m, &s.b
	inter := f.gate.Rows()
	gate, up := b.gate[:n*inter], b.up[:n*inter]
	m.linear(gate, X, n, f.gate)
	m.linear(up, X, n, f.up)
	gatedActivation(gate, up, m.mc.Activation)
	m.linear(Y, gate, n, f.down)
}
