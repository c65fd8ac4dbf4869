package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/symbc/symbc/symb"
)

// randQView is an INT4 or INT8 weight of rows × kp stored elements (kp a
// multiple of 32, groups of g, the last one possibly short) with random
// codes, scales and (asym) mins, built directly as the kernels view it.
func randQView(rng *rand.Rand, dt symb.DType, rows, kp, g int, asym bool) *wview {
	gpr := (kp + g - 1) / g
	v := &wview{dt: dt, asym: asym, rows: rows, cols: kp, g: g, gpr: gpr, kp: kp, scales: make([]uint16, rows*gpr)}
	v.data = make([]byte, rows*v.rowBytes())
	for i := range v.data {
		v.data[i] = byte(rng.IntN(256))
	}
	for i := range v.scales {
		v.scales[i] = floatToHalf(0.001 + rng.Float64()*0.02)
	}
	if asym {
		v.mins = make([]uint16, rows*gpr)
		for i := range v.mins {
			v.mins[i] = floatToHalf(rng.Float64()*0.02 - 0.01)
		}
	}
	return v
}

// storedCode is the code of element e of row r as the format stores it
// (FORMAT.md): INT4 in byte e%16 of the element's 32-block, low nibble below
// 16; INT8 in byte e.
func storedCode(v *wview, r, e int) byte {
	if v.dt == symb.INT8 {
		return v.data[r*v.kp+e]
	}
	b := v.data[r*v.kp/2+e/32*16+e%16]
	if e%32 >= 16 {
		return b >> 4
	}
	return b & 15
}

// qValue is element e of row r of v as the format defines it.
func qValue(v *wview, r, e int) float64 {
	c := storedCode(v, r, e)
	q := float64(c)
	switch {
	case v.asym:
	case v.dt == symb.INT8:
		q = float64(int8(c))
	default:
		q -= 8
	}
	d := halfToFloat(v.scales[r*v.gpr+e/v.g])
	if v.asym {
		return d*q + halfToFloat(v.mins[r*v.gpr+e/v.g])
	}
	return d * q
}

// TestPackQ4 checks the repacked INT4 and INT8 tiles against the format's layout: every
// code of every row (a partial last tile included), every scale and min,
// and zeros in the padding rows.
func TestPackQ4(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, c := range []struct {
		dt          symb.DType
		rows, kp, g int
		asym        bool
	}{{symb.INT4, 37, 384, 128, false}, {symb.INT4, 16, 256, 256, true}, {symb.INT4, 5, 160, 128, true},
		{symb.INT8, 21, 256, 64, false}, {symb.INT8, 3, 96, 32, true}} {
		v := randQView(rng, c.dt, c.rows, c.kp, c.g, c.asym)
		pk := newPool(2, Generic).packQ4(v)
		if pk.tiles != (c.rows+15)/16 || pk.nblocks != c.kp/32 || pk.bpg != c.g/32 || pk.ngroups != v.gpr {
			t.Fatalf("%+v: tiles %d, blocks %d, bpg %d, groups %d", c, pk.tiles, pk.nblocks, pk.bpg, pk.ngroups)
		}
		for r := range pk.tiles * gemmTile {
			for e := range c.kp {
				want := byte(0)
				if r < c.rows {
					want = storedCode(v, r, e)
					if c.dt == symb.INT8 && !c.asym {
						want ^= 0x80 // sym INT8 codes are stored unsigned
					}
				}
				if got := pk.code(r, e); got != want {
					t.Fatalf("%+v: row %d element %d: code %d, want %d", c, r, e, got, want)
				}
			}
			for gi := range v.gpr {
				i := (r/gemmTile*pk.ngroups+gi)*gemmTile + r%gemmTile
				var ws, wm uint16
				if r < c.rows {
					ws = v.scales[r*v.gpr+gi]
					if c.asym {
						wm = v.mins[r*v.gpr+gi]
					}
				}
				if pk.sc[i] != ws || (c.asym && pk.mn[i] != wm) {
					t.Fatalf("%+v: row %d group %d: scale/min %#x/%#x", c, r, gi, pk.sc[i], pk.mn)
				}
			}
		}
	}
}

// gemmView runs the GEMM path on v (no tensor needed): quantize, pack, tiles.
func gemmView(t *testing.T, p *Pool, v *wview, X []float32, n int) []float32 {
	t.Helper()
	var in gemmInput
	if !p.quantizeGEMM(&in, &scratch{}, X, n, v) {
		t.Fatal("finite input refused")
	}
	pk := p.packQ4(v)
	Y := make([]float32, n*v.rows)
	for i := range Y {
		Y[i] = float32(math.NaN())
	}
	p.split(pk.tiles, 1, 1<<30, func(lo, hi int) { gemmTiles(pk, v, &in, Y, lo, hi) })
	return Y
}

// TestGEMMAgainstOracle checks the tiled INT4 and INT8 kernels against float64 sums
// over the input as the kernels see it (rounded to int8 per 32-block), so
// only float32 rounding separates them: row counts that leave a partial
// tile, a short last group, sym and asym, every input count that exercises
// the 8-, 4-, 2- and 1-input kernels and their mixes. It also checks that an
// input's result is bit for bit the same whichever kernel width ran it.
func TestGEMMAgainstOracle(t *testing.T) {
	if !haveAVX512 {
		t.Log("no AVX-512 VNNI on this CPU: the kernels are not reachable")
		return
	}
	rng := rand.New(rand.NewPCG(53, 54))
	for _, c := range []struct {
		dt          symb.DType
		rows, kp, g int
		asym        bool
	}{{symb.INT4, 1, 128, 128, false}, {symb.INT4, 17, 384, 128, false}, {symb.INT4, 33, 160, 128, true},
		{symb.INT4, 16, 512, 256, true}, {symb.INT4, 20, 1152, 128, false}, {symb.INT4, 18, 96, 32, false},
		{symb.INT4, 9, 224, 32, true}, {symb.INT4, 17, 320, 64, false}, {symb.INT4, 5, 192, 64, true}, {symb.INT8, 6, 96, 32, true},
		{symb.INT8, 19, 384, 128, false}, {symb.INT8, 7, 160, 64, true}, {symb.INT8, 16, 256, 32, false}} {
		v := randQView(rng, c.dt, c.rows, c.kp, c.g, c.asym)
		const nmax = 19
		X := randVec(rng, nmax*c.kp)
		for i := range c.kp { // one input with a zero block and a large outlier
			X[i] = 0
			if i >= 64 {
				X[i] = float32(rng.NormFloat64())
			}
		}
		X[70] = 300
		var first []float32 // input 0's results from the n = 1 run
		for _, n := range []int{1, 2, 3, 5, 7, 8, 9, 13, 16, nmax} {
			for _, threads := range []int{1, 2} {
				p := newPool(threads, AVX512)
				Y := gemmView(t, p, v, X[:n*c.kp], n)
				for i := range n {
					x := X[i*c.kp : (i+1)*c.kp]
					xq := make([]float64, c.kp)
					for b := 0; b < c.kp; b += q8Block {
						var m float32
						for _, e := range x[b : b+q8Block] {
							m = max(m, abs32(e))
						}
						for k := b; k < b+q8Block; k++ {
							if m > 0 {
								xq[k] = math.Round(float64(x[k]*(127/m))) * float64(m/127)
							}
						}
					}
					for r := range c.rows {
						var want, mag float64
						for e := range c.kp {
							w := qValue(v, r, e)
							xe := xq[e]
							want += w * xe // asym: the min term too multiplies the rounded input
							mag += math.Abs(w * xe)
							if c.asym {
								m := halfToFloat(v.mins[r*v.gpr+e/c.g])
								mag += math.Abs((w-m)*xe) + math.Abs(m*xe)
							}
						}
						checkWithin(t, "gemm "+c.dt.String()+" "+itoa(c.rows)+"x"+itoa(c.kp)+" n="+itoa(n)+" input "+itoa(i)+" row "+itoa(r),
							Y[i*c.rows+r], want, 1e-5*mag+1e-6)
					}
				}
				if first == nil {
					first = Y[:c.rows]
				}
				for r := range c.rows {
					if math.Float32bits(Y[r]) != math.Float32bits(first[r]) {
						t.Fatalf("%dx%d n=%d: input 0 row %d is %g, with n=1 %g", c.rows, c.kp, n, r, Y[r], first[r])
					}
				}
			}
		}
	}
}

// TestGEMMNonFinite checks that an input holding Inf or NaN leaves the GEMM
// path (int8 cannot carry it) and that MatMul still propagates it.
func TestGEMMNonFinite(t *testing.T) {
	if !haveAVX512 {
		t.Log("no AVX-512 VNNI on this CPU: the kernels are not reachable")
		return
	}
	rng := rand.New(rand.NewPCG(55, 56))
	w, _ := makeWeight(t, spec{dt: symb.INT4, scheme: symb.SchemeSym, g: 128, rows: 18, cols: 256}, rng)
	p := newPool(2, AVX512)
	const n = 9
	X := randVec(rng, n*256)
	X[5*256+3] = float32(math.Inf(1))
	var in gemmInput
	v := view(w)
	if p.quantizeGEMM(&in, &scratch{}, X, n, &v) {
		t.Fatal("an input with Inf was quantized")
	}
	Y := make([]float32, n*18)
	p.MatMul(Y, X, n, w)
	for r := range 18 {
		if y := Y[5*18+r]; !math.IsNaN(float64(y)) && !math.IsInf(float64(y), 0) {
			t.Fatalf("row %d of the input with Inf is %g", r, y)
		}
	}
}

func TestGEMMWidths(t *testing.T) {
	for n, want := range map[int][]int{1: {1}, 2: {2}, 3: {2, 1}, 7: {4, 2, 1}, 8: {8}, 15: {8, 4, 2, 1}, 20: {8, 8, 4}} {
		got := gemmWidths(n, nil)
		sum := 0
		for _, w := range got {
			sum += w
		}
		if sum != n || len(got) != len(want) {
			t.Fatalf("gemmWidths(%d) = %v, want %v", n, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("gemmWidths(%d) = %v, want %v", n, got, want)
			}
		}
	}
}

// TestQuantizeRecordsAsm checks the assembly input quantization against the
// Go loop bit for bit: codes, start values and scales,
// every start multiplier, every position in a group of inputs, blocks with zeros, tiny values and
// outliers, and that Inf or NaN anywhere is refused.
func TestQuantizeRecordsAsm(t *testing.T) {
	if !haveAVX512 {
		t.Log("no AVX-512 VNNI on this CPU: the kernels are not reachable")
		return
	}
	rng := rand.New(rand.NewPCG(57, 58))
	const nb = 9
	x := randVec(rng, nb*q8Block)
	for k := 32; k < 64; k++ {
		x[k] = 0
	}
	for k := 64; k < 96; k++ {
		x[k] *= 1e-32 // below minQ8: a zero block
	}
	x[100], x[101] = 1e30, -0.5 // an outlier
	x[140] = 0.5                // a tie after scaling is unlikely, but halves must round away from zero
	for _, na := range []int{1, 2, 4, 8} {
		for a := range na {
			for _, mul := range []int32{-8, -128, 0} {
				got, want := make([]byte, nb*40*na), make([]byte, nb*40*na)
				n, ok := quantizeRecordsAsm(got, na, a, x, nb, mul)
				if n != nb || !ok {
					t.Fatalf("asm did %d of %d blocks, ok %v", n, nb, ok)
				}
				if !quantizeRecordsGo(want, na, a, x, 0, nb, mul) {
					t.Fatal("Go loop refused a finite input")
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("na=%d a=%d mul=%d: byte %d (block %d) is %#x, Go %#x", na, a, mul, i, i/(40*na), got[i], want[i])
					}
				}
			}
		}
	}
	for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		y := append([]float32(nil), x...)
		y[5*q8Block+7] = bad
		if _, ok := quantizeRecordsAsm(make([]byte, nb*40), 1, 0, y, nb, -8); ok {
			t.Fatalf("%g accepted", bad)
		}
	}
}

// TestPreparedMatVec checks that once a weight is packed (Prepare, or a
// first product with several inputs) MatVec reads the packed copy and
// agrees bit for bit with MatMul over any number of inputs, which is what
// lets batched decoding give the tokens of one sequence alone; and that
// Prepare leaves weights the GEMM does not read alone.
func TestPreparedMatVec(t *testing.T) {
	if !haveAVX512 {
		t.Log("no AVX-512 VNNI on this CPU: the kernels are not reachable")
		return
	}
	rng := rand.New(rand.NewPCG(59, 60))
	w, ref := makeWeight(t, spec{dt: symb.INT4, scheme: symb.SchemeAsym, g: 128, rows: 37, cols: 300}, rng)
	p := newPool(2, AVX512)
	if !p.Prepare(w) {
		t.Fatal("Prepare did not pack an INT4 g128 weight")
	}
	for _, s := range []spec{{dt: symb.F16, rows: 4, cols: 128}, {dt: symb.BF16, rows: 4, cols: 128}} {
		other, _ := makeWeight(t, s, rng)
		if p.Prepare(other) {
			t.Errorf("Prepare packed %s", s.name())
		}
	}
	const n = 11
	X := randVec(rng, n*300)
	Y := make([]float32, n*37)
	p.MatMul(Y, X, n, w)
	checkMatMul(t, p, spec{dt: symb.INT4, g: 128}, "prepared", Y, X, n, ref)
	y := make([]float32, 37)
	for i := range n {
		p.MatVec(y, X[i*300:(i+1)*300], w)
		for r := range y {
			if math.Float32bits(y[r]) != math.Float32bits(Y[i*37+r]) {
				t.Fatalf("input %d row %d: MatVec %g, MatMul %g", i, r, y[r], Y[i*37+r])
			}
		}
	}
}
