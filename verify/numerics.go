package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/symb"
)

// Case is the comparison of the converted model with one reference file or
// one prompt run through the source model.
type Case struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "reference" or "source"
	Pass bool   `json:"pass"`
	Metrics
	// Greedy decoding check (reference files with prompt_ids/greedy_ids):
	// steps that matched before the first difference, out of GreedyTotal.
	GreedyMatched int      `json:"greedy_matched,omitempty"`
	GreedyTotal   int      `json:"greedy_total,omitempty"`
	Failures      []string `json:"failures,omitempty"`
	acc           *accumulator
}

// NumericsReport is the outcome of the numeric checks.
type NumericsReport struct {
	Pass       bool       `json:"pass"`
	Reference  string     `json:"reference"` // what the model was compared with
	Thresholds Thresholds `json:"thresholds"`
	Cases      []Case     `json:"cases"`
	Overall    Metrics    `json:"overall"`
}

// ErrNoReference means neither a reference file nor a source model was available.
var ErrNoReference = errors.New("nothing to compare with")

// Numerics runs the converted model in dir against reference logits files
// and/or its source model and judges the differences.
func Numerics(ctx context.Context, dir string, opts ...Option) (*NumericsReport, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	m, err := runtime.Load(dir, append([]runtime.Option{runtime.WithThreads(o.threads), runtime.WithEngine(o.engine)}, o.runtime...)...)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	cfg := m.Config()
	rep := &NumericsReport{Thresholds: DefaultThresholds(cfg.Quantization, cfg.Source.DType)}
	if o.maxKLD != nil {
		rep.Thresholds.MaxKLD = *o.maxKLD
	}
	if o.minTop1 != nil {
		rep.Thresholds.MinTop1 = *o.minTop1
	}
	cand := modelRunner{m}
	var refs []string
	for _, p := range o.references {
		c, err := referenceCase(ctx, cand, p)
		if err != nil {
			return nil, err
		}
		rep.Cases = append(rep.Cases, *c)
		refs = append(refs, filepath.Base(p))
	}
	source := o.source
	if source == "" && len(o.references) == 0 {
		source = recordedSource(cfg, dir)
		if source == "" {
			return nil, fmt.Errorf("%s: %w: pass --reference FILE or --source DIR (the recorded source %q is not available locally)",
				dir, ErrNoReference, firstNonEmpty(cfg.Source.Path, cfg.Source.ID))
		}
	}
	if source != "" {
		cases, err := sourceCases(ctx, m, source, o)
		if err != nil {
			return nil, err
		}
		rep.Cases = append(rep.Cases, cases...)
		// A local folder by its name: reports travel (verify.json is
		// pushed with the model), local absolute paths must not.
		name := source
		if _, err := os.Stat(source); err == nil {
			name = filepath.Base(filepath.Clean(source))
		}
		refs = append(refs, "source "+name)
	}
	rep.Reference = strings.Join(refs, ", ")
	overall := &accumulator{}
	rep.Pass = true
	for i := range rep.Cases {
		c := &rep.Cases[i]
		c.Metrics = c.acc.Metrics()
		overall.merge(c.acc)
		c.Failures = append(rep.Thresholds.check(c.Metrics), c.Failures...)
		if rep.Thresholds.Lossless && c.GreedyTotal > 0 && c.GreedyMatched != c.GreedyTotal {
			c.Failures = append(c.Failures, fmt.Sprintf("greedy decoding matched %d of %d steps", c.GreedyMatched, c.GreedyTotal))
		}
		c.Pass = len(c.Failures) == 0
		rep.Pass = rep.Pass && c.Pass
	}
	rep.Overall = overall.Metrics()
	return rep, nil
}

// recordedSource returns the source folder recorded for the model when it
// is available on this machine: local.json's absolute path (convert writes
// it; it is never published), else an absolute source.path that folders of
// older versions recorded in config.symb.json. A Hub id is looked up in the
// Hugging Face cache by findSource.
func recordedSource(cfg *symb.Config, dir string) string {
	var cands []string
	if l, err := symb.ReadLocal(dir); err == nil && filepath.IsAbs(l.SourcePath) {
		cands = append(cands, l.SourcePath)
	}
	if p := cfg.Source.Path; filepath.IsAbs(p) {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if _, err := os.Stat(filepath.Join(p, "config.json")); err == nil {
			return p
		}
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func referenceCase(ctx context.Context, cand runner, path string) (*Case, error) {
	ref, err := ReadReference(path)
	if err != nil {
		return nil, err
	}
	if ref.Vocab != cand.Vocab() {
		return nil, fmt.Errorf("%s: logits have vocabulary %d, the model has %d: the reference is for another model", path, ref.Vocab, cand.Vocab())
	}
	logits, err := cand.Logits(ctx, ref.InputIDs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	acc, err := compareLogits(ref.Logits, logits, ref.InputIDs, ref.Vocab)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &Case{Name: filepath.Base(path), Kind: "reference", acc: acc}
	if len(ref.GreedyIDs) > 0 {
		got, err := cand.Greedy(ctx, ref.PromptIDs, len(ref.GreedyIDs))
		if err != nil {
			return nil, fmt.Errorf("%s: greedy decoding: %w", path, err)
		}
		c.GreedyMatched, c.GreedyTotal = greedyMatch(ref.GreedyIDs, got), len(ref.GreedyIDs)
	}
	return c, nil
}

func sourceCases(ctx context.Context, m *runtime.Model, source string, o options) ([]Case, error) {
	opts, err := openSourceOptions()
	if err != nil {
		return nil, err
	}
	scfg, w, err := convert.OpenSource(ctx, source, opts...)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}
	defer w.Close()
	sm, err := runtime.New(scfg, w, runtime.WithThreads(o.threads), runtime.WithKVCache(symb.F32))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}
	defer sm.Close()
	if scfg.Model.VocabSize != m.Config().Model.VocabSize {
		return nil, fmt.Errorf("source %s has vocabulary %d, the converted model %d", source, scfg.Model.VocabSize, m.Config().Model.VocabSize)
	}
	prompts := o.prompts
	if len(prompts) == 0 {
		prompts = DefaultPrompts()
	}
	ref, cand := modelRunner{sm}, modelRunner{m}
	var cases []Case
	for _, p := range prompts {
		ids := p.IDs
		if len(ids) == 0 {
			if ids, err = m.Encode(p.Text); err != nil {
				return nil, fmt.Errorf("prompt %q: %w (give token ids with --prompts when the model has no tokenizer)", p.Name, err)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("prompt %q has no tokens", p.Name)
		}
		// Positions past the model's context cannot be compared; the
		// built-in prompts are longer than a small model's window.
		if mp := m.Config().Model.MaxPositions; mp > 0 && len(ids) > mp {
			ids = ids[:mp]
		}
		for _, id := range ids {
			if id < 0 || id >= cand.Vocab() {
				return nil, fmt.Errorf("prompt %q: token id %d outside the vocabulary of %d", p.Name, id, cand.Vocab())
			}
		}
		rl, err := ref.Logits(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("source, prompt %q: %w", p.Name, err)
		}
		cl, err := cand.Logits(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("prompt %q: %w", p.Name, err)
		}
		acc, err := compareLogits(rl, cl, ids, cand.Vocab())
		if err != nil {
			return nil, fmt.Errorf("prompt %q: %w", p.Name, err)
		}
		cases = append(cases, Case{Name: p.Name, Kind: "source", acc: acc})
	}
	return cases, nil
}

// modelRunner adapts a runtime model to runner.
type modelRunner struct{ m *runtime.Model }

func (r modelRunner) Vocab() int { return r.m.Config().Model.VocabSize }

func (r modelRunner) Logits(ctx context.Context, ids []int) ([]float32, error) {
	return r.m.NewSession().Forward(ctx, ids)
}

// Greedy decodes n tokens after prompt with the KV cache, ignoring EOS
// (references are made that way).
func (r modelRunner) Greedy(ctx context.Context, prompt []int, n int) ([]int, error) {
	s := r.m.NewSession()
	if err := s.Prefill(ctx, prompt); err != nil {
		return nil, err
	}
	out := make([]int, 0, n)
	for len(out) < n {
		next := argmax(s.LastLogits())
		out = append(out, next)
		if len(out) == n {
			break
		}
		if err := s.Prefill(ctx, []int{next}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
