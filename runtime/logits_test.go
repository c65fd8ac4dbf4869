package runtime

import (
	"errors"
	"math"
	"testing"
)

func TestLogitBiasAndPenalties(t *testing.T) {
	greedy := func(o genOptions, logits []float32, n int) []int {
		s := newSampler(&o)
		var out []int
		for range n {
			out = append(out, s.sample(append([]float32(nil), logits...), nil))
		}
		return out
	}
	l := []float32{2, 1.5, 0}
	cases := []struct {
		name string
		o    genOptions
		want []int
	}{
		{"none", genOptions{}, []int{0, 0, 0, 0}},
		{"bias up", genOptions{logitBias: map[int]float32{2: 2.5}}, []int{2, 2, 2, 2}},
		{"bias ban", genOptions{logitBias: map[int]float32{0: -100}}, []int{1, 1, 1, 1}},
		// 2 - 1 = 1 < 1.5 once token 0 was used; then both are used.
		{"presence", genOptions{presence: 1}, []int{0, 1, 0, 0}},
		// 2 - 0.3n drops below 1.5 at n = 2, 1.5 - 0.3m below 2 - 0.6 at m = 1.
		{"frequency", genOptions{frequency: 0.3}, []int{0, 0, 1, 0}},
		{"negative presence repeats", genOptions{presence: -1, logitBias: map[int]float32{1: 0.6}}, []int{1, 1, 1, 1}},
	}
	for _, tc := range cases {
		if got := greedy(tc.o, l, len(tc.want)); !equalInts(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLogprobs(t *testing.T) {
	var got []TokenLogprob
	o := genOptions{topLogprobs: 2, onLogprob: func(tl TokenLogprob) { got = append(got, tl) },
		logitBias: map[int]float32{1: 10}}
	s := newSampler(&o)
	if id := s.sample(logitsOf(probs), nil); id != 1 {
		t.Fatalf("picked %d, want the biased 1", id)
	}
	if len(got) != 1 {
		t.Fatalf("%d callbacks", len(got))
	}
	// The model's own distribution, before the bias.
	g := got[0]
	near := func(a float32, b float64) bool { return math.Abs(float64(a)-math.Log(b)) < 1e-5 }
	if g.ID != 1 || !near(g.Logprob, 0.3) || len(g.Top) != 2 || g.Top[0].ID != 0 || !near(g.Top[0].Logprob, 0.5) ||
		g.Top[1].ID != 1 || !near(g.Top[1].Logprob, 0.3) {
		t.Errorf("logprobs %+v", g)
	}
	// More alternatives than tokens: all of them, most likely first.
	got = nil
	o = genOptions{topLogprobs: 20, onLogprob: func(tl TokenLogprob) { got = append(got, tl) }}
	newSampler(&o).sample(logitsOf(probs), nil)
	if len(got[0].Top) != 4 || got[0].Top[3].ID != 3 || !near(got[0].Top[3].Logprob, 0.05) {
		t.Errorf("top 20 of 4: %+v", got[0].Top)
	}
}

// onlyID allows one token and records what was accepted.
type onlyID struct {
	id       int
	accepted []int
}

func (c *onlyID) Mask(l []float32) {
	for i := range l {
		if i != c.id {
			l[i] = float32(math.Inf(-1))
		}
	}
}
func (c *onlyID) Accept(id int) { c.accepted = append(c.accepted, id) }

func TestConstraint(t *testing.T) {
	for _, temp := range []float32{0, 1} {
		c := &onlyID{id: 3}
		s := newSampler(&genOptions{temperature: temp, constraint: c})
		for range 50 {
			if id := s.sample(logitsOf(probs), nil); id != 3 {
				t.Fatalf("temperature %g: picked %d past the constraint", temp, id)
			}
		}
		if len(c.accepted) != 50 {
			t.Errorf("accepted %d times", len(c.accepted))
		}
	}
}

func TestLogitOptionRanges(t *testing.T) {
	for _, opt := range []GenOption{
		WithPresencePenalty(2.5), WithFrequencyPenalty(-3), WithFrequencyPenalty(float32(math.NaN())),
		WithLogitBias(map[int]float32{5: 101}), WithLogprobs(21, func(TokenLogprob) {}), WithLogprobs(-1, nil),
	} {
		if err := CheckGenOptions(opt); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("option accepted: %v", err)
		}
	}
	if err := CheckGenOptions(WithPresencePenalty(-2), WithFrequencyPenalty(2), WithLogitBias(map[int]float32{1: -100})); err != nil {
		t.Error(err)
	}
}
