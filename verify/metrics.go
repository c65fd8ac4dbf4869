package verify

import (
	"fmt"
	"math"
	"sort"
)

// Metrics compares next-token distributions of a reference (the source model
// or stored logits) and a candidate (the converted model), position by position.
type Metrics struct {
	Positions     int     `json:"positions"`
	MeanKLD       float64 `json:"mean_kld"`       // mean KL(reference ‖ candidate), nats
	P99KLD        float64 `json:"p99_kld"`        // 99th percentile over positions
	MaxKLD        float64 `json:"max_kld"`        // worst position
	Top1Agreement float64 `json:"top1_agreement"` // fraction of positions with the same argmax
	Cosine        float64 `json:"cosine"`         // mean cosine similarity of logit vectors
	MaxAbsDiff    float64 `json:"max_abs_diff"`   // largest |logit difference|
	MaxAbsLogit   float64 `json:"max_abs_logit"`  // largest |reference logit|, the scale for MaxAbsDiff
	NMSE          float64 `json:"nmse"`           // Σ(ref−cand)² / Σ ref²
	// Perplexity of each model on the token sequence itself, when it is real text.
	RefPerplexity  float64 `json:"ref_perplexity,omitempty"`
	CandPerplexity float64 `json:"cand_perplexity,omitempty"`
}

// accumulator gathers per-position statistics; Add is called once per position.
type accumulator struct {
	klds            []float64
	top1            int
	cosSum          float64
	maxAbs, maxRef  float64
	errSq, refSq    float64
	refNLL, candNLL float64
	nllCount        int
}

// Add compares one position. next is the token that follows this position in
// the sequence, or -1 when unknown (then no perplexity term is added).
func (a *accumulator) Add(ref, cand []float32, next int) error {
	if len(ref) != len(cand) || len(ref) == 0 {
		return fmt.Errorf("logit vectors of length %d and %d", len(ref), len(cand))
	}
	lr, lc := logSoftmax(ref), logSoftmax(cand)
	var kld, dot, nr, nc float64
	ar, ac := 0, 0
	for i := range ref {
		r, c := float64(ref[i]), float64(cand[i])
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("candidate logit %d is %v", i, c)
		}
		// A non-finite reference would make the softmax NaN, and NaN
		// probabilities drop out of the KL sum: a broken reference would pass.
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return fmt.Errorf("reference logit %d is %v", i, r)
		}
		p := math.Exp(lr[i])
		if p > 0 {
			kld += p * (lr[i] - lc[i])
		}
		dot += r * c
		nr += r * r
		nc += c * c
		d := math.Abs(r - c)
		a.errSq += d * d
		a.maxAbs = math.Max(a.maxAbs, d)
		a.maxRef = math.Max(a.maxRef, math.Abs(r))
		if ref[i] > ref[ar] {
			ar = i
		}
		if cand[i] > cand[ac] {
			ac = i
		}
	}
	a.refSq += nr
	if kld < 0 { // rounding when the distributions are identical
		kld = 0
	}
	a.klds = append(a.klds, kld)
	if ar == ac {
		a.top1++
	}
	if nr > 0 && nc > 0 {
		a.cosSum += dot / math.Sqrt(nr*nc)
	}
	if next >= 0 && next < len(ref) {
		a.refNLL -= lr[next]
		a.candNLL -= lc[next]
		a.nllCount++
	}
	return nil
}

// Metrics summarises what was added so far.
func (a *accumulator) Metrics() Metrics {
	n := len(a.klds)
	m := Metrics{Positions: n, MaxAbsDiff: a.maxAbs, MaxAbsLogit: a.maxRef}
	if n == 0 {
		return m
	}
	sorted := append([]float64(nil), a.klds...)
	sort.Float64s(sorted)
	for _, k := range sorted {
		m.MeanKLD += k
	}
	m.MeanKLD /= float64(n)
	m.MaxKLD = sorted[n-1]
	m.P99KLD = sorted[min(n-1, int(math.Ceil(0.99*float64(n)))-1)]
	m.Top1Agreement = float64(a.top1) / float64(n)
	m.Cosine = a.cosSum / float64(n)
	if a.refSq > 0 {
		m.NMSE = a.errSq / a.refSq
	}
	if a.nllCount > 0 {
		m.RefPerplexity = math.Exp(a.refNLL / float64(a.nllCount))
		m.CandPerplexity = math.Exp(a.candNLL / float64(a.nllCount))
	}
	return m
}

// merge folds b into a (for an overall figure across prompts).
func (a *accumulator) merge(b *accumulator) {
	a.klds = append(a.klds, b.klds...)
	a.top1 += b.top1
	a.cosSum += b.cosSum
	a.maxAbs = math.Max(a.maxAbs, b.maxAbs)
	a.maxRef = math.Max(a.maxRef, b.maxRef)
	a.errSq += b.errSq
	a.refSq += b.refSq
	a.refNLL += b.refNLL
	a.candNLL += b.candNLL
	a.nllCount += b.nllCount
}

// logSoftmax in float64, stable.
func logSoftmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - lse
	}
	return out
}
