package runtime

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/symbc/symbc/internal/humanize"
)

// BenchOptions configures Bench; zero fields take the defaults in brackets.
type BenchOptions struct {
	PromptTokens int    // tokens of the prompt-processing test [128]; negative: skip it
	GenTokens    int    // tokens of the generation test [64]; negative: skip it
	Repetitions  int    // timed runs of each test [3]
	Name         string // model name for the report [a description made from the config]
	// Roofline adds BenchResult.Roofline: the weight bytes a decoded token
	// reads, the bandwidth the tg test achieves, and a read-bandwidth probe
	// of ProbeBytes [512 MiB] on the same threads. It needs the tg test.
	Roofline   bool
	ProbeBytes int64
}

// BenchResult holds the measurements of Bench.
type BenchResult struct {
	Model     string      `json:"model"`   // Name, or a description made from the config
	Weights   string      `json:"weights"` // dtype of the linear weights, e.g. int4
	SizeBytes int64       `json:"size_bytes"`
	Params    int64       `json:"params"`
	Threads   int         `json:"threads"`
	Kernels   string      `json:"kernels"` // the kernel set that ran (kernels.Set)
	Engine    Engine      `json:"engine"`
	Tests     []BenchTest `json:"tests"`
	Roofline  *Roofline   `json:"roofline,omitempty"` // with BenchOptions.Roofline
}

// BenchTest is one test: "pp128" (a 128-token prompt in one batch) or
// "tg64" (64 tokens decoded one by one), like llama-bench's.
type BenchTest struct {
	Name            string    `json:"test"`
	Tokens          int       `json:"tokens"`
	TokensPerSecond []float64 `json:"samples_tokens_per_second"` // one per repetition
	Mean            float64   `json:"mean_tokens_per_second"`
	StdDev          float64   `json:"stddev_tokens_per_second"`
}

// Bench measures prompt processing and token generation speed on fixed
// pseudo-random token ids (the content does not change the work). Each test
// runs once untimed to warm caches and then opts.Repetitions times, each in
// a fresh session.
func Bench(ctx context.Context, m *Model, opts BenchOptions) (*BenchResult, error) {
	if opts.PromptTokens == 0 {
		opts.PromptTokens = 128
	}
	if opts.GenTokens == 0 {
		opts.GenTokens = 64
	}
	if opts.Repetitions <= 0 {
		opts.Repetitions = 3
	}
	if opts.Roofline && opts.GenTokens < 0 {
		return nil, fmt.Errorf("bench: the roofline needs the tg test")
	}
	if opts.ProbeBytes <= 0 {
		opts.ProbeBytes = defaultProbeBytes
	}
	for _, n := range []int{opts.PromptTokens, opts.GenTokens} {
		if n > m.maxCtx {
			return nil, fmt.Errorf("bench: %d tokens exceed the context of %d: %w", n, m.maxCtx, ErrContextFull)
		}
	}
	res := &BenchResult{Model: opts.Name, Weights: m.weightsType(), SizeBytes: m.sizeBytes, Params: m.params, Threads: m.threads, Kernels: string(m.Kernels()), Engine: m.engine}
	if res.Model == "" {
		res.Model = m.describe()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = rng.IntN(m.mc.VocabSize)
		}
		return out
	}
	pp := func(s *Session, toks []int) error { return s.Prefill(ctx, toks) }
	tg := func(s *Session, toks []int) error {
		for _, id := range toks {
			if _, err := s.forward(ctx, []int{id}, false); err != nil {
				return err
			}
		}
		return nil
	}
	for _, test := range []struct {
		prefix string
		n      int
		run    func(*Session, []int) error
	}{{"pp", opts.PromptTokens, pp}, {"tg", opts.GenTokens, tg}} {
		if test.n < 0 {
			continue
		}
		toks := ids(test.n)
		bt := BenchTest{Name: fmt.Sprintf("%s%d", test.prefix, test.n), Tokens: test.n}
		for rep := -1; rep < opts.Repetitions; rep++ {
			s := m.NewSession()
			start := time.Now()
			if err := test.run(s, toks); err != nil {
				return nil, fmt.Errorf("bench %s: %w", bt.Name, err)
			}
			if rep >= 0 { // rep -1 is the warm-up
				bt.TokensPerSecond = append(bt.TokensPerSecond, rate(test.n, time.Since(start)))
			}
		}
		bt.Mean, bt.StdDev = meanStd(bt.TokensPerSecond)
		res.Tests = append(res.Tests, bt)
		if opts.Roofline && test.prefix == "tg" {
			r, err := m.roofline(ctx, bt.Mean, opts.ProbeBytes)
			if err != nil {
				return nil, fmt.Errorf("bench roofline: %w", err)
			}
			res.Roofline = r
		}
	}
	return res, nil
}

// meanStd returns the mean and the sample standard deviation.
func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)-1))
}

// describe names the model like "llama 260.0K f32".
func (m *Model) describe() string {
	arch := m.cfg.Architecture
	if arch == "" {
		arch = "model"
	}
	return fmt.Sprintf("%s %s %s", arch, humanize.Count(m.params), m.weightsType())
}

// weightsType is the dtype of the linear weights, from the config or, for
// weights not read from a .symb folder, from the first layer's output projection.
func (m *Model) weightsType() string {
	if q := m.cfg.Quantization.Weights; q != "" {
		return q
	}
	return m.layers[0].o.DType.String()
}
