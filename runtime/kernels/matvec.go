package kernels

import (
	"fmt"
	"math"

	"github.com/symbc/symbc/symb"
)

// MatVec computes y[r] = Σ_k W[r,k]·x[k] for every row r of w, splitting the
// rows across the pool's goroutines. len(y) must be w.Rows() and len(x)
// w.Cols() (x is not padded to whole groups); w may have any dtype and
// scheme of the format. It panics on a length mismatch or on a tensor whose
// sections do not match its Info (both programming errors).
//
// On the SIMD path an INT4 product rounds x to int16 per group (each element
// moves by at most max|x_group|/65534, far under the weights' own
// quantization error) and multiplies the codes with integer instructions,
// which is about twice as fast as widening every code to float32.
func (p *Pool) MatVec(y, x []float32, w *symb.Tensor) {
	v := view(w)
	if len(y) != v.rows || len(x) != v.cols {
		panic(fmt.Sprintf("kernels: MatVec %s: len(y)=%d len(x)=%d, want %d and %d", w.Name, len(y), len(x), v.rows, v.cols))
	}
	if p.useGEMM(w, &v, 1) && p.matMulGEMM([]*symb.Tensor{w}, []wview{v}, [][]float32{y}, x, 1) {
		return
	}
	if p.useVNNI(&v) && p.matMulVNNI([]wview{v}, [][]float32{y}, x, 1) {
		return
	}
	in := vecInput{x: x}
	if v.quantized() {
		b := p.getBuf(v.kp + 2*v.gpr)
		defer p.putBuf(b)
		in.x = padInput(x, v.kp, b.f[:v.kp])
		if v.asym {
			in.xs = b.f[v.kp : v.kp+v.gpr]
			groupSumsTo(in.xs, in.x, v.g)
		}
		if p.simd() && v.dt == symb.INT4 {
			b.ints(v.kp, 8*v.gpr)
			if quantizeInput16(b.h, b.f[v.kp+v.gpr:v.kp+2*v.gpr], b.d, in.x, v.g, !v.asym) {
				in.x16, in.x16s, in.x16c = b.h, b.f[v.kp+v.gpr:v.kp+2*v.gpr], b.d
			}
		}
	}
	work := int64(v.rows) * int64(v.cols)
	p.split(v.rows, 1, work, func(lo, hi int) {
		if p.simd() {
			rowsDotSIMD(&v, y, lo, hi, &in)
		} else {
			rowsDotGo(&v, y, lo, hi, &in)
		}
	})
}

// vecInput is the input vector of a MatVec, prepared once per call.
type vecInput struct {
	x  []float32 // padded with zeros to v.kp for quantized weights
	xs []float32 // per-group sums of x (asym weights only)

	// For INT4 on the SIMD path: x rounded per group to int16 (x ≈ x16·x16s[g]),
	// and per group an 8-lane int32 start value for the integer accumulator
	// (lane 0 holds −8·Σx16 for sym weights, which subtracts the code offset).
	// nil when x holds a non-finite value; the float kernel runs then.
	x16  []int16
	x16s []float32
	x16c []int32
}

// quantizeInput16 rounds x to int16 per group of g elements for the integer
// INT4 kernel, writing the codes to q, the scales to s and the accumulator
// start values to c (len 8 per group). It returns false, leaving the outputs
// unusable, when x holds Inf or NaN.
func quantizeInput16(q []int16, s []float32, c []int32, x []float32, g int, sym bool) bool {
	for gi := range s {
		end := min((gi+1)*g, len(x)) // a packed tail group is shorter
		xg := x[gi*g : end]
		qg := q[gi*g : end]
		var m float32
		for _, e := range xg {
			m = max(m, abs32(e))
		}
		if !(m <= math.MaxFloat32) {
			return false
		}
		cg := c[8*gi : 8*gi+8]
		clear(cg)
		if m == 0 {
			clear(qg)
			s[gi] = 0
			continue
		}
		inv := 32767 / m
		s[gi] = m / 32767
		var sum int32
		for i, e := range xg {
			// |e·inv| ≤ 32767 up to rounding, so the result fits an int16.
			r := int32(e*inv + copysign05(e))
			qg[i] = int16(r)
			sum += r
		}
		if sym {
			cg[0] = -8 * sum
		}
	}
	return true
}

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

// copysign05 is ±0.5 with the sign of f: adding it before truncation rounds
// half away from zero.
func copysign05(f float32) float32 {
	return math.Float32frombits(math.Float32bits(0.5) | math.Float32bits(f)&(1<<31))
}

// rowsDotGo is the portable MatVec body for rows [lo, hi).
func rowsDotGo(v *wview, y []float32, lo, hi int, in *vecInput) {
	for r := lo; r < hi; r++ {
		y[r] = rowDotGo(v, r, in.x, in.xs)
	}
}

// rowDotGo computes the dot product of row r of v with x.
func rowDotGo(v *wview, r int, x, xs []float32) float32 {
	switch v.dt {
	case symb.F32:
		return dotGo(v.f32[r*v.cols:(r+1)*v.cols], x)
	case symb.F16:
		return dotF16Go(v.u16[r*v.cols:(r+1)*v.cols], x)
	case symb.BF16:
		return dotBF16Go(v.u16[r*v.cols:(r+1)*v.cols], x)
	}
	rb := v.rowBytes()
	codes := v.data[r*rb : (r+1)*rb]
	var sum float32
	for gi := range v.gpr {
		d, m := v.scaleMin(r, gi)
		end := min((gi+1)*v.g, v.kp) // a packed tail group is shorter
		xg := x[gi*v.g : end]
		var acc float32
		if v.dt == symb.INT4 {
			acc = dotQ4GroupGo(codes[gi*v.g/2:end/2], xg, v.q4Table())
		} else {
			acc = dotQ8GroupGo(codes[gi*v.g:end], xg, !v.asym)
		}
		sum += d * acc
		if v.asym {
			sum += m * xs[gi]
		}
	}
	return sum
}

// q4Pair maps an INT4 code byte to its two values (low nibble, high nibble)
// minus the bias, as float32; a table lookup is cheaper than two integer to
// float conversions in the portable loop.
type q4Pair [256][2]float32

func makeQ4Pairs(bias int) *q4Pair {
	var t q4Pair
	for b := range t {
		t[b] = [2]float32{float32(b&15 - bias), float32(b>>4 - bias)}
	}
	return &t
}

// q4Sym and q4Asym are read-only lookup tables for the two INT4 schemes.
var q4Sym, q4Asym = makeQ4Pairs(8), makeQ4Pairs(0)

// q4Table returns the lookup table for v's INT4 scheme.
func (v *wview) q4Table() *q4Pair {
	if v.asym {
		return q4Asym
	}
	return q4Sym
}

// dotQ4GroupGo returns Σ (q−bias)·x over one group of INT4 codes (16 bytes
// per 32 elements: byte i holds element i low and element i+16 high), with
// the bias folded into tab.
func dotQ4GroupGo(codes []byte, x []float32, tab *q4Pair) float32 {
	var a0, a1, a2, a3 float32
	for b := 0; b+16 <= len(codes); b += 16 {
		c := (*[16]byte)(codes[b:])
		xl := (*[16]float32)(x[2*b:])
		xh := (*[16]float32)(x[2*b+16:])
		for i := 0; i < 16; i += 2 {
			t0, t1 := &tab[c[i]], &tab[c[i+1]]
			a0 += t0[0] * xl[i]
			a1 += t0[1] * xh[i]
			a2 += t1[0] * xl[i+1]
			a3 += t1[1] * xh[i+1]
		}
	}
	return (a0 + a1) + (a2 + a3)
}

// dotQ8GroupGo returns Σ q·x over one group of INT8 codes, read as int8
// when signed (sym) and as uint8 otherwise (asym).
func dotQ8GroupGo(codes []byte, x []float32, signed bool) float32 {
	var a0, a1, a2, a3 float32
	x = x[:len(codes)]
	if signed {
		for i := 0; i < len(codes); i += 4 {
			a0 += float32(int8(codes[i])) * x[i]
			a1 += float32(int8(codes[i+1])) * x[i+1]
			a2 += float32(int8(codes[i+2])) * x[i+2]
			a3 += float32(int8(codes[i+3])) * x[i+3]
		}
	} else {
		for i := 0; i < len(codes); i += 4 {
			a0 += float32(codes[i]) * x[i]
			a1 += float32(codes[i+1]) * x[i+1]
			a2 += float32(codes[i+2]) * x[i+2]
			a3 += float32(codes[i+3]) * x[i+3]
		}
	}
	return (a0 + a1) + (a2 + a3)
}

// dotF16Go returns Σ w·x for float16 w.
func dotF16Go(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var a0, a1 float32
	i := 0
	for ; i+1 < len(w); i += 2 {
		a0 += f16(w[i]) * x[i]
		a1 += f16(w[i+1]) * x[i+1]
	}
	if i < len(w) {
		a0 += f16(w[i]) * x[i]
	}
	return a0 + a1
}

// dotBF16Go returns Σ w·x for bfloat16 w.
func dotBF16Go(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var a0, a1 float32
	i := 0
	for ; i+1 < len(w); i += 2 {
		a0 += bf16(w[i]) * x[i]
		a1 += bf16(w[i+1]) * x[i+1]
	}
	if i < len(w) {
		a0 += bf16(w[i]) * x[i]
	}
	return a0 + a1
}

// Row dequantizes row r of w into dst (len(dst) must be w.Cols()); the
// runtime uses it to look up embeddings. It panics when r is out of range or
// dst has the wrong length (programming errors).
func Row(dst []float32, w *symb.Tensor, r int) {
	v := view(w)
	if r < 0 || r >= v.rows || len(dst) != v.cols {
		panic(fmt.Sprintf("kernels: Row %s: row %d of %d, len(dst)=%d want %d", w.Name, r, v.rows, len(dst), v.cols))
	}
	dequantRangeGo(&v, r, 0, v.cols, dst)
}
