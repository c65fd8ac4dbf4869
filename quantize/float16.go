package quantize

import "math"

// F16ToF32 converts IEEE 754 binary16 bits to float32. The conversion is
// exact: every float16 value (subnormals, ±0, ±Inf) is representable in
// float32, and NaN payloads are preserved in the high mantissa bits.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant * 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			return -v
		}
		return v
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	// Rebias the exponent from 15 to 127.
	return math.Float32frombits(sign | (exp+(127-15))<<23 | mant<<13)
}

// F32ToF16 converts a float32 to IEEE 754 binary16 bits, rounding to nearest
// with ties to even. Values too large for float16 become ±Inf, values too
// small become (signed) subnormals or zero, and NaN stays NaN (quiet, with
// the top payload bits kept).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // float16 biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is subnormal (or zero): m = full * 2^(e-14) with the implicit
		// bit made explicit, rounded to an integer number of 2^-24 units.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		full := mant | 0x800000
		shift := uint32(14 - e) // 14..24
		m := full >> shift
		rem := full & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && m&1 == 1) {
			m++ // may carry into the exponent field: that is the correct smallest normal
		}
		return sign | uint16(m)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa correctly bumps the exponent, up to Inf
	}
	return sign | uint16(h)
}

// BF16ToF32 converts bfloat16 bits to float32 (exact).
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 converts a float32 to bfloat16 bits, rounding to nearest with
// ties to even. Values that round past the largest bfloat16 become ±Inf;
// NaN stays NaN (quiet) even when its payload sits only in the dropped bits.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32Slice converts min(len(dst), len(src)) elements, like copy, and
// returns the number converted.
func F16ToF32Slice(dst []float32, src []uint16) int { return convertSlice(dst, src, F16ToF32) }

// F32ToF16Slice converts min(len(dst), len(src)) elements, like copy, and
// returns the number converted.
func F32ToF16Slice(dst []uint16, src []float32) int { return convertSlice(dst, src, F32ToF16) }

// BF16ToF32Slice converts min(len(dst), len(src)) elements, like copy, and
// returns the number converted.
func BF16ToF32Slice(dst []float32, src []uint16) int { return convertSlice(dst, src, BF16ToF32) }

// F32ToBF16Slice converts min(len(dst), len(src)) elements, like copy, and
// returns the number converted.
func F32ToBF16Slice(dst []uint16, src []float32) int { return convertSlice(dst, src, F32ToBF16) }

// convertSlice applies conv element-wise over the common length of dst and
// src. It is small enough to be inlined into each wrapper, where conv
// becomes a direct call.
func convertSlice[D, S any](dst []D, src []S, conv func(S) D) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, v := range src {
		dst[i] = conv(v)
	}
	return n
}
