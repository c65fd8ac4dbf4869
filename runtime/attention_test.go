package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttendBlocked checks blocked attention against a float64 softmax over
// several key blocks (online rescaling), with and without a sliding window
// and a soft cap, for widths on the four-row product and on the Dot path,
// and that a row gives the same bits whichever item holds it.
func TestAttendBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range []attnDims{{heads: 4, kvHeads: 2, qk: 16, v: 8}, {heads: 3, kvHeads: 1, qk: 6, v: 5}} {
		for _, window := range []int{0, 50} {
			for _, softcap := range []float32{0, 5} {
				t.Run(fmt.Sprintf("qk%d/window%d/softcap%g", d.qk, window, softcap), func(t *testing.T) {
					const ctx, n = 300, 23 // the last n positions are queries
					pos := ctx - n
					kv := flatKV{k: randFloats(rng, ctx*d.kRow(), 3), v: randFloats(rng, ctx*d.vRow(), 1), kr: d.kRow(), vr: d.vRow(), qk: d.qk, vw: d.v}
					b := &buffers{q: randFloats(rng, n*d.qRow(), 1), att: make([]float32, n*d.outRow())}
					scale := float32(0.7)
					scratch := make([]float32, d.attnScratch())
					for _, it := range d.splitItems(nil, 0, n, pos, nil) {
						for g := range d.kvHeads {
							attendBlocked(b, d, g, it, window, kv, scale, softcap, scratch)
						}
					}
					group := d.heads / d.kvHeads
					for tk := range n {
						p := pos + tk
						for h := range d.heads {
							g := h / group
							q := b.q[tk*d.qRow()+h*d.qk:][:d.qk]
							first := firstKey(p, window)
							scores := make([]float64, p+1-first)
							mx := math.Inf(-1)
							for j := range scores {
								var s float64
								for c := range d.qk {
									s += float64(q[c]) * float64(kv.k[(first+j)*d.kRow()+g*d.qk+c])
								}
								s *= float64(scale)
								if softcap > 0 {
									s = float64(softcap) * math.Tanh(s/float64(softcap))
								}
								scores[j], mx = s, math.Max(mx, s)
							}
							var sum float64
							for j := range scores {
								scores[j] = math.Exp(scores[j] - mx)
								sum += scores[j]
							}
							for c := range d.v {
								var want float64
								for j, e := range scores {
									want += e / sum * float64(kv.v[(first+j)*d.vRow()+g*d.v+c])
								}
								got := b.att[tk*d.outRow()+h*d.v+c]
								if math.Abs(float64(got)-want) > 1e-5 {
									t.Fatalf("token %d head %d [%d]: got %g, want %g", tk, h, c, got, want)
								}
							}
						}
					}
					// The last token alone, as a decode step would compute it.
					last := append([]float32(nil), b.att[(n-1)*d.outRow():]...)
					for g := range d.kvHeads {
						attendBlocked(b, d, g, attnItem{lo: n - 1, hi: n, pos: ctx - 1}, window, kv, scale, softcap, scratch)
					}
					for i, v := range b.att[(n-1)*d.outRow():] {
						if math.Float32bits(v) != math.Float32bits(last[i]) {
							t.Fatalf("last token alone: [%d] = %g, in a block %g", i, v, last[i])
						}
					}
				})
			}
		}
	}
}

func randFloats(rng *rand.Rand, n int, size float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * size)
	}
	return x
}

// flatKV is a float32 past of [positions][kv_heads·width] rows, read in place.
type flatKV struct {
	k, v           []float32
	kr, vr, qk, vw int
}

func (f flatKV) keys(_ []float32, _ []int, g, p0, _ int) ([]float32, int) {
	return f.k[p0*f.kr+g*f.qk:], f.kr
}

func (f flatKV) valuesT(dst []float32, ld int, _ []int, g, p0, p1 int) {
	for p := p0; p < p1; p++ {
		o := p*f.vr + g*f.vw
		for c, x := range f.v[o : o+f.vw] {
			dst[c*ld+p-p0] = x
		}
	}
}
