package convert

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/symbc/symbc/symb"
)

// SourceWeights serves the tensors of an unconverted checkpoint under their
// .symb names, so a model can run (or be compared with its conversion)
// straight from Hugging Face files. It is safe for concurrent use.
type SourceWeights struct {
	dir   string
	ck    *checkpoint
	items map[string]*item

	mu   sync.Mutex
	made map[string]*symb.Tensor // transformed tensors, built once
}

// OpenSource resolves a model like Convert (local folder or Hub id), checks
// its tensors, and returns its config (the quantization record states the
// source dtype) and its weights. Nothing is converted up front.
func OpenSource(ctx context.Context, source string, opts ...Option) (*symb.Config, *SourceWeights, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	src, err := resolve(ctx, source, o)
	if err != nil {
		return nil, nil, err
	}
	cfg, items, ck, err := load(src)
	if err != nil {
		return nil, nil, err
	}
	c, err := sourceConfig(src, cfg, items, o)
	if err != nil {
		ck.Close()
		return nil, nil, err
	}
	return c, newSourceWeights(src.dir, ck, items), nil
}

// sourceConfig is the config under which the runtime runs the unconverted
// checkpoint (the quantization record states the source dtype).
func sourceConfig(src *source, cfg symb.ModelConfig, items []*item, o *options) (*symb.Config, error) {
	dt := sourceDType(items)
	c := &symb.Config{
		Format: "symb", FormatVersion: fmt.Sprintf("%d.%d", symb.MajorVersion, symb.MinorVersion),
		Architecture: src.adapter.Name(),
		Model:        cfg,
		Quantization: symb.Quantization{Weights: dt, Embeddings: dt, Norms: dt},
		Source:       src.record(dt),
		Tool:         symb.Tool{Name: o.tool, Version: o.version},
		Generation:   src.gen,
	}
	if !cfg.TieEmbeddings {
		c.Quantization.LMHead = dt
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func newSourceWeights(dir string, ck *checkpoint, items []*item) *SourceWeights {
	sw := &SourceWeights{dir: dir, ck: ck, items: map[string]*item{}, made: map[string]*symb.Tensor{}}
	for _, it := range items {
		sw.items[it.Name] = it
	}
	return sw
}

// Dir is the folder holding the source files (tokenizer files included).
func (w *SourceWeights) Dir() string { return w.dir }

// Names lists the tensor names, sorted.
func (w *SourceWeights) Names() []string {
	out := make([]string, 0, len(w.items))
	for n := range w.items {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Tensor returns tensor name unquantized. A tensor stored unchanged (or a
// row slice of a fused one) is a zero-copy view in the source dtype (F32,
// F16 or BF16); any other transform yields F32, computed on first use.
// Views stay valid until Close.
func (w *SourceWeights) Tensor(name string) (*symb.Tensor, error) {
	it, ok := w.items[name]
	if !ok {
		return nil, fmt.Errorf("tensor %s: not in this model", name)
	}
	rows := it.Rows()
	info := symb.Info{Shape: append([]int(nil), it.Shape...)}
	if dt, raw, ok := it.raw(0, rows); ok && aligned(raw, uintptr(dt.ElemSize())) {
		info.DType = dt
		return &symb.Tensor{Name: name, Info: info, Data: raw}, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.made[name]; ok {
		return t, nil
	}
	b := make([]byte, 4*rows*it.Cols()) // Go allocations are 8-byte aligned
	if err := it.reader.Read(bytesAs[float32](b), 0, rows, 0, it.Cols()); err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	info.DType = symb.F32
	t := &symb.Tensor{Name: name, Info: info, Data: b}
	w.made[name] = t
	return t, nil
}

// reset forgets the tensors built so far (the items' readers changed).
func (w *SourceWeights) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.made = map[string]*symb.Tensor{}
}

// Close unmaps the checkpoint.
func (w *SourceWeights) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.made = map[string]*symb.Tensor{}
	return w.ck.Close()
}
