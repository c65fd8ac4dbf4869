package verify

import (
	"math"
	"testing"
)

func TestMetricsIdentical(t *testing.T) {
	var a accumulator
	ref := []float32{1, 2, 3, -1}
	for i := 0; i < 5; i++ {
		if err := a.Add(ref, ref, 2); err != nil {
			t.Fatal(err)
		}
	}
	m := a.Metrics()
	if m.MeanKLD != 0 || m.MaxAbsDiff != 0 || m.Top1Agreement != 1 || math.Abs(m.Cosine-1) > 1e-12 || m.NMSE != 0 {
		t.Fatalf("identical logits: %+v", m)
	}
	if m.RefPerplexity != m.CandPerplexity || m.MaxAbsLogit != 3 {
		t.Fatalf("perplexity/scale: %+v", m)
	}
}

func TestMetricsKnownKL(t *testing.T) {
	// Two-token distributions p = (0.5, 0.5), q = softmax(ln 3, 0) = (0.75, 0.25).
	// KL(p‖q) = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3) ≈ 0.143841.
	var a accumulator
	if err := a.Add([]float32{0, 0}, []float32{float32(math.Log(3)), 0}, 1); err != nil {
		t.Fatal(err)
	}
	m := a.Metrics()
	if want := 0.5 * math.Log(4.0/3); math.Abs(m.MeanKLD-want) > 1e-6 {
		t.Fatalf("KL = %v, want %v", m.MeanKLD, want)
	}
	// Reference argmax is index 0 (first of a tie), candidate argmax index 0.
	if m.Top1Agreement != 1 {
		t.Fatalf("top1 = %v", m.Top1Agreement)
	}
	// Perplexity on next token 1: ref p=0.5 → 2, cand q=0.25 → 4.
	if math.Abs(m.RefPerplexity-2) > 1e-9 || math.Abs(m.CandPerplexity-4) > 1e-6 {
		t.Fatalf("perplexities %v %v", m.RefPerplexity, m.CandPerplexity)
	}
}

func TestMetricsTop1AndPercentile(t *testing.T) {
	var a accumulator
	for i := 0; i < 100; i++ {
		cand := []float32{0, 1}
		if i == 0 {
			cand = []float32{5, -5} // one badly wrong position
		}
		if err := a.Add([]float32{0, 1}, cand, -1); err != nil {
			t.Fatal(err)
		}
	}
	m := a.Metrics()
	if m.Top1Agreement != 0.99 {
		t.Fatalf("top1 = %v", m.Top1Agreement)
	}
	if m.MaxKLD <= 1 || m.P99KLD != 0 || m.MeanKLD != m.MaxKLD/100 {
		t.Fatalf("kld mean %v p99 %v max %v", m.MeanKLD, m.P99KLD, m.MaxKLD)
	}
	if m.RefPerplexity != 0 {
		t.Fatal("no perplexity without next tokens")
	}
}

func TestMetricsRejectsBadInput(t *testing.T) {
	var a accumulator
	if err := a.Add([]float32{1}, []float32{1, 2}, -1); err == nil {
		t.Fatal("length mismatch accepted")
	}
	if err := a.Add([]float32{1, 2}, []float32{float32(math.NaN()), 2}, -1); err == nil {
		t.Fatal("NaN accepted")
	}
}

// TestThresholdsRejectNaN: a non-finite reference logit is refused outright
// (NaN probabilities would drop out of the KL sum), and NaN metrics fail
// every bound instead of passing as "not above it".
func TestThresholdsRejectNaN(t *testing.T) {
	var a accumulator
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		if err := a.Add([]float32{1, bad, 3, -1}, []float32{1, 2, 3, -1}, -1); err == nil {
			t.Errorf("reference logit %v accepted", bad)
		}
	}
	nan := math.NaN()
	if fails := (Thresholds{MaxKLD: 0.1, MinTop1: 0.8}).check(Metrics{MeanKLD: nan, Top1Agreement: nan}); len(fails) != 2 {
		t.Errorf("NaN mean KL and top-1: %d failures %v, want 2", len(fails), fails)
	}
	lossless := Thresholds{Lossless: true, MaxRelAbsDiff: 1e-4, MaxKLD: 1e-4, MinTop1: 0.99}
	if fails := lossless.check(Metrics{MaxAbsDiff: nan, MaxAbsLogit: 10, Top1Agreement: 1}); len(fails) != 1 {
		t.Errorf("lossless with NaN max|Δ|: failures %v, want 1", fails)
	}
	if fails := (Thresholds{MaxKLD: 0.1, MinTop1: 0.8}).check(Metrics{MeanKLD: 0.05, Top1Agreement: 0.9}); len(fails) != 0 {
		t.Errorf("metrics within bounds failed: %v", fails)
	}
}
