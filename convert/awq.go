package convert

import (
	"context"
	"fmt"
	"math"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// Activation-aware channel scaling (AWQ, Lin et al. 2023). A linear layer
// y = W·x computes the same y from W·diag(s) and x/s. Input channels that
// carry large activations matter most to the output; multiplying their
// weight columns by s_j > 1 before quantizing gives them relatively finer
// steps. The inverse 1/s_j is folded exactly into what produces x, so the
// float model is unchanged:
//
//   - q, k, v read norm_attn's output and gate, up read norm_mlp's: the
//     norm's gain becomes (offset + g_j)/s_j − offset;
//   - attn_o reads attention outputs, which are linear in v: attn_v's rows
//     (and its bias) are divided by s. With grouped-query attention one v
//     row feeds every query head of its group, so those heads' attn_o
//     columns share one scale;
//   - mlp_down reads act(gate)·up: mlp_up's rows are divided by s.
//
// Per input, s_j = rms_j^α / sqrt(max·min) with rms_j the channel's root
// mean square on the calibration text, and α in [0, 1] chosen on a grid to
// minimise the importance-weighted quantization error of the layers that
// read it (α = 0 is no scaling, so a scaled input never measures worse).

// awqGrid is the number of α steps in (0, 1].
const awqGrid = 20

// awqMinScale bounds the scales away from 0 and infinity (relative to 1
// after normalisation), so a dead channel cannot blow a weight up.
const awqMinScale = 1e-4

// awqInput is one input shared by linear layers: the readers (weights) and
// what produces it (a norm vector, or a linear layer's rows with its bias).
type awqInput struct {
	weights  []*item
	chans    int   // channels of the producer
	colChan  []int // weight column -> producer channel; nil: identity
	norm     *item // producer when it is a norm
	offset   float32
	rows     *item // producer when it is a linear layer (rows scaled)
	bias     *item // that layer's bias, or nil
	scale    []float32
	alpha    float64
	improved float64 // relative error reduction at the chosen α
}

// awqInputs lists the inputs whose scaling folds exactly for cfg. Layers of
// other shapes (multi-head latent attention, routed experts) are left as
// they are; clip_qkv clamps v, so attn_o's fold into v is not exact there.
func awqInputs(cfg symb.ModelConfig, items []*item) []*awqInput {
	byName := map[string]*item{}
	for _, it := range items {
		byName[it.Name] = it
	}
	var out []*awqInput
	for li := range cfg.NumLayers {
		get := func(n string) *item { return byName[symb.LayerTensor(li, n)] }
		if cfg.MLA == nil {
			q, k, v, o := get(symb.AttnQ), get(symb.AttnK), get(symb.AttnV), get(symb.AttnO)
			if n := get(symb.NormAttn); n != nil && q != nil && k != nil && v != nil {
				out = append(out, &awqInput{weights: []*item{q, k, v}, chans: n.Cols(), norm: n, offset: cfg.NormWeightOffset})
			}
			nh, nkv, hd := cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
			if v != nil && o != nil && cfg.ClipQKV == 0 && nkv > 0 && nh%nkv == 0 && o.Cols() == nh*hd && v.Rows() == nkv*hd {
				in := &awqInput{weights: []*item{o}, chans: nkv * hd, rows: v, bias: get(symb.AttnVBias)}
				if nh != nkv {
					in.colChan = make([]int, nh*hd)
					for c := range in.colChan {
						h, d := c/hd, c%hd
						in.colChan[c] = (h/(nh/nkv))*hd + d
					}
				}
				out = append(out, in)
			}
		}
		if cfg.SparseLayer(li) {
			continue
		}
		g, u, d := get(symb.MLPGate), get(symb.MLPUp), get(symb.MLPDown)
		if n := get(symb.NormMLP); n != nil && g != nil && u != nil {
			out = append(out, &awqInput{weights: []*item{g, u}, chans: n.Cols(), norm: n, offset: cfg.NormWeightOffset})
		}
		if u != nil && d != nil && d.Cols() == u.Rows() {
			out = append(out, &awqInput{weights: []*item{d}, chans: u.Rows(), rows: u})
		}
	}
	return out
}

// chanOf maps weight column c to its producer channel.
func (in *awqInput) chanOf(c int) int {
	if in.colChan == nil {
		return c
	}
	return in.colChan[c]
}

// search chooses α for one input from the weights' sampled rows and the
// per-column importances imp (mean squares of the unscaled inputs).
func (in *awqInput) search(spec quantize.Spec, imp map[string][]float32, hess map[string]*moment) error {
	// Mean square per producer channel, over the weight columns it feeds.
	ms := make([]float64, in.chans)
	cnt := make([]float64, in.chans)
	for _, w := range in.weights {
		im := imp[w.Name]
		if len(im) != w.Cols() {
			return fmt.Errorf("%s: no calibration statistics", w.Name)
		}
		for c, v := range im {
			ms[in.chanOf(c)] += float64(v)
			cnt[in.chanOf(c)]++
		}
	}
	for j := range ms {
		ms[j] /= max(cnt[j], 1)
	}
	samples := make([][]float32, len(in.weights))
	for k, w := range in.weights {
		x, _, err := sampleRows(w)
		if err != nil {
			return err
		}
		samples[k] = x
	}
	hs := make([][]float64, len(in.weights))
	for k, w := range in.weights {
		if m := hess[w.Name]; m != nil && m.cols == w.Cols() && m.cols <= awqHessCols {
			hs[k] = m.mean()
		}
	}
	errAt := func(s []float32) (float64, error) {
		var total float64
		for k, w := range in.weights {
			cols := w.Cols()
			x := samples[k]
			xs := make([]float32, len(x))
			for i, v := range x {
				xs[i] = v * s[in.chanOf(i%cols)]
			}
			im := make([]float32, cols)
			for c, v := range imp[w.Name] {
				sc := s[in.chanOf(c)]
				im[c] = v / (sc * sc)
			}
			if h := hs[k]; h != nil {
				e, err := hessError(spec, xs, cols, h, s, in)
				if err != nil {
					return 0, fmt.Errorf("%s: %w", w.Name, err)
				}
				total += e
				continue
			}
			e, err := quantize.WeightedError(spec, xs, cols, im)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", w.Name, err)
			}
			total += e
		}
		return total, nil
	}
	ones := make([]float32, in.chans)
	for j := range ones {
		ones[j] = 1
	}
	base, err := errAt(ones)
	if err != nil {
		return err
	}
	best, bestErr := ones, base
	for step := 1; step <= awqGrid; step++ {
		a := float64(step) / awqGrid
		s := awqScales(ms, a)
		e, err := errAt(s)
		if err != nil {
			return err
		}
		if e < bestErr {
			best, bestErr, in.alpha = s, e, a
		}
	}
	if in.alpha > 0 {
		in.scale = best
		in.improved = 1 - bestErr/max(base, 1e-300)
	}
	return nil
}

// awqScales is rms^α normalised by sqrt(max·min), kept within
// [awqMinScale, 1/awqMinScale].
func awqScales(ms []float64, alpha float64) []float32 {
	s := make([]float64, len(ms))
	lo, hi := math.Inf(1), 0.0
	for j, v := range ms {
		s[j] = math.Pow(max(math.Sqrt(v), 1e-30), alpha)
		lo, hi = min(lo, s[j]), max(hi, s[j])
	}
	norm := math.Sqrt(lo * hi)
	out := make([]float32, len(ms))
	for j, v := range s {
		out[j] = float32(min(max(v/norm, awqMinScale), 1/awqMinScale))
	}
	return out
}

// applyAWQ searches and applies the channel scales of every input that folds
// exactly: the weights' readers multiply their columns, the producers'
// divide, and the calibration statistics are rescaled to the new inputs
// (imp_j/s_j², H_ij/(s_i·s_j)). It returns how many inputs were scaled.
func applyAWQ(ctx context.Context, cfg symb.ModelConfig, items []*item, spec quantize.Spec, a *activations, jobs int) (int, error) {
	ins := awqInputs(cfg, items)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	for _, in := range ins {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return in.search(spec, a.imp, a.hess)
		})
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("awq: %w", err)
	}
	n := 0
	done := map[*moment]bool{}
	for _, in := range ins {
		if in.scale == nil {
			continue
		}
		n++
		for _, w := range in.weights {
			cols := w.Cols()
			s := make([]float32, cols)
			for c := range s {
				s[c] = in.scale[in.chanOf(c)]
			}
			w.reader = &scaledReader{Reader: w.reader, col: s}
			im := a.imp[w.Name]
			for c := range im {
				im[c] /= s[c] * s[c]
			}
			if m := a.hess[w.Name]; m != nil && !done[m] {
				done[m] = true
				for i := range cols {
					for j := i; j < cols; j++ {
						m.sum[i*cols+j] /= float64(s[i]) * float64(s[j])
					}
				}
			}
		}
		inv := make([]float32, in.chans)
		for j, v := range in.scale {
			inv[j] = 1 / v
		}
		if in.norm != nil {
			in.norm.reader = &scaledReader{Reader: in.norm.reader, col: inv, offset: in.offset}
			continue
		}
		in.rows.reader = &scaledReader{Reader: in.rows.reader, row: inv}
		if in.bias != nil {
			in.bias.reader = &scaledReader{Reader: in.bias.reader, col: inv}
		}
	}
	return n, nil
}

// scaledReader multiplies the columns (col) or rows (row) of a reader's
// output; with an offset, a norm gain g becomes (offset + g)·c − offset.
type scaledReader struct {
	arch.Reader
	col, row []float32
	offset   float32
}

func (r *scaledReader) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := r.Reader.Read(dst, r0, r1, c0, c1); err != nil {
		return err
	}
	w := c1 - c0
	for i := range r1 - r0 {
		d := dst[i*w : (i+1)*w]
		for j := range d {
			f := float32(1)
			if r.col != nil {
				f = r.col[c0+j]
			}
			if r.row != nil {
				f = r.row[r0+i]
			}
			d[j] = (r.offset+d[j])*f - r.offset
		}
	}
	return nil
}

// awqHessCols bounds the inputs whose full second moment scores the α
// search (cols² work per row and α); wider ones use the diagonal.
const awqHessCols = 1024

// hessError quantizes the scaled rows xs and returns Σ_rows Δᵀ H' Δ with
// Δ = xs − ŵ and H' = H/(s·sᵀ), the output error on the unscaled inputs'
// second moment h.
func hessError(spec quantize.Spec, xs []float32, cols int, h []float64, s []float32, in *awqInput) (float64, error) {
	rows := len(xs) / cols
	db, sb, mb, err := spec.Layout(rows, cols)
	if err != nil {
		return 0, err
	}
	data, sc, mi := make([]byte, db), make([]byte, sb), make([]byte, mb)
	if err := quantize.QuantizeRows(spec, xs, cols, data, sc, mi); err != nil {
		return 0, err
	}
	back := make([]float32, len(xs))
	if err := quantize.Dequantize(spec, data, sc, mi, rows, cols, back); err != nil {
		return 0, err
	}
	d := make([]float64, cols)
	var e float64
	for r := range rows {
		for c := range cols {
			// Error in the unscaled weights' units: (w·s − ŵ)/s.
			d[c] = float64(xs[r*cols+c]-back[r*cols+c]) / float64(s[in.chanOf(c)])
		}
		for i, di := range d {
			if di == 0 {
				continue
			}
			hi := h[i*cols : (i+1)*cols]
			var t float64
			for j, dj := range d {
				t += hi[j] * dj
			}
			e += di * t
		}
	}
	return e, nil
}
