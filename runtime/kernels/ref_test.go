package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/symbc/symbc/symb"
)

// This file builds test weights by packing codes by hand as FORMAT.md lays
// them out, and keeps an independent float64 copy of every element computed
// straight from the spec (value = d·(q−8) for INT4 sym, d·q + m for asym,
// d·q for INT8 sym with q read as int8, d·q + m for INT8 asym with q read as
// uint8). The kernels are checked against that copy.

// spec describes one test weight.
type spec struct {
	dt         symb.DType
	scheme     symb.Scheme
	g          int
	rows, cols int
	packed     bool // FORMAT.md 1.1 packed tail group
}

func (s spec) name() string {
	n := s.dt.String()
	if s.dt.Quantized() {
		n += "_" + s.scheme.String() + "_g" + itoa(s.g)
	}
	if s.packed {
		n += "_packed"
	}
	return n + "_" + itoa(s.rows) + "x" + itoa(s.cols)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// halfToFloat decodes a normal or zero float16 from its fields; the test
// generators only produce such values.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 31
	m := float64(h & 1023)
	if e == 0 {
		return sign * math.Ldexp(m, -24)
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

// floatToHalf rounds a value in the normal float16 range down to a float16
// (truncating the mantissa, which is all a generator needs).
func floatToHalf(f float64) uint16 {
	var sign uint16
	if f < 0 {
		sign, f = 0x8000, -f
	}
	if f == 0 {
		return sign
	}
	fr, e := math.Frexp(f) // f = fr·2^e, fr in [0.5, 1)
	be := e - 1 + 15
	if be <= 0 {
		return sign // below the normal range: zero is good enough for a generator
	}
	mant := uint16((fr*2 - 1) * 1024)
	return sign | uint16(be)<<10 | mant
}

// makeWeight returns a tensor in the packed layout and its elements as
// float64 [rows][cols]. Padding codes are random too: the kernels must not
// let them leak into results.
func makeWeight(t testing.TB, s spec, rng *rand.Rand) (*symb.Tensor, [][]float64) {
	t.Helper()
	info := symb.Info{DType: s.dt, Scheme: s.scheme, GroupSize: s.g, Shape: []int{s.rows, s.cols}}
	if !s.dt.Quantized() {
		info.Scheme, info.GroupSize = symb.SchemeNone, 0
	}
	if s.packed {
		info = info.WithPackedTail()
	}
	dn, sn, mn, err := info.SectionSizes()
	if err != nil {
		t.Fatal(err)
	}
	w := &symb.Tensor{Name: s.name(), Info: info, Data: make([]byte, dn)}
	if sn > 0 {
		w.Scales = make([]byte, sn)
	}
	if mn > 0 {
		w.Mins = make([]byte, mn)
	}
	ref := make([][]float64, s.rows)
	le := binary.LittleEndian
	switch s.dt {
	case symb.F32:
		for r := range ref {
			ref[r] = make([]float64, s.cols)
			for c := range s.cols {
				f := float32(rng.NormFloat64() * 0.05)
				le.PutUint32(w.Data[4*(r*s.cols+c):], math.Float32bits(f))
				ref[r][c] = float64(f)
			}
		}
		return w, ref
	case symb.F16:
		for r := range ref {
			ref[r] = make([]float64, s.cols)
			for c := range s.cols {
				h := floatToHalf(rng.NormFloat64()*0.05 + 1e-3)
				le.PutUint16(w.Data[2*(r*s.cols+c):], h)
				ref[r][c] = halfToFloat(h)
			}
		}
		return w, ref
	case symb.BF16:
		for r := range ref {
			ref[r] = make([]float64, s.cols)
			for c := range s.cols {
				h := uint16(math.Float32bits(float32(rng.NormFloat64()*0.05)) >> 16)
				le.PutUint16(w.Data[2*(r*s.cols+c):], h)
				ref[r][c] = float64(math.Float32frombits(uint32(h) << 16))
			}
		}
		return w, ref
	}
	gpr := info.GroupsPerRow()
	kp := info.PaddedCols()
	asym := s.scheme == symb.SchemeAsym
	for r := range ref {
		ref[r] = make([]float64, s.cols)
		for gi := range gpr {
			hd := floatToHalf(0.001 + rng.Float64()*0.02)
			le.PutUint16(w.Scales[2*(r*gpr+gi):], hd)
			d, m := halfToFloat(hd), 0.0
			if asym {
				hm := floatToHalf(rng.Float64()*0.2 - 0.1)
				le.PutUint16(w.Mins[2*(r*gpr+gi):], hm)
				m = halfToFloat(hm)
			}
			for k := gi * s.g; k < min((gi+1)*s.g, kp); k++ {
				var val float64
				if s.dt == symb.INT4 {
					q := rng.IntN(16)
					// Block of 32 = 16 bytes: byte i holds element i (low
					// nibble) and element i+16 (high nibble).
					off := r*kp/2 + k/32*16 + k%16
					if k%32 < 16 {
						w.Data[off] |= byte(q)
					} else {
						w.Data[off] |= byte(q) << 4
					}
					if asym {
						val = d*float64(q) + m
					} else {
						val = d * float64(q-8)
					}
				} else {
					b := byte(rng.IntN(256))
					w.Data[r*kp+k] = b
					if asym {
						val = d*float64(b) + m
					} else {
						val = d * float64(int8(b))
					}
				}
				if k < s.cols {
					ref[r][k] = val
				}
			}
		}
	}
	return w, ref
}

// randVec returns n values of roughly unit size.
func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// refMatVec returns y[r] = Σ ref[r][k]·x[k] in float64 and the bound
// Σ |ref[r][k]·x[k]| that scales the tolerated rounding error.
func refMatVec(ref [][]float64, x []float32) (y, mag []float64) {
	y = make([]float64, len(ref))
	mag = make([]float64, len(ref))
	for r, row := range ref {
		for k, w := range row {
			y[r] += w * float64(x[k])
			mag[r] += math.Abs(w * float64(x[k]))
		}
	}
	return y, mag
}

// relTol is the tolerated error relative to Σ|w·x|: float32 accumulation
// over a few thousand terms stays far below it, while a misplaced code, scale
// or min moves a result by a sizeable fraction of that sum.
const relTol = 2e-5

func checkClose(t *testing.T, what string, got float32, want, mag float64) {
	t.Helper()
	checkWithin(t, what, got, want, relTol*mag+1e-6)
}

func checkWithin(t *testing.T, what string, got float32, want, tol float64) {
	t.Helper()
	if d := math.Abs(float64(got) - want); d > tol || math.IsNaN(float64(got)) {
		t.Fatalf("%s: got %g, want %g (error %.3g, allowed %.3g)", what, got, want, d, tol)
	}
}

// int16Bound is the extra error allowed when the SIMD INT4 MatVec rounds x to
// int16 per group of g: each element moves by at most half a step,
// max|x_group|/65534, so a row's result by at most Σ_g max|x_g|·Σ_{k∈g}|w_k|
// / 65534; the bound allows twice that.
func int16Bound(ref [][]float64, x []float32, g int) []float64 {
	out := make([]float64, len(ref))
	for r, row := range ref {
		for g0 := 0; g0 < len(x); g0 += g {
			var m, sw float64
			for k := g0; k < min(g0+g, len(x)); k++ {
				m = max(m, math.Abs(float64(x[k])))
				sw += math.Abs(row[k])
			}
			out[r] += m * sw / 32767
		}
	}
	return out
}

// pools returns one pool per kernel set this CPU runs (generic, avx2 or
// neon, avx512), each with the given thread count, keyed by the set's name.
func pools(threads int) map[string]*Pool {
	m := map[string]*Pool{}
	for _, k := range Available() {
		m[string(k)] = newPool(threads, k)
	}
	return m
}

// int8Bound is the extra error allowed when the AVX-512 INT4 kernels round x
// to int8 per block of 32: each element moves by at most max|x_block|/254, so
// a row's result by at most Σ_b max|x_b|·Σ_{k∈b}|w_k| / 254; the bound allows
// twice that.
func int8Bound(ref [][]float64, x []float32) []float64 {
	out := make([]float64, len(ref))
	for r, row := range ref {
		for b0 := 0; b0 < len(x); b0 += q8Block {
			var m, sw float64
			for k := b0; k < min(b0+q8Block, len(x)); k++ {
				m = max(m, math.Abs(float64(x[k])))
				sw += math.Abs(row[k])
			}
			out[r] += m * sw / 127
		}
	}
	return out
}

// roundingBound is the extra error p's MatVec or MatMul may make on a weight
// of dtype dt and group size g from rounding x to integers (nil: none); with
// AVX-512 it is the larger int8 bound wherever a product may run the GEMM.
func roundingBound(p *Pool, dt symb.DType, g int, ref [][]float64, x []float32) []float64 {
	switch {
	case p.kern == AVX512 && (dt == symb.INT4 || dt == symb.INT8) && g%q8Block == 0:
		return int8Bound(ref, x) // the GEMM kernels (and MatVec on INT4 g128)
	case dt != symb.INT4 || !p.simd():
		return nil
	}
	return int16Bound(ref, x, g)
}

// allSpecs lists every dtype, scheme and group size over shapes with a tail
// group (172 = 5·32+12), a row shorter than one group (64 with G=128, 33, 8)
// and exact multiples.
func allSpecs() []spec {
	var out []spec
	shapes := [][2]int{{5, 172}, {3, 64}, {4, 33}, {2, 8}, {6, 256}, {3, 520}}
	for _, sh := range shapes {
		for _, dt := range []symb.DType{symb.F32, symb.F16, symb.BF16} {
			out = append(out, spec{dt: dt, rows: sh[0], cols: sh[1]})
		}
		for _, dt := range []symb.DType{symb.INT4, symb.INT8} {
			for _, sc := range []symb.Scheme{symb.SchemeSym, symb.SchemeAsym} {
				for _, g := range []int{32, 64, 128, 256} {
					s := spec{dt: dt, scheme: sc, g: g, rows: sh[0], cols: sh[1]}
					out = append(out, s)
					// The 1.1 layout: rows padded to 32, the tail group short.
					if (symb.Info{DType: dt, Scheme: sc, GroupSize: g, Shape: []int{1, sh[1]}}).WithPackedTail().PackedTail {
						s.packed = true
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}
