package quantize

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	i4 := Spec{Type: INT4, GroupSize: 128}
	i4a := Spec{Type: INT4, Scheme: Asymmetric, GroupSize: 32}
	i8 := Spec{Type: INT8, GroupSize: 64}
	tests := []struct {
		spec             Spec
		rows, cols       int
		data, scale, min int
	}{
		{i4, 4096, 4096, 4096 * 2048, 4096 * 32 * 2, 0},
		{i4, 2, 172, 2 * 96, 2 * 2 * 2, 0}, // 172 pads to 192 (a tail of 44 in two blocks), not 256
		{i4, 3, 64, 3 * 32, 3 * 2, 0},      // one short group per row, two blocks
		{i4, 1, 1, 16, 2, 0},
		{i4a, 2, 33, 2 * 32, 2 * 2 * 2, 2 * 2 * 2},
		{i8, 2, 65, 2 * 96, 2 * 2 * 2, 0},
		{i4, 0, 5, 0, 0, 0},
		{Spec{Type: F32}, 3, 5, 60, 0, 0},
		{Spec{Type: F16}, 3, 5, 30, 0, 0},
		{Spec{Type: BF16, GroupSize: 7}, 3, 5, 30, 0, 0}, // group size ignored for floats
	}
	for _, tc := range tests {
		d, s, m, err := tc.spec.Layout(tc.rows, tc.cols)
		if err != nil || d != tc.data || s != tc.scale || m != tc.min {
			t.Errorf("%s.Layout(%d, %d) = %d, %d, %d, %v; want %d, %d, %d", tc.spec, tc.rows, tc.cols, d, s, m, err, tc.data, tc.scale, tc.min)
		}
	}
}

func TestLayoutErrors(t *testing.T) {
	i4 := Spec{Type: INT4, GroupSize: 128}
	tests := []struct {
		name       string
		spec       Spec
		rows, cols int
		tooLarge   bool
	}{
		{"rows*cols overflow", i4, math.MaxInt / 64, 1 << 20, true},
		{"cols near MaxInt", i4, 1, math.MaxInt - 5, true},
		{"f32 bytes overflow", Spec{Type: F32}, math.MaxInt / 2, 2, true},
		{"padded element count overflow", Spec{Type: INT4, GroupSize: 32}, math.MaxInt/32 + 1, 32, true},
		{"negative rows", i4, -1, 4, false},
		{"zero cols", i4, 1, 0, false},
		{"bad group size", Spec{Type: INT4, GroupSize: 100}, 1, 4, false},
		{"unset type", Spec{}, 1, 4, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := tc.spec.Layout(tc.rows, tc.cols)
			if err == nil {
				t.Fatal("want error")
			}
			if errors.Is(err, ErrTooLarge) != tc.tooLarge {
				t.Errorf("errors.Is(err, ErrTooLarge) = %v, want %v (%v)", !tc.tooLarge, tc.tooLarge, err)
			}
		})
	}
}

// Hand-worked packings, byte for byte.
func TestPackingHandWorked(t *testing.T) {
	// INT4 sym: x_i = 0.5*(c_i-8) with c_i = i for i < 16 and 31-i after.
	// The largest magnitude is -4, so d = -4/-8 = 0.5 and the codes are c_i.
	// Byte i = c_i | c_{16+i}<<4 = i | (15-i)<<4.
	ramp := make([]float32, 32)
	for i := range ramp {
		c := i
		if i >= 16 {
			c = 31 - i
		}
		ramp[i] = 0.5 * float32(c-8)
	}
	// Two blocks (G=64): c_j = j/4, so block 0 bytes are (i/4) | (4+i/4)<<4
	// and block 1 bytes are (8+i/4) | (12+i/4)<<4; min -4 and max 3.5 give d = 0.5.
	twoBlocks := make([]float32, 64)
	for j := range twoBlocks {
		twoBlocks[j] = 0.5 * float32(j/4-8)
	}
	rep := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name          string
		spec          Spec
		src           []float32
		data, sc, min []byte
	}{
		{
			"int4 sym ramp", Spec{Type: INT4, GroupSize: 32}, ramp,
			[]byte{0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f},
			[]byte{0x00, 0x38}, nil,
		},
		{
			// Largest magnitude 3 is positive: d = 3/-8 = -0.375 (f16 0xb600).
			// Codes: 3 -> -8+8 = 0; -1 -> round(2.67)+8 = 11; 0.5 -> round(-1.33)+8 = 7.
			// Elements 3..31 are padding: code 8.
			"int4 sym negative scale with padding", Spec{Type: INT4, GroupSize: 32}, []float32{3, -1, 0.5},
			cat([]byte{0x80, 0x8b, 0x87}, rep(0x88, 13)),
			[]byte{0x00, 0xb6}, nil,
		},
		{
			"int4 sym two blocks", Spec{Type: INT4, GroupSize: 64}, twoBlocks,
			cat(rep(0x40, 4), rep(0x51, 4), rep(0x62, 4), rep(0x73, 4), rep(0xc8, 4), rep(0xd9, 4), rep(0xea, 4), rep(0xfb, 4)),
			[]byte{0x00, 0x38}, nil,
		},
		{
			// min 1, d = (16-1)/15 = 1: codes 0, 1, 3, 15; padding 0.
			"int4 asym", Spec{Type: INT4, Scheme: Asymmetric, GroupSize: 32}, []float32{1, 2, 4, 16},
			cat([]byte{0x00, 0x01, 0x03, 0x0f}, rep(0, 12)),
			[]byte{0x00, 0x3c}, []byte{0x00, 0x3c},
		},
		{
			// amax 127: d = 1; codes are the values; padding 0.
			"int8 sym", Spec{Type: INT8, GroupSize: 32}, []float32{1, -2, 0.25, 127, -127},
			cat([]byte{0x01, 0xfe, 0x00, 0x7f, 0x81}, rep(0, 27)),
			[]byte{0x00, 0x3c}, nil,
		},
		{
			// min -1 (f16 0xbc00), d = 255/255 = 1: codes 0, 1, 255.
			"int8 asym", Spec{Type: INT8, Scheme: Asymmetric, GroupSize: 32}, []float32{-1, 0, 254},
			cat([]byte{0x00, 0x01, 0xff}, rep(0, 29)),
			[]byte{0x00, 0x3c}, []byte{0x00, 0xbc},
		},
	}
	for _, tc := range tests {
		for _, method := range []Method{RTN, MSE} {
			spec := tc.spec
			spec.Method = method
			t.Run(tc.name+"/"+method.String(), func(t *testing.T) {
				p := quantizeF32(t, spec, tc.src, len(tc.src))
				if method == MSE {
					// The search may pick other parameters, but never with a
					// larger error than RTN's.
					rtn := spec
					rtn.Method = RTN
					want := Compare(tc.src, quantizeF32(t, rtn, tc.src, len(tc.src)).dequantize(t)).MSE
					if got := Compare(tc.src, p.dequantize(t)).MSE; got > want {
						t.Errorf("MSE search error %g exceeds RTN's %g", got, want)
					}
					return
				}
				if !bytes.Equal(p.data, tc.data) {
					t.Errorf("data\n got % x\nwant % x", p.data, tc.data)
				}
				if !bytes.Equal(p.scales, tc.sc) {
					t.Errorf("scales got % x, want % x", p.scales, tc.sc)
				}
				if !bytes.Equal(p.mins, tc.min) {
					t.Errorf("mins got % x, want % x", p.mins, tc.min)
				}
			})
		}
	}
}

// roundTripData builds rows with different character: plain Gaussian,
// scaled, offset (all positive), all zero, constant, tiny, and one with an
// outlier.
func roundTripData(r *rand.Rand, cols int) []float32 {
	var src []float32
	src = append(src, gaussian(r, cols, 1)...)
	src = append(src, gaussian(r, cols, 0.02)...)
	off := gaussian(r, cols, 0.5)
	for i := range off {
		off[i] += 3
	}
	src = append(src, off...)
	src = append(src, make([]float32, cols)...)
	for i := 0; i < cols; i++ {
		src = append(src, -0.75)
	}
	src = append(src, gaussian(r, cols, 1e-6)...)
	out := gaussian(r, cols, 1)
	out[cols/2] = 40
	return append(src, out...)
}

func TestRoundTripAllSpecs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, g := range allGroupSizes {
		for _, spec := range intSpecs(g) {
			for _, cols := range []int{1, 33, 64, 172, 300, 512} {
				t.Run(fmt.Sprintf("%s/cols%d", spec, cols), func(t *testing.T) {
					src := roundTripData(r, cols)
					p := quantizeF32(t, spec, src, cols)
					checkRoundTrip(t, p, src)
				})
			}
		}
	}
}

// checkRoundTrip verifies, element by element, that the package's decoder
// agrees with the layout definition, that padding holds the right code, that
// each code is the nearest one for the stored scale/min, and, for RTN, that
// the stored parameters come from the real elements of each group only.
func checkRoundTrip(t *testing.T, p packed, src []float32) {
	t.Helper()
	got := p.dequantize(t)
	g := p.spec.GroupSize
	lo, hi := -8, 7 // code range relative to the zero point
	switch {
	case p.spec.Type == INT8 && p.spec.Scheme == Symmetric:
		lo, hi = -127, 127
	case p.spec.Type == INT8:
		lo, hi = 0, 255
	case p.spec.Scheme == Asymmetric:
		lo, hi = 0, 15
	}
	pad := 0
	if p.spec.Type == INT4 && p.spec.Scheme == Symmetric {
		pad = 8
	}
	for r := 0; r < p.rows; r++ {
		for c := 0; c < p.paddedCols(); c++ {
			if c >= p.cols {
				if q := p.code(r, c); q != pad {
					t.Fatalf("row %d padding column %d has code %d, want %d", r, c, q, pad)
				}
				continue
			}
			x, y := src[r*p.cols+c], got[r*p.cols+c]
			if want := p.value(r, c); y != want {
				t.Fatalf("row %d col %d: Dequantize gives %g, layout formula %g", r, c, y, want)
			}
			d, m := p.scale(r, c/g), p.min(r, c/g)
			if d == 0 {
				continue // degenerate group: every element maps to the zero point
			}
			// Continuous code position of x on the stored grid (for INT4 sym
			// the grid is d*(q-8), and lo..hi are already relative to 8).
			pos := float64(x-m) / float64(d)
			inRange := pos >= float64(lo)-0.5 && pos <= float64(hi)+0.5
			tol := float64(absf(d))*0.5*(1+1e-6) + 1e-6*float64(absf(x)+absf(m))
			if inRange && math.Abs(float64(x-y)) > tol {
				t.Fatalf("row %d col %d: |%g - %g| > |d|/2 = %g", r, c, x, y, absf(d)/2)
			}
			// RTN puts every element on the grid, except that INT4 sym
			// spends code -8 on the larger-magnitude side only, so values on
			// the other side beyond 7.5 steps are clipped to 7.
			rtnClip := p.spec.Type == INT4 && p.spec.Scheme == Symmetric && pos > float64(hi)
			if !inRange && p.spec.Method == RTN && !rtnClip {
				t.Fatalf("row %d col %d: RTN left %g outside the grid (position %g)", r, c, x, pos)
			}
		}
		if p.spec.Method == RTN {
			checkRTNParams(t, p, src, r)
		}
	}
}

func checkRTNParams(t *testing.T, p packed, src []float32, r int) {
	t.Helper()
	g := p.spec.GroupSize
	for gi := 0; gi < p.groups(); gi++ {
		real := src[r*p.cols+gi*g : r*p.cols+min((gi+1)*g, p.cols)]
		mx, mn := real[0], real[0]
		for _, v := range real {
			mx, mn = max(mx, v), min(mn, v)
		}
		var wantD, wantM float32
		switch {
		case p.spec.Scheme == Asymmetric:
			nmax := float32(15)
			if p.spec.Type == INT8 {
				nmax = 255
			}
			wantM = roundF16(mn, -1)
			wantD = roundF16((mx-wantM)/nmax, 1)
		case p.spec.Type == INT4:
			big := mx
			if -mn > mx {
				big = mn
			}
			wantD = roundF16(big/-8, 1)
		default:
			wantD = roundF16(max(mx, -mn)/127, 1)
		}
		if d, m := p.scale(r, gi), p.min(r, gi); d != wantD || m != wantM {
			t.Fatalf("row %d group %d: scale/min %g/%g, want %g/%g from its %d real elements", r, gi, d, m, wantD, wantM, len(real))
		}
	}
}

// roundF16 rounds v to float16 by brute force: dir > 0 picks the float16 of
// smallest magnitude >= |v| (same sign), dir < 0 the largest float16 <= v.
func roundF16(v float32, dir int) float32 {
	best := float32(math.Inf(1))
	if dir < 0 {
		best = float32(math.Inf(-1))
	}
	for h := 0; h < 0x10000; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		if dir > 0 && math.Signbit(float64(f)) == math.Signbit(float64(v)) && absf(f) >= absf(v) && absf(f) < absf(best) {
			best = f
		}
		if dir < 0 && f <= v && f > best {
			best = f
		}
	}
	return best
}

func TestFloatTypesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	src := gaussian(r, 3*37, 10)
	src[5] = 1e-30 // flushes to zero in float16, stays in bfloat16
	for _, ty := range []Type{F32, F16, BF16} {
		spec := Spec{Type: ty}
		p := quantizeF32(t, spec, src, 37)
		got := p.dequantize(t)
		for i, x := range src {
			var want float32
			switch ty {
			case F32:
				want = x
			case F16:
				want = F16ToF32(F32ToF16(x))
			case BF16:
				want = BF16ToF32(F32ToBF16(x))
			}
			if got[i] != want {
				t.Fatalf("%s element %d: got %g, want %g", ty, i, got[i], want)
			}
		}
		row := make([]float32, 37)
		db, _, _, _ := spec.Layout(1, 37)
		if err := DequantizeRow(spec, p.data[db:2*db], nil, nil, row); err != nil || row[0] != got[37] {
			t.Fatalf("%s DequantizeRow: %v, %g vs %g", ty, err, row[0], got[37])
		}
	}
}

// Splitting rows across calls (as a parallel caller does) gives the same
// bytes as one call, and DequantizeRow matches Dequantize.
func TestSplitRowsAndDequantizeRow(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const rows, cols = 5, 200
	src := gaussian(r, rows*cols, 1)
	for _, spec := range append(intSpecs(64), Spec{Type: F16}, Spec{Type: BF16}, Spec{Type: F32}) {
		whole := quantizeF32(t, spec, src, cols)
		split := alloc(t, spec, rows, cols)
		db, sb, mb, _ := spec.Layout(1, cols)
		for _, rr := range [][2]int{{0, 2}, {2, 3}, {3, 5}} {
			a, b := rr[0], rr[1]
			if err := QuantizeRows(spec, src[a*cols:b*cols], cols, split.data[a*db:b*db], split.scales[a*sb:b*sb], split.mins[a*mb:b*mb]); err != nil {
				t.Fatalf("%s rows %d..%d: %v", spec, a, b, err)
			}
		}
		if !bytes.Equal(whole.data, split.data) || !bytes.Equal(whole.scales, split.scales) || !bytes.Equal(whole.mins, split.mins) {
			t.Errorf("%s: split quantization differs from whole", spec)
		}
		all := whole.dequantize(t)
		row := make([]float32, cols)
		for i := 0; i < rows; i++ {
			if err := DequantizeRow(spec, whole.data[i*db:(i+1)*db], whole.scales[i*sb:(i+1)*sb], whole.mins[i*mb:(i+1)*mb], row); err != nil {
				t.Fatal(err)
			}
			for c := range row {
				if row[c] != all[i*cols+c] {
					t.Fatalf("%s row %d col %d: DequantizeRow %g, Dequantize %g", spec, i, c, row[c], all[i*cols+c])
				}
			}
		}
	}
}

// The 16-bit entry points give exactly the bytes of QuantizeRows on the
// float32 expansion.
func Test16BitInputsMatchF32(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	const cols = 172
	x := gaussian(r, 3*cols, 0.1)
	bf := bf16Bits(x)
	f16 := make([]uint16, len(x))
	F32ToF16Slice(f16, x)
	for _, spec := range append(intSpecs(128), Spec{Type: F32}, Spec{Type: F16}, Spec{Type: BF16}) {
		for _, in := range []struct {
			name string
			bits []uint16
			conv func(uint16) float32
			fn   func(Spec, []uint16, int, []byte, []byte, []byte) error
		}{{"bf16", bf, BF16ToF32, QuantizeRowsBF16}, {"f16", f16, F16ToF32, QuantizeRowsF16}} {
			wide := make([]float32, len(in.bits))
			for i, h := range in.bits {
				wide[i] = in.conv(h)
			}
			want := quantizeF32(t, spec, wide, cols)
			got := alloc(t, spec, 3, cols)
			if err := in.fn(spec, in.bits, cols, got.data, got.scales, got.mins); err != nil {
				t.Fatalf("%s from %s: %v", spec, in.name, err)
			}
			if !bytes.Equal(want.data, got.data) || !bytes.Equal(want.scales, got.scales) || !bytes.Equal(want.mins, got.mins) {
				t.Errorf("%s from %s differs from the float32 path", spec, in.name)
			}
		}
	}
}

func TestNonFiniteRejected(t *testing.T) {
	const rows, cols = 3, 100
	bad := []struct {
		name string
		f32  float32
		bf16 uint16
		f16  uint16
	}{
		{"NaN", float32(math.NaN()), 0x7fc0, 0x7e00},
		{"+Inf", float32(math.Inf(1)), 0x7f80, 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xff80, 0xfc00},
		{"-NaN", math.Float32frombits(0xffc00000), 0xffc0, 0xfe00},
	}
	specs := append(intSpecs(32), Spec{Type: F32}, Spec{Type: F16}, Spec{Type: BF16})
	for _, b := range bad {
		for _, spec := range specs {
			x := make([]float32, rows*cols)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			x[1*cols+37] = b.f32
			hb, hf := make([]uint16, len(x)), make([]uint16, len(x))
			for i, v := range x {
				hb[i], hf[i] = F32ToBF16(v), F32ToF16(v)
			}
			hb[1*cols+37], hf[1*cols+37] = b.bf16, b.f16
			p := alloc(t, spec, rows, cols)
			errs := map[string]error{
				"f32":  QuantizeRows(spec, x, cols, p.data, p.scales, p.mins),
				"bf16": QuantizeRowsBF16(spec, hb, cols, p.data, p.scales, p.mins),
				"f16":  QuantizeRowsF16(spec, hf, cols, p.data, p.scales, p.mins),
			}
			for in, err := range errs {
				if !errors.Is(err, ErrNonFinite) {
					t.Errorf("%s %s input %s: err = %v, want ErrNonFinite", b.name, in, spec, err)
					continue
				}
				if !strings.Contains(err.Error(), "row 1, column 37") {
					t.Errorf("%s %s input %s: error %q does not name row 1, column 37", b.name, in, spec, err)
				}
			}
		}
	}
}

func TestRangeErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		x    []float32
		ok   bool
	}{
		{"f16 overflow", Spec{Type: F16}, []float32{1, 70000}, false},
		{"f16 max ok", Spec{Type: F16}, []float32{1, 65504}, true},
		{"int8 sym scale overflow", Spec{Type: INT8, GroupSize: 32}, []float32{1, 1e7}, false},
		{"int4 sym large ok", Spec{Type: INT4, GroupSize: 32}, []float32{1, 5e5}, true},
		{"int4 sym scale overflow", Spec{Type: INT4, GroupSize: 32}, []float32{1, 6e5}, false},
		{"int4 asym min overflow", Spec{Type: INT4, Scheme: Asymmetric, GroupSize: 32}, []float32{-1e5, -99999}, false},
		{"int4 asym mse min overflow", Spec{Type: INT4, Scheme: Asymmetric, Method: MSE, GroupSize: 32}, []float32{-1e5, -99999}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := alloc(t, tc.spec, 1, len(tc.x))
			err := QuantizeRows(tc.spec, tc.x, len(tc.x), p.data, p.scales, p.mins)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got := p.dequantize(t); Compare(tc.x, got).MaxAbs > float64(absf(tc.x[1]))*0.07 {
					t.Errorf("large values reconstructed badly: %v -> %v", tc.x, got)
				}
				return
			}
			if !errors.Is(err, ErrRange) {
				t.Fatalf("err = %v, want ErrRange", err)
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	spec := Spec{Type: INT4, Scheme: Asymmetric, GroupSize: 32}
	x := make([]float32, 64)
	p := alloc(t, spec, 2, 32)
	cases := []struct {
		name string
		err  error
	}{
		{"invalid spec", QuantizeRows(Spec{Type: INT4, GroupSize: 48}, x, 32, p.data, p.scales, p.mins)},
		{"zero cols", QuantizeRows(spec, x, 0, p.data, p.scales, p.mins)},
		{"ragged source", QuantizeRows(spec, x[:63], 32, p.data, p.scales, p.mins)},
		{"short data", QuantizeRows(spec, x, 32, p.data[1:], p.scales, p.mins)},
		{"long scales", QuantizeRows(spec, x, 32, p.data, append(p.scales, 0), p.mins)},
		{"missing mins", QuantizeRows(spec, x, 32, p.data, p.scales, nil)},
		{"bf16 short data", QuantizeRowsBF16(spec, make([]uint16, 64), 32, p.data[2:], p.scales, p.mins)},
		{"dequantize short dst", Dequantize(spec, p.data, p.scales, p.mins, 2, 32, make([]float32, 63))},
		{"dequantize wrong data", Dequantize(spec, p.data[:10], p.scales, p.mins, 2, 32, make([]float32, 64))},
		{"dequantize row wrong scales", DequantizeRow(spec, p.data[:16], p.scales[:4], p.mins[:2], make([]float32, 32))},
		{"dequantize negative rows", Dequantize(spec, nil, nil, nil, -1, 32, nil)},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: want error", c.name)
		}
	}
	if err := QuantizeRows(spec, x, 32, p.data, p.scales, nil); err == nil || !strings.Contains(err.Error(), "min buffer is 0 bytes, want 4") {
		t.Errorf("buffer error should give got and want sizes: %v", err)
	}
	// Zero rows is a valid, empty call.
	if err := QuantizeRows(spec, nil, 32, nil, nil, nil); err != nil {
		t.Errorf("zero rows: %v", err)
	}
}

// Degenerate groups quantize without NaN and reproduce what they can.
func TestDegenerateGroups(t *testing.T) {
	sub := math.Float32frombits(1) // float32 subnormal: scale flushes to zero
	for _, spec := range intSpecs(32) {
		for _, x := range [][]float32{
			make([]float32, 40),
			{2.5, 2.5, 2.5},
			{-7, -7},
			{sub, -sub, 0},
			{1e-9, -3e-9, 2e-9},
			{65504, 65504},
		} {
			p := quantizeF32(t, spec, x, len(x))
			got := p.dequantize(t)
			for i, v := range got {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s %v: element %d dequantized to %v", spec, x, i, v)
				}
				if math.Abs(float64(v-x[i])) > 1e-3*math.Abs(float64(x[i]))+1e-8 {
					t.Errorf("%s %v: element %d = %g, want about %g", spec, x, i, v, x[i])
				}
			}
		}
	}
}
