package runtime

import (
	"fmt"
	"math"

	"github.com/symbc/symbc/symb"
)

// rope holds the inverse frequencies of rotary position embeddings in
// rotate-half order: pair i rotates elements i and i+dim/2 of a head.
type rope struct {
	dim     int       // rotary dimensions per head (≤ head_dim)
	invFreq []float32 // dim/2 entries, as Hugging Face computes them in float32
}

// newRope computes inverse frequencies the way transformers'
// modeling_rope_utils does (float32 exponent, then the scaling rule), so the
// angles match the reference to the last bits at small positions.
func newRope(mc *symb.ModelConfig) (*rope, error) {
	dim := mc.HeadDim
	if mc.RopeDim > 0 {
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
		default:
			return nil, fmt.Errorf("%w: rope_scaling type %q", ErrUnsupported, s.Type)
		}
	}
	return &rope{dim: dim, invFreq: inv}, nil
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
			cos[t*half+i] = float32(math.Cos(a))
			sin[t*half+i] = float32(math.Sin(a))
		}
	}
}

// apply rotates each head of x (heads × headDim) with one position's cos/sin.
func (r *rope) apply(x []float32, heads, headDim int, cos, sin []float32) {
	half := r.dim / 2
	for h := range heads {
		v := x[h*headDim : h*headDim+r.dim]
		for i := range half {
			a, b := v[i], v[i+half]
			v[i] = a*cos[i] - b*sin[i]
			v[i+half] = b*cos[i] + a*sin[i]
		}
	}
}
