package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

var allGroupSizes = []int{32, 64, 128, 256}

// intSpecs lists every INT type/scheme/method for group size g.
func intSpecs(g int) []Spec {
	var out []Spec
	for _, ty := range []Type{INT4, INT8} {
		for _, sc := range []Scheme{Symmetric, Asymmetric} {
			for _, me := range []Method{RTN, MSE} {
				out = append(out, Spec{Type: ty, Scheme: sc, Method: me, GroupSize: g})
			}
		}
	}
	return out
}

func gaussian(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// packed holds a quantized tensor.
type packed struct {
	spec               Spec
	rows, cols         int
	data, scales, mins []byte
}

func alloc(t testing.TB, spec Spec, rows, cols int) packed {
	t.Helper()
	db, sb, mb, err := spec.Layout(rows, cols)
	if err != nil {
		t.Fatalf("Layout(%s, %d, %d): %v", spec, rows, cols, err)
	}
	return packed{spec, rows, cols, make([]byte, db), make([]byte, sb), make([]byte, mb)}
}

func quantizeF32(t testing.TB, spec Spec, src []float32, cols int) packed {
	t.Helper()
	p := alloc(t, spec, len(src)/cols, cols)
	if err := QuantizeRows(spec, src, cols, p.data, p.scales, p.mins); err != nil {
		t.Fatalf("QuantizeRows(%s): %v", spec, err)
	}
	return p
}

func (p packed) dequantize(t testing.TB) []float32 {
	t.Helper()
	out := make([]float32, p.rows*p.cols)
	if err := Dequantize(p.spec, p.data, p.scales, p.mins, p.rows, p.cols, out); err != nil {
		t.Fatalf("Dequantize(%s): %v", p.spec, err)
	}
	return out
}

func (p packed) groups() int { return (p.cols + p.spec.GroupSize - 1) / p.spec.GroupSize }

// scale and min of group g of row r, as a reader sees them.
func (p packed) scale(r, g int) float32 {
	k := 2 * (r*p.groups() + g)
	return F16ToF32(uint16(p.scales[k]) | uint16(p.scales[k+1])<<8)
}

func (p packed) min(r, g int) float32 {
	if p.spec.Scheme != Asymmetric {
		return 0
	}
	k := 2 * (r*p.groups() + g)
	return F16ToF32(uint16(p.mins[k]) | uint16(p.mins[k+1])<<8)
}

// paddedCols is the stored row length: cols rounded up to a multiple of 32
// (the tail group holds only the blocks its elements need).
func (p packed) paddedCols() int { return (p.cols + 31) &^ 31 }

// code reads the raw code of padded column c of row r straight from the
// layout definition (independently of the package's own decoder): group
// c/G at byte (c/G)·G/2 of the row, block (c%G)/32, byte (c%32)%16 of that block, high nibble for the
// second half of the block.
func (p packed) code(r, c int) int {
	g := p.spec.GroupSize
	kp := p.paddedCols()
	if p.spec.Type == INT8 {
		b := p.data[r*kp+c]
		if p.spec.Scheme == Symmetric {
			return int(int8(b))
		}
		return int(b)
	}
	j := c % g
	off := r*kp/2 + (c/g)*(g/2) + (j/32)*16 + (j%32)%16
	if j%32 >= 16 {
		return int(p.data[off] >> 4)
	}
	return int(p.data[off] & 15)
}

// value applies the format's dequantization formula to one code.
func (p packed) value(r, c int) float32 {
	d, m := p.scale(r, c/p.spec.GroupSize), p.min(r, c/p.spec.GroupSize)
	q := p.code(r, c)
	switch {
	case p.spec.Scheme == Asymmetric:
		return d*float32(q) + m
	case p.spec.Type == INT4:
		return d * float32(q-8)
	default:
		return d * float32(q)
	}
}

func bf16Bits(x []float32) []uint16 {
	h := make([]uint16, len(x))
	F32ToBF16Slice(h, x)
	return h
}

func snr(t testing.TB, spec Spec, src []float32, cols int) float64 {
	t.Helper()
	p := quantizeF32(t, spec, src, cols)
	return Compare(src, p.dequantize(t)).SNRdB
}

func absf(v float32) float32 { return float32(math.Abs(float64(v))) }
