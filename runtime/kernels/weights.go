package kernels

import (
	"fmt"
	"math"

	"github.com/symbc/symbc/symb"
)

// wview is a weight tensor unpacked into the typed slices the kernels read.
type wview struct {
	dt         symb.DType
	asym       bool
	rows, cols int
	g, gpr, kp int // group size, groups per row, padded row length (quantized only)

	data   []byte    // INT4/INT8 codes
	f32    []float32 // F32 elements
	u16    []uint16  // F16/BF16 elements
	scales []uint16  // F16 scale per group, [rows][gpr]
	mins   []uint16  // F16 min per group (asym), [rows][gpr]
}

// view checks w against its Info and exposes its sections. A tensor that does
// not match its own Info is a programming error here (tensors come from a
// validated model), so it panics with the tensor's name.
func view(w *symb.Tensor) wview {
	if err := w.Check(); err != nil {
		panic(fmt.Sprintf("kernels: %v", err))
	}
	v := wview{dt: w.DType, asym: w.Scheme == symb.SchemeAsym, rows: w.Rows(), cols: w.Cols()}
	switch w.DType {
	case symb.F32:
		v.f32, _ = w.Float32s()
	case symb.F16, symb.BF16:
		v.u16, _ = w.Uint16s()
	case symb.INT4, symb.INT8:
		v.g, v.gpr, v.kp = w.GroupSize, w.GroupsPerRow(), w.PaddedCols()
		v.data = w.Data
		v.scales = w.ScaleWords()
		if v.asym {
			v.mins = w.MinWords()
		}
	default:
		panic(fmt.Sprintf("kernels: %s: unsupported dtype %s", w.Name, w.DType))
	}
	return v
}

// tailStart is where a row's last group starts when that group is stored
// shorter than the others (FORMAT.md 1.1 packed tail: rows padded to 32
// elements, not to a whole group), and kp when every group is whole.
func (v *wview) tailStart() int {
	if t := (v.gpr - 1) * v.g; v.kp < v.gpr*v.g {
		return t
	}
	return v.kp
}

// quantized reports whether rows are stored as grouped integer codes.
func (v *wview) quantized() bool { return v.dt == symb.INT4 || v.dt == symb.INT8 }

// rowBytes is the size of one stored row of codes.
func (v *wview) rowBytes() int {
	if v.dt == symb.INT4 {
		return v.kp / 2
	}
	return v.kp
}

// int4Bias is subtracted from an INT4 code before scaling: 8 for sym (codes
// 0..15 stand for −8..7), 0 for asym (the min carries the offset).
func (v *wview) int4Bias() int {
	if v.asym {
		return 0
	}
	return 8
}

// f16 converts float16 bits to float32 exactly, like quantize.F16ToF32, but
// without branching on the exponent so that it stays cheap in the portable
// inner loops: placing the 15 magnitude bits at the top of a float32's
// exponent and mantissa and multiplying by 2^112 rebiases the exponent and
// normalizes subnormals in one exact multiplication. Only Inf and NaN, whose
// exponent must become all ones, take the other branch.
func f16(h uint16) float32 {
	mag := uint32(h&0x7fff) << 13
	sign := uint32(h&0x8000) << 16
	if h&0x7c00 == 0x7c00 {
		return math.Float32frombits(sign | 0x7f800000 | mag&0x7fffff)
	}
	return math.Float32frombits(math.Float32bits(math.Float32frombits(mag)*0x1p112) | sign)
}

// scaleMin returns the scale and min (0 for sym) of group gi of row r.
func (v *wview) scaleMin(r, gi int) (d, m float32) {
	i := r*v.gpr + gi
	d = f16(v.scales[i])
	if v.asym {
		m = f16(v.mins[i])
	}
	return d, m
}

// padInput returns x extended with zeros to the padded row length of a
// quantized weight, so that the last group needs no special case. It uses buf
// when a copy is needed.
func padInput(x []float32, kp int, buf []float32) []float32 {
	if len(x) == kp {
		return x
	}
	copy(buf, x)
	clear(buf[len(x):kp])
	return buf[:kp]
}
