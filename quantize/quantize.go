package quantize

import (
	"errors"
	"fmt"
	"math"
)

// ErrNonFinite is returned (wrapped with the row and column) when the input
// holds a NaN or ±Inf. Checkpoints with such values are broken; storing them
// would silently poison every group they fall in.
var ErrNonFinite = errors.New("non-finite value (NaN or Inf)")

// ErrRange is returned (wrapped) when a finite input cannot be represented:
// a value beyond the float16/bfloat16 range for float targets, or a group
// whose scale or min exceeds the float16 range for INT targets.
var ErrRange = errors.New("value out of range for the target type")

// inputKind says how the source elements are encoded.
type inputKind uint8

const (
	inF32 inputKind = iota
	inBF16
	inF16
)

// QuantizeRows quantizes len(src)/cols rows of src into the caller's buffers,
// whose lengths must equal those returned by spec.Layout(rows, cols) (mins
// is empty for symmetric and float types, scales for float types).
//
// Row indices in errors are relative to src; a caller that passes a slice of
// a larger tensor adds its own offset and the tensor name.
func QuantizeRows(spec Spec, src []float32, cols int, data, scales, mins []byte) error {
	rows, err := checkQuantizeArgs(spec, len(src), cols, data, scales, mins)
	if err != nil {
		return err
	}
	if !spec.Type.IsInt() {
		return floatFromF32(spec.Type, src, cols, data)
	}
	return quantizeInt(spec, rows, cols, inF32, src, nil, data, scales, mins)
}

// QuantizeRowsBF16 is QuantizeRows for bfloat16 input given as raw bits. It
// converts one group at a time into a stack buffer, so no float32 copy of
// the tensor is ever made. The result is bit-identical to QuantizeRows on
// the float32 expansion of src.
func QuantizeRowsBF16(spec Spec, src []uint16, cols int, data, scales, mins []byte) error {
	rows, err := checkQuantizeArgs(spec, len(src), cols, data, scales, mins)
	if err != nil {
		return err
	}
	if !spec.Type.IsInt() {
		return floatFrom16(spec.Type, inBF16, src, cols, data)
	}
	return quantizeInt(spec, rows, cols, inBF16, nil, src, data, scales, mins)
}

// QuantizeRowsF16 is QuantizeRows for float16 input given as raw bits; see
// QuantizeRowsBF16.
func QuantizeRowsF16(spec Spec, src []uint16, cols int, data, scales, mins []byte) error {
	rows, err := checkQuantizeArgs(spec, len(src), cols, data, scales, mins)
	if err != nil {
		return err
	}
	if !spec.Type.IsInt() {
		return floatFrom16(spec.Type, inF16, src, cols, data)
	}
	return quantizeInt(spec, rows, cols, inF16, nil, src, data, scales, mins)
}

// checkQuantizeArgs validates the spec and the buffer lengths and returns
// the row count.
func checkQuantizeArgs(spec Spec, n, cols int, data, scales, mins []byte) (int, error) {
	if err := spec.Validate(); err != nil {
		return 0, err
	}
	if cols < 1 {
		return 0, fmt.Errorf("quantize %s: cols = %d, want >= 1", spec, cols)
	}
	if n%cols != 0 {
		return 0, fmt.Errorf("quantize %s: source has %d elements, not a multiple of cols = %d", spec, n, cols)
	}
	rows := n / cols
	if err := checkBuffers(spec, rows, cols, data, scales, mins); err != nil {
		return 0, fmt.Errorf("quantize: %w", err)
	}
	return rows, nil
}

// checkBuffers verifies that the packed buffers have exactly the sizes that
// Layout prescribes; exact rather than "at least" because a mismatch almost
// always means the caller sliced at the wrong offset.
func checkBuffers(spec Spec, rows, cols int, data, scales, mins []byte) error {
	db, sb, mb, err := spec.Layout(rows, cols)
	if err != nil {
		return err
	}
	if len(data) != db {
		return fmt.Errorf("%s [%d, %d]: data buffer is %d bytes, want %d", spec, rows, cols, len(data), db)
	}
	if len(scales) != sb {
		return fmt.Errorf("%s [%d, %d]: scale buffer is %d bytes, want %d", spec, rows, cols, len(scales), sb)
	}
	if len(mins) != mb {
		return fmt.Errorf("%s [%d, %d]: min buffer is %d bytes, want %d", spec, rows, cols, len(mins), mb)
	}
	return nil
}

// quantizeInt runs the group kernel over every group of every row. Exactly
// one of src32 and src16 is used, according to kind.
func quantizeInt(spec Spec, rows, cols int, kind inputKind, src32 []float32, src16 []uint16, data, scales, mins []byte) error {
	g := spec.GroupSize
	groups := (cols + g - 1) / g // cols is bounded by Layout, no overflow
	groupBytes := g
	if spec.Type == INT4 {
		groupBytes = g / 2
	}
	rowBytes := len(data) / max(rows, 1)
	kern := kernelFor(spec)
	asym := spec.Scheme == Asymmetric
	var buf [maxGroupSize]float32
	for r := 0; r < rows; r++ {
		for gi := 0; gi < groups; gi++ {
			c0 := gi * g
			n := min(g, cols-c0)
			off := r*cols + c0
			var x []float32
			var mx, mn float32
			var finite bool
			switch {
			case kind == inF32 && asym:
				x = src32[off : off+n]
				mx, mn, finite = extremes(x)
			case kind == inF32:
				x = src32[off : off+n]
				mx, mn, finite = extremesSym(x)
			case kind == inBF16 && asym:
				x = buf[:n]
				mx, mn, finite = loadBF16(x, src16[off:off+n])
			case kind == inBF16:
				x = buf[:n]
				mx, mn, finite = loadBF16Sym(x, src16[off:off+n])
			default:
				x = buf[:n]
				F16ToF32Slice(x, src16[off:off+n])
				if asym {
					mx, mn, finite = extremes(x)
				} else {
					mx, mn, finite = extremesSym(x)
				}
			}
			if !finite {
				return groupError(spec, statusNonFinite, x, r, c0)
			}
			k := r*groups + gi
			d, m, st := kern(x, mx, mn, rowGroupCodes(data, r, rowBytes, gi, groupBytes))
			if st != statusOK {
				return groupError(spec, st, x, r, c0)
			}
			scales[2*k] = byte(d)
			scales[2*k+1] = byte(d >> 8)
			if asym {
				mins[2*k] = byte(m)
				mins[2*k+1] = byte(m >> 8)
			}
		}
	}
	return nil
}

// rowGroupCodes is the code bytes of group gi of row r: a whole group, or the
// blocks of a row's shorter tail group.
func rowGroupCodes(data []byte, r, rowBytes, gi, groupBytes int) []byte {
	row := data[r*rowBytes : (r+1)*rowBytes]
	return row[gi*groupBytes : min((gi+1)*groupBytes, rowBytes)]
}

// groupError turns a kernel status into an error naming the position.
func groupError(spec Spec, st status, x []float32, row, c0 int) error {
	if st == statusNonFinite {
		for i, v := range x {
			if isNonFinite(v) {
				return fmt.Errorf("row %d, column %d (%v): %w", row, c0+i, v, ErrNonFinite)
			}
		}
	}
	return fmt.Errorf("row %d, columns %d..%d: %s group scale or min exceeds float16 range (|values| up to %g): %w",
		row, c0, c0+len(x)-1, spec, maxAbs(x), ErrRange)
}

func isNonFinite(v float32) bool {
	return math.Float32bits(v)&0x7f800000 == 0x7f800000
}

func maxAbs(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

// floatFromF32 handles the plain float conversions from float32 input.
func floatFromF32(t Type, src []float32, cols int, data []byte) error {
	switch t {
	case F32:
		for i, v := range src {
			b := math.Float32bits(v)
			if b&0x7f800000 == 0x7f800000 {
				return nonFiniteAt(i, cols, v)
			}
			putU32(data[4*i:], b)
		}
	case F16:
		for i, v := range src {
			h := F32ToF16(v)
			if h&0x7c00 == 0x7c00 {
				return floatRangeError(t, i, cols, v)
			}
			putU16(data[2*i:], h)
		}
	case BF16:
		for i, v := range src {
			h := F32ToBF16(v)
			if h&0x7f80 == 0x7f80 {
				return floatRangeError(t, i, cols, v)
			}
			putU16(data[2*i:], h)
		}
	}
	return nil
}

// floatFrom16 handles the plain float conversions from 16-bit input. Same
// type in and out is a checked copy; F16<->BF16 goes through float32, which
// holds both exactly, so only the final rounding happens.
func floatFrom16(t Type, kind inputKind, src []uint16, cols int, data []byte) error {
	toF32 := BF16ToF32
	if kind == inF16 {
		toF32 = F16ToF32
	}
	same := (kind == inF16 && t == F16) || (kind == inBF16 && t == BF16)
	for i, h := range src {
		v := toF32(h)
		if isNonFinite(v) {
			return nonFiniteAt(i, cols, v)
		}
		switch {
		case same:
			putU16(data[2*i:], h)
		case t == F32:
			putU32(data[4*i:], math.Float32bits(v))
		case t == F16:
			o := F32ToF16(v)
			if o&0x7c00 == 0x7c00 {
				return floatRangeError(t, i, cols, v)
			}
			putU16(data[2*i:], o)
		default: // BF16 from F16: every float16 is inside the bfloat16 range
			putU16(data[2*i:], F32ToBF16(v))
		}
	}
	return nil
}

func nonFiniteAt(i, cols int, v float32) error {
	return fmt.Errorf("row %d, column %d (%v): %w", i/cols, i%cols, v, ErrNonFinite)
}

func floatRangeError(t Type, i, cols int, v float32) error {
	if isNonFinite(v) {
		return nonFiniteAt(i, cols, v)
	}
	return fmt.Errorf("row %d, column %d: %g does not fit in %s: %w", i/cols, i%cols, v, t, ErrRange)
}

func putU16(b []byte, v uint16) {
	_ = b[1]
	b[0] = byte(v)
	b[1] = byte(v >> 8)
}

func putU32(b []byte, v uint32) {
	_ = b[3]
	b[0] = byte(v)
	b[1] = byte(v >> 8)
	b[2] = byte(v >> 16)
	b[3] = byte(v >> 24)
}

func getU16(b []byte) uint16 {
	_ = b[1]
	return uint16(b[0]) | uint16(b[1])<<8
}
