package runtime

import (
	"math"

	"github.com/symbc/symbc/runtime/kernels"
)

// norm normalises x into dst with weight w, using the model's norm kind
// (config "norm"): RMSNorm or LayerNorm, both with norm_eps and
// norm_weight_offset. dst may alias x. The per-head q/k norms stay RMSNorm
// whatever the kind (headNorm), as in every model that has them.
func (m *Model) norm(dst, x, w []float32) {
	eps, off := float32(m.mc.NormEps), m.mc.NormWeightOffset
	if m.layerNorm {
		layerNorm(dst, x, w, eps, off)
		return
	}
	kernels.RMSNorm(dst, x, w, eps, off)
}

// normRows applies m.norm to each of the n rows of width d in x.
func (m *Model) normRows(dst, x, w []float32, n, d int) {
	for t := range n {
		m.norm(dst[t*d:(t+1)*d], x[t*d:(t+1)*d], w)
	}
}

// layerNorm computes dst[i] = (x[i] − mean) / sqrt(var + eps) · (offset + w[i])
// with the biased variance, as torch.nn.LayerNorm without a bias does. The
// mean and variance are accumulated in float64 (two passes, so a large mean
// does not cancel the variance). dst may alias x.
func layerNorm(dst, x, w []float32, eps, offset float32) {
	if len(x) == 0 {
		return
	}
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	for i, v := range x {
		dst[i] = float32((float64(v)-mean)*inv) * (offset + w[i])
	}
}
