package kernels

import (
	"math"

	"github.com/symbc/symbc/symb"
)

// bf16 converts bfloat16 bits to float32 (exact: bf16 is the top half of f32).
func bf16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// dequantRangeGo writes elements [k0, k1) of row r of v to dst[:k1-k0]. For
// quantized weights k0 must be a multiple of the group size and k1 may reach
// into the padding (up to v.kp).
func dequantRangeGo(v *wview, r, k0, k1 int, dst []float32) {
	dst = dst[:k1-k0]
	switch v.dt {
	case symb.F32:
		copy(dst, v.f32[r*v.cols+k0:r*v.cols+k1])
		return
	case symb.F16:
		for i, h := range v.u16[r*v.cols+k0 : r*v.cols+k1] {
			dst[i] = f16(h)
		}
		return
	case symb.BF16:
		for i, h := range v.u16[r*v.cols+k0 : r*v.cols+k1] {
			dst[i] = bf16(h)
		}
		return
	}
	rb := v.rowBytes()
	codes := v.data[r*rb : (r+1)*rb]
	tab := v.q4Table()
	var tmp [32]float32
	for k := k0; k < k1; k += 32 {
		d, m := v.scaleMin(r, k/v.g)
		if v.dt == symb.INT4 {
			c := codes[k/2 : k/2+16]
			for i, b := range c {
				tmp[i] = d*tab[b][0] + m
				tmp[i+16] = d*tab[b][1] + m
			}
		} else {
			c := codes[k : k+32]
			for i, b := range c {
				q := float32(b)
				if !v.asym {
					q = float32(int8(b))
				}
				tmp[i] = d*q + m
			}
		}
		copy(dst[k-k0:], tmp[:min(32, k1-k)])
	}
}
