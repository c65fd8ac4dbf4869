package runtime

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/symbc/symbc/runtime/kernels"
)

// sampler picks the next token from logits. It applies, in Hugging Face's
// order: repetition penalty, then (unless greedy) temperature, top-k, top-p
// and min-p, then draws from what is left with its own seeded source. The
// kept candidates are renormalised implicitly: draw scales by their sum.
type sampler struct {
	temperature float32 // 0: greedy
	topK        int     // 0: off
	topP        float32 // 0 or ≥ 1: off
	minP        float32 // 0: off
	penalty     float32 // 1 or 0: off
	rng         *rand.Rand

	// See logits.go.
	presence, frequency float32
	counts              map[int]int // completion tokens so far, for the penalties
	bias                map[int]float32
	constraint          Constraint
	topLogprobs         int
	onLogprob           func(TokenLogprob)
	raw                 []float32 // scratch copy of the logits for onLogprob

	cand []candidate // scratch
}

type candidate struct {
	id int
	p  float32 // logit, then probability
}

func newSampler(o *genOptions) *sampler {
	return &sampler{
		temperature: o.temperature, topK: o.topK, topP: o.topP, minP: o.minP, penalty: o.repeatPenalty,
		rng:      rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)),
		presence: o.presence, frequency: o.frequency, counts: map[int]int{}, bias: o.logitBias,
		constraint: o.constraint, topLogprobs: o.topLogprobs, onLogprob: o.onLogprob,
	}
}

// sample returns the next token. history holds the ids the repetition
// penalty looks at; logits is modified in place.
//
// A vocabulary can hold 10⁵ tokens, so nothing sorts it whole: top-k
// selects with a heap, min-p is a threshold, and top-p first drops tokens
// too unlikely to be in any nucleus and sorts only the rest.
func (s *sampler) sample(logits []float32, history []int) int {
	var raw []float32
	if s.onLogprob != nil {
		s.raw = append(s.raw[:0], logits...)
		raw = s.raw
	}
	id := s.pick(logits, history)
	s.chose(id, raw)
	return id
}

func (s *sampler) pick(logits []float32, history []int) int {
	if s.penalty > 0 && s.penalty != 1 {
		repetitionPenalty(logits, history, s.penalty)
	}
	s.adjust(logits)
	if s.temperature <= 0 {
		return kernels.ArgMax(logits)
	}
	c := s.cand[:0]
	inv := 1 / s.temperature
	for id, l := range logits {
		if !math.IsInf(float64(l), -1) && !math.IsNaN(float64(l)) {
			c = append(c, candidate{id, l * inv})
		}
	}
	s.cand = c
	if len(c) == 0 {
		return kernels.ArgMax(logits)
	}
	c = keepTopK(c, s.topK)
	softmaxCandidates(c)
	c = keepTopP(c, s.topP)
	c = keepMinP(c, s.minP)
	return draw(c, s.rng.Float64())
}

// byLikelihood orders candidates most likely first, ties by id.
func byLikelihood(a, b candidate) int {
	switch {
	case a.p > b.p:
		return -1
	case a.p < b.p:
		return 1
	}
	return a.id - b.id
}

// repetitionPenalty makes every token already in history less likely, as
// transformers does: positive logits are divided by p, negative ones multiplied.
func repetitionPenalty(logits []float32, history []int, p float32) {
	seen := make(map[int]bool, len(history))
	for _, id := range history {
		if id < 0 || id >= len(logits) || seen[id] {
			continue
		}
		seen[id] = true
		if logits[id] > 0 {
			logits[id] /= p
		} else {
			logits[id] *= p
		}
	}
}

// keepTopK keeps the k most likely candidates, most likely first (c is
// returned as it is when k is 0 or at least len(c)). It selects with a
// min-heap of k entries: O(n log k) instead of a full sort.
func keepTopK(c []candidate, k int) []candidate {
	if k <= 0 || k >= len(c) {
		return c
	}
	worse := func(a, b candidate) bool { return byLikelihood(a, b) > 0 }
	h := c[:k] // c[:k] becomes the heap; the rest is scanned
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i, worse)
	}
	for _, x := range c[k:] {
		if worse(h[0], x) {
			h[0] = x
			siftDown(h, 0, worse)
		}
	}
	slices.SortFunc(h, byLikelihood)
	return h
}

// siftDown restores the heap order (worst candidate at the root) below i.
func siftDown(h []candidate, i int, worse func(a, b candidate) bool) {
	for {
		w := i
		for _, ch := range []int{2*i + 1, 2*i + 2} {
			if ch < len(h) && worse(h[ch], h[w]) {
				w = ch
			}
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// softmaxCandidates turns the candidates' logits into probabilities.
func softmaxCandidates(c []candidate) {
	mx := c[0].p
	for _, x := range c {
		mx = max(mx, x.p)
	}
	var sum float64
	for i := range c {
		e := math.Exp(float64(c[i].p - mx))
		c[i].p = float32(e)
		sum += e
	}
	for i := range c {
		c[i].p = float32(float64(c[i].p) / sum)
	}
}

// keepTopP keeps the smallest set of most likely candidates whose
// probability reaches p (at least one), most likely first.
//
// A token less likely than (1−p)/n is never needed: if the nucleus held one,
// every token at least as unlikely would sum to less than 1−p and the more
// likely ones to less than p, so the total would be below 1. Dropping those
// first leaves few candidates to sort.
func keepTopP(c []candidate, p float32) []candidate {
	if p <= 0 || p >= 1 {
		return c
	}
	floor := (1 - p) / float32(len(c)) * 0.999 // margin for rounding
	kept := c[:0]
	for _, x := range c {
		if x.p >= floor {
			kept = append(kept, x)
		}
	}
	slices.SortFunc(kept, byLikelihood)
	var cum float32
	for i := range kept {
		cum += kept[i].p
		if cum >= p {
			return kept[:i+1]
		}
	}
	return kept
}

// keepMinP drops candidates less likely than minP times the most likely one.
func keepMinP(c []candidate, minP float32) []candidate {
	if minP <= 0 {
		return c
	}
	var top float32
	for _, x := range c {
		top = max(top, x.p)
	}
	kept := c[:0]
	for _, x := range c {
		if x.p >= minP*top {
			kept = append(kept, x)
		}
	}
	return kept
}

// draw picks a candidate with probability proportional to p; u is uniform in [0, 1).
func draw(c []candidate, u float64) int {
	var total float64
	for _, x := range c {
		total += float64(x.p)
	}
	r := u * total
	for _, x := range c {
		r -= float64(x.p)
		if r < 0 {
			return x.id
		}
	}
	return c[len(c)-1].id
}
