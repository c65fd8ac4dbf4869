package symb_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// TestQuantizedFileRoundTrip quantizes random rows with the quantize package,
// stores them in a .symb file, maps it back and decodes it twice: with
// quantize.Dequantize and with a decoder written from FORMAT.md alone. Both
// must agree exactly, stay within the quantization error bound, and the
// padding codes must be the ones the spec prescribes.
func TestQuantizedFileRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	dir := t.TempDir()
	for _, dt := range []symb.DType{symb.INT4, symb.INT8} {
		for _, sc := range []symb.Scheme{symb.SchemeSym, symb.SchemeAsym} {
			for _, g := range []int{32, 64, 128, 256} {
				for _, cols := range []int{g, 3*g + 5, 7} {
					name := fmt.Sprintf("%s_%s_g%d_c%d", dt, sc, g, cols)
					t.Run(name, func(t *testing.T) {
						roundTripQuantized(t, rng, filepath.Join(dir, name+".symb"), dt, sc, g, 3, cols)
					})
				}
			}
		}
	}
}

func roundTripQuantized(t *testing.T, rng *rand.Rand, path string, dt symb.DType, sc symb.Scheme, g, rows, cols int) {
	spec := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: g}
	if dt == symb.INT8 {
		spec.Type = quantize.INT8
	}
	if sc == symb.SchemeAsym {
		spec.Scheme = quantize.Asymmetric
	}
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(rng.NormFloat64()) * 0.05
		if i%97 == 0 {
			src[i] += 0.3 // an outlier now and then
		}
	}
	info := symb.Info{DType: dt, Scheme: sc, GroupSize: g, Shape: []int{rows, cols}}.WithPackedTail()
	ds, ss, ms, err := info.SectionSizes()
	if err != nil {
		t.Fatal(err)
	}
	tn := &symb.Tensor{Info: info, Data: make([]byte, ds), Scales: make([]byte, ss)}
	if ms > 0 {
		tn.Mins = make([]byte, ms)
	}
	if err := quantize.QuantizeRows(spec, src, cols, tn.Data, tn.Scales, tn.Mins); err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteFile(path, tn); err != nil {
		t.Fatal(err)
	}
	f, err := symb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := f.Tensor()
	if !bytes.Equal(got.Data, tn.Data) || !bytes.Equal(got.Scales, tn.Scales) || !bytes.Equal(got.Mins, tn.Mins) {
		t.Fatal("mapped sections differ from what was written")
	}
	viaPkg := make([]float32, rows*cols)
	if err := quantize.Dequantize(spec, got.Data, got.Scales, got.Mins, rows, cols, viaPkg); err != nil {
		t.Fatal(err)
	}
	viaSpec, steps := decodeFromSpec(got)
	for i := range src {
		if viaPkg[i] != viaSpec[i] {
			t.Fatalf("element %d: quantize.Dequantize %g, FORMAT.md decoding %g", i, viaPkg[i], viaSpec[i])
		}
		// Round to nearest: half a step; a clamped extreme of a symmetric
		// INT4 group (scale = max/-8, so +8 steps is out of range): one step.
		bound := steps[i]*0.5 + 1e-6
		if dt == symb.INT4 && sc == symb.SchemeSym {
			bound = steps[i] + 1e-6
		}
		if e := math.Abs(float64(src[i] - viaSpec[i])); e > float64(bound)*1.001 {
			t.Fatalf("element %d: %g decoded as %g (error %g > bound %g)", i, src[i], viaSpec[i], e, bound)
		}
	}
	checkPadding(t, got)
	if !info.PackedTail {
		return
	}
	// The same codes in the 1.0 layout (tail group padded to a whole
	// group) must still read, as a 1.0 file, to the same values.
	old, err := symb.PadTailGroups(got)
	if err != nil {
		t.Fatal(err)
	}
	oldPath := path + ".v10"
	if err := symb.WriteFile(oldPath, old); err != nil {
		t.Fatal(err)
	}
	of, err := symb.Open(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	if h := of.Header; h.Minor != 0 || h.PackedTail || h.DataSize <= int64(len(got.Data)) {
		t.Fatalf("1.0 layout file: version 1.%d, packed %v, data %d bytes (packed %d)", h.Minor, h.PackedTail, h.DataSize, len(got.Data))
	}
	if h := f.Header; h.Minor != 1 || !h.PackedTail {
		t.Fatalf("packed file: version 1.%d, packed %v; want 1.1 with the flag", h.Minor, h.PackedTail)
	}
	oldVals, _ := decodeFromSpec(of.Tensor())
	for i := range oldVals {
		if oldVals[i] != viaSpec[i] {
			t.Fatalf("element %d: 1.0 layout reads %g, 1.1 layout %g", i, oldVals[i], viaSpec[i])
		}
	}
	checkPadding(t, of.Tensor())
}

// decodeFromSpec implements FORMAT.md §2–§3 directly. It returns the values
// and, per element, the size of one quantization step |d|.
func decodeFromSpec(t *symb.Tensor) (vals, steps []float32) {
	rows, cols, g := t.Rows(), t.Cols(), t.GroupSize
	groups := (cols + g - 1) / g
	padded := t.PaddedCols() // groups·g, or a multiple of 32 with a packed tail
	f16 := func(b []byte, i int) float32 { return quantize.F16ToF32(binary.LittleEndian.Uint16(b[2*i:])) }
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			k := r*groups + c/g
			d := f16(t.Scales, k)
			var m float32
			if t.Scheme == symb.SchemeAsym {
				m = f16(t.Mins, k)
			}
			var v float32
			if t.DType == symb.INT4 {
				blk := r*padded/2 + (c/32)*16
				i := c % 32
				b := t.Data[blk+i%16]
				q := b & 0x0f
				if i >= 16 {
					q = b >> 4
				}
				if t.Scheme == symb.SchemeSym {
					v = d * (float32(q) - 8)
				} else {
					v = d*float32(q) + m
				}
			} else {
				b := t.Data[r*padded+c]
				if t.Scheme == symb.SchemeSym {
					v = d * float32(int8(b))
				} else {
					v = d*float32(b) + m
				}
			}
			vals = append(vals, v)
			steps = append(steps, float32(math.Abs(float64(d))))
		}
	}
	return vals, steps
}

// checkPadding asserts the padding codes of FORMAT.md §3: 8 for int4 sym,
// 0 otherwise.
func checkPadding(t *testing.T, tn *symb.Tensor) {
	t.Helper()
	rows, cols, padded := tn.Rows(), tn.Cols(), tn.PaddedCols()
	want := byte(0)
	if tn.DType == symb.INT4 && tn.Scheme == symb.SchemeSym {
		want = 8
	}
	for r := 0; r < rows; r++ {
		for c := cols; c < padded; c++ {
			var q byte
			if tn.DType == symb.INT4 {
				b := tn.Data[r*padded/2+(c/32)*16+c%16]
				q = b & 0x0f
				if c%32 >= 16 {
					q = b >> 4
				}
			} else {
				q = tn.Data[r*padded+c]
			}
			if q != want {
				t.Fatalf("row %d padding column %d has code %d, want %d", r, c, q, want)
			}
		}
	}
}

// TestPackedTailHeader: the 1.1 flag round-trips through the header, is
// written only where it changes the layout, and is refused on a float tensor.
func TestPackedTailHeader(t *testing.T) {
	t.Parallel()
	in := symb.Info{DType: symb.INT4, Scheme: symb.SchemeSym, GroupSize: 128, Shape: []int{2, 64}}.WithPackedTail()
	if !in.PackedTail || in.PaddedCols() != 64 {
		t.Fatalf("64 columns at G=128: packed %v, padded %d; want true, 64", in.PackedTail, in.PaddedCols())
	}
	for _, cols := range []int{256, 96 + 128} { // whole groups; a tail of 96 needs 3 blocks, G=128 has 4
		x := symb.Info{DType: symb.INT4, Scheme: symb.SchemeSym, GroupSize: 128, Shape: []int{2, cols}}.WithPackedTail()
		if want := cols%128 != 0; x.PackedTail != want {
			t.Errorf("%d columns: packed %v, want %v", cols, x.PackedTail, want)
		}
	}
	h, err := symb.NewHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(b[6:]) != 1 || binary.LittleEndian.Uint32(b[20:]) != symb.FlagPackedTail {
		t.Fatalf("minor %d flags %d; want 1.1 with flag 1", binary.LittleEndian.Uint16(b[6:]), binary.LittleEndian.Uint32(b[20:]))
	}
	got, err := symb.ParseHeader(b, h.FileSize())
	if err != nil || !got.PackedTail || got.DataSize != 2*32 {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	f, err := symb.NewHeader(symb.Info{DType: symb.F16, Shape: []int{2, 64}})
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := f.MarshalBinary()
	binary.LittleEndian.PutUint16(fb[6:], 1)
	binary.LittleEndian.PutUint32(fb[20:], symb.FlagPackedTail)
	if _, err := symb.ParseHeader(fb, f.FileSize()); err == nil {
		t.Error("a float tensor with the packed-tail flag was accepted")
	}
}
