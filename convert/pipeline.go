package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// chunkElems is the work unit: about this many elements of one tensor, in
// whole rows. Small enough that a few per worker stay in cache-friendly
// memory, large enough that the per-chunk overhead (a write call, a lock)
// is noise.
const chunkElems = 1 << 20

// written is what one committed output tensor looks like.
type written struct {
	name  string
	spec  quantize.Spec
	bytes int64 // file size
	elems int64
}

// pipeline streams items into .symb files under dir: one producer opens a
// bounded number of tensors at a time and cuts them into row chunks; jobs
// workers quantize chunks and write them at their offsets. Peak memory is a
// chunk per worker plus the source pages in use, which are released as
// soon as they are consumed.
type pipeline struct {
	dir      string
	jobs     int
	chunk    int             // elements per work unit
	specs    []quantize.Spec // per item
	hess     []*moment       // per item: input second moment for GPTQ, or nil
	progress func(Event)
}

type tensorJob struct {
	it        *item
	index     int // position in the item list
	spec      quantize.Spec
	hess      *moment // input second moment when the spec is GPTQ
	factor    *quantize.GPTQFactor
	factorErr error
	once      sync.Once
	path      string
	rowData   int // output bytes per row in each section
	rowScales int
	rowMins   int

	w         *symb.Writer // safe for concurrent writes at disjoint offsets
	remaining atomic.Int64
}

type chunk struct {
	t      *tensorJob
	r0, r1 int
}

// scratch is one worker's reusable buffers.
type scratch struct {
	f32                []float32
	data, scales, mins []byte
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

func (p *pipeline) run(ctx context.Context, items []*item) ([]written, error) {
	out := make([]written, len(items))
	jobs := max(p.jobs, 1)
	g, ctx := errgroup.WithContext(ctx)
	chunks := make(chan chunk, jobs)
	// Tensors in flight: enough that workers never starve at a tensor
	// boundary, few enough that open files and touched pages stay bounded.
	slots := make(chan struct{}, jobs+2)

	var openMu sync.Mutex
	open := map[*tensorJob]bool{}
	defer func() {
		// On failure or cancellation, discard every unfinished file.
		openMu.Lock()
		for tj := range open {
			tj.w.Abort()
		}
		openMu.Unlock()
	}()

	g.Go(func() error {
		defer close(chunks)
		for i, it := range items {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			tj, err := p.open(it, p.specs[i])
			if err != nil {
				return err
			}
			tj.index = i
			if p.hess != nil && tj.spec.Type.IsInt() && tj.spec.Method == quantize.GPTQ {
				tj.hess = p.hess[i]
			}
			openMu.Lock()
			open[tj] = true
			openMu.Unlock()
			rows, cols := it.Rows(), it.Cols()
			step := max(1, p.chunk/cols)
			tj.remaining.Store(int64((rows + step - 1) / step))
			for _, s := range it.sources {
				fileio.WillNeed(s.data)
			}
			for r0 := 0; r0 < rows; r0 += step {
				select {
				case chunks <- chunk{t: tj, r0: r0, r1: min(r0+step, rows)}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	for range jobs {
		g.Go(func() error {
			var s scratch
			for c := range chunks {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := c.t.do(c.r0, c.r1, &s); err != nil {
					return err
				}
				if p.progress != nil {
					p.progress(Event{Kind: EventAdvance, Bytes: int64(c.r1-c.r0) * c.t.it.inBytes / int64(c.t.it.Rows())})
				}
				if c.t.remaining.Add(-1) > 0 {
					continue
				}
				w, err := c.t.commit()
				if err != nil {
					return err
				}
				openMu.Lock()
				delete(open, c.t)
				openMu.Unlock()
				out[c.t.index] = w
				if p.progress != nil {
					p.progress(Event{Kind: EventTensor, Name: w.name, Spec: w.spec.String(), Bytes: w.bytes})
				}
				<-slots
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// open creates the output file of one item.
func (p *pipeline) open(it *item, spec quantize.Spec) (*tensorJob, error) {
	info, err := infoFor(spec, it.Shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Name, err)
	}
	d, s, m, err := spec.Layout(1, it.Cols())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Name, err)
	}
	// The format and the quantizer must agree on the packed sizes; a
	// disagreement would corrupt the file, so it is checked, not assumed.
	hd, hs, hm, err := info.SectionSizes()
	rows := int64(it.Rows())
	if err != nil || hd != rows*int64(d) || hs != rows*int64(s) || hm != rows*int64(m) {
		return nil, fmt.Errorf("%s: %s layout of %v disagrees with the .symb sections (%v)", it.Name, spec, it.Shape, err)
	}
	path := symb.TensorPath(p.dir, it.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	w, err := symb.Create(path, info)
	if err != nil {
		return nil, err
	}
	return &tensorJob{it: it, spec: spec, path: path, rowData: d, rowScales: s, rowMins: m, w: w}, nil
}

// do quantizes rows [r0, r1) and writes them at their offsets.
func (t *tensorJob) do(r0, r1 int, s *scratch) error {
	n, cols := r1-r0, t.it.Cols()
	s.data = grow(s.data, n*t.rowData)
	s.scales = grow(s.scales, n*t.rowScales)
	s.mins = grow(s.mins, n*t.rowMins)
	dt, raw, ok := t.it.raw(r0, r1)
	var err error
	switch {
	case t.hess != nil:
		t.once.Do(func() { t.factor, t.factorErr = quantize.NewGPTQFactor(t.hess.mean(), cols) })
		if t.factorErr != nil {
			return fmt.Errorf("%s: %w", t.it.Name, t.factorErr)
		}
		ok = false
		s.f32 = grow(s.f32, n*cols)
		if err := t.it.reader.Read(s.f32, r0, r1, 0, cols); err != nil {
			return fmt.Errorf("%s: %w", t.it.Name, err)
		}
		err = quantize.QuantizeRowsGPTQ(t.spec, s.f32, cols, t.factor, s.data, s.scales, s.mins)
	case ok && dt == symb.BF16 && aligned(raw, 2):
		err = quantize.QuantizeRowsBF16(t.spec, bytesAs[uint16](raw), cols, s.data, s.scales, s.mins)
	case ok && dt == symb.F16 && aligned(raw, 2):
		err = quantize.QuantizeRowsF16(t.spec, bytesAs[uint16](raw), cols, s.data, s.scales, s.mins)
	case ok && dt == symb.F32 && aligned(raw, 4):
		err = quantize.QuantizeRows(t.spec, bytesAs[float32](raw), cols, s.data, s.scales, s.mins)
	default:
		ok = false
		s.f32 = grow(s.f32, n*cols)
		if err := t.it.reader.Read(s.f32, r0, r1, 0, cols); err != nil {
			return fmt.Errorf("%s: %w", t.it.Name, err)
		}
		err = quantize.QuantizeRows(t.spec, s.f32, cols, s.data, s.scales, s.mins)
	}
	if err != nil {
		return t.explain(err, r0, r1)
	}
	err = t.w.WriteData(int64(r0)*int64(t.rowData), s.data)
	if err == nil && t.rowScales > 0 {
		err = t.w.WriteScales(int64(r0)*int64(t.rowScales), s.scales)
	}
	if err == nil && t.rowMins > 0 {
		err = t.w.WriteMins(int64(r0)*int64(t.rowMins), s.mins)
	}
	if ok {
		fileio.DontNeed(raw)
	}
	return err
}

// explain turns a quantizer error on a chunk into one naming the tensor, its
// source and, for non-finite values, the absolute row and column.
func (t *tensorJob) explain(err error, r0, r1 int) error {
	src := t.it.sources[0].file + ": tensor " + t.it.sources[0].name
	if errors.Is(err, quantize.ErrNonFinite) {
		cols := t.it.Cols()
		row := make([]float32, cols)
		for r := r0; r < r1; r++ {
			if t.it.reader.Read(row, r, r+1, 0, cols) != nil {
				break
			}
			for c, v := range row {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("%s (for %s): row %d, column %d is %v: %w", src, t.it.Name, r, c, v, quantize.ErrNonFinite)
				}
			}
		}
	}
	return fmt.Errorf("%s (for %s), rows %d..%d: %w", src, t.it.Name, r0, r1-1, err)
}

// commit finishes the file and lets go of the source pages.
func (t *tensorJob) commit() (written, error) {
	if err := t.w.Commit(); err != nil {
		return written{}, err
	}
	for _, s := range t.it.sources {
		fileio.DontNeed(s.data)
	}
	var elems int64 = 1
	for _, d := range t.it.Shape {
		elems *= int64(d)
	}
	return written{name: t.it.Name, spec: t.spec, bytes: t.w.Header().FileSize(), elems: elems}, nil
}

// infoFor is the .symb description of a tensor stored with spec.
func infoFor(spec quantize.Spec, shape []int) (symb.Info, error) {
	in := symb.Info{Shape: append([]int(nil), shape...)}
	switch spec.Type {
	case quantize.F32:
		in.DType = symb.F32
	case quantize.F16:
		in.DType = symb.F16
	case quantize.BF16:
		in.DType = symb.BF16
	case quantize.INT8, quantize.INT4:
		in.DType = symb.INT8
		if spec.Type == quantize.INT4 {
			in.DType = symb.INT4
		}
		in.GroupSize = spec.GroupSize
		in.Scheme = symb.SchemeSym
		if spec.Scheme == quantize.Asymmetric {
			in.Scheme = symb.SchemeAsym
		}
	default:
		return in, fmt.Errorf("unknown storage type %s", spec.Type)
	}
	// The quantizer stores a short tail group in only the 32-element
	// blocks it needs (FORMAT.md §3, version 1.1).
	in = in.WithPackedTail()
	return in, in.Validate()
}

// bytesAs views little-endian bytes as []T without copying; the caller has
// checked the alignment.
func bytesAs[T float32 | uint16](b []byte) []T {
	var zero T
	n := len(b) / int(unsafe.Sizeof(zero))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}
