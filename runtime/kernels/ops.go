package kernels

import (
	"fmt"
	"math"
)

// Dot returns Σ a[i]·b[i]. It panics if the lengths differ.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("kernels: Dot of lengths %d and %d", len(a), len(b)))
	}
	if haveSIMD {
		return dotSIMD(a, b)
	}
	return dotGo(a, b)
}

// dotGo is the portable Dot.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+3 < len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy computes y[i] += alpha·x[i]. It panics if the lengths differ.
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernels: Axpy of lengths %d and %d", len(x), len(y)))
	}
	if haveSIMD {
		axpySIMD(alpha, x, y)
		return
	}
	axpyGo(alpha, x, y)
}

func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale computes x[i] *= alpha.
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Add computes dst[i] += x[i] (residual connections). It panics if the
// lengths differ.
func Add(dst, x []float32) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("kernels: Add of lengths %d and %d", len(dst), len(x)))
	}
	if haveSIMD {
		// 1·x + dst fused is x + dst rounded once: the same bits.
		axpySIMD(1, x, dst)
		return
	}
	for i, v := range x {
		dst[i] += v
	}
}

// RMSNorm computes dst[i] = x[i] / rms(x) · (offset + w[i]) with
// rms(x) = sqrt(mean(x²) + eps). offset is 0 for Llama-style norms and 1 for
// models that store the weight as a delta from one (Gemma). dst may alias x.
// The sum of squares is accumulated in float64. It panics if the lengths of
// dst, x and w differ.
func RMSNorm(dst, x, w []float32, eps, offset float32) {
	if len(dst) != len(x) || len(w) != len(x) {
		panic(fmt.Sprintf("kernels: RMSNorm of lengths dst=%d x=%d w=%d", len(dst), len(x), len(w)))
	}
	if len(x) == 0 {
		return
	}
	ss, n := sumSquaresSIMD(x)
	for _, v := range x[n:] {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i := rmsScaleSIMD(dst, x, w, inv, offset); i < len(x); i++ {
		dst[i] = x[i] * inv * (offset + w[i])
	}
}

// SiLUMul computes gate[i] = silu(gate[i])·up[i], in place: the gated MLP of
// Llama-style models. Each element's result depends only on its inputs (not
// on its position or the slice's length), within 4 ulp of silu·up rounded
// once. It panics if the lengths differ.
func SiLUMul(gate, up []float32) {
	if len(gate) != len(up) {
		panic(fmt.Sprintf("kernels: SiLUMul of lengths %d and %d", len(gate), len(up)))
	}
	n := siluMulSIMD(gate, up)
	siluMulGo(gate[n:], up[n:])
}

// siluMulGo is the portable SiLUMul, with the vector kernel's formula:
// from e = exp(−|x|), which cannot overflow, σ(x) is 1/(1+e) for x ≥ 0 and
// e/(1+e) for x < 0.
func siluMulGo(gate, up []float32) {
	up = up[:len(gate)]
	for i, v := range gate {
		e := Exp(min(v, -v))
		num := v
		if v < 0 {
			num = v * e
		}
		gate[i] = num / (1 + e) * up[i]
	}
}

// GELUTanhMul computes gate[i] = gelu_tanh(gate[i])·up[i], in place (the
// gated MLP of Gemma). It panics if the lengths differ.
func GELUTanhMul(gate, up []float32) {
	if len(gate) != len(up) {
		panic(fmt.Sprintf("kernels: GELUTanhMul of lengths %d and %d", len(gate), len(up)))
	}
	for i, v := range gate {
		gate[i] = geluTanh(v) * up[i]
	}
}

func geluTanh(v float32) float32 {
	const c = 0.7978845608028654 // √(2/π)
	u := c * (v + 0.044715*v*v*v)
	// tanh(u) = 1 − 2/(exp(2u)+1), which saturates cleanly at ±1.
	t := 1 - 2/(Exp(2*u)+1)
	return 0.5 * v * (1 + t)
}

// Rotate applies rotary position embedding in rotate-half order to heads
// heads of x, head h at x[h*stride:]: with a = v[i] and b = v[i+half] of a
// head v, v[i] = a·cos[i] − b·sin[i] and v[i+half] = b·cos[i] + a·sin[i] for
// i < half. It panics if a slice is too short.
func Rotate(x []float32, heads, stride, half int, cos, sin []float32) {
	if heads <= 0 || half <= 0 {
		return
	}
	if stride < 0 || len(x) < (heads-1)*stride+2*half || len(cos) < half || len(sin) < half {
		panic(fmt.Sprintf("kernels: Rotate of %d heads of %d (stride %d): slices of %d, %d and %d", heads, 2*half, stride, len(x), len(cos), len(sin)))
	}
	if rotateSIMD(x, heads, stride, half, cos, sin) {
		return
	}
	cos, sin = cos[:half], sin[:half]
	for h := range heads {
		v := x[h*stride : h*stride+2*half]
		for i := range half {
			// Every product rounded, as the vector kernel does: without the
			// conversions arm64 would fuse them into FMAs.
			a, b := v[i], v[i+half]
			v[i] = float32(a*cos[i]) - float32(b*sin[i])
			v[i+half] = float32(b*cos[i]) + float32(a*sin[i])
		}
	}
}

// ArgMax returns the index of the first largest element of x, comparing
// with >: NaNs never win, and x[0] wins when it is NaN (0 for an empty x).
// Greedy sampling takes it over a whole vocabulary every token.
func ArgMax(x []float32) int {
	if len(x) == 0 || x[0] != x[0] {
		return 0
	}
	if i, ok := argMaxSIMD(x); ok {
		return i
	}
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// ScaleMax multiplies x by s in place and returns the largest product: −Inf
// for an empty x, NaN if any product is NaN (as the max builtin).
func ScaleMax(x []float32, s float32) float32 {
	m, nan, n := scaleMaxSIMD(x, s)
	if n == 0 {
		m = float32(math.Inf(-1))
	}
	for i := n; i < len(x); i++ {
		x[i] *= s
		m = max(m, x[i])
	}
	if nan {
		return float32(math.NaN())
	}
	return m
}

// ExpSum sets x[i] = exp(x[i] − m) and returns the sum: the exponentials of
// a softmax whose maximum is m, so x[i] − m ≤ 0 (it must be at most 88).
// Each element's value depends only on x[i] and m (within 2 ulp of exp where
// that is a normal float32, as Exp) and the order of the sum only on
// len(x). It uses the vector exp of SiLUMul where there is one.
func ExpSum(x []float32, m float32) float32 {
	if s, ok := expSumSIMD(x, m); ok {
		return s
	}
	var s float32
	for i, v := range x {
		x[i] = Exp(v - m)
		s += x[i]
	}
	return s
}

// Exp is exp in float32 arithmetic, within 2 ulp of the correctly rounded
// result and several times cheaper than math.Exp; softmax over long contexts
// and the MLP activations call it millions of times per token. It returns
// +Inf above ln(MaxFloat32), 0 far below the subnormal range, 0 for −Inf
// and NaN for NaN.
func Exp(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693359375 // ln 2 split so that n·ln2Hi is exact for |n| < 2^9
		ln2Lo = -2.12194440e-4
	)
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.972:
		return 0
	}
	// Adding and subtracting 1.5·2^23 rounds to the nearest integer (|x·log2e|
	// < 2^22 here); Go does not reassociate floating-point expressions.
	const round = 0x1.8p23
	n := (x*log2e + round) - round
	r := x - n*ln2Hi - n*ln2Lo // |r| ≤ ln2/2 + rounding
	// Taylor series of e^r to degree 7: truncation error < 1e-8 on |r| ≤ 0.35.
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	k := int32(n)
	// Scale by 2^k through the exponent field, in two steps where 2^k itself
	// would not be a normal float32.
	if k > 127 {
		p *= 2
		k--
	} else if k < -126 {
		p *= 0x1p-64
		k += 64
	}
	return p * math.Float32frombits(uint32(k+127)<<23)
}
