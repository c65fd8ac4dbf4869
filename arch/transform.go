package arch

import (
	"fmt"
	"slices"

	"github.com/symbc/symbc/symb"
)

// Reader gives access to a tensor as float32, one window at a time, so a
// transform never needs a whole tensor in memory. Rows are all dimensions but
// the last.
type Reader interface {
	Shape() []int
	// Read decodes rows [r0, r1) × columns [c0, c1) into dst, row-major,
	// len(dst) == (r1-r0)*(c1-c0).
	Read(dst []float32, r0, r1, c0, c1 int) error
}

// RawReader is implemented by readers whose rows are stored unchanged in the
// checkpoint. The converter then quantizes straight from the stored bytes
// (no float32 copy) and OpenSource can hand out a zero-copy view.
type RawReader interface {
	Reader
	// Raw returns the stored bytes of whole rows [r0, r1) and their dtype
	// (F32, F16 or BF16), or ok == false when they are not stored as is.
	Raw(r0, r1 int) (dt symb.DType, b []byte, ok bool)
}

// Transform builds the reader of a mapping's output from the readers of its
// sources (in Mapping.Sources order). Apply checks the source shapes it
// depends on; the converter checks the result's shape against the mapping.
type Transform interface {
	Apply(src []Reader) (Reader, error)
	String() string
}

// rowsCols splits a shape into rows (all but the last dimension) and columns.
func rowsCols(shape []int) (int, int) {
	if len(shape) == 0 {
		return 0, 0
	}
	r := 1
	for _, d := range shape[:len(shape)-1] {
		r *= d
	}
	return r, shape[len(shape)-1]
}

// CheckWindow validates the arguments of Reader.Read against a shape; readers
// call it so that a bad window is an error rather than a panic.
func CheckWindow(shape []int, dst []float32, r0, r1, c0, c1 int) error {
	rows, cols := rowsCols(shape)
	if r0 < 0 || r1 < r0 || r1 > rows || c0 < 0 || c1 < c0 || c1 > cols {
		return fmt.Errorf("window rows [%d, %d) cols [%d, %d) outside shape %v", r0, r1, c0, c1, shape)
	}
	if len(dst) != (r1-r0)*(c1-c0) {
		return fmt.Errorf("window rows [%d, %d) cols [%d, %d) needs %d values, buffer has %d", r0, r1, c0, c1, (r1-r0)*(c1-c0), len(dst))
	}
	return nil
}

func one(t Transform, src []Reader) (Reader, error) {
	if len(src) != 1 {
		return nil, fmt.Errorf("%s takes 1 source, got %d", t, len(src))
	}
	return src[0], nil
}

// RowSlice takes rows [Start, Start+Rows) of a 2-D source: one part of a
// fused tensor (Phi-3 qkv_proj rows [q | k | v], gate_up_proj rows
// [gate | up]; one expert of DBRX's [experts·F, d] tensors).
type RowSlice struct{ Start, Rows int }

func (t RowSlice) String() string { return fmt.Sprintf("rows[%d:%d]", t.Start, t.Start+t.Rows) }

// Apply implements Transform.
func (t RowSlice) Apply(src []Reader) (Reader, error) {
	in, err := one(t, src)
	if err != nil {
		return nil, err
	}
	s := in.Shape()
	if len(s) != 2 || t.Start < 0 || t.Rows < 1 || t.Start+t.Rows > s[0] {
		return nil, fmt.Errorf("%s of a tensor of shape %v", t, s)
	}
	return rowSlice{in: in, start: t.Start, shape: []int{t.Rows, s[1]}}, nil
}

type rowSlice struct {
	in    Reader
	start int
	shape []int
}

func (r rowSlice) Shape() []int { return r.shape }

func (r rowSlice) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := CheckWindow(r.shape, dst, r0, r1, c0, c1); err != nil {
		return err
	}
	return r.in.Read(dst, r.start+r0, r.start+r1, c0, c1)
}

// Raw forwards to the source: a slice of stored rows is still stored rows.
func (r rowSlice) Raw(r0, r1 int) (symb.DType, []byte, bool) {
	raw, ok := r.in.(RawReader)
	if !ok || r0 < 0 || r1 < r0 || r1 > r.shape[0] {
		return 0, nil, false
	}
	return raw.Raw(r.start+r0, r.start+r1)
}

// Transpose swaps the two dimensions of a 2-D source: DBRX stores w2 as
// [F, d] used as h·W, where the .symb layout wants [d, F] used as W·h.
type Transpose struct{}

func (Transpose) String() string { return "transpose" }

// Apply implements Transform.
func (t Transpose) Apply(src []Reader) (Reader, error) {
	in, err := one(t, src)
	if err != nil {
		return nil, err
	}
	s := in.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("%s of a tensor of shape %v", t, s)
	}
	return transposed{in: in, shape: []int{s[1], s[0]}}, nil
}

type transposed struct {
	in    Reader
	shape []int
}

func (r transposed) Shape() []int { return r.shape }

// Read fetches the matching window of the source (rows and columns swapped)
// and transposes it; the window is what the caller asked for, so memory
// stays bounded by the caller's chunk size.
func (r transposed) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := CheckWindow(r.shape, dst, r0, r1, c0, c1); err != nil {
		return err
	}
	nr, nc := r1-r0, c1-c0
	tmp := make([]float32, nr*nc)
	if err := r.in.Read(tmp, c0, c1, r0, r1); err != nil {
		return err
	}
	for i := range nc { // source row i = output column c0+i
		for j := range nr {
			dst[j*nc+i] = tmp[i*nr+j]
		}
	}
	return nil
}

// PermuteRows reorders the rows of a 2-D source: output row i is source row
// Perm[i]. DeepSeek's rope rows are stored in interleaved pair order and
// must be de-interleaved for rotate-half RoPE (see DeinterleavePerm).
type PermuteRows struct{ Perm []int }

func (t PermuteRows) String() string { return fmt.Sprintf("permute(%d rows)", len(t.Perm)) }

// Apply implements Transform.
func (t PermuteRows) Apply(src []Reader) (Reader, error) {
	in, err := one(t, src)
	if err != nil {
		return nil, err
	}
	s := in.Shape()
	if len(s) != 2 || len(t.Perm) != s[0] {
		return nil, fmt.Errorf("%s of a tensor of shape %v", t, s)
	}
	seen := make([]bool, len(t.Perm))
	for i, p := range t.Perm {
		if p < 0 || p >= len(seen) || seen[p] {
			return nil, fmt.Errorf("%s: entry %d (%d) repeats or is out of range", t, i, p)
		}
		seen[p] = true
	}
	return permuted{in: in, perm: t.Perm, shape: slices.Clone(s)}, nil
}

type permuted struct {
	in    Reader
	perm  []int
	shape []int
}

func (r permuted) Shape() []int { return r.shape }

func (r permuted) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := CheckWindow(r.shape, dst, r0, r1, c0, c1); err != nil {
		return err
	}
	nc := c1 - c0
	for i := r0; i < r1; i++ {
		p := r.perm[i]
		if err := r.in.Read(dst[(i-r0)*nc:(i-r0+1)*nc], p, p+1, c0, c1); err != nil {
			return err
		}
	}
	return nil
}

// DeinterleavePerm returns the row permutation that turns each of blocks
// consecutive runs of dim rows (starting at row offset within a stride of
// stride rows) from interleaved pairs (x0 y0 x1 y1 ...) into halves
// (x0 x1 ... y0 y1 ...), leaving the other rows in place. total is the
// number of rows of the tensor.
func DeinterleavePerm(total, stride, offset, dim int) ([]int, error) {
	if dim%2 != 0 || stride < 1 || offset < 0 || offset+dim > stride || total%stride != 0 {
		return nil, fmt.Errorf("de-interleave %d of every %d rows at offset %d in %d rows: bad geometry", dim, stride, offset, total)
	}
	perm := make([]int, total)
	for i := range perm {
		perm[i] = i
	}
	for b := 0; b < total; b += stride {
		base := b + offset
		for j := range dim / 2 {
			perm[base+j] = base + 2*j
			perm[base+dim/2+j] = base + 2*j + 1
		}
	}
	return perm, nil
}

// BlockScale multiplies a 2-D weight (source 0) by per-block factors
// (source 1, shape [ceil(rows/Rows), ceil(cols/Cols)]): the dequantization
// of fine-grained FP8 checkpoints, which ship weight_scale_inv next to each
// weight. Rows × Cols is quantization_config.weight_block_size; edge blocks
// may be partial.
type BlockScale struct{ Rows, Cols int }

func (t BlockScale) String() string { return fmt.Sprintf("block-scale(%d×%d)", t.Rows, t.Cols) }

// ScaleShape is the shape of the factors a weight of shape ws needs.
func (t BlockScale) ScaleShape(ws []int) []int {
	if len(ws) != 2 || t.Rows < 1 || t.Cols < 1 {
		return nil
	}
	return []int{(ws[0] + t.Rows - 1) / t.Rows, (ws[1] + t.Cols - 1) / t.Cols}
}

// Apply implements Transform.
func (t BlockScale) Apply(src []Reader) (Reader, error) {
	if len(src) != 2 {
		return nil, fmt.Errorf("%s takes 2 sources (weight, scales), got %d", t, len(src))
	}
	ws, ss := src[0].Shape(), src[1].Shape()
	want := t.ScaleShape(ws)
	if want == nil || len(ss) != 2 {
		return nil, fmt.Errorf("%s of shapes %v and %v: want a 2-D weight and 2-D scales", t, ws, ss)
	}
	if !slices.Equal(ss, want) {
		return nil, fmt.Errorf("%s: scales have shape %v, weight %v needs %v", t, ss, ws, want)
	}
	return blockScaled{w: src[0], s: src[1], br: t.Rows, bc: t.Cols, shape: slices.Clone(ws)}, nil
}

type blockScaled struct {
	w, s   Reader
	br, bc int
	shape  []int
}

func (r blockScaled) Shape() []int { return r.shape }

// Read decodes the window and multiplies each element by its block's factor;
// one row of factors is read per block row the window crosses.
func (r blockScaled) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := CheckWindow(r.shape, dst, r0, r1, c0, c1); err != nil {
		return err
	}
	if err := r.w.Read(dst, r0, r1, c0, c1); err != nil {
		return err
	}
	nc := c1 - c0
	if nc == 0 {
		return nil
	}
	b0, b1 := c0/r.bc, (c1-1)/r.bc+1
	sc := make([]float32, b1-b0)
	for i := r0; i < r1; i++ {
		if i == r0 || i%r.br == 0 {
			if err := r.s.Read(sc, i/r.br, i/r.br+1, b0, b1); err != nil {
				return err
			}
		}
		row := dst[(i-r0)*nc : (i-r0+1)*nc]
		for j := range row {
			row[j] *= sc[(c0+j)/r.bc-b0]
		}
	}
	return nil
}

// Chain applies transforms in order: the first gets all sources, each later
// one the single output of the one before.
type Chain []Transform

func (t Chain) String() string {
	s := ""
	for i, x := range t {
		if i > 0 {
			s += " → "
		}
		s += x.String()
	}
	return s
}

// Apply implements Transform.
func (t Chain) Apply(src []Reader) (Reader, error) {
	if len(t) == 0 {
		return nil, fmt.Errorf("empty transform chain")
	}
	for _, x := range t {
		r, err := x.Apply(src)
		if err != nil {
			return nil, err
		}
		src = []Reader{r}
	}
	return src[0], nil
}
