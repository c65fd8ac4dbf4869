package verify

import (
	"github.com/symbc/symbc/internal/workers"
	"github.com/symbc/symbc/runtime"
)

// Option configures Integrity and Numerics.
type Option func(*options) error

type options struct {
	jobs        int
	threads     int
	references  []string
	source      string
	prompts     []Prompt
	maxKLD      *float64
	minTop1     *float64
	toolVersion string
	engine      runtime.Engine
	runtime     []runtime.Option
}

func newOptions(opts []Option) (options, error) {
	var o options
	for _, f := range opts {
		if err := f(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithJobs sets how many files are hashed at once (0: one per CPU;
// negative: an error).
func WithJobs(n int) Option {
	return func(o *options) error { o.jobs = n; return workers.Check("verify: jobs", n) }
}

// WithThreads sets the runtime's compute threads (0: one per CPU;
// negative: an error).
func WithThreads(n int) Option {
	return func(o *options) error { o.threads = n; return workers.Check("verify: threads", n) }
}

// WithReference adds a reference logits file (see Reference).
func WithReference(paths ...string) Option {
	return func(o *options) error { o.references = append(o.references, paths...); return nil }
}

// WithSource compares against the source checkpoint (a local Hugging Face
// folder or a Hub id already in the cache).
func WithSource(source string) Option {
	return func(o *options) error { o.source = source; return nil }
}

// WithPrompts replaces the built-in prompt set used with a source model.
func WithPrompts(p []Prompt) Option { return func(o *options) error { o.prompts = p; return nil } }

// WithMaxKLD overrides the mean KL divergence bound.
func WithMaxKLD(v float64) Option { return func(o *options) error { o.maxKLD = &v; return nil } }

// WithMinTop1 overrides the top-1 agreement bound.
func WithMinTop1(v float64) Option { return func(o *options) error { o.minTop1 = &v; return nil } }

// WithToolVersion records the version of the verifying tool in the report.
func WithToolVersion(v string) Option {
	return func(o *options) error { o.toolVersion = v; return nil }
}

// WithEngine runs the converted model with another attention engine (the
// reference or source always runs exact attention), to measure how far the
// engine moves the outputs.
func WithEngine(e runtime.Engine) Option { return func(o *options) error { o.engine = e; return nil } }

// WithRuntimeOptions adds options for running the converted model, such as
// runtime.WithKernels or runtime.WithKVCache. The source model always runs
// with a float32 KV cache.
func WithRuntimeOptions(opts ...runtime.Option) Option {
	return func(o *options) error { o.runtime = append(o.runtime, opts...); return nil }
}
