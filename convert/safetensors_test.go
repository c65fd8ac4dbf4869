package convert

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

// stBytes is a safetensors file with the given JSON header and data bytes.
func stBytes(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// e4m3Ref decodes an E4M3 byte from the format's definition in float64,
// independently of the converter's bit manipulation.
func e4m3Ref(b byte) float64 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	e, m := int(b>>3)&0xF, float64(b&7)
	if e == 0xF && m == 7 {
		return math.NaN()
	}
	if e == 0 {
		return sign * m / 8 * math.Pow(2, -6)
	}
	return sign * (1 + m/8) * math.Pow(2, float64(e-7))
}

func TestFP8Decode(t *testing.T) {
	for b := range 256 {
		got, want := float64(e4m3ToF32(byte(b))), e4m3Ref(byte(b))
		if math.IsNaN(want) != math.IsNaN(got) || !math.IsNaN(want) && got != want {
			t.Errorf("E4M3 %#02x = %g, want %g", b, got, want)
		}
		if want == 0 && math.Signbit(got) != (b&0x80 != 0) {
			t.Errorf("E4M3 %#02x: sign of zero lost", b)
		}
	}
	for _, c := range []struct {
		b    byte
		want float64
	}{{0x38, 1}, {0x40, 2}, {0x7E, 448}, {0xFE, -448}, {0x01, math.Pow(2, -9)}, {0x08, math.Pow(2, -6)}, {0x07, 7 * math.Pow(2, -9)}} {
		if got := e4m3ToF32(c.b); float64(got) != c.want {
			t.Errorf("E4M3 %#02x = %g, want %g", c.b, got, c.want)
		}
	}
	if v := e4m3ToF32(0x80); v != 0 || !math.Signbit(float64(v)) {
		t.Errorf("E4M3 0x80 = %g, want -0", v)
	}
	if !math.IsNaN(float64(e4m3ToF32(0x7F))) || !math.IsNaN(float64(e4m3ToF32(0xFF))) {
		t.Error("E4M3 0x7F/0xFF are not NaN")
	}
	// E5M2: 1 sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE
	// infinities and NaNs.
	for _, c := range []struct {
		b    byte
		want float64
	}{{0x3C, 1}, {0x40, 2}, {0x3E, 1.5}, {0x7B, 57344}, {0xBC, -1}, {0x01, math.Pow(2, -16)}, {0x04, math.Pow(2, -14)},
		{0x7C, math.Inf(1)}, {0xFC, math.Inf(-1)}} {
		if got := e5m2ToF32(c.b); float64(got) != c.want {
			t.Errorf("E5M2 %#02x = %g, want %g", c.b, got, c.want)
		}
	}
	if !math.IsNaN(float64(e5m2ToF32(0x7D))) {
		t.Error("E5M2 0x7D is not NaN")
	}
}

func TestParseHeaderFP8(t *testing.T) {
	data := make([]byte, 6+4+2)
	data[0], data[5] = 0x38, 0xC0 // E4M3 1, -2
	binary.LittleEndian.PutUint32(data[6:], math.Float32bits(0.5))
	data[10], data[11] = 0x3E, 0xC0 // E5M2 1.5, -2
	h := `{"__metadata__":{"format":"pt"},"w_scale_inv":{"dtype":"F32","shape":[1,1],"data_offsets":[6,10]},` +
		`"w":{"dtype":"F8_E4M3","shape":[2,3],"data_offsets":[0,6]},"v":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[10,12]}}`
	b := stBytes(h, data)
	if _, _, err := safetensors.ReadMetadata(b); err == nil {
		t.Fatal("the library now reads F8_E4M3: the fallback parser may be unnecessary")
	}
	es, start, err := readHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if start != 8+len(h) || len(es) != 3 {
		t.Fatalf("start %d, entries %+v", start, es)
	}
	w := es[0]
	if w.name != "w" || w.dtype != "F8_E4M3" || !slices.Equal(w.shape, []int{2, 3}) || w.begin != 0 || w.end != 6 {
		t.Errorf("entry %+v", w)
	}

	// Through the checkpoint reader: decoded values, no raw view.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, singleFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, err := openCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	st := ck.tensors["w"]
	got := make([]float32, 6)
	if err := st.Read(got, 0, 2, 0, 3); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 0, 0, 0, 0, -2}; !slices.Equal(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
	if _, _, ok := st.Raw(0, 2); ok {
		t.Error("FP8 rows offered raw")
	}
	v := make([]float32, 2)
	if err := ck.tensors["v"].Read(v, 0, 1, 0, 2); err != nil || v[0] != 1.5 || v[1] != -2 {
		t.Errorf("E5M2 decoded %v (%v), want [1.5 -2]", v, err)
	}
}

// Both parsers must agree on every file the library reads: the fallback is
// not a second, looser reading of ordinary checkpoints.
func TestParseHeaderAgreesWithLibrary(t *testing.T) {
	for _, m := range []string{"llama3", "stories260k", "deepseek"} {
		b, err := os.ReadFile(filepath.Join(fixtures, m, singleFile))
		if err != nil {
			t.Fatal(err)
		}
		lib, ls, err := readHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		own, os, err := parseHeader(b)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if ls != os || !sameEntries(lib, own) {
			t.Errorf("%s: library and parser disagree (%d vs %d entries, data at %d vs %d)", m, len(lib), len(own), ls, os)
		}
	}
}

func sameEntries(a, b []stEntry) bool {
	key := func(x, y stEntry) int { return strings.Compare(x.name, y.name) }
	slices.SortFunc(a, key)
	slices.SortFunc(b, key)
	return slices.EqualFunc(a, b, func(x, y stEntry) bool {
		return x.name == y.name && x.dtype == y.dtype && slices.Equal(x.shape, y.shape) && x.begin == y.begin && x.end == y.end
	})
}

func TestParseHeaderHostile(t *testing.T) {
	f8 := func(entries string) string {
		return `{"w":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,4]}` + entries + `}`
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "shorter than the 8-byte header length"},
		{"truncated length", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"huge header length", append(huge, "{}"...), "exceeds the 100000000-byte limit"},
		{"header past the end", stBytes(`{}`, nil)[:9], "exceeds the file size"},
		{"bad JSON", stBytes(`{"w":{"dtype":"F8_E4M3",`, nil), "not a JSON object"},
		{"JSON array", stBytes(`[1,2]`, nil), "not a JSON object"},
		{"entry not an object", stBytes(f8(`,"x":5`), make([]byte, 4)), "tensor x: entry is not a JSON object"},
		{"truncated data", stBytes(f8(``), make([]byte, 3)), "run past the data section of 3 bytes (truncated"},
		{"lying offsets", stBytes(f8(`,"v":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[4,1000000]}`), make([]byte, 6)), "tensor v: data_offsets [4, 1000000] run past"},
		{"reversed offsets", stBytes(f8(`,"v":{"dtype":"F8_E4M3","shape":[0],"data_offsets":[6,4]}`), make([]byte, 4)), "end before they begin"},
		{"size disagrees with shape", stBytes(f8(`,"v":{"dtype":"F32","shape":[2],"data_offsets":[4,8]}`), make([]byte, 8)), "hold 4 bytes, F32 [2] needs 8"},
		{"overlapping tensors", stBytes(f8(`,"v":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[2,6]}`), make([]byte, 6)), "overlaps tensor w"},
		{"gap", stBytes(f8(`,"v":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[6,8]}`), make([]byte, 8)), "bytes 4..6 of the data section belong to no tensor"},
		{"trailing bytes", stBytes(f8(``), make([]byte, 9)), "end at byte 4 of the data section, which has 9 bytes"},
		{"shape overflow", stBytes(f8(`,"v":{"dtype":"F64","shape":[2147483647,2147483647,2147483647,4],"data_offsets":[4,4]}`), make([]byte, 4)), "shape [2147483647 2147483647 2147483647 4] is too large"},
		{"dimension past int32", stBytes(f8(`,"v":{"dtype":"U8","shape":[4294967296,0],"data_offsets":[4,4]}`), make([]byte, 4)), "dimension 4294967296 is too large"},
		{"negative dimension", stBytes(f8(`,"v":{"dtype":"U8","shape":[-1],"data_offsets":[4,4]}`), make([]byte, 4)), "tensor v: shape is [-1]"},
		{"fractional offset", stBytes(f8(`,"v":{"dtype":"U8","shape":[1],"data_offsets":[4,4.5]}`), make([]byte, 5)), "tensor v: data_offsets is [4,4.5]"},
		{"three offsets", stBytes(f8(`,"v":{"dtype":"U8","shape":[1],"data_offsets":[4,5,6]}`), make([]byte, 5)), "not a [begin, end] pair"},
		{"unknown dtype", stBytes(f8(`,"v":{"dtype":"F4","shape":[2],"data_offsets":[4,5]}`), make([]byte, 5)), `tensor v: dtype "F4" is not a safetensors dtype`},
		{"missing dtype", stBytes(f8(`,"v":{"shape":[1],"data_offsets":[4,5]}`), make([]byte, 5)), `tensor v: no "dtype"`},
		{"missing shape", stBytes(f8(`,"v":{"dtype":"U8","shape":null,"data_offsets":[4,5]}`), make([]byte, 5)), `tensor v: no "shape"`},
		{"extra key", stBytes(f8(`,"v":{"dtype":"U8","shape":[1],"data_offsets":[4,5],"x":1}`), make([]byte, 5)), `unknown key "x"`},
		{"key in the wrong case", stBytes(f8(`,"v":{"DType":"U8","shape":[1],"data_offsets":[4,5]}`), make([]byte, 5)), `unknown key "DType"`},
		{"metadata not strings", stBytes(f8(`,"__metadata__":{"format":1}`), make([]byte, 4)), "__metadata__ is not an object of strings"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := parseHeader(c.file); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("parseHeader: error %v, want one containing %q", err, c.want)
			}
			// Through the converter: an ErrCheckpoint naming the file.
			dir := t.TempDir()
			p := filepath.Join(dir, singleFile)
			if err := os.WriteFile(p, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			ck, err := openCheckpoint(dir)
			if err == nil {
				ck.Close()
				t.Fatal("openCheckpoint accepted the file")
			}
			if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), p) {
				t.Errorf("openCheckpoint: %v, want ErrCheckpoint naming %s", err, p)
			}
		})
	}
}

// FuzzSafetensorsHeader checks the fallback parser on arbitrary bytes: it
// returns an error or entries that tile the data section exactly with sizes
// that match their shapes, and it agrees with the library on every file the
// library accepts.
func FuzzSafetensorsHeader(f *testing.F) {
	f.Add(stBytes(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,4]},"w_scale_inv":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(stBytes(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F8_E5M2","shape":[],"data_offsets":[4,5]}}`, make([]byte, 5)))
	f.Add(stBytes(`{"a":{"dtype":"BF16","shape":[0,3],"data_offsets":[0,0]}}`, nil))
	b, err := os.ReadFile(filepath.Join(fixtures, "stories260k", singleFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:min(len(b), 2048)])
	f.Fuzz(func(t *testing.T, b []byte) {
		es, start, err := parseHeader(b)
		n, meta, libErr := safetensors.ReadMetadata(b)
		if libErr == nil && !slices.ContainsFunc(tensorInfos(meta), func(d uint64) bool { return d > math.MaxInt32 }) {
			if err != nil {
				t.Fatalf("the library accepts the file, the parser does not: %v", err)
			}
			lib, ls, err := readHeader(b)
			if err != nil || ls != start || ls != 8+int(n) || !sameEntries(lib, slices.Clone(es)) {
				t.Fatalf("the library and the parser disagree: %v", err)
			}
		}
		if err != nil {
			return
		}
		if libErr != nil && !slices.ContainsFunc(es, func(e stEntry) bool { return strings.HasPrefix(e.dtype, "F8_") }) {
			t.Fatalf("the parser accepts a file without FP8 that the library refuses (%v)", libErr)
		}
		if start < 8 || start > len(b) {
			t.Fatalf("data section starts at %d of %d bytes", start, len(b))
		}
		slices.SortFunc(es, func(x, y stEntry) int { return x.begin - y.begin })
		at := 0
		for _, e := range es {
			size := stElemSize(e.dtype)
			for _, d := range e.shape {
				size *= d
			}
			if e.begin != at || e.end-e.begin != size || size < 0 {
				t.Fatalf("tensor %s: bytes %d..%d (size %d) after byte %d", e.name, e.begin, e.end, size, at)
			}
			at = e.end
		}
		if start+at != len(b) {
			t.Fatalf("tensors end at %d, file at %d", start+at, len(b))
		}
	})
}

// tensorInfos lists every dimension of every tensor of a header the
// library read.
func tensorInfos(m safetensors.Metadata) []uint64 {
	var out []uint64
	for _, info := range m.Tensors() {
		out = append(out, info.Shape...)
	}
	return out
}
