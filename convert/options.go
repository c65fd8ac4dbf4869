package convert

import (
	"errors"
	"fmt"
	"math"

	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/internal/workers"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/registry"
)

// Option configures Convert and OpenSource.
type Option func(*options) error

type options struct {
	policy    quantize.Policy
	policySet bool
	arch      string
	revision  string
	force     bool
	jobs      int
	hub       *hub.Client
	files     *hub.Filter // which Hub files may be fetched (nil: all)
	registry  []registry.Option
	progress  func(Event)
	tool      string
	version   string
	chunk     int // elements per work unit; tests shrink it to force many chunks

	calibrate bool   // run the source model on calibText for activation statistics
	calibText string // "" means the built-in text
	calibName string // how the text is recorded ("builtin" or a file name)
	bits      float64
	softBits  bool // bits is a default: a model that cannot meet it gets its smallest choice
	maxKLD    float64
	awq       bool // activation-aware channel scaling before quantizing
}

func newOptions(opts []Option) (*options, error) {
	o := &options{jobs: workers.Count(0), tool: "symbc", version: "unknown", chunk: chunkElems}
	for _, f := range opts {
		if err := f(o); err != nil {
			return nil, err
		}
	}
	if !o.policySet {
		o.policy = quantize.DefaultPolicy()
	}
	if o.bits > 0 && o.maxKLD > 0 {
		return nil, errors.New("a size target (bits per weight) and a quality target (max KL) are alternatives; give one")
	}
	if (o.bits > 0 || o.maxKLD > 0 || o.gptq() || o.awq) && !o.calibrate {
		if err := WithCalibration("", "")(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithPolicy sets the storage policy (default quantize.DefaultPolicy: INT4
// g128 for every linear layer, the LM head and the embeddings).
func WithPolicy(p quantize.Policy) Option {
	return func(o *options) error { o.policy, o.policySet = p, true; return nil }
}

// WithArch forces an adapter ("llama", "LlamaForCausalLM") instead of the
// one config.json names.
func WithArch(name string) Option { return func(o *options) error { o.arch = name; return nil } }

// WithRevision picks the Hub branch, tag or commit (default "main").
func WithRevision(rev string) Option { return func(o *options) error { o.revision = rev; return nil } }

// WithForce lets Convert replace an existing output folder (only after the
// new one is complete).
func WithForce(force bool) Option { return func(o *options) error { o.force = force; return nil } }

// WithJobs sets how many goroutines quantize (0, the default: one per CPU;
// negative: an error).
func WithJobs(n int) Option {
	return func(o *options) error {
		if err := workers.Check("convert: jobs", n); err != nil {
			return err
		}
		o.jobs = workers.Count(n)
		return nil
	}
}

// WithHub sets the Hub client for model ids (default hub.NewFromEnv, with
// download progress sent to WithProgress's function).
func WithHub(c *hub.Client) Option { return func(o *options) error { o.hub = c; return nil } }

// WithProgress sends progress events to fn (default: nowhere). fn is called
// from several goroutines at once; Hub downloads report through it too.
func WithProgress(fn func(Event)) Option {
	return func(o *options) error { o.progress = fn; return nil }
}

// WithTool records the writing program in config.symb.json.
func WithTool(name, version string) Option {
	return func(o *options) error { o.tool, o.version = name, version; return nil }
}

// WithCalibration runs the source model over text (empty: the built-in
// text, DefaultCalibrationText) before quantizing, collecting the inputs'
// statistics of every linear layer: per-channel mean squares (the
// precision choice's error measure) and, when they fit in memory, the
// second moments GPTQ needs (specs with Method GPTQ). name is recorded in
// config.symb.json.
func WithCalibration(name, text string) Option {
	return func(o *options) error {
		o.calibrate, o.calibName, o.calibText = true, name, text
		if text == "" {
			o.calibName, o.calibText = "builtin", defaultCalibration
		}
		return nil
	}
}

// gptq reports whether any weight may be stored with the GPTQ method, which
// needs the inputs' second moments from calibration.
func (o *options) gptq() bool {
	if o.bits > 0 || o.maxKLD > 0 {
		return recipeMethod == quantize.GPTQ
	}
	p := o.policy
	for _, s := range []quantize.Spec{p.Linear, p.Embedding, p.LMHead} {
		if s.Type.IsInt() && s.Method == quantize.GPTQ {
			return true
		}
	}
	return false
}

// WithBits chooses each weight matrix's storage from measured sensitivity so
// the tensor files average at most bits per weight with the lowest
// predicted KL divergence. It implies WithCalibration (built-in text) unless
// one is given.
func WithBits(bits float64) Option {
	return func(o *options) error {
		if !(bits >= 2 && bits <= 32) {
			return fmt.Errorf("bits per weight %v: want a number between 2 and 32", bits)
		}
		o.bits = bits
		return nil
	}
}

// DefaultBits is the budget of the default INT4 recipe (symbc convert with
// plain --quantize int4): the per-tensor choice within 4.5 bits per weight.
const DefaultBits = 4.5

// WithDefaultBits is WithBits for a default recipe: a model whose smallest
// choice already takes more than bits (tiny models, where headers, norms
// and narrow rows weigh) gets a budget a little above that smallest choice
// instead of an error.
func WithDefaultBits(bits float64) Option {
	return func(o *options) error {
		if err := WithBits(bits)(o); err != nil {
			return err
		}
		o.softBits = true
		return nil
	}
}

// WithMaxKLD chooses each weight matrix's storage so the predicted mean KL
// divergence from the source on the calibration text is at most x nats, at
// the smallest size. It implies WithCalibration unless one is given.
func WithMaxKLD(x float64) Option {
	return func(o *options) error {
		if !(x > 0) || math.IsInf(x, 0) {
			return fmt.Errorf("max mean KL %v: want a finite number of nats > 0", x)
		}
		o.maxKLD = x
		return nil
	}
}

// WithAWQ scales each linear layer's input channels by their activation
// size before quantizing (AWQ) and folds the inverse exactly into the norm
// or layer that produces the input, so the float model is unchanged. It
// implies WithCalibration unless one is given.
func WithAWQ(on bool) Option { return func(o *options) error { o.awq = on; return nil } }

// withChunkElems sets the work unit size (tests only).
func withChunkElems(n int) Option { return func(o *options) error { o.chunk = max(n, 1); return nil } }

func (o *options) hubClient() (*hub.Client, error) {
	if o.hub == nil {
		var hopts []hub.Option
		if fn := o.progress; fn != nil {
			hopts = append(hopts, hub.WithProgress(func(file string, done, total int64) {
				fn(Event{Kind: EventDownload, Name: file, Bytes: done, Total: total})
			}))
		}
		c, err := hub.NewFromEnv(hopts...)
		if err != nil {
			return nil, err
		}
		o.hub = c
	}
	return o.hub, nil
}

// PolicyRequest is a storage policy as the command line spells it.
type PolicyRequest struct {
	Quantize   string // int4 (default), int8, f16, bf16, f32
	Scheme     string // sym (default) or asym
	Method     string // rtn (default) or mse
	GroupSize  int    // 0: quantize.DefaultGroupSize
	Embeddings string // type for the embedding table; "" follows Quantize
	LMHead     string // type for an untied LM head; "" follows Quantize
}

// Policy builds and validates the quantize.Policy for a request. Norms and
// biases are kept at F16 or better by quantize.Policy itself.
func (r PolicyRequest) Policy() (quantize.Policy, error) {
	orDefault := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	typ, err := quantize.ParseType(orDefault(r.Quantize, "int4"))
	if err != nil {
		return quantize.Policy{}, err
	}
	scheme, err := quantize.ParseScheme(orDefault(r.Scheme, "sym"))
	if err != nil {
		return quantize.Policy{}, err
	}
	method, err := quantize.ParseMethod(orDefault(r.Method, "rtn"))
	if err != nil {
		return quantize.Policy{}, err
	}
	g := r.GroupSize
	if g == 0 {
		g = quantize.DefaultGroupSize
	}
	spec := func(t quantize.Type) quantize.Spec {
		return quantize.Spec{Type: t, Scheme: scheme, Method: method, GroupSize: g}
	}
	p := quantize.PolicyFromSpec(spec(typ))
	for _, o := range []struct {
		flag, val string
		dst       *quantize.Spec
	}{{"embeddings", r.Embeddings, &p.Embedding}, {"lm-head", r.LMHead, &p.LMHead}} {
		if o.val == "" {
			continue
		}
		t, err := quantize.ParseType(o.val)
		if err != nil {
			return quantize.Policy{}, fmt.Errorf("%s: %w", o.flag, err)
		}
		*o.dst = spec(t)
	}
	if err := p.Validate(); err != nil {
		return quantize.Policy{}, err
	}
	return p, nil
}
