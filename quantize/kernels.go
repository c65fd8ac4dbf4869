package quantize

import "math"

// Group kernels. A kernel quantizes one group: x holds the group's real
// elements (1..G of them, all finite), mx and mn are its largest and
// smallest element (the caller computes them while loading; symmetric
// kernels, which only need the magnitudes, get max(mx, 0) and min(mn, 0)),
// and out is the group's whole packed slot (G/2 bytes for INT4, G for INT8)
// including padding. It returns the float16 bits of the scale and
// (asymmetric only) the min.
//
// Every kernel rounds its scale and min to float16 first and then picks the
// codes for those stored values, so the codes are the nearest ones for what a
// reader will actually multiply by.

type status uint8

const (
	statusOK status = iota
	statusNonFinite
	statusRange
)

type kernel func(x []float32, mx, mn float32, out []byte) (d, m uint16, st status)

func kernelFor(s Spec) kernel {
	switch {
	case s.Type == INT4 && s.Scheme == Symmetric && s.Method == RTN:
		return int4SymRTN
	case s.Type == INT4 && s.Scheme == Symmetric:
		return int4SymMSE
	case s.Type == INT4 && s.Method == RTN:
		return int4AsymRTN
	case s.Type == INT4:
		return int4AsymMSE
	case s.Scheme == Symmetric && s.Method == RTN:
		return int8SymRTN
	case s.Scheme == Symmetric:
		return int8SymMSE
	case s.Method == RTN:
		return int8AsymRTN
	default:
		return int8AsymMSE
	}
}

// extremes returns the group's largest and smallest element and whether all
// elements are finite.
//
// It works on the bit patterns with integer min/max, which compile to
// conditional moves: float compares would be unpredictable branches on
// random data. As int32, non-negative floats order like their values and
// every negative sorts below them; as uint32, negative floats sort above all
// non-negative ones, more negative being larger. Three reductions therefore
// recover both extremes, and NaN/Inf show up for free as bit patterns at or
// beyond the infinity of their sign.
func extremes(x []float32) (mx, mn float32, finite bool) {
	// Two independent sets of accumulators halve the dependency chains;
	// plain locals (not a struct) so they stay in registers. Four elements
	// per iteration, through a fixed-length view, keep the loop overhead
	// and bounds checks to one per four elements.
	hiI, hiU, loU := int32(math.MinInt32), uint32(0), uint32(math.MaxUint32)
	hiI2, hiU2, loU2 := hiI, hiU, loU
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		a, b := math.Float32bits(v[0]), math.Float32bits(v[1])
		c, e := math.Float32bits(v[2]), math.Float32bits(v[3])
		hiI, hiU, loU = max(hiI, int32(a), int32(c)), max(hiU, a, c), min(loU, a, c)
		hiI2, hiU2, loU2 = max(hiI2, int32(b), int32(e)), max(hiU2, b, e), min(loU2, b, e)
	}
	for ; i < len(x); i++ {
		a := math.Float32bits(x[i])
		hiI, hiU, loU = max(hiI, int32(a)), max(hiU, a), min(loU, a)
	}
	return bitRange(max(hiI, hiI2), max(hiU, hiU2), min(loU, loU2))
}

// loadBF16 expands bfloat16 bits into dst (len(src) elements) and returns
// the extremes in the same pass, saving a second read of the group.
func loadBF16(dst []float32, src []uint16) (mx, mn float32, finite bool) {
	dst = dst[:len(src)]
	hiI, hiU, loU := int32(math.MinInt32), uint32(0), uint32(math.MaxUint32)
	hiI2, hiU2, loU2 := hiI, hiU, loU
	i := 0
	for ; i+4 <= len(src); i += 4 {
		h, d := src[i:i+4:i+4], dst[i:i+4:i+4]
		a, b, c, e := uint32(h[0])<<16, uint32(h[1])<<16, uint32(h[2])<<16, uint32(h[3])<<16
		d[0], d[1] = math.Float32frombits(a), math.Float32frombits(b)
		d[2], d[3] = math.Float32frombits(c), math.Float32frombits(e)
		hiI, hiU, loU = max(hiI, int32(a), int32(c)), max(hiU, a, c), min(loU, a, c)
		hiI2, hiU2, loU2 = max(hiI2, int32(b), int32(e)), max(hiU2, b, e), min(loU2, b, e)
	}
	for ; i < len(src); i++ {
		a := uint32(src[i]) << 16
		dst[i] = math.Float32frombits(a)
		hiI, hiU, loU = max(hiI, int32(a)), max(hiU, a), min(loU, a)
	}
	return bitRange(max(hiI, hiI2), max(hiU, hiU2), min(loU, loU2))
}

// extremesSym is extremes for symmetric kernels, which only use the
// extremes through signedMax and max(mx, -mn): it returns max(mx, 0) and
// min(mn, 0), which two of the three reductions give (the largest int32
// pattern is the largest non-negative element, the largest uint32 one the
// most negative element).
func extremesSym(x []float32) (mx, mn float32, finite bool) {
	hiI, hiU := int32(math.MinInt32), uint32(0)
	hiI2, hiU2 := hiI, hiU
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		a, b := math.Float32bits(v[0]), math.Float32bits(v[1])
		c, e := math.Float32bits(v[2]), math.Float32bits(v[3])
		hiI, hiU = max(hiI, int32(a), int32(c)), max(hiU, a, c)
		hiI2, hiU2 = max(hiI2, int32(b), int32(e)), max(hiU2, b, e)
	}
	for ; i < len(x); i++ {
		a := math.Float32bits(x[i])
		hiI, hiU = max(hiI, int32(a)), max(hiU, a)
	}
	return symRange(max(hiI, hiI2), max(hiU, hiU2))
}

// loadBF16Sym is loadBF16 for symmetric kernels; see extremesSym.
func loadBF16Sym(dst []float32, src []uint16) (mx, mn float32, finite bool) {
	dst = dst[:len(src)]
	hiI, hiU := int32(math.MinInt32), uint32(0)
	hiI2, hiU2 := hiI, hiU
	i := 0
	for ; i+4 <= len(src); i += 4 {
		h, d := src[i:i+4:i+4], dst[i:i+4:i+4]
		a, b, c, e := uint32(h[0])<<16, uint32(h[1])<<16, uint32(h[2])<<16, uint32(h[3])<<16
		d[0], d[1] = math.Float32frombits(a), math.Float32frombits(b)
		d[2], d[3] = math.Float32frombits(c), math.Float32frombits(e)
		hiI, hiU = max(hiI, int32(a), int32(c)), max(hiU, a, c)
		hiI2, hiU2 = max(hiI2, int32(b), int32(e)), max(hiU2, b, e)
	}
	for ; i < len(src); i++ {
		a := uint32(src[i]) << 16
		dst[i] = math.Float32frombits(a)
		hiI, hiU = max(hiI, int32(a)), max(hiU, a)
	}
	return symRange(max(hiI, hiI2), max(hiU, hiU2))
}

// symRange turns the two reductions of extremesSym into its results.
func symRange(hiI int32, hiU uint32) (mx, mn float32, finite bool) {
	finite = hiI < 0x7f800000 && hiU < 0xff800000
	if hiI >= 0 {
		mx = math.Float32frombits(uint32(hiI))
	}
	if hiU >= 0x80000000 {
		mn = math.Float32frombits(hiU)
	}
	return mx, mn, finite
}

// bitRange turns the three reductions described at extremes into the
// extremes and the finiteness flag.
func bitRange(hiI int32, hiU, loU uint32) (mx, mn float32, finite bool) {
	finite = hiI < 0x7f800000 && hiU < 0xff800000
	if hiI >= 0 { // some element is non-negative: the int32 maximum is the max
		mx = math.Float32frombits(uint32(hiI))
	} else { // all negative: the smallest magnitude is the max
		mx = math.Float32frombits(loU)
	}
	if hiU >= 0x80000000 { // some element is negative: the uint32 maximum is the min
		mn = math.Float32frombits(hiU)
	} else { // all non-negative: the smallest bit pattern is the min
		mn = math.Float32frombits(loU)
	}
	return mx, mn, finite
}

// signedMax returns whichever extreme has the larger magnitude, with its
// sign. INT4 symmetric maps it to code -8, so the 16th code (the asymmetric
// end of -8..7) is spent on the side that needs it.
func signedMax(mx, mn float32) float32 {
	if -mn > mx {
		return mn
	}
	return mx
}

// f16Value rounds v to float16 and returns the bits and the value a reader
// will see; statusRange if it overflowed.
func f16Value(v float32) (uint16, float32, status) {
	b := F32ToF16(v)
	if b&0x7c00 == 0x7c00 {
		return 0, 0, statusRange
	}
	return b, F16ToF32(b), statusOK
}

// f16Away rounds v to a float16 whose magnitude is at least |v| (the
// nearest one or the next one out). RTN scales use it so that the largest
// element always lands on the grid: with round-to-nearest a scale in the
// float16 subnormal range can come out tens of percent too small and clip
// the extremes.
func f16Away(v float32) (uint16, float32, status) {
	b := F32ToF16(v)
	if absf32(F16ToF32(b)) < absf32(v) {
		b++ // sign-magnitude: one more unit in the last place, either sign
	}
	if b&0x7c00 == 0x7c00 {
		return 0, 0, statusRange
	}
	return b, F16ToF32(b), statusOK
}

// f16Floor rounds v down (toward -Inf) to a float16, so that a stored min
// never sits above the group's smallest element.
func f16Floor(v float32) (uint16, float32, status) {
	b := F32ToF16(v)
	if F16ToF32(b) > v {
		if b&0x8000 != 0 {
			b++ // more negative
		} else {
			b--
		}
	}
	if b&0x7c00 == 0x7c00 {
		return 0, 0, statusRange
	}
	return b, F16ToF32(b), statusOK
}

func absf32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// inverse returns 1/d, or 0 for d == 0 so that every element encodes to the
// zero point (which is also the padding code).
func inverse(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// asymRTNParams returns the RTN min and scale for an asymmetric group: the
// min is the smallest element rounded down to float16, and the scale spans
// from that stored min to the largest element, rounded up, so every element
// lies on the grid and is reproduced within half a step.
func asymRTNParams(mx, mn, nmax float32) (db, mb uint16, d, m float32, st status) {
	mb, m, st = f16Floor(mn)
	if st != statusOK {
		return 0, 0, 0, 0, st
	}
	db, d, st = f16Away((mx - m) / nmax) // mx >= mn >= m
	return db, mb, d, m, st
}

func int4SymRTN(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, d, st := f16Away(signedMax(mx, mn) / -8)
	if st != statusOK {
		return 0, 0, st
	}
	encode4Sym(x, d, mx, mn, out)
	return db, 0, statusOK
}

func int4AsymRTN(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, mb, d, m, st := asymRTNParams(mx, mn, 15)
	if st != statusOK {
		return 0, 0, st
	}
	encode4Asym(x, d, m, mx, mn, out)
	return db, mb, statusOK
}

func int8SymRTN(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	// INT8 uses the symmetric range -127..127, so the sign of the scale is
	// irrelevant and a positive one is used.
	db, d, st := f16Away(max(mx, -mn) / 127)
	if st != statusOK {
		return 0, 0, st
	}
	encode8Sym(x, d, out)
	return db, 0, statusOK
}

func int8AsymRTN(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, mb, d, m, st := asymRTNParams(mx, mn, 255)
	if st != statusOK {
		return 0, 0, st
	}
	encode8Asym(x, d, m, out)
	return db, mb, statusOK
}

// q4s is the INT4 symmetric code of v: round(v/d) + 8 clamped to 0..15.
// Adding 8.5 and truncating rounds to nearest for every in-range value; the
// integer clamp compiles to conditional moves.
func q4s(v, id float32) byte {
	t := int32(v*id + 8.5)
	return byte(min(max(t, 0), 15))
}

// q4a is the INT4 asymmetric code of v: round((v-m)/d) clamped to 0..15.
// (v-m) is formed before scaling to avoid cancellation when |m| >> d.
func q4a(v, m, id float32) byte {
	t := int32((v-m)*id + 0.5)
	return byte(min(max(t, 0), 15))
}

// block4Sym packs 32 elements: byte i holds element i (low nibble) and
// element 16+i (high nibble).
func block4Sym(lo, hi *[16]float32, id float32, o *[16]byte) {
	for i := range o {
		o[i] = q4s(lo[i], id) | q4s(hi[i], id)<<4
	}
}

// block4SymTab is block4Sym for groups whose scaled values all stay in the
// code table's range (see codeIndex): the same codes, with a lookup in
// place of the clamp. x holds the block's 32 elements and o its 16 bytes;
// two bytes per iteration halve the loop overhead.
func block4SymTab(x []float32, id float32, o []byte) {
	c := &int4Tab.code
	x, o = x[:32], o[:16]
	for i := 0; i < 16; i += 2 {
		o[i] = c[codeIndex(x[i]*id+8.5)] | c[codeIndex(x[i+16]*id+8.5)]<<4
		o[i+1] = c[codeIndex(x[i+1]*id+8.5)] | c[codeIndex(x[i+17]*id+8.5)]<<4
	}
}

func block4Asym(lo, hi *[16]float32, m, id float32, o *[16]byte) {
	for i := range o {
		o[i] = q4a(lo[i], m, id) | q4a(hi[i], m, id)<<4
	}
}

func block4AsymTab(x []float32, m, id float32, o []byte) {
	c := &int4Tab.code
	x, o = x[:32], o[:16]
	for i := 0; i < 16; i += 2 {
		o[i] = c[codeIndex((x[i]-m)*id+0.5)] | c[codeIndex((x[i+16]-m)*id+0.5)]<<4
		o[i+1] = c[codeIndex((x[i+1]-m)*id+0.5)] | c[codeIndex((x[i+17]-m)*id+0.5)]<<4
	}
}

// encode4Sym writes the INT4 symmetric codes of x, whose extremes are mx
// and mn, for the stored scale d into out, padding the rest of the group
// with code 8.
func encode4Sym(x []float32, d, mx, mn float32, out []byte) {
	id := inverse(d)
	a := max(mx, -mn) * absf32(id)
	tab := codeRangeOK(8.5-a, 8.5+a) // padding (0) scales to 8.5, inside too
	block := func(xs []float32, o []byte) {
		if tab {
			block4SymTab(xs, id, o)
		} else {
			block4Sym((*[16]float32)(xs[:16]), (*[16]float32)(xs[16:32]), id, (*[16]byte)(o[:16]))
		}
	}
	full := len(x) / 32
	for b := 0; b < full; b++ {
		block(x[b*32:b*32+32], out[b*16:b*16+16])
	}
	next := full * 16
	if rest := x[full*32:]; len(rest) > 0 {
		var tmp [32]float32 // padding value 0 encodes to code 8
		copy(tmp[:], rest)
		block(tmp[:], out[next:next+16])
		next += 16
	}
	for i := next; i < len(out); i++ {
		out[i] = 0x88
	}
}

// encode4Asym writes the INT4 asymmetric codes of x, whose extremes are mx
// and mn, for the stored d and m, padding with code 0.
func encode4Asym(x []float32, d, m, mx, mn float32, out []byte) {
	id := inverse(d)
	tab := codeRangeOK((mn-m)*id+0.5, (mx-m)*id+0.5) // padding (m) scales to 0.5
	block := func(xs []float32, o []byte) {
		if tab {
			block4AsymTab(xs, m, id, o)
		} else {
			block4Asym((*[16]float32)(xs[:16]), (*[16]float32)(xs[16:32]), m, id, (*[16]byte)(o[:16]))
		}
	}
	full := len(x) / 32
	for b := 0; b < full; b++ {
		block(x[b*32:b*32+32], out[b*16:b*16+16])
	}
	next := full * 16
	if rest := x[full*32:]; len(rest) > 0 {
		var tmp [32]float32
		for i := range tmp {
			tmp[i] = m // encodes to code 0
		}
		copy(tmp[:], rest)
		block(tmp[:], out[next:next+16])
		next += 16
	}
	clear(out[next:])
}

// q8s is the INT8 symmetric code of v: round(v/d) clamped to -127..127.
// The clamp happens in float so the int conversion never sees a huge value.
func q8s(v, id float32) int32 {
	t := v * id
	if t < -127 {
		t = -127
	}
	if t > 127 {
		t = 127
	}
	return int32(t+127.5) - 127
}

// q8a is the INT8 asymmetric code of v: round((v-m)/d) clamped to 0..255.
func q8a(v, m, id float32) int32 {
	t := (v-m)*id + 0.5
	if t < 0 {
		t = 0
	}
	if t > 255 {
		t = 255
	}
	return int32(t)
}

func encode8Sym(x []float32, d float32, out []byte) {
	id := inverse(d)
	o := out[:len(x)]
	for i, v := range x {
		o[i] = byte(int8(q8s(v, id)))
	}
	clear(out[len(x):])
}

func encode8Asym(x []float32, d, m float32, out []byte) {
	id := inverse(d)
	o := out[:len(x)]
	for i, v := range x {
		o[i] = byte(q8a(v, m, id))
	}
	clear(out[len(x):])
}
