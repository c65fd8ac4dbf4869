package quantize

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Type is the storage type of a tensor after conversion.
//
// The zero value is deliberately invalid so that a Spec or Policy field left
// unset is caught by Validate instead of silently meaning "f32".
type Type uint8

// Storage types. Float types are plain conversions; INT types are grouped
// quantization with float16 scales (see the package documentation).
const (
	F32 Type = iota + 1
	F16
	BF16
	INT8
	INT4
)

// String returns the canonical lower-case name ("f32", "f16", "bf16", "int8", "int4").
func (t Type) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	case INT8:
		return "int8"
	case INT4:
		return "int4"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// IsInt reports whether t is a grouped integer quantization (INT8 or INT4).
func (t Type) IsInt() bool { return t == INT8 || t == INT4 }

// IsFloat reports whether t is a plain float conversion (F32, F16 or BF16).
func (t Type) IsFloat() bool { return t == F32 || t == F16 || t == BF16 }

// Bits is the number of bits one element occupies in the data buffer
// (scales and mins not counted); 0 for an invalid type.
func (t Type) Bits() int {
	switch t {
	case F32:
		return 32
	case F16, BF16:
		return 16
	case INT8:
		return 8
	case INT4:
		return 4
	}
	return 0
}

// ParseType parses a type name, case-insensitively. Accepted spellings:
// f32/fp32/float32, f16/fp16/float16, bf16/bfloat16, int8/i8/q8, int4/i4/q4.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f32", "fp32", "float32":
		return F32, nil
	case "f16", "fp16", "float16":
		return F16, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "int8", "i8", "q8":
		return INT8, nil
	case "int4", "i4", "q4":
		return INT4, nil
	}
	return 0, fmt.Errorf("unknown quantization type %q (want f32, f16, bf16, int8 or int4)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) {
	if t.Bits() == 0 {
		return nil, fmt.Errorf("invalid quantization type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Scheme selects how integer codes map to values within a group.
type Scheme uint8

const (
	// Symmetric: value = d * (q - zero), zero = 8 for INT4 and 0 for INT8.
	// One f16 per group (the scale).
	Symmetric Scheme = iota
	// Asymmetric: value = d*q + m. Two f16 per group (scale and min); better
	// for groups whose values are not centred on zero.
	Asymmetric
)

// String returns "sym" or "asym".
func (s Scheme) String() string {
	switch s {
	case Symmetric:
		return "sym"
	case Asymmetric:
		return "asym"
	}
	return fmt.Sprintf("Scheme(%d)", uint8(s))
}

// ParseScheme parses "sym"/"symmetric" or "asym"/"asymmetric", case-insensitively.
func ParseScheme(s string) (Scheme, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sym", "symmetric":
		return Symmetric, nil
	case "asym", "asymmetric":
		return Asymmetric, nil
	}
	return 0, fmt.Errorf("unknown quantization scheme %q (want sym or asym)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Scheme) MarshalText() ([]byte, error) {
	if s > Asymmetric {
		return nil, fmt.Errorf("invalid quantization scheme %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Scheme) UnmarshalText(b []byte) error {
	v, err := ParseScheme(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Method selects how a group's scale (and min) are chosen.
type Method uint8

const (
	// RTN derives the scale from the group's extremes and rounds each element
	// to the nearest code. Fast; the default.
	RTN Method = iota
	// MSE searches candidate scales (and mins) for the ones that minimise the
	// group's squared reconstruction error. Several times slower than RTN;
	// never worse than RTN on any group because RTN is one of the candidates.
	MSE
	// GPTQ quantizes a weight matrix column by column and spreads each
	// column's rounding error over the columns not yet quantized, weighted
	// by the second moment of the layer's inputs on calibration text
	// (QuantizeRowsGPTQ). Group scales are chosen like MSE. Without
	// calibration statistics it is MSE.
	GPTQ
)

// String returns "rtn" or "mse".
func (m Method) String() string {
	switch m {
	case RTN:
		return "rtn"
	case MSE:
		return "mse"
	case GPTQ:
		return "gptq"
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// ParseMethod parses "rtn" or "mse", case-insensitively.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "rtn":
		return RTN, nil
	case "mse":
		return MSE, nil
	case "gptq":
		return GPTQ, nil
	}
	return 0, fmt.Errorf("unknown quantization method %q (want rtn, mse or gptq)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m Method) MarshalText() ([]byte, error) {
	if m > GPTQ {
		return nil, fmt.Errorf("invalid quantization method %d", uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Method) UnmarshalText(b []byte) error {
	v, err := ParseMethod(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// DefaultGroupSize is the group size used when none is requested.
const DefaultGroupSize = 128

// validGroupSize reports whether g is one of the group sizes the runtime
// kernels support. All are multiples of 32 so that a group is a whole number
// of 16-byte INT4 blocks.
func validGroupSize(g int) bool {
	return g == 32 || g == 64 || g == 128 || g == 256
}

// maxGroupSize bounds the stack buffers used per group.
const maxGroupSize = 256

// Spec fully describes how one tensor is stored.
//
// For float types only Type matters; Scheme, Method and GroupSize are ignored.
type Spec struct {
	Type      Type
	Scheme    Scheme
	Method    Method
	GroupSize int // 32, 64, 128 or 256 for INT types
}

// String renders the spec compactly, e.g. "int4-sym-rtn-g128" or "f16".
func (s Spec) String() string {
	if !s.Type.IsInt() {
		return s.Type.String()
	}
	return fmt.Sprintf("%s-%s-%s-g%d", s.Type, s.Scheme, s.Method, s.GroupSize)
}

// Validate reports whether the spec can be used for quantization.
func (s Spec) Validate() error {
	if s.Type.Bits() == 0 {
		return fmt.Errorf("invalid quantization spec: type not set or unknown (%d)", uint8(s.Type))
	}
	if !s.Type.IsInt() {
		return nil
	}
	if s.Scheme > Asymmetric {
		return fmt.Errorf("invalid quantization spec %s: unknown scheme %d", s.Type, uint8(s.Scheme))
	}
	if s.Method > GPTQ {
		return fmt.Errorf("invalid quantization spec %s: unknown method %d", s.Type, uint8(s.Method))
	}
	if !validGroupSize(s.GroupSize) {
		return fmt.Errorf("invalid quantization spec %s: group size %d (want 32, 64, 128 or 256)", s.Type, s.GroupSize)
	}
	return nil
}

// ErrTooLarge is returned (wrapped) by Layout when the byte sizes would not
// fit in an int.
var ErrTooLarge = errors.New("tensor too large")

// Layout returns the exact buffer sizes, in bytes, of a tensor with rows rows
// of cols elements stored with spec s. scaleBytes and minBytes are zero for
// float types; minBytes is zero for symmetric INT types.
//
// Everything is row-major, so the buffers of rows [r0, r1) are the slices
// [r0*b, r1*b) where b is the corresponding size from Layout(1, cols); that
// is how a caller splits work across goroutines.
func (s Spec) Layout(rows, cols int) (dataBytes, scaleBytes, minBytes int, err error) {
	if err := s.Validate(); err != nil {
		return 0, 0, 0, err
	}
	if rows < 0 || cols < 1 {
		return 0, 0, 0, fmt.Errorf("invalid tensor shape [%d, %d]: want rows >= 0 and cols >= 1", rows, cols)
	}
	if !s.Type.IsInt() {
		n, ok := mulOK(rows, cols)
		if ok {
			dataBytes, ok = mulOK(n, s.Type.Bits()/8)
		}
		if !ok {
			return 0, 0, 0, fmt.Errorf("tensor [%d, %d] as %s: %w", rows, cols, s, ErrTooLarge)
		}
		return dataBytes, 0, 0, nil
	}
	groups := cols / s.GroupSize
	if cols%s.GroupSize != 0 {
		groups++
	}
	// Rows are padded to a multiple of 32 elements: the tail group is
	// stored in the blocks its own elements need (FORMAT.md §3, 1.1).
	padded, ok := cols+31, cols <= math.MaxInt-31
	padded &^= 31
	if !ok {
		return 0, 0, 0, fmt.Errorf("tensor [%d, %d] as %s: %w", rows, cols, s, ErrTooLarge)
	}
	n, ok1 := mulOK(rows, padded)
	g, ok2 := mulOK(rows, groups)
	if ok2 {
		g, ok2 = mulOK(g, 2)
	}
	if !ok1 || !ok2 {
		return 0, 0, 0, fmt.Errorf("tensor [%d, %d] as %s: %w", rows, cols, s, ErrTooLarge)
	}
	if s.Type == INT4 {
		dataBytes = n / 2 // padded is a multiple of 32, so even
	} else {
		dataBytes = n
	}
	scaleBytes = g
	if s.Scheme == Asymmetric {
		minBytes = g
	}
	return dataBytes, scaleBytes, minBytes, nil
}

// mulOK multiplies two non-negative ints, reporting false on overflow.
func mulOK(a, b int) (int, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt/b {
		return 0, false
	}
	return a * b, true
}
