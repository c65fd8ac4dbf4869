package convert

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strings"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
	"github.com/symbc/symbc/symb"
)

// defaultCalibration is the built-in calibration text: simple stories and
// plain general prose written for this project (about 20 KB). Paragraphs are
// separated by blank lines.
//
//go:embed calibdata/default.txt
var defaultCalibration string

// DefaultCalibrationText returns the built-in calibration text.
func DefaultCalibrationText() string { return defaultCalibration }

// Calibration work bounds. The forward passes cost about 2·params FLOPs per
// token; calibFLOPs caps the tokens so that a 1B model calibrates in well
// under a minute on two cores while a small model reads the whole text.
const (
	calibSegment   = 128  // tokens per forward pass (a fresh sequence each)
	calibMinTokens = 128  // never fewer tokens than this, text permitting
	calibFLOPs     = 4e11 // forward-pass budget for activation statistics
	gainFLOPs      = 3e11 // budget for the per-tensor sensitivity passes
	gainMaxTokens  = 512  // tokens per sensitivity pass at most
	impFloor       = 1e-6 // relative floor of a column's importance
	calibMaxText   = 64 << 20
)

// activations are the per-input-channel statistics of every linear weight
// on the calibration text: the mean square of each column's input (the
// diagonal of the layer's input second moment, what llama.cpp calls the
// importance matrix).
type activations struct {
	tokens int
	imp    map[string][]float32 // weight name -> mean x² per input column
	// second moments E[x·xᵀ] of the inputs (GPTQ), per weight name; weights
	// that read the same input (q, k, v; gate, up) share one. Nil unless
	// requested and within hessianMaxBytes.
	hess map[string]*moment
}

// moment is the running sum of x·xᵀ over n inputs of cols channels.
type moment struct {
	cols int
	n    int
	sum  []float64 // cols × cols, upper triangle filled during collection
}

// add accumulates the rows of x.
func (m *moment) add(x []float32, n int) {
	c := m.cols
	for t := range n {
		row := x[t*c : (t+1)*c]
		for i, a := range row {
			if a == 0 {
				continue
			}
			s := m.sum[i*c : (i+1)*c]
			fa := float64(a)
			for j := i; j < c; j++ {
				s[j] += fa * float64(row[j])
			}
		}
	}
	m.n += n
}

// mean returns the symmetric mean second moment.
func (m *moment) mean() []float64 {
	c := m.cols
	out := make([]float64, c*c)
	inv := 1 / float64(max(m.n, 1))
	for i := range c {
		for j := i; j < c; j++ {
			v := m.sum[i*c+j] * inv
			out[i*c+j], out[j*c+i] = v, v
		}
	}
	return out
}

// hessianMaxBytes bounds the memory of all second moments; a model whose
// inputs need more (a 1B model's MLP alone needs 512 MB per layer) is
// quantized without GPTQ.
const hessianMaxBytes = 256 << 20

// hessianTokens bounds the tokens the second moments accumulate: they cost
// cols² per token and input, far more than the diagonal.
const hessianTokens = 4096

// calibSegments tokenizes text paragraph by paragraph (BOS-prefixed as the
// model saw its training documents) and packs the ids into segments of at
// most seg tokens, stopping after maxTokens.
func calibSegments(tok *tokenizer.Tokenizer, text string, seg, maxTokens int) [][]int {
	var out [][]int
	var cur []int
	total := 0
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		ids := tok.Encode(para, true)
		for len(ids) > 0 && total < maxTokens {
			if len(cur) == seg {
				out = append(out, cur)
				cur = nil
			}
			n := min(len(ids), seg-len(cur), maxTokens-total)
			cur = append(cur, ids[:n]...)
			ids = ids[n:]
			total += n
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// tokenBudget is how many tokens flops buys on a model of params weights.
func tokenBudget(flops float64, params int64) int {
	if params <= 0 {
		return calibMinTokens
	}
	return max(calibMinTokens, int(flops/(2*float64(params))))
}

// collectActivations runs the source model over segs and accumulates the
// mean square of every linear layer's input columns.
func collectActivations(ctx context.Context, cfg *symb.Config, w runtime.Weights, segs [][]int, threads int, hessians bool) (*activations, error) {
	sums := map[string][]float64{}
	rows := map[string]int{}
	var hess map[string]*moment
	if hessians {
		hess = map[string]*moment{}
	}
	var lastX *float32
	var lastM *moment
	seen := 0
	var hessBytes int64
	a := &activations{imp: map[string][]float32{}, hess: hess}
	addHess := func(name string, x []float32, n int) {
		cols := len(x) / n
		if &x[0] == lastX && lastM != nil && lastM.cols == cols {
			hess[name] = lastM // same input as the previous weight
			return
		}
		m := hess[name]
		if m == nil {
			if hessBytes += 8 * int64(cols) * int64(cols); hessBytes > hessianMaxBytes {
				hess, a.hess = nil, nil // too large for this model: no GPTQ
				return
			}
			m = &moment{cols: cols, sum: make([]float64, cols*cols)}
			hess[name] = m
		}
		m.add(x, n)
		lastX, lastM = &x[0], m
	}
	observe := func(name string, x []float32, n int) {
		if hess != nil && seen < hessianTokens {
			addHess(name, x, n)
		}
		cols := len(x) / n
		s := sums[name]
		if s == nil {
			s = make([]float64, cols)
			sums[name] = s
		}
		for t := range n {
			row := x[t*cols : (t+1)*cols]
			for c, v := range row {
				s[c] += float64(v) * float64(v)
			}
		}
		rows[name] += n
	}
	m, err := runtime.New(cfg, w, runtime.WithThreads(threads), runtime.WithLinearInputs(observe))
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	defer m.Close()
	for _, ids := range segs {
		lastX, lastM = nil, nil // a new sequence starts: nothing shares its first input
		if _, err := m.NewSession().Forward(ctx, ids); err != nil {
			return nil, fmt.Errorf("calibration: %w", err)
		}
		a.tokens += len(ids)
		seen += len(ids)
	}
	for name, s := range sums {
		imp := make([]float32, len(s))
		var mean float64
		for c, v := range s {
			imp[c] = float32(v / float64(rows[name]))
			mean += float64(imp[c])
		}
		// A column never excited on the calibration text still gets a
		// little weight, so its values are not thrown away entirely.
		floor := float32(mean / float64(len(s)) * impFloor)
		for c := range imp {
			if !(imp[c] > floor) || math.IsInf(float64(imp[c]), 0) {
				imp[c] = floor
			}
		}
		a.imp[name] = imp
	}
	return a, nil
}
