package quantize

import (
	"math/rand/v2"
	"testing"
)

// outputError is Σ_rows (w − ŵ)ᵀ H (w − ŵ): the layer's expected squared
// output error for inputs of second moment h.
func outputError(w, q []float32, h []float64, cols int) float64 {
	var e float64
	d := make([]float64, cols)
	for r := 0; r < len(w)/cols; r++ {
		for c := range cols {
			d[c] = float64(w[r*cols+c] - q[r*cols+c])
		}
		for i := range cols {
			var s float64
			for j := range cols {
				s += h[i*cols+j] * d[j]
			}
			e += d[i] * s
		}
	}
	return e
}

// correlatedMoment returns E[x·xᵀ] of inputs x = A·z (z standard normal),
// whose channels are strongly correlated, as real activations are.
func correlatedMoment(rng *rand.Rand, cols, n int) []float64 {
	a := make([]float64, cols*cols)
	for i := range a {
		a[i] = rng.NormFloat64()
		if i/cols == i%cols {
			a[i] += 3
		}
	}
	h := make([]float64, cols*cols)
	x := make([]float64, cols)
	for range n {
		z := make([]float64, cols)
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		for i := range cols {
			var s float64
			for j := range cols {
				s += a[i*cols+j] * z[j]
			}
			x[i] = s * (1 + float64(i%7)) // uneven channel scales
		}
		for i := range cols {
			for j := range cols {
				h[i*cols+j] += x[i] * x[j] / float64(n)
			}
		}
	}
	return h
}

// TestGPTQLowersOutputError: on correlated inputs GPTQ's layer output error
// is well below the MSE search's for every INT4/INT8 spec, and its packed
// result decodes with the ordinary Dequantize.
func TestGPTQLowersOutputError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 16, 96 // 96: a short tail group at g64
	h := correlatedMoment(rng, cols, 2000)
	f, err := NewGPTQFactor(h, cols)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for _, s := range []Spec{
		{Type: INT4, Scheme: Symmetric, Method: GPTQ, GroupSize: 32},
		{Type: INT4, Scheme: Asymmetric, Method: GPTQ, GroupSize: 64},
		{Type: INT8, Scheme: Symmetric, Method: GPTQ, GroupSize: 32},
	} {
		db, sb, mb, _ := s.Layout(rows, cols)
		decode := func(gptq bool) []float32 {
			data, sc, mi := make([]byte, db), make([]byte, sb), make([]byte, mb)
			src := append([]float32(nil), w...)
			var err error
			if gptq {
				err = QuantizeRowsGPTQ(s, src, cols, f, data, sc, mi)
			} else {
				err = QuantizeRows(s, src, cols, data, sc, mi)
			}
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, rows*cols)
			if err := Dequantize(s, data, sc, mi, rows, cols, out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		eg, em := outputError(w, decode(true), h, cols), outputError(w, decode(false), h, cols)
		t.Logf("%s: output error GPTQ %.4g, MSE %.4g", s, eg, em)
		if !(eg < 0.8*em) {
			t.Errorf("%s: GPTQ output error %.4g, MSE %.4g: want at least 20%% lower", s, eg, em)
		}
	}
}

func TestGPTQFactorRejectsBadInput(t *testing.T) {
	if _, err := NewGPTQFactor(make([]float64, 5), 2); err == nil {
		t.Error("wrong size accepted")
	}
	// A column never excited is handled (treated as dead), not an error.
	h := []float64{1, 0, 0, 0}
	if _, err := NewGPTQFactor(h, 2); err != nil {
		t.Errorf("dead column: %v", err)
	}
	f, _ := NewGPTQFactor([]float64{2, 1, 1, 2}, 2)
	s := Spec{Type: INT4, Scheme: Symmetric, Method: GPTQ, GroupSize: 32}
	db, sb, mb, _ := s.Layout(1, 3)
	if err := QuantizeRowsGPTQ(s, []float32{1, 2, 3}, 3, f, make([]byte, db), make([]byte, sb), make([]byte, mb)); err == nil {
		t.Error("factor for 2 columns accepted for 3")
	}
}
