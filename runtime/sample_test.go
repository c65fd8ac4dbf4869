package runtime

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// probs is a hand-made distribution; its logits are the logs of the
// probabilities, so the softmax gives the probabilities back.
var probs = []float64{0.5, 0.3, 0.15, 0.05}

func logitsOf(p []float64) []float32 {
	l := make([]float32, len(p))
	for i, v := range p {
		l[i] = float32(math.Log(v))
	}
	return l
}

// frequencies draws n samples and returns how often each id came up.
func frequencies(t *testing.T, o genOptions, n int) []float64 {
	t.Helper()
	o.seed, o.seeded = 7, true
	s := newSampler(&o)
	f := make([]float64, len(probs))
	for range n {
		f[s.sample(logitsOf(probs), nil)] += 1 / float64(n)
	}
	return f
}

func TestSamplerFilters(t *testing.T) {
	tests := []struct {
		name string
		o    genOptions
		want []float64 // expected frequencies
	}{
		{"temperature 1", genOptions{temperature: 1}, probs},
		// p^(1/T) renormalised: 0.25, 0.09, 0.0225, 0.0025 over 0.365.
		{"temperature 0.5", genOptions{temperature: 0.5}, []float64{0.6849, 0.2466, 0.0616, 0.0068}},
		{"top-k 1", genOptions{temperature: 1, topK: 1}, []float64{1, 0, 0, 0}},
		{"top-k 2", genOptions{temperature: 1, topK: 2}, []float64{0.625, 0.375, 0, 0}},
		{"top-p 0.45", genOptions{temperature: 1, topP: 0.45}, []float64{1, 0, 0, 0}},
		{"top-p 0.75", genOptions{temperature: 1, topP: 0.75}, []float64{0.625, 0.375, 0, 0}},
		{"top-p 0.85", genOptions{temperature: 1, topP: 0.85}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}},
		{"min-p 0.2", genOptions{temperature: 1, minP: 0.2}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}},
		{"min-p 0.5", genOptions{temperature: 1, minP: 0.5}, []float64{0.625, 0.375, 0, 0}},
		{"greedy", genOptions{}, []float64{1, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := frequencies(t, tc.o, 20000)
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 0.015 || (tc.want[i] == 0) != (got[i] == 0) {
					t.Fatalf("frequencies %.4f, want %.4f", got, tc.want)
				}
			}
		})
	}
}

func TestRepetitionPenalty(t *testing.T) {
	logits := []float32{2, 1.9, -1, 0.5}
	repetitionPenalty(logits, []int{0, 2, 0, 99, -1}, 2)
	want := []float32{1, 1.9, -2, 0.5}
	for i := range want {
		if logits[i] != want[i] {
			t.Fatalf("after penalty %v, want %v", logits, want)
		}
	}
	s := newSampler(&genOptions{repeatPenalty: 2})
	if id := s.sample([]float32{2, 1.9, -1}, []int{0}); id != 1 {
		t.Errorf("greedy with the top token penalised picked %d, want 1", id)
	}
}

func TestSamplerSeed(t *testing.T) {
	run := func(seed uint64) []int {
		o := genOptions{temperature: 1, seed: seed, seeded: true}
		s := newSampler(&o)
		var out []int
		for range 50 {
			out = append(out, s.sample(logitsOf(probs), nil))
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	if !equalInts(a, b) {
		t.Error("same seed gave different samples")
	}
	if equalInts(a, c) {
		t.Error("different seeds gave the same 50 samples")
	}
}

func TestGenOptionsValidate(t *testing.T) {
	for _, o := range []GenOption{
		WithTemperature(-1), WithTopK(-1), WithTopP(1.5), WithMinP(-0.1), WithRepeatPenalty(0),
		WithMaxTokens(-1), WithStop(""),
		WithTemperature(float32(math.NaN())), WithTemperature(float32(math.Inf(1))),
		WithTopP(float32(math.NaN())), WithMinP(float32(math.NaN())), WithRepeatPenalty(float32(math.NaN())),
	} {
		if err := CheckGenOptions(o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("option %#v: got %v, want ErrInvalidOption", o, err)
		}
	}
	if err := CheckGenOptions(WithTemperature(0.7), WithTopP(1), WithMinP(0), WithRepeatPenalty(1.1)); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

// TestFiltersMatchFullSort compares the heap and pre-filter shortcuts with
// the plain definition (sort everything, cut) on random distributions.
func TestFiltersMatchFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 1 + rng.IntN(2000)
		c := make([]candidate, n)
		for i := range c {
			c[i] = candidate{i, float32(rng.NormFloat64() * 3)}
		}
		if trial%3 == 0 { // ties
			for i := range c {
				c[i].p = float32(int(c[i].p))
			}
		}
		sorted := slices.Clone(c)
		slices.SortFunc(sorted, byLikelihood)
		k := 1 + rng.IntN(n-min(n-1, 1)) // k < n unless n is 1
		if got, want := keepTopK(slices.Clone(c), k), sorted[:k]; !slices.Equal(got, want) {
			t.Fatalf("trial %d: top-%d of %d differs from the full sort", trial, k, n)
		}
		softmaxCandidates(sorted)
		probs := slices.Clone(c)
		softmaxCandidates(probs)
		p := float32(rng.Float64())
		want := sorted
		var cum float32
		for i := range sorted {
			cum += sorted[i].p
			if cum >= p {
				want = sorted[:i+1]
				break
			}
		}
		if got := keepTopP(probs, p); !slices.Equal(got, want) {
			t.Fatalf("trial %d: top-p %g of %d kept %d, full sort keeps %d", trial, p, n, len(got), len(want))
		}
	}
}

func BenchmarkSample(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	logits := make([]float32, 128256) // a Llama 3 vocabulary
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	for _, bc := range []struct {
		name string
		o    genOptions
	}{
		{"greedy", genOptions{}},
		{"temperature", genOptions{temperature: 0.8}},
		{"top-k40", genOptions{temperature: 0.8, topK: 40}},
		{"top-p0.95", genOptions{temperature: 0.8, topP: 0.95}},
		{"min-p0.05", genOptions{temperature: 0.8, minP: 0.05}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newSampler(&bc.o)
			l := make([]float32, len(logits))
			for b.Loop() {
				copy(l, logits)
				s.sample(l, nil)
			}
		})
	}
}
