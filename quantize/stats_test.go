package quantize

import (
	"math"
	"testing"
)

func TestCompare(t *testing.T) {
	s := Compare([]float32{3, 4, 0, 0}, []float32{3, 3, 1, 0})
	// Errors 0, 1, -1, 0: MSE 0.5; signal energy 25, noise 2.
	if s.N != 4 || s.MSE != 0.5 || s.RMSE != math.Sqrt(0.5) || s.MaxAbs != 1 {
		t.Errorf("Compare = %+v", s)
	}
	if want := 10 * math.Log10(12.5); math.Abs(s.SNRdB-want) > 1e-12 {
		t.Errorf("SNR = %v, want %v", s.SNRdB, want)
	}
	if s := Compare([]float32{1, 2}, []float32{1, 2}); !math.IsInf(s.SNRdB, 1) || s.MSE != 0 {
		t.Errorf("exact: %+v", s)
	}
	if s := Compare([]float32{0, 0}, []float32{1, 0}); !math.IsInf(s.SNRdB, -1) {
		t.Errorf("zero signal: %+v", s)
	}
	if s := Compare([]float32{1, 2, 3}, []float32{1}); s.N != 1 || s.MSE != 0 {
		t.Errorf("common prefix: %+v", s)
	}
	if s := Compare(nil, nil); s.N != 0 || s.MSE != 0 {
		t.Errorf("empty: %+v", s)
	}
}
