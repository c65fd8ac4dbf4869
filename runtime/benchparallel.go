package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// ParallelBenchOptions configures BenchParallel; zero fields take the
// defaults in brackets.
type ParallelBenchOptions struct {
	Streams      []int  // concurrent streams of each test [1, 4, 8, 16]
	PromptTokens int    // prompt of every stream [32]
	GenTokens    int    // tokens every stream decodes [64]
	Repetitions  int    // timed runs of each test [3]
	Name         string // model name for the report
}

// ParallelBenchResult holds the measurements of BenchParallel.
type ParallelBenchResult struct {
	Model     string         `json:"model"`
	Weights   string         `json:"weights"`
	SizeBytes int64          `json:"size_bytes"`
	Threads   int            `json:"threads"`
	Tests     []ParallelTest `json:"tests"`
}

// ParallelTest is one number of concurrent streams arriving at once, each
// decoding GenTokens after a PromptTokens prompt, all through one Scheduler
// with as many slots as streams. Figures are means over the repetitions.
type ParallelTest struct {
	Streams int `json:"streams"`
	// TTFT is the time from submitting a request to its first token
	// (waiting, prompt reading), averaged over streams; TTFTMax the slowest.
	TTFTMillis    float64 `json:"ttft_ms"`
	TTFTMaxMillis float64 `json:"ttft_max_ms"`
	// PerStream is one stream's decode rate (its decode steps over its
	// decode time); Aggregate all decode steps of all streams over the time
	// from the first stream's first token to the last stream's end.
	PerStreamTokensPerSecond float64   `json:"per_stream_tokens_per_second"`
	AggregateTokensPerSecond float64   `json:"aggregate_tokens_per_second"`
	AggregateStdDev          float64   `json:"aggregate_stddev_tokens_per_second"`
	AggregateSamples         []float64 `json:"aggregate_samples_tokens_per_second"`
}

// BenchParallel measures decoding many streams together (continuous
// batching) on pseudo-random prompts, distinct per stream so that the
// prefix cache does not help. Each test runs once untimed, then
// opts.Repetitions times.
func BenchParallel(ctx context.Context, m *Model, opts ParallelBenchOptions) (*ParallelBenchResult, error) {
	if len(opts.Streams) == 0 {
		opts.Streams = []int{1, 4, 8, 16}
	}
	if opts.PromptTokens <= 0 {
		opts.PromptTokens = 32
	}
	if opts.GenTokens <= 0 {
		opts.GenTokens = 64
	}
	if opts.Repetitions <= 0 {
		opts.Repetitions = 3
	}
	if n := opts.PromptTokens + opts.GenTokens; n > m.maxCtx {
		return nil, fmt.Errorf("bench: %d tokens exceed the context of %d: %w", n, m.maxCtx, ErrContextFull)
	}
	res := &ParallelBenchResult{Model: opts.Name, Weights: m.weightsType(), SizeBytes: m.sizeBytes, Threads: m.threads}
	if res.Model == "" {
		res.Model = m.describe()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range opts.Streams {
		if n < 1 || n > 1024 {
			return nil, fmt.Errorf("bench: %d parallel streams, want 1 to 1024", n)
		}
		perSeq := int64(opts.PromptTokens+opts.GenTokens+2*kvBlockTokens) * kvBytesPerToken(m, DefaultSchedulerKVCache)
		test := ParallelTest{Streams: n}
		var ttft, ttftMax, per float64
		for rep := -1; rep < opts.Repetitions; rep++ {
			prompts := make([][]int, n)
			for i := range prompts {
				prompts[i] = make([]int, opts.PromptTokens)
				for j := range prompts[i] {
					prompts[i][j] = rng.IntN(m.mc.VocabSize)
				}
			}
			// All prompts are read in one step, then all streams decode
			// together: the phases stay apart, as in llama-batched-bench.
			sch, err := NewScheduler(m, WithSlots(n), WithKVCacheBytes(int64(n)*perSeq),
				WithStepTokens(min(n*opts.PromptTokens, 4096)), withPaused())
			if err != nil {
				return nil, err
			}
			r, err := runStreams(ctx, sch, prompts, opts.GenTokens)
			sch.Close()
			if err != nil {
				return nil, fmt.Errorf("bench %d parallel: %w", n, err)
			}
			if rep >= 0 { // rep -1 is the warm-up
				test.AggregateSamples = append(test.AggregateSamples, r.aggregate)
				ttft += r.ttft
				ttftMax += r.ttftMax
				per += r.perStream
			}
		}
		reps := float64(opts.Repetitions)
		test.TTFTMillis, test.TTFTMaxMillis, test.PerStreamTokensPerSecond = ttft/reps, ttftMax/reps, per/reps
		test.AggregateTokensPerSecond, test.AggregateStdDev = meanStd(test.AggregateSamples)
		res.Tests = append(res.Tests, test)
	}
	return res, nil
}

// streamsRun is one repetition of a parallel test.
type streamsRun struct {
	ttft, ttftMax        float64 // milliseconds
	perStream, aggregate float64 // tokens per second
}

func runStreams(ctx context.Context, sch *Scheduler, prompts [][]int, gen int) (streamsRun, error) {
	n := len(prompts)
	type timing struct {
		submit, first, end time.Time
		res                *Result
		err                error
	}
	ts := make([]timing, n)
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			t := &ts[i]
			t.submit = time.Now()
			t.res, t.err = sch.GenerateIDs(ctx, p, WithMaxTokens(gen), WithIgnoreEOS(), WithSeed(uint64(i)))
			t.end = time.Now()
			if t.res != nil {
				t.first = t.end.Add(-t.res.DecodeDuration)
			}
		})
	}
	for waiting := 0; waiting < n; time.Sleep(100 * time.Microsecond) {
		_, waiting = sch.Load()
	}
	sch.start()
	wg.Wait()
	var r streamsRun
	var first, last time.Time
	steps := 0
	for i, t := range ts {
		if t.err != nil {
			return r, t.err
		}
		ms := float64(t.first.Sub(t.submit)) / float64(time.Millisecond)
		r.ttft += ms / float64(n)
		r.ttftMax = max(r.ttftMax, ms)
		r.perStream += t.res.DecodeTokensPerSecond / float64(n)
		steps += max(t.res.CompletionTokens-1, 0)
		if i == 0 || t.first.Before(first) {
			first = t.first
		}
		if t.end.After(last) {
			last = t.end
		}
	}
	r.aggregate = rate(steps, last.Sub(first))
	return r, nil
}

// ChatTurnResult measures the prompt-prefix cache on a two-turn chat: a
// first turn of FirstPrompt tokens, then a second whose prompt is the first
// prompt, the reply and NewTokens more.
type ChatTurnResult struct {
	FirstPromptTokens  int     `json:"first_prompt_tokens"`
	FirstTTFTMillis    float64 `json:"first_ttft_ms"`
	SecondPromptTokens int     `json:"second_prompt_tokens"`
	SecondCachedTokens int     `json:"second_cached_tokens"`
	SecondTTFTMillis   float64 `json:"second_ttft_ms"`
}

// BenchChatTurn runs the two turns of ChatTurnResult through a Scheduler
// with one slot, each generating gen tokens.
func BenchChatTurn(ctx context.Context, m *Model, firstPrompt, newTokens, gen int) (*ChatTurnResult, error) {
	if firstPrompt < 1 || newTokens < 1 || gen < 1 {
		return nil, fmt.Errorf("bench: chat turn of %d + %d tokens generating %d, want all above 0", firstPrompt, newTokens, gen)
	}
	if n := firstPrompt + 2*gen + newTokens; n > m.maxCtx {
		return nil, fmt.Errorf("bench: a chat of %d tokens exceeds the context of %d: %w", n, m.maxCtx, ErrContextFull)
	}
	sch, err := NewScheduler(m, WithSlots(1))
	if err != nil {
		return nil, err
	}
	defer sch.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	ids := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = rng.IntN(m.mc.VocabSize)
		}
		return out
	}
	turn := func(prompt []int) (*Result, float64, error) {
		start := time.Now()
		res, err := sch.GenerateIDs(ctx, prompt, WithMaxTokens(gen), WithIgnoreEOS())
		if err != nil {
			return nil, 0, err
		}
		first := time.Since(start) - res.DecodeDuration
		return res, float64(first) / float64(time.Millisecond), nil
	}
	first := ids(firstPrompt)
	r1, ttft1, err := turn(first)
	if err != nil {
		return nil, err
	}
	second := append(append(first, r1.IDs...), ids(newTokens)...)
	r2, ttft2, err := turn(second)
	if err != nil {
		return nil, err
	}
	return &ChatTurnResult{FirstPromptTokens: len(first), FirstTTFTMillis: ttft1,
		SecondPromptTokens: len(second), SecondCachedTokens: r2.CachedTokens, SecondTTFTMillis: ttft2}, nil
}
