package runtime

import (
	"math"
	"slices"
)

// Constraint restricts which tokens may come next, for output that must
// follow a grammar (JSON, a JSON schema, a tool call). The sampler calls
// Mask before choosing a token and Accept with the token chosen. Mask sets
// the logits of forbidden tokens to -Inf and must leave at least one token
// (an end-of-sequence id once the output is complete).
type Constraint interface {
	Mask(logits []float32)
	Accept(id int)
}

// TokenLogprob is a generated token with its log-probability and, when
// asked for, the most likely alternatives at its position (most likely
// first). Log-probabilities are those of the model's distribution: a
// log-softmax of its logits before penalties, biases, temperature or
// truncation change them, as vLLM reports them.
type TokenLogprob struct {
	ID      int
	Logprob float32
	Top     []TopLogprob
}

// TopLogprob is one alternative at a position.
type TopLogprob struct {
	ID      int
	Logprob float32
}

// MaxTopLogprobs bounds WithLogprobs' top, like OpenAI's limit of 20.
const MaxTopLogprobs = 20

// WithPresencePenalty subtracts p from the logit of every token that the
// completion already holds (OpenAI's presence_penalty, in [-2, 2]; 0: off).
func WithPresencePenalty(p float32) GenOption { return func(o *genOptions) { o.presence = p } }

// WithFrequencyPenalty subtracts f times its count in the completion from
// each token's logit (OpenAI's frequency_penalty, in [-2, 2]; 0: off).
func WithFrequencyPenalty(f float32) GenOption { return func(o *genOptions) { o.frequency = f } }

// WithLogitBias adds bias[id] to the logit of token id before sampling
// (OpenAI's logit_bias: -100 practically bans a token, 100 practically
// forces it). Later calls add to earlier ones.
func WithLogitBias(bias map[int]float32) GenOption {
	return func(o *genOptions) {
		if o.logitBias == nil {
			o.logitBias = make(map[int]float32, len(bias))
		}
		for id, b := range bias {
			o.logitBias[id] += b
		}
	}
}

// WithLogprobs calls fn with every sampled token (end-of-sequence ids
// included), its log-probability and the top most likely alternatives
// (0 ≤ top ≤ MaxTopLogprobs), before its text is passed to WithOnText.
func WithLogprobs(top int, fn func(TokenLogprob)) GenOption {
	return func(o *genOptions) { o.topLogprobs, o.onLogprob = top, fn }
}

// WithConstraint restricts the output with c (see Constraint).
func WithConstraint(c Constraint) GenOption { return func(o *genOptions) { o.constraint = c } }

// adjust applies logit bias, presence and frequency penalties and the
// constraint to logits, in that order, before the sampler's filters.
func (s *sampler) adjust(logits []float32) {
	for id, b := range s.bias {
		if id >= 0 && id < len(logits) {
			logits[id] += b
		}
	}
	if s.presence != 0 || s.frequency != 0 {
		for id, n := range s.counts {
			if id < len(logits) {
				logits[id] -= s.presence + s.frequency*float32(n)
			}
		}
	}
	if s.constraint != nil {
		s.constraint.Mask(logits)
	}
}

// chose records the token picked from logits, whose unmodified copy is raw
// (nil when nobody asked for log-probabilities).
func (s *sampler) chose(id int, raw []float32) {
	if s.presence != 0 || s.frequency != 0 {
		s.counts[id]++
	}
	if s.constraint != nil {
		s.constraint.Accept(id)
	}
	if s.onLogprob != nil {
		s.onLogprob(logprobsOf(raw, id, s.topLogprobs))
	}
}

// logprobsOf is the log-softmax of logits at id, with the top alternatives.
func logprobsOf(logits []float32, id, top int) TokenLogprob {
	mx := float32(math.Inf(-1))
	for _, l := range logits {
		mx = max(mx, l)
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l - mx))
	}
	lse := float64(mx) + math.Log(sum)
	lp := func(i int) float32 { return float32(float64(logits[i]) - lse) }
	t := TokenLogprob{ID: id, Logprob: lp(id)}
	if top > 0 {
		c := make([]candidate, len(logits))
		for i, l := range logits {
			c[i] = candidate{i, l}
		}
		c = keepTopK(c, top) // the top entries, or all when there are fewer
		slices.SortFunc(c, byLikelihood)
		for _, x := range c {
			t.Top = append(t.Top, TopLogprob{x.id, lp(x.id)})
		}
	}
	return t
}
