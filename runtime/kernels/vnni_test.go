package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/symbc/symbc/symb"
)

// TestVNNIPartialChunk runs the AVX-512 INT4 kernels on rows whose stored
// length is a multiple of 32 but not of 128 (a last group padded only to 32
// elements), which the masked tail of the kernels handles, and on whole
// chunks. The reference multiplies the same codes with the input as the
// kernels see it (rounded to int8 per block) in float64, so only float32
// rounding separates them; the one- and four-input kernels agree bit for bit.
func TestVNNIPartialChunk(t *testing.T) {
	if !haveAVX512 {
		t.Log("no AVX-512 VNNI on this CPU: the kernels are not reachable")
		return
	}
	rng := rand.New(rand.NewPCG(41, 42))
	for _, c := range []struct{ g, kp int }{{128, 160}, {128, 224}, {128, 352}, {256, 288}, {128, 128}, {256, 512}} {
		const rows, n = 3, 5
		gpr := (c.kp + c.g - 1) / c.g
		v := wview{dt: symb.INT4, rows: rows, cols: c.kp, g: c.g, gpr: gpr, kp: c.kp,
			data: make([]byte, rows*c.kp/2), scales: make([]uint16, rows*gpr)}
		for i := range v.data {
			v.data[i] = byte(rng.IntN(256))
		}
		for i := range v.scales {
			v.scales[i] = floatToHalf(0.001 + rng.Float64()*0.02)
		}
		var in q8Input
		in.size(&scratch{}, n, c.kp)
		xdeq := make([][]float64, n)
		for i := range n {
			x := randVec(rng, c.kp)
			if !in.quantize(i, x, true) {
				t.Fatal("finite input refused")
			}
			xdeq[i] = make([]float64, c.kp)
			for b := 0; b < c.kp; b += q8Block {
				var m float32
				for _, e := range x[b : b+q8Block] {
					m = max(m, abs32(e))
				}
				for k := b; k < b+q8Block; k++ {
					xdeq[i][k] = math.Round(float64(x[k]*(127/m))) * float64(m/127)
				}
			}
		}
		for r := range rows {
			var out [4]float32
			rowDotVNNI4(&v, r, &in, 0, &out)
			for i := range n {
				var want, mag float64
				for k := range c.kp {
					b := v.data[r*c.kp/2+k/32*16+k%16]
					q := int(b & 15)
					if k%32 >= 16 {
						q = int(b >> 4)
					}
					w := halfToFloat(v.scales[r*gpr+k/c.g]) * float64(q-8)
					want += w * xdeq[i][k]
					mag += math.Abs(w * xdeq[i][k])
				}
				got := rowDotVNNI(&v, r, &in, i)
				checkWithin(t, "g"+itoa(c.g)+" kp "+itoa(c.kp)+" row "+itoa(r)+" input "+itoa(i), got, want, 1e-5*mag+1e-6)
				if i < 4 && math.Float32bits(out[i]) != math.Float32bits(got) {
					t.Errorf("kp %d row %d input %d: four-input kernel %g, one-input %g", c.kp, r, i, out[i], got)
				}
			}
		}
	}
}

// TestMatMulsFused checks MatMuls against one MatMul per weight, bit for bit,
// for weights that share their input quantization and for a mixed set.
func TestMatMulsFused(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	mk := func(dt symb.DType, rows int) *symb.Tensor {
		w, _ := makeWeight(t, spec{dt: dt, scheme: symb.SchemeSym, g: 128, rows: rows, cols: 384}, rng)
		return w
	}
	for _, ws := range [][]*symb.Tensor{
		{mk(symb.INT4, 37), mk(symb.INT4, 5), mk(symb.INT4, 64)},
		{mk(symb.INT4, 9), mk(symb.INT8, 7)},
	} {
		for _, n := range []int{1, 6} {
			X := randVec(rng, n*384)
			for name, p := range pools(2) {
				Ys := make([][]float32, len(ws))
				for j, w := range ws {
					Ys[j] = make([]float32, n*w.Rows())
				}
				p.MatMuls(Ys, X, n, ws...)
				for j, w := range ws {
					want := make([]float32, n*w.Rows())
					p.MatMul(want, X, n, w)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(Ys[j][i]) {
							t.Fatalf("%s n=%d weight %d element %d: MatMuls %g, MatMul %g", name, n, j, i, Ys[j][i], want[i])
						}
					}
				}
			}
		}
	}
}
