package symb

import (
	"bytes"
	"fmt"
	"unsafe"
)

// Tensor is a read-only view of one tensor: its Info and its sections as byte
// slices. For a tensor from Open the slices point into the mapped file (no copy);
// a caller may also build one over memory it owns (the runtime does this for
// weights read straight from a source checkpoint).
type Tensor struct {
	Name string // model-relative name, e.g. "layers/layer_00/attn_q"
	Info
	Data   []byte // codes (quantized) or elements (float), little-endian
	Scales []byte // F16 per group, [rows][groups]; nil for float dtypes
	Mins   []byte // F16 per group, asym only
}

// Check verifies that the section lengths match the Info.
func (t *Tensor) Check() error {
	d, s, m, err := t.Info.SectionSizes()
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	if int64(len(t.Data)) != d || int64(len(t.Scales)) != s || int64(len(t.Mins)) != m {
		return fmt.Errorf("%s: sections of %d/%d/%d bytes, %s %v needs %d/%d/%d: %w",
			t.Name, len(t.Data), len(t.Scales), len(t.Mins), t.DType, t.Shape, d, s, m, ErrCorrupt)
	}
	return nil
}

// Float32s returns the data of an F32 tensor as a []float32 without copying.
// It requires 4-byte alignment, which mapped files and Go allocations provide.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DType != F32 {
		return nil, fmt.Errorf("%s: dtype %s, want f32", t.Name, t.DType)
	}
	return bytesAs[float32](t.Data), nil
}

// Uint16s returns the data of an F16 or BF16 tensor as raw 16-bit words without copying.
func (t *Tensor) Uint16s() ([]uint16, error) {
	if t.DType != F16 && t.DType != BF16 {
		return nil, fmt.Errorf("%s: dtype %s, want f16 or bf16", t.Name, t.DType)
	}
	return bytesAs[uint16](t.Data), nil
}

// ScaleWords returns the F16 scales as raw 16-bit words without copying.
func (t *Tensor) ScaleWords() []uint16 { return bytesAs[uint16](t.Scales) }

// MinWords returns the F16 mins as raw 16-bit words without copying.
func (t *Tensor) MinWords() []uint16 { return bytesAs[uint16](t.Mins) }

// bytesAs reinterprets little-endian bytes as a slice of T (all supported
// targets are little-endian; FORMAT.md fixes the byte order).
func bytesAs[T float32 | uint16](b []byte) []T {
	var zero T
	n := len(b) / int(unsafe.Sizeof(zero))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// PadTailGroups returns a quantized tensor with a packed tail (format 1.1)
// in the format 1.0 layout, which every 1.x reader reads: each row's tail
// group padded to a whole group with the padding code (FORMAT.md §3), in
// new memory (t is often a mapped file, closed before the result is
// written). A tensor without a packed tail is returned as it is.
func PadTailGroups(t *Tensor) (*Tensor, error) {
	if !t.PackedTail {
		return t, nil
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	in := t.Info
	in.PackedTail = false
	out := &Tensor{Name: t.Name, Info: in, Scales: bytes.Clone(t.Scales), Mins: bytes.Clone(t.Mins)}
	pad := byte(0)
	if in.DType == INT4 && in.Scheme == SchemeSym {
		pad = 0x88 // code 8, value 0, in both nibbles
	}
	ob, nb := t.PaddedCols(), in.PaddedCols()
	if in.DType == INT4 {
		ob, nb = ob/2, nb/2
	}
	out.Data = make([]byte, 0, in.Rows()*nb)
	for r := range in.Rows() {
		out.Data = append(out.Data, t.Data[r*ob:(r+1)*ob]...)
		for range nb - ob {
			out.Data = append(out.Data, pad)
		}
	}
	return out, nil
}
