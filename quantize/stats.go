package quantize

import "math"

// Stats summarises the error between an original tensor and its
// reconstruction.
type Stats struct {
	N      int     // elements compared
	MSE    float64 // mean squared error
	RMSE   float64 // sqrt(MSE)
	MaxAbs float64 // largest absolute element error
	SNRdB  float64 // 10*log10(sum orig^2 / sum err^2); +Inf when exact
}

// Compare computes error statistics over the common prefix of orig and
// approx (normally they have equal length). Sums are in float64 so that
// large tensors do not lose the small error terms.
func Compare(orig, approx []float32) Stats {
	n := min(len(orig), len(approx))
	orig, approx = orig[:n], approx[:n]
	var sig, noise, maxAbs float64
	for i, o := range orig {
		e := float64(o) - float64(approx[i])
		sig += float64(o) * float64(o)
		noise += e * e
		maxAbs = max(maxAbs, math.Abs(e))
	}
	s := Stats{N: n, MaxAbs: maxAbs}
	if n > 0 {
		s.MSE = noise / float64(n)
		s.RMSE = math.Sqrt(s.MSE)
	}
	switch {
	case noise == 0:
		s.SNRdB = math.Inf(1)
	case sig == 0:
		s.SNRdB = math.Inf(-1)
	default:
		s.SNRdB = 10 * math.Log10(sig/noise)
	}
	return s
}
