package runtime

import (
	"fmt"
	"math"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// rope holds the inverse frequencies of rotary position embeddings in
// rotate-half order: pair i rotates elements i and i+dim/2 of a head.
type rope struct {
	dim     int       // rotary dimensions per head (≤ head_dim)
	invFreq []float32 // dim/2 entries, as Hugging Face computes them in float32
	mscale  float32   // multiplies cos and sin (YaRN's attention factor); 1 otherwise
}

// newRope computes inverse frequencies the way transformers'
// modeling_rope_utils does (float32 exponent, then the scaling rule), so the
// angles match the reference to the last bits at small positions.
func newRope(mc *symb.ModelConfig) (*rope, error) {
	dim := mc.HeadDim
	switch {
	case mc.MLA != nil:
		// Latent attention rotates only the qk_rope_head_dim part of each head.
		dim = mc.MLA.QKRopeHeadDim
	case mc.RopeDim > 0:
		dim = mc.RopeDim
	}
	theta := mc.RopeTheta
	if theta == 0 {
		theta = 10000
	}
	if theta < 0 || math.IsNaN(theta) || math.IsInf(theta, 0) {
		return nil, fmt.Errorf("%w: rope_theta %g", ErrBadWeights, theta)
	}
	inv := make([]float32, dim/2)
	for i := range inv {
		e := float32(2*i) / float32(dim)
		inv[i] = float32(1 / float64(float32(math.Pow(theta, float64(e)))))
	}
	r := &rope{dim: dim, invFreq: inv, mscale: 1}
	if s := mc.RopeScaling; s != nil {
		switch s.Type {
		case "", "default":
		case "linear":
			if s.Factor <= 0 {
				return nil, fmt.Errorf("%w: linear rope_scaling factor %g", ErrBadWeights, s.Factor)
			}
			for i := range inv {
				inv[i] = float32(float64(inv[i]) / s.Factor)
			}
		case "llama3":
			if err := scaleLlama3(inv, s); err != nil {
				return nil, err
			}
		case "yarn":
			ms, err := scaleYarn(inv, s, dim, theta, mc.MaxPositions)
			if err != nil {
				return nil, err
			}
			r.mscale = ms
		default:
			return nil, fmt.Errorf("%w: rope_scaling type %q", ErrUnsupported, s.Type)
		}
	}
	return r, nil
}

// scaleLlama3 applies Llama 3.1's frequency-dependent scaling: wavelengths
// longer than original/low_freq_factor are divided by factor, shorter than
// original/high_freq_factor are kept, and those between are interpolated.
func scaleLlama3(inv []float32, s *symb.RopeScaling) error {
	low, high, orig := s.LowFreqFactor, s.HighFreqFactor, float64(s.OriginalMaxPositionEmbeddings)
	if s.Factor <= 0 || orig <= 0 || high <= low {
		return fmt.Errorf("%w: llama3 rope_scaling needs factor > 0, original_max_position_embeddings > 0 and high_freq_factor > low_freq_factor (got %g, %g, %g, %g)",
			ErrBadWeights, s.Factor, orig, low, high)
	}
	lowWave, highWave := orig/low, orig/high
	for i, f := range inv {
		wave := 2 * math.Pi / float64(f)
		switch {
		case wave < highWave:
		case wave > lowWave:
			inv[i] = float32(float64(f) / s.Factor)
		default:
			smooth := (orig/wave - low) / (high - low)
			inv[i] = float32((1-smooth)*float64(f)/s.Factor + smooth*float64(f))
		}
	}
	return nil
}

// tables fills cos and sin ([n][dim/2]) for positions pos..pos+n-1.
func (r *rope) tables(cos, sin []float32, pos, n int) {
	half := r.dim / 2
	for t := range n {
		p := float32(pos + t)
		for i, f := range r.invFreq {
			a := float64(p * f) // the angle is a float32 product in the reference
			// The reference multiplies by the attention factor even when it
			// is 1, which changes nothing.
			cos[t*half+i] = float32(math.Cos(a)) * r.mscale
			sin[t*half+i] = float32(math.Sin(a)) * r.mscale
		}
	}
}

// apply rotates each head of x (heads × headDim) with one position's cos/sin.
func (r *rope) apply(x []float32, heads, headDim int, cos, sin []float32) {
	kernels.Rotate(x, heads, headDim, r.dim/2, cos, sin)
}

// yarnMScale is YaRN's magnitude correction 0.1·m·ln(factor) + 1 (1 when the
// factor does not stretch the context).
func yarnMScale(factor, m float64) float64 {
	if factor <= 1 {
		return 1
	}
	return 0.1*m*math.Log(factor) + 1
}

// scaleYarn applies YaRN ("NTK-by-parts"): frequencies that turn fewer than
// beta_slow times over the original context are interpolated (divided by
// factor), those turning more than beta_fast times are kept, with a linear
// ramp over the dimensions between. It returns the attention factor that
// multiplies cos and sin. Each step is a float32 operation in the order of
// transformers' _compute_yarn_parameters; the correction range uses
// original_max_position_embeddings (max_position_embeddings when it is 0).
func scaleYarn(inv []float32, s *symb.RopeScaling, dim int, base float64, maxPos int) (float32, error) {
	orig := float64(s.OriginalMaxPositionEmbeddings)
	if orig == 0 {
		orig = float64(maxPos)
	}
	if s.Factor <= 0 || orig <= 0 || base <= 1 || math.IsInf(s.Factor, 0) {
		return 0, fmt.Errorf("%w: yarn rope_scaling needs factor > 0, a context length and rope_theta > 1 (got factor %g, original_max_position_embeddings %g, rope_theta %g)",
			ErrBadWeights, s.Factor, orig, base)
	}
	attn := s.AttentionFactor
	if attn == 0 {
		if s.MScale != 0 && s.MScaleAllDim != 0 {
			attn = yarnMScale(s.Factor, s.MScale) / yarnMScale(s.Factor, s.MScaleAllDim)
		} else {
			attn = yarnMScale(s.Factor, 1)
		}
	}
	fast, slow := s.BetaFast, s.BetaSlow
	if fast == 0 {
		fast = 32
	}
	if slow == 0 {
		slow = 1
	}
	// The dimension (of dim) whose frequency turns rot times over orig positions.
	corrDim := func(rot float64) float64 {
		return float64(dim) * math.Log(orig/(rot*2*math.Pi)) / (2 * math.Log(base))
	}
	low := max(math.Floor(corrDim(fast)), 0)
	high := min(math.Ceil(corrDim(slow)), float64(dim-1))
	if low == high {
		high += 0.001 // as the reference does, to avoid dividing by zero
	}
	f32 := float32(s.Factor)
	lowF, span := float32(low), float32(high-low)
	for i := range inv {
		posFreq := float32(math.Pow(base, float64(float32(2*i)/float32(dim))))
		extrap, interp := 1/posFreq, 1/(f32*posFreq)
		ramp := min(max((float32(i)-lowF)/span, 0), 1)
		keep := 1 - ramp // weight of the unscaled frequency
		// The conversions keep each product rounded on its own (no fused multiply-add).
		inv[i] = float32(interp*(1-keep)) + float32(extrap*keep)
	}
	return float32(attn), nil
}
