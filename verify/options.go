package verify

import "github.com/symbc/symbc/runtime"

// Option configures Integrity and Numerics.
type Option func(*options)

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
}

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithJobs sets how many files are hashed at once (0: all cores).
func WithJobs(n int) Option { return func(o *options) { o.jobs = n } }

// WithThreads sets the runtime's compute threads (0: all cores).
func WithThreads(n int) Option { return func(o *options) { o.threads = n } }

// WithReference adds a reference logits file (see Reference).
func WithReference(paths ...string) Option {
	return func(o *options) { o.references = append(o.references, paths...) }
}

// WithSource compares against the source checkpoint (a local Hugging Face
// folder or a Hub id already in the cache).
func WithSource(source string) Option { return func(o *options) { o.source = source } }

// WithPrompts replaces the built-in prompt set used with a source model.
func WithPrompts(p []Prompt) Option { return func(o *options) { o.prompts = p } }

// WithMaxKLD overrides the mean KL divergence bound.
func WithMaxKLD(v float64) Option { return func(o *options) { o.maxKLD = &v } }

// WithMinTop1 overrides the top-1 agreement bound.
func WithMinTop1(v float64) Option { return func(o *options) { o.minTop1 = &v } }

// WithToolVersion records the version of the verifying tool in the report.
func WithToolVersion(v string) Option { return func(o *options) { o.toolVersion = v } }

// WithEngine runs the converted model with another attention engine (the
// reference or source always runs exact attention), to measure how far the
// engine moves the outputs.
func WithEngine(e runtime.Engine) Option { return func(o *options) { o.engine = e } }
