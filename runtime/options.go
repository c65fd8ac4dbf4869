package runtime

import (
	"errors"
	"fmt"
	"math"
)

// GenOption configures Generate, Stream and Chat.
type GenOption func(*genOptions)

type genOptions struct {
	temperature   float32
	topK          int
	topP          float32
	minP          float32
	repeatPenalty float32
	seed          uint64
	seeded        bool
	maxTokens     int
	stop          []string
	ignoreEOS     bool
	onText        func(string) error

	// logits.go
	presence, frequency float32
	logitBias           map[int]float32
	topLogprobs         int
	onLogprob           func(TokenLogprob)
	constraint          Constraint
}

// defaultMaxTokens bounds a generation whose caller set no limit.
const defaultMaxTokens = 256

// ErrInvalidOption marks a generation option outside its range.
var ErrInvalidOption = errors.New("invalid generation option")

// CheckGenOptions reports the first option outside its range, so that a
// caller can refuse bad settings before loading a model.
func CheckGenOptions(opts ...GenOption) error {
	_, err := applyGenOptions(opts)
	return err
}

func applyGenOptions(opts []GenOption) (genOptions, error) {
	o := genOptions{maxTokens: defaultMaxTokens, repeatPenalty: 1}
	for _, f := range opts {
		f(&o)
	}
	// The comparisons are written so that NaN fails them: a NaN temperature
	// or probability would otherwise slip through and poison sampling.
	switch {
	case !(o.temperature >= 0) || math.IsInf(float64(o.temperature), 0):
		return o, fmt.Errorf("%w: temperature %g is not a finite number ≥ 0", ErrInvalidOption, o.temperature)
	case o.topK < 0:
		return o, fmt.Errorf("%w: top-k %d is negative", ErrInvalidOption, o.topK)
	case !(o.topP >= 0 && o.topP <= 1):
		return o, fmt.Errorf("%w: top-p %g is outside [0, 1]", ErrInvalidOption, o.topP)
	case !(o.minP >= 0 && o.minP <= 1):
		return o, fmt.Errorf("%w: min-p %g is outside [0, 1]", ErrInvalidOption, o.minP)
	case !(o.repeatPenalty > 0) || math.IsInf(float64(o.repeatPenalty), 0):
		return o, fmt.Errorf("%w: repeat penalty %g must be a finite positive number", ErrInvalidOption, o.repeatPenalty)
	case !(o.presence >= -2 && o.presence <= 2):
		return o, fmt.Errorf("%w: presence penalty %g is outside [-2, 2]", ErrInvalidOption, o.presence)
	case !(o.frequency >= -2 && o.frequency <= 2):
		return o, fmt.Errorf("%w: frequency penalty %g is outside [-2, 2]", ErrInvalidOption, o.frequency)
	case o.topLogprobs < 0 || o.topLogprobs > MaxTopLogprobs:
		return o, fmt.Errorf("%w: top logprobs %d is outside [0, %d]", ErrInvalidOption, o.topLogprobs, MaxTopLogprobs)
	case o.maxTokens < 0:
		return o, fmt.Errorf("%w: max tokens %d is negative", ErrInvalidOption, o.maxTokens)
	}
	for id, b := range o.logitBias {
		if !(b >= -100 && b <= 100) {
			return o, fmt.Errorf("%w: logit bias %g of token %d is outside [-100, 100]", ErrInvalidOption, b, id)
		}
	}
	for _, s := range o.stop {
		if s == "" {
			return o, fmt.Errorf("%w: empty stop string", ErrInvalidOption)
		}
	}
	return o, nil
}

// WithTemperature divides logits by t before sampling; 0 (the default) picks
// the most likely token (greedy).
func WithTemperature(t float32) GenOption { return func(o *genOptions) { o.temperature = t } }

// WithTopK keeps the k most likely tokens (0: all).
func WithTopK(k int) GenOption { return func(o *genOptions) { o.topK = k } }

// WithTopP keeps the most likely tokens whose probabilities sum to p (0 or 1: all).
func WithTopP(p float32) GenOption { return func(o *genOptions) { o.topP = p } }

// WithMinP drops tokens less likely than p times the most likely one (0: off).
func WithMinP(p float32) GenOption { return func(o *genOptions) { o.minP = p } }

// WithRepeatPenalty penalizes tokens already in the prompt or the output, as
// transformers' repetition_penalty does (1: off).
func WithRepeatPenalty(p float32) GenOption { return func(o *genOptions) { o.repeatPenalty = p } }

// WithSeed makes sampling reproducible; without it a random seed is drawn
// and reported in Result.Seed.
func WithSeed(seed uint64) GenOption {
	return func(o *genOptions) { o.seed, o.seeded = seed, true }
}

// WithMaxTokens limits the number of generated tokens (default 256).
func WithMaxTokens(n int) GenOption { return func(o *genOptions) { o.maxTokens = n } }

// WithStop ends generation when the output contains one of the strings; the
// text returned stops just before it.
func WithStop(s ...string) GenOption { return func(o *genOptions) { o.stop = append(o.stop, s...) } }

// WithIgnoreEOS keeps generating past end-of-sequence tokens (for benchmarks
// and reference comparisons).
func WithIgnoreEOS() GenOption { return func(o *genOptions) { o.ignoreEOS = true } }

// WithOnText calls fn with each piece of text as soon as it is final (never
// text that could still turn out to be part of a stop string). An error from
// fn ends generation and is returned.
func WithOnText(fn func(piece string) error) GenOption {
	return func(o *genOptions) { o.onText = fn }
}
