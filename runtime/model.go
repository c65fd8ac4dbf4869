package runtime

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/internal/workers"
	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/runtime/tokenizer"
	"github.com/symbc/symbc/symb"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrUnsupported marks a config feature or tensor dtype this runtime does not implement.
	ErrUnsupported = errors.New("unsupported")
	// ErrContextFull means a sequence would grow past the session's context length.
	ErrContextFull = errors.New("context length exceeded")
	// ErrBadWeights means a tensor is missing or has the wrong shape.
	ErrBadWeights = errors.New("bad weights")
	// ErrSessionBroken means an earlier Forward was interrupted; Reset the session.
	ErrSessionBroken = errors.New("session was interrupted during a forward pass; reset it")
)

// Weights gives tensors by their .symb name (symb.Embeddings,
// symb.LayerTensor(i, symb.AttnQ), ...). *symb.Model satisfies it; the
// converter supplies one over a Hugging Face checkpoint.
type Weights interface {
	Tensor(name string) (*symb.Tensor, error)
}

// Engine selects how attention keeps its past.
type Engine int

const (
	// EngineExact keeps a float32 KV cache: the source model's numbers.
	EngineExact Engine = iota
	// EngineSymbiotic keeps a fixed head_dim×head_dim state per attention head.
	EngineSymbiotic
)

func (e Engine) String() string {
	switch e {
	case EngineExact:
		return "exact"
	case EngineSymbiotic:
		return "symbiotic"
	}
	return fmt.Sprintf("engine(%d)", int(e))
}

// MarshalText writes the engine's name (for JSON reports).
func (e Engine) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// ParseEngine accepts the names Engine.String returns.
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "exact":
		return EngineExact, nil
	case "symbiotic":
		return EngineSymbiotic, nil
	}
	return 0, fmt.Errorf("unknown engine %q (want exact or symbiotic)", s)
}

// Option configures Load and New.
type Option func(*options) error

type options struct {
	threads int
	kernels kernels.Set
	engine  Engine
	kvType  symb.DType
	tok     *tokenizer.Tokenizer
	maxCtx  int
	inputs  LinearInputs
}

// LinearInputs receives the input rows of every linear layer as a forward
// pass computes them: the weight's .symb name (symb.LayerTensor(...), the
// LM head or the tied embeddings), n rows of cols = len(x)/n activations.
// x is only valid during the call. The converter's calibration uses it to
// measure which input channels matter.
type LinearInputs func(name string, x []float32, n int)

// WithLinearInputs calls fn with the input of every linear layer (nil: off).
func WithLinearInputs(fn LinearInputs) Option {
	return func(o *options) error { o.inputs = fn; return nil }
}

// WithThreads sets how many goroutines the kernels and attention use
// (default: GOMAXPROCS, normally the number of CPUs).
func WithThreads(n int) Option {
	return func(o *options) error { o.threads = n; return workers.Check("threads", n) }
}

// WithKernels forces a kernel set (default kernels.Auto: the best the CPU
// runs, or the one named by the SYMBC_KERNELS environment variable). A set the
// CPU lacks fails Load.
func WithKernels(k kernels.Set) Option {
	return func(o *options) error {
		if _, err := kernels.ParseSet(string(k)); err != nil {
			return err
		}
		o.kernels = k
		return nil
	}
}

// DefaultKVCache is the element type of a Session's KV cache unless
// WithKVCache says otherwise.
const DefaultKVCache = symb.F32

// WithKVCache sets how a Session's KV cache stores keys and values:
// symb.F32 (the default: the source model's numbers), symb.F16 (half the
// memory) or symb.INT8 (symmetric codes with a scale per position and
// key/value head, about a quarter); their effect on verify is in
// docs/VERIFY.md. A Scheduler takes its own type (WithKVType).
func WithKVCache(t symb.DType) Option {
	return func(o *options) error { o.kvType = t; return checkKVType(t) }
}

// WithEngine selects the attention engine (default EngineExact).
func WithEngine(e Engine) Option { return func(o *options) error { o.engine = e; return nil } }

// WithMaxContext caps the number of positions a session may hold (default:
// the config's max_position_embeddings). The KV cache grows on demand up to it.
func WithMaxContext(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("max context is %d, want 0 (the config's) or a positive count", n)
		}
		o.maxCtx = n
		return nil
	}
}

// WithTokenizer sets the tokenizer used by Generate, Stream and Chat. Load
// reads dir/tokenizer/ by itself; this overrides it.
func WithTokenizer(t *tokenizer.Tokenizer) Option {
	return func(o *options) error { o.tok = t; return nil }
}

// defaultMaxContext applies when the config gives no max_position_embeddings.
const defaultMaxContext = 4096

// Model is a loaded model, safe for concurrent use by several sessions.
type Model struct {
	cfg     *symb.Config
	mc      symb.ModelConfig
	engine  Engine
	kvType  symb.DType // a Session's KV cache (EngineExact)
	threads int
	maxCtx  int
	pool    *kernels.Pool
	tok     *tokenizer.Tokenizer
	eos     []int
	inputs  LinearInputs
	closer  io.Closer
	weights []*symb.Tensor // every tensor loaded, once

	emb       *symb.Tensor
	lmHead    *symb.Tensor // the embeddings when tied
	finalNorm []float32
	layers    []layer
	rope      *rope
	dims      attnDims // attention widths
	attnScale float32  // multiplier of q·k
	layerNorm bool     // norm is LayerNorm rather than RMSNorm
	mlpWidth  int      // widest MLP (dense, expert or shared), for buffers
	router    router   // expert choice, when the model has sparse MLPs
	sizeBytes int64
	params    int64
}

// layer holds one transformer block's weights; float vectors are converted
// to float32 once at load because they are small and used on every token.
type layer struct {
	normAttn, normMLP         []float32
	normAttnPost, normMLPPost []float32    // nil unless PostNorms
	q, k, v, o                *symb.Tensor // q, k, v are nil with latent attention
	qBias, kBias, vBias       []float32    // nil unless AttentionBias
	oBias                     []float32    // nil unless AttentionOutBias
	qNorm, kNorm              []float32    // nil unless QKNorm
	mla                       *mlaLayer    // latent attention's projections; nil otherwise
	gate, up, down            *symb.Tensor // dense MLP; nil in a sparse layer
	moe                       *moeLayer    // sparse MLP; nil in a dense layer
	window                    int          // sliding window in tokens, 0: global
}

// Load opens the .symb model folder dir (tensors are mapped, not copied) and
// its tokenizer in dir/tokenizer/ when present. The folder's structure is
// checked against its config first (symb.CheckStructure: manifest present,
// exactly the implied tensor files; no hashing, so loading stays instant).
func Load(dir string, opts ...Option) (*Model, error) {
	sm, err := symb.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	if err := symb.CheckStructure(dir, sm.Config); err != nil {
		sm.Close()
		return nil, err
	}
	o, err := applyOptions(opts)
	if err != nil {
		sm.Close()
		return nil, err
	}
	tokDir := filepath.Join(dir, "tokenizer")
	if o.tok == nil {
		if _, err := os.Stat(filepath.Join(tokDir, tokenizer.TokenizerFile)); err == nil {
			if o.tok, err = tokenizer.Load(tokDir); err != nil {
				sm.Close()
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
		}
	}
	if o.tok != nil {
		if err := o.tok.CheckVocab(sm.Config.Model.VocabSize); err != nil {
			sm.Close()
			return nil, fmt.Errorf("%s: %w", tokDir, err)
		}
	}
	m, err := newModel(sm.Config, sm, o)
	if err != nil {
		sm.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	m.closer = sm
	m.prepare(true)
	return m, nil
}

// New builds a model over any Weights. The caller keeps ownership of w.
func New(cfg *symb.Config, w Weights, opts ...Option) (*Model, error) {
	if cfg == nil {
		return nil, errors.New("runtime.New: nil config")
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	m, err := newModel(cfg, w, o)
	if err != nil {
		return nil, err
	}
	m.prepare(false)
	return m, nil
}

// prepare repacks the weights the kernels read in a layout of their own now
// (kernels.Pool.Prepare: the INT4 weights of the AVX-512 GEMM), so that no
// request pays for it. The embeddings are only looked up, unless they are
// the LM head too. With mapped true (weights from Load), each packed
// weight's mapped pages leave resident memory as soon as it is packed: the
// kernels read the copy from then on, and a rare read of the original (an
// embedding lookup) faults its pages back from the page cache.
func (m *Model) prepare(mapped bool) {
	for _, t := range m.weights {
		if (t != m.emb || m.lmHead == m.emb) && m.pool.Prepare(t) && mapped {
			fileio.DontNeed(t.Data)
		}
	}
}

func applyOptions(opts []Option) (options, error) {
	var o options
	for _, f := range opts {
		if err := f(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

func newModel(cfg *symb.Config, w Weights, o options) (*Model, error) {
	mc := cfg.Model
	if err := checkConfig(&mc); err != nil {
		return nil, err
	}
	o.threads = workers.Count(o.threads)
	if o.engine != EngineExact && o.engine != EngineSymbiotic {
		return nil, fmt.Errorf("unknown engine %d", int(o.engine))
	}
	if o.kvType == 0 {
		o.kvType = DefaultKVCache
	}
	if o.kernels == "" {
		o.kernels = kernels.Auto
	}
	pool, err := kernels.NewPoolKernels(o.threads, o.kernels)
	if err != nil {
		return nil, err
	}
	if o.maxCtx <= 0 {
		o.maxCtx = mc.MaxPositions
		if o.maxCtx <= 0 {
			o.maxCtx = defaultMaxContext
		}
	}
	m := &Model{
		cfg: cfg, mc: mc, engine: o.engine, kvType: o.kvType, threads: o.threads, maxCtx: o.maxCtx,
		tok: o.tok, eos: mergeIDs(nil, mc.EOSTokenIDs), inputs: o.inputs, pool: pool,
		dims: newAttnDims(&mc), layerNorm: mc.Norm == "layernorm",
	}
	m.attnScale = scoreScale(&mc, m.dims)
	if mc.MoE != nil {
		m.router = newRouter(mc.MoE)
	}
	r, err := newRope(&mc)
	if err != nil {
		return nil, err
	}
	m.rope = r
	if err := m.loadWeights(w); err != nil {
		return nil, err
	}
	return m, nil
}

// loader fetches the tensors that the format's tensor table
// (symb.ModelConfig.Spec) lists for the model's config, checks each against
// the table's shape, and remembers the first error.
type loader struct {
	w    Weights
	m    *Model
	err  error
	seen map[*symb.Tensor]bool // tied tensors count once in the size
}

// get returns tensor name, or nil when the table does not list it for this
// config and required is false (an optional tensor the model lacks).
func (l *loader) get(name string, required bool) *symb.Tensor {
	if l.err != nil {
		return nil
	}
	spec, ok := l.m.mc.Spec(name)
	if !ok {
		if required {
			l.err = fmt.Errorf("%w: tensor %s is not in the format's tensor table for this config", ErrUnsupported, name)
		}
		return nil
	}
	t, err := l.w.Tensor(name)
	if err != nil {
		l.err = fmt.Errorf("%w: %w", ErrBadWeights, err)
		return nil
	}
	if err := checkTensor(t, spec); err != nil {
		l.err = err
		return nil
	}
	if !l.seen[t] {
		l.seen[t] = true
		l.m.sizeBytes += int64(len(t.Data) + len(t.Scales) + len(t.Mins))
		l.m.params += t.Elements()
	}
	return t
}

// matrix returns the tensor called name, which the model needs.
func (l *loader) matrix(name string) *symb.Tensor { return l.get(name, true) }

// vector reads the 1-D tensor called name into float32. An optional one
// that the config does not imply gives nil.
func (l *loader) vector(name string, required bool) []float32 {
	t := l.get(name, required)
	if t == nil {
		return nil
	}
	v := make([]float32, t.Shape[0])
	kernels.Row(v, t, 0)
	return v
}

// checkTensor verifies shape, dtype and section sizes, so a kernel never
// reads past a slice.
func checkTensor(t *symb.Tensor, spec symb.TensorSpec) error {
	if !slices.Equal(t.Shape, spec.Shape) {
		return fmt.Errorf("%w: tensor %s has shape %v, want %v", ErrBadWeights, spec.Name, t.Shape, spec.Shape)
	}
	switch t.DType {
	case symb.F32, symb.F16, symb.BF16, symb.INT8, symb.INT4:
	default:
		return fmt.Errorf("%w: tensor %s has dtype %s", ErrUnsupported, spec.Name, t.DType)
	}
	if err := t.Check(); err != nil {
		return fmt.Errorf("%w: tensor %s: %w", ErrBadWeights, spec.Name, err)
	}
	return nil
}

// loadWeights fetches every tensor the config implies. Which tensors exist
// and their shapes come from the format's table; the optional ones this
// config lacks stay nil.
func (m *Model) loadWeights(w Weights) error {
	mc := &m.mc
	l := &loader{w: w, m: m, seen: map[*symb.Tensor]bool{}}
	m.emb = l.matrix(symb.Embeddings)
	m.finalNorm = l.vector(symb.FinalNorm, true)
	if mc.TieEmbeddings {
		m.lmHead = m.emb
	} else {
		m.lmHead = l.matrix(symb.LMHead)
	}
	m.layers = make([]layer, mc.NumLayers)
	for i := range m.layers {
		L := &m.layers[i]
		name := func(s string) string { return symb.LayerTensor(i, s) }
		L.normAttn = l.vector(name(symb.NormAttn), true)
		L.normMLP = l.vector(name(symb.NormMLP), true)
		if mc.MLA != nil {
			L.mla = l.mla(i)
		} else {
			L.q = l.matrix(name(symb.AttnQ))
			L.k = l.matrix(name(symb.AttnK))
			L.v = l.matrix(name(symb.AttnV))
		}
		L.o = l.matrix(name(symb.AttnO))
		if mc.SparseLayer(i) {
			L.moe = l.moe(i)
		} else {
			L.gate = l.matrix(name(symb.MLPGate))
			L.up = l.matrix(name(symb.MLPUp))
			L.down = l.matrix(name(symb.MLPDown))
			m.mlpWidth = max(m.mlpWidth, mc.IntermediateSize)
		}
		L.qBias = l.vector(name(symb.AttnQBias), false)
		L.kBias = l.vector(name(symb.AttnKBias), false)
		L.vBias = l.vector(name(symb.AttnVBias), false)
		L.oBias = l.vector(name(symb.AttnOBias), false)
		L.qNorm = l.vector(name(symb.AttnQNorm), false)
		L.kNorm = l.vector(name(symb.AttnKNorm), false)
		L.normAttnPost = l.vector(name(symb.NormAttnPost), false)
		L.normMLPPost = l.vector(name(symb.NormMLPPost), false)
		if mc.SlidingWindow > 0 && (!mc.SlidingWindowEven || i%2 == 0) {
			L.window = mc.SlidingWindow
		}
	}
	if e := mc.MoE; e != nil {
		m.mlpWidth = max(m.mlpWidth, e.ExpertIntermediate, e.NumShared*e.ExpertIntermediate)
	}
	if l.err != nil {
		return l.err
	}
	m.weights = slices.Collect(maps.Keys(l.seen))
	return nil
}

// checkConfig refuses a config that is invalid (symb.ModelConfig.Validate,
// the format's one set of rules) or that asks for something this runtime
// does not implement, so such a model fails at load instead of producing
// wrong numbers.
func checkConfig(mc *symb.ModelConfig) error {
	if err := mc.Validate(); err != nil {
		return fmt.Errorf("%w: config %w", ErrBadWeights, err)
	}
	unsupported := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
	}
	switch mc.Norm {
	case "", "rmsnorm", "layernorm":
	default:
		return unsupported("norm %q (want rmsnorm or layernorm)", mc.Norm)
	}
	if err := checkMoE(mc); err != nil {
		return err
	}
	if err := checkMLA(mc); err != nil {
		return err
	}
	switch mc.Activation {
	case "", "silu", "gelu_tanh", "gelu":
	default:
		return unsupported("activation %q", mc.Activation)
	}
	// The format leaves norm_eps to the writer; a norm without one divides
	// by zero on a zero row.
	if !(mc.NormEps > 0) {
		return fmt.Errorf("%w: norm_eps %g", ErrBadWeights, mc.NormEps)
	}
	return nil
}

// Close releases mapped weights when the model came from Load.
func (m *Model) Close() error {
	m.pool.Close()
	if m.closer != nil {
		return m.closer.Close()
	}
	return nil
}

// Config returns the model's configuration.
func (m *Model) Config() *symb.Config { return m.cfg }

// Tokenizer returns the model's tokenizer, nil when it has none.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// EOS returns the ids that end generation.
func (m *Model) EOS() []int { return append([]int(nil), m.eos...) }

// MaxContext is the most positions a session can hold.
func (m *Model) MaxContext() int { return m.maxCtx }

// Threads is the number of goroutines used for compute.
func (m *Model) Threads() int { return m.threads }

// Kernels reports the kernel set the model's products run.
func (m *Model) Kernels() kernels.Set { return m.pool.Kernels() }

// Engine is the attention engine sessions use.
func (m *Model) Engine() Engine { return m.engine }

// SizeBytes is the size of the weights in memory (data, scales and mins).
func (m *Model) SizeBytes() int64 { return m.sizeBytes }

// Params is the number of weight elements.
func (m *Model) Params() int64 { return m.params }

// mergeIDs appends the ids of b missing from a.
func mergeIDs(a, b []int) []int {
	for _, id := range b {
		dup := false
		for _, x := range a {
			dup = dup || x == id
		}
		if !dup {
			a = append(a, id)
		}
	}
	return a
}
