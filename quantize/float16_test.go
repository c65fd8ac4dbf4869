package quantize

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestF32ToF16KnownBits(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"zero", 0, 0x0000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"half", 0.5, 0x3800},
		{"max f16", 65504, 0x7bff},
		{"just below overflow tie", 65519, 0x7bff},
		{"overflow tie rounds to even (Inf)", 65520, 0x7c00},
		{"large", 1e10, 0x7c00},
		{"smallest normal", 1.0 / 16384, 0x0400},
		{"largest subnormal", 1023.0 / (1 << 24), 0x03ff},
		{"smallest subnormal", 1.0 / (1 << 24), 0x0001},
		{"half smallest subnormal ties to zero", 1.0 / (1 << 25), 0x0000},
		{"above half smallest subnormal", 1.5 / (1 << 25), 0x0001},
		{"subnormal tie to even (up)", 3.0 / (1 << 25), 0x0002},
		{"subnormal tie to even (down)", 5.0 / (1 << 25), 0x0002},
		{"subnormal rounds into smallest normal", 2047.0 / (1 << 25), 0x0400},
		{"tie to even keeps 1", 1 + 1.0/2048, 0x3c00},
		{"tie to even rounds up", 1 + 3.0/2048, 0x3c02},
		{"above tie rounds up", 1 + 1.0/2048 + 1.0/(1<<20), 0x3c01},
		{"mantissa carry into exponent", 2 - 1.0/4096, 0x4000},
		{"negative subnormal", -1.0 / (1 << 24), 0x8001},
		{"f32 subnormal to zero", math.Float32frombits(1), 0x0000},
		{"+Inf", float32(math.Inf(1)), 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xfc00},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := F32ToF16(tc.in); got != tc.want {
				t.Errorf("F32ToF16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
}

func TestF16NaN(t *testing.T) {
	for _, bits := range []uint32{0x7fc00000, 0x7f800001, 0xffc00000, 0x7fa00000} {
		h := F32ToF16(math.Float32frombits(bits))
		if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
			t.Errorf("F32ToF16(NaN %#08x) = %#04x, not a NaN", bits, h)
		}
		if h>>15 != uint16(bits>>31) {
			t.Errorf("F32ToF16(NaN %#08x) = %#04x lost the sign", bits, h)
		}
	}
	if v := F16ToF32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("F16ToF32(0x7e00) = %v, want NaN", v)
	}
}

func TestF16ToF32KnownValues(t *testing.T) {
	tests := []struct {
		in   uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 1.0 / (1 << 24)},
		{0x8001, -1.0 / (1 << 24)}, {0x03ff, 1023.0 / (1 << 24)}, {0x0400, 1.0 / 16384},
		{0x3555, 0.333251953125}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	}
	for _, tc := range tests {
		if got := F16ToF32(tc.in); got != tc.want {
			t.Errorf("F16ToF32(%#04x) = %g, want %g", tc.in, got, tc.want)
		}
	}
	if got := math.Float32bits(F16ToF32(0x8000)); got != 0x80000000 {
		t.Errorf("F16ToF32(-0) bits = %#08x, want 0x80000000", got)
	}
}

// Every float16 value survives a round trip through float32 bit-exactly.
func TestF16RoundTripExhaustive(t *testing.T) {
	for h := 0; h <= 0xffff; h++ {
		v := F16ToF32(uint16(h))
		if math.IsNaN(float64(v)) {
			if back := F32ToF16(v); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back := F32ToF16(v); back != uint16(h) {
			t.Fatalf("round trip %#04x -> %g -> %#04x", h, v, back)
		}
	}
}

// F32ToF16 agrees with a reference that picks the nearest float16 by
// comparing float64 distances to the sorted list of all float16 magnitudes.
func TestF32ToF16MatchesReference(t *testing.T) {
	var mags []float64 // all finite non-negative float16 values, ascending, then 65536 standing for Inf
	for h := uint16(0); h < 0x7c00; h++ {
		mags = append(mags, float64(F16ToF32(h)))
	}
	mags = append(mags, 65536)
	ref := func(f float32) uint16 {
		a := math.Abs(float64(f))
		i := sort.SearchFloat64s(mags, a) // first >= a
		var h int
		switch {
		case i == len(mags):
			h = 0x7c00
		case mags[i] == a || i == 0:
			h = i
		default:
			lo, hi := a-mags[i-1], mags[i]-a
			switch {
			case lo < hi:
				h = i - 1
			case hi < lo:
				h = i
			case (i-1)%2 == 0:
				h = i - 1
			default:
				h = i
			}
		}
		if math.Signbit(float64(f)) {
			h |= 0x8000
		}
		return uint16(h)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 200000; n++ {
		var f float32
		if n%2 == 0 { // values around the float16 range, including subnormals
			f = float32(math.Ldexp(r.Float64()*2-1, r.IntN(44)-28))
		} else { // arbitrary finite bit patterns
			f = math.Float32frombits(r.Uint32() & 0xff7fffff)
		}
		if got, want := F32ToF16(f), ref(f); got != want {
			t.Fatalf("F32ToF16(%g [%#08x]) = %#04x, reference %#04x", f, math.Float32bits(f), got, want)
		}
	}
}

func TestBF16KnownBits(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"minus two", 0xc0000000, 0xc000},
		{"tie to even stays", 0x3f808000, 0x3f80},
		{"tie to even rounds up", 0x3f818000, 0x3f82},
		{"above tie", 0x3f808001, 0x3f81},
		{"below tie", 0x3f807fff, 0x3f80},
		{"subnormal kept", 0x00010000, 0x0001},
		{"max float32 overflows to Inf", 0x7f7fffff, 0x7f80},
		{"+Inf", 0x7f800000, 0x7f80},
		{"-Inf", 0xff800000, 0xff80},
		{"negative zero", 0x80000000, 0x8000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := F32ToBF16(math.Float32frombits(tc.in)); got != tc.want {
				t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
	// A NaN whose payload is only in the dropped bits must not become Inf.
	for _, bits := range []uint32{0x7f800001, 0xff800001, 0x7fc00000} {
		h := F32ToBF16(math.Float32frombits(bits))
		if h&0x7f80 != 0x7f80 || h&0x7f == 0 {
			t.Errorf("F32ToBF16(NaN %#08x) = %#04x, not a NaN", bits, h)
		}
	}
	if got := BF16ToF32(0x3f80); got != 1 {
		t.Errorf("BF16ToF32(0x3f80) = %g, want 1", got)
	}
	if got := BF16ToF32(0xc049); got != -3.140625 {
		t.Errorf("BF16ToF32(0xc049) = %g, want -3.140625", got)
	}
}

// F32ToBF16 picks the nearer of the two bfloat16 neighbours (ties to even),
// checked with float64 distances on random finite inputs; past the largest
// finite value the upper neighbour is Inf, standing for 2^128 as IEEE 754
// rounding prescribes.
func TestF32ToBF16MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 200000; n++ {
		b := r.Uint32() & 0xff7fffff // finite, below the largest exponent
		f := float64(math.Float32frombits(b))
		lo := b &^ 0xffff
		hi := lo + 0x10000
		dl := math.Abs(f - float64(math.Float32frombits(lo)))
		hv := float64(math.Float32frombits(hi))
		if math.IsInf(hv, 0) { // IEEE rounding treats the overflow neighbour as 2^128
			hv = math.Copysign(math.Ldexp(1, 128), hv)
		}
		dh := math.Abs(hv - f)
		want := uint16(lo >> 16)
		if dh < dl || (dh == dl && want&1 == 1) {
			want = uint16(hi >> 16)
		}
		if got := F32ToBF16(float32(f)); got != want {
			t.Fatalf("F32ToBF16(%#08x) = %#04x, reference %#04x", b, got, want)
		}
	}
}

func TestSliceConversions(t *testing.T) {
	src := []float32{1, -2, 0.5, 65504}
	h := make([]uint16, 3) // shorter destination: converts like copy
	if n := F32ToF16Slice(h, src); n != 3 || h[0] != 0x3c00 || h[1] != 0xc000 || h[2] != 0x3800 {
		t.Errorf("F32ToF16Slice = %d %#04x", n, h)
	}
	back := make([]float32, 4)
	if n := F16ToF32Slice(back, h); n != 3 || back[0] != 1 || back[1] != -2 || back[2] != 0.5 || back[3] != 0 {
		t.Errorf("F16ToF32Slice = %d %v", n, back)
	}
	b := make([]uint16, 4)
	if n := F32ToBF16Slice(b, src); n != 4 || b[0] != 0x3f80 || b[3] != 0x4780 {
		t.Errorf("F32ToBF16Slice = %d %#04x", n, b)
	}
	if n := BF16ToF32Slice(back, b); n != 4 || back[1] != -2 || back[3] != 65536 {
		t.Errorf("BF16ToF32Slice = %d %v", n, back)
	}
}
