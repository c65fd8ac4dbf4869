package symb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Format constants (FORMAT.md §1).
const (
	Magic        = "SYMB"
	MajorVersion = 1
	MinorVersion = 1   // the newest minor this package reads and writes (1.1: FlagPackedTail)
	HeaderSize   = 128 // bytes of a version 1.0 header
	Alignment    = 64  // every section starts at a multiple of this
	MaxRank      = 4
	MaxGroupSize = 4096
)

// Sentinel errors callers can branch on with errors.Is.
var (
	ErrNotSymb      = errors.New("not a .symb file")
	ErrVersion      = errors.New("unsupported .symb format version")
	ErrCorrupt      = errors.New("corrupt .symb file")
	ErrInvalidShape = errors.New("invalid tensor shape")
)

// Info describes a tensor: what a header says apart from byte offsets.
type Info struct {
	DType     DType
	Scheme    Scheme
	GroupSize int   // elements per quantization group; 0 for float dtypes
	Shape     []int // 1 to MaxRank dimensions, each ≥ 1
	// PackedTail: the last group of a row is stored in the 32-element
	// blocks its real elements need, not padded to a whole group (FORMAT.md
	// §3, version 1.1). Only quantized tensors whose layout it changes set it.
	PackedTail bool
}

// FlagPackedTail is the header flags bit of Info.PackedTail (version 1.1).
const FlagPackedTail = 1

// WithPackedTail returns in with PackedTail set when that stores fewer
// bytes: a quantized tensor whose row length is not a whole number of
// groups and whose tail group needs fewer 32-element blocks than a group
// has. Writers call it; the result is what they write.
func (in Info) WithPackedTail() Info {
	in.PackedTail = false
	if in.DType.Quantized() && in.GroupSize > 0 && len(in.Shape) > 0 {
		in.PackedTail = in.padded32() < in.GroupsPerRow()*in.GroupSize
	}
	return in
}

// padded32 is Cols rounded up to a multiple of 32.
func (in Info) padded32() int { return (in.Cols() + 31) &^ 31 }

// Rows is the product of all dimensions but the last (1 for a vector).
func (in Info) Rows() int {
	r := 1
	for _, d := range in.Shape[:len(in.Shape)-1] {
		r *= d
	}
	return r
}

// Cols is the last dimension: the row length that groups run along.
func (in Info) Cols() int { return in.Shape[len(in.Shape)-1] }

// GroupsPerRow is ceil(Cols/GroupSize) for quantized tensors, 0 otherwise.
func (in Info) GroupsPerRow() int {
	if !in.DType.Quantized() || in.GroupSize <= 0 {
		return 0
	}
	return (in.Cols() + in.GroupSize - 1) / in.GroupSize
}

// PaddedCols is the stored row length: Cols rounded up to a whole number of
// groups, or with PackedTail to a multiple of 32 (the tail group then
// holds fewer blocks than the others).
func (in Info) PaddedCols() int {
	if !in.DType.Quantized() {
		return in.Cols()
	}
	if in.PackedTail {
		return in.padded32()
	}
	return in.GroupsPerRow() * in.GroupSize
}

// Elements is the number of logical elements (product of the shape).
func (in Info) Elements() int64 {
	n := int64(1)
	for _, d := range in.Shape {
		n *= int64(d)
	}
	return n
}

// SectionSizes returns the byte sizes of the data, scales and mins sections that
// FORMAT.md §3 prescribes for this tensor. It validates the Info first and never overflows.
func (in Info) SectionSizes() (data, scales, mins int64, err error) {
	if err := in.Validate(); err != nil {
		return 0, 0, 0, err
	}
	rows := uint64(1)
	for _, d := range in.Shape[:len(in.Shape)-1] {
		var hi uint64
		hi, rows = bits.Mul64(rows, uint64(d))
		if hi != 0 || rows > math.MaxInt64/16 {
			return 0, 0, 0, fmt.Errorf("%w: %v has too many elements", ErrInvalidShape, in.Shape)
		}
	}
	mul := func(a, b uint64) (int64, error) {
		hi, lo := bits.Mul64(a, b)
		if hi != 0 || lo > math.MaxInt64/2 {
			return 0, fmt.Errorf("%w: %v has too many elements", ErrInvalidShape, in.Shape)
		}
		return int64(lo), nil
	}
	cols := uint64(in.Cols())
	switch in.DType {
	case F32, F16, BF16:
		data, err = mul(rows*1, cols*uint64(in.DType.ElemSize()))
		return data, 0, 0, err
	}
	gpr := uint64(in.GroupsPerRow())
	kp := gpr * uint64(in.GroupSize)
	if in.PackedTail {
		kp = (cols + 31) &^ 31
	}
	if in.DType == INT4 {
		data, err = mul(rows, kp/2)
	} else {
		data, err = mul(rows, kp)
	}
	if err != nil {
		return 0, 0, 0, err
	}
	if scales, err = mul(rows, gpr*2); err != nil {
		return 0, 0, 0, err
	}
	if in.Scheme == SchemeAsym {
		mins = scales
	}
	return data, scales, mins, nil
}

// Validate checks the combination of dtype, scheme, group size and shape.
func (in Info) Validate() error {
	if !in.DType.Valid() {
		return fmt.Errorf("%w: unknown dtype code %d", ErrCorrupt, uint8(in.DType))
	}
	if len(in.Shape) < 1 || len(in.Shape) > MaxRank {
		return fmt.Errorf("%w: rank %d (want 1..%d)", ErrInvalidShape, len(in.Shape), MaxRank)
	}
	for i, d := range in.Shape {
		if d < 1 || int64(d) > math.MaxInt32*int64(256) {
			return fmt.Errorf("%w: dimension %d is %d", ErrInvalidShape, i, d)
		}
	}
	if in.DType.Quantized() {
		if in.Scheme != SchemeSym && in.Scheme != SchemeAsym {
			return fmt.Errorf("%w: %s needs scheme sym or asym, got %s", ErrCorrupt, in.DType, in.Scheme)
		}
		if in.GroupSize < 32 || in.GroupSize > MaxGroupSize || in.GroupSize%32 != 0 {
			return fmt.Errorf("%w: group size %d (want a multiple of 32 in 32..%d)", ErrCorrupt, in.GroupSize, MaxGroupSize)
		}
		return nil
	}
	if in.Scheme != SchemeNone || in.GroupSize != 0 || in.PackedTail {
		return fmt.Errorf("%w: float dtype %s with scheme %s, group size %d, packed tail %v", ErrCorrupt, in.DType, in.Scheme, in.GroupSize, in.PackedTail)
	}
	return nil
}

// Header is the fixed 128-byte header of a .symb file (FORMAT.md §1).
type Header struct {
	Major, Minor uint16
	Info
	DataOffset, DataSize     int64
	ScalesOffset, ScalesSize int64
	MinsOffset, MinsSize     int64
}

func alignUp(n int64) int64 { return (n + Alignment - 1) &^ (Alignment - 1) }

// NewHeader lays out the sections of a tensor described by in.
func NewHeader(in Info) (Header, error) {
	d, s, m, err := in.SectionSizes()
	if err != nil {
		return Header{}, err
	}
	// A file that needs no 1.1 feature stays a 1.0 file, readable by
	// every 1.x reader.
	h := Header{Major: MajorVersion, Minor: 0, Info: in}
	if in.PackedTail {
		h.Minor = 1
	}
	h.Shape = append([]int(nil), in.Shape...)
	h.DataOffset, h.DataSize = alignUp(HeaderSize), d
	end := h.DataOffset + d
	if s > 0 {
		h.ScalesOffset, h.ScalesSize = alignUp(end), s
		end = h.ScalesOffset + s
	}
	if m > 0 {
		h.MinsOffset, h.MinsSize = alignUp(end), m
	}
	return h, nil
}

// FileSize is the exact length of a file with this header.
func (h Header) FileSize() int64 {
	end := h.DataOffset + h.DataSize
	if h.ScalesSize > 0 {
		end = h.ScalesOffset + h.ScalesSize
	}
	if h.MinsSize > 0 {
		end = h.MinsOffset + h.MinsSize
	}
	return end
}

// scaleDTypeF16 is the only scale dtype of version 1.
const scaleDTypeF16 = 2

// MarshalBinary encodes the header into its 128 on-disk bytes.
func (h Header) MarshalBinary() ([]byte, error) {
	if err := h.Info.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, HeaderSize)
	le := binary.LittleEndian
	copy(b[0:4], Magic)
	le.PutUint16(b[4:], h.Major)
	le.PutUint16(b[6:], h.Minor)
	le.PutUint32(b[8:], HeaderSize)
	b[12] = byte(h.DType)
	b[13] = byte(h.Scheme)
	if h.DType.Quantized() {
		b[14] = scaleDTypeF16
	}
	b[15] = byte(len(h.Shape))
	le.PutUint32(b[16:], uint32(h.GroupSize))
	if h.PackedTail {
		if h.Minor < 1 {
			return nil, fmt.Errorf("%w: packed tail groups need format version 1.1, header says %d.%d", ErrCorrupt, h.Major, h.Minor)
		}
		le.PutUint32(b[20:], FlagPackedTail)
	}
	for i, d := range h.Shape {
		le.PutUint64(b[24+8*i:], uint64(d))
	}
	for i, v := range []int64{h.DataOffset, h.DataSize, h.ScalesOffset, h.ScalesSize, h.MinsOffset, h.MinsSize} {
		le.PutUint64(b[56+8*i:], uint64(v))
	}
	return b, nil
}

// ParseHeader decodes and validates a header against the real file size. Every
// length and offset is checked before use: after a nil error, the three sections
// lie inside the file, in order, aligned, and have exactly the sizes the shape implies.
func ParseHeader(b []byte, fileSize int64) (Header, error) {
	var h Header
	if len(b) < len(Magic) || string(b[0:4]) != Magic {
		return h, ErrNotSymb
	}
	// The magic matched, so a short buffer is a truncated .symb file, not a foreign one.
	if len(b) < 12 {
		return h, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrCorrupt, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	h.Major, h.Minor = le.Uint16(b[4:]), le.Uint16(b[6:])
	if h.Major != MajorVersion {
		return h, fmt.Errorf("%w: file is version %d.%d, this reader understands %d.x", ErrVersion, h.Major, h.Minor, MajorVersion)
	}
	hsize := int64(le.Uint32(b[8:]))
	if hsize < HeaderSize || hsize%Alignment != 0 || hsize > 1<<20 {
		return h, fmt.Errorf("%w: header size %d (want a multiple of %d, at least %d)", ErrCorrupt, hsize, Alignment, HeaderSize)
	}
	if int64(len(b)) < HeaderSize || fileSize < hsize {
		return h, fmt.Errorf("%w: file of %d bytes is shorter than its %d-byte header", ErrCorrupt, fileSize, hsize)
	}
	h.DType, h.Scheme = DType(b[12]), Scheme(b[13])
	rank := int(b[15])
	if rank < 1 || rank > MaxRank {
		return h, fmt.Errorf("%w: rank %d (want 1..%d)", ErrCorrupt, rank, MaxRank)
	}
	h.GroupSize = int(le.Uint32(b[16:]))
	flags := le.Uint32(b[20:])
	if flags != 0 && h.Minor == 0 {
		return h, fmt.Errorf("%w: reserved flags %#x set", ErrCorrupt, flags)
	}
	h.PackedTail = flags&FlagPackedTail != 0 // other bits: later 1.x additions, ignored
	h.Shape = make([]int, rank)
	for i := 0; i < MaxRank; i++ {
		d := le.Uint64(b[24+8*i:])
		if i >= rank {
			if d != 0 {
				return h, fmt.Errorf("%w: dimension %d set beyond rank %d", ErrCorrupt, i, rank)
			}
			continue
		}
		if d == 0 || d > math.MaxInt32*256 {
			return h, fmt.Errorf("%w: dimension %d is %d", ErrCorrupt, i, d)
		}
		h.Shape[i] = int(d)
	}
	if err := h.Info.Validate(); err != nil {
		return h, corrupt(err)
	}
	wantScale := byte(0)
	if h.DType.Quantized() {
		wantScale = scaleDTypeF16
	}
	if b[14] != wantScale {
		return h, fmt.Errorf("%w: scale dtype code %d (want %d for %s)", ErrCorrupt, b[14], wantScale, h.DType)
	}
	var v [6]int64
	for i := range v {
		u := le.Uint64(b[56+8*i:])
		if u > uint64(fileSize) {
			return h, fmt.Errorf("%w: %s is %d, beyond the %d-byte file", ErrCorrupt, sectionFields[i], u, fileSize)
		}
		v[i] = int64(u)
	}
	h.DataOffset, h.DataSize, h.ScalesOffset, h.ScalesSize, h.MinsOffset, h.MinsSize = v[0], v[1], v[2], v[3], v[4], v[5]
	d, s, m, err := h.Info.SectionSizes()
	if err != nil {
		return h, corrupt(err)
	}
	if h.DataSize != d || h.ScalesSize != s || h.MinsSize != m {
		return h, fmt.Errorf("%w: section sizes %d/%d/%d, shape %v %s implies %d/%d/%d",
			ErrCorrupt, h.DataSize, h.ScalesSize, h.MinsSize, h.Shape, h.DType, d, s, m)
	}
	prevEnd := hsize
	for _, sec := range []struct {
		name      string
		off, size int64
	}{{"data", h.DataOffset, h.DataSize}, {"scales", h.ScalesOffset, h.ScalesSize}, {"mins", h.MinsOffset, h.MinsSize}} {
		if sec.size == 0 {
			if sec.off != 0 {
				return h, fmt.Errorf("%w: empty %s section has offset %d", ErrCorrupt, sec.name, sec.off)
			}
			continue
		}
		if sec.off%Alignment != 0 || sec.off < prevEnd || sec.off > fileSize-sec.size {
			return h, fmt.Errorf("%w: %s section [%d, +%d) is misaligned, overlapping or outside the %d-byte file",
				ErrCorrupt, sec.name, sec.off, sec.size, fileSize)
		}
		prevEnd = sec.off + sec.size
	}
	if prevEnd != fileSize {
		return h, fmt.Errorf("%w: file is %d bytes, sections end at %d", ErrCorrupt, fileSize, prevEnd)
	}
	return h, nil
}

// sectionFields names the six offset/size fields at bytes 56..103 (FORMAT.md §1).
var sectionFields = [6]string{"data_offset", "data_size", "scales_offset", "scales_size", "mins_offset", "mins_size"}

// corrupt marks an error found in a file's header as ErrCorrupt: a shape that
// Info.Validate calls invalid (ErrInvalidShape) is, inside a file, corruption.
func corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}
